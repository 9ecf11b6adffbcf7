"""VirtualNode -> the Service behind it (``serviceDiscovery.dns.hostname``), its listener
ports and the pod labels of its ``podSelector``.

App Mesh reaches a node through its DNS hostname, so traffic for the node goes to the
Kubernetes Service of that name, all of its pods. Nodes that share a hostname (one per
version, told apart only by ``podSelector``) are meant as subsets; each then gets a Service
of its own from ``podSelector.matchLabels`` (see :mod:`converters.appmesh.targets`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from converters.appmesh.env import Env, Obj, mappings
from converters.appmesh.hosts import resolve_host
from meshmigrate.fields import View
from meshmigrate.model import ServiceRef
from meshmigrate.sources import FieldPath

PROTOCOLS = ("http", "http2", "grpc", "tcp")
_LISTENER_POLICIES = ("healthCheck", "outlierDetection", "connectionPool")
_CLIENT_TLS = ("backendDefaults", "backends")


@dataclass(frozen=True, slots=True)
class Listener:
    port: int
    protocol: str
    path: FieldPath


@dataclass
class Node:
    obj: Obj
    service: ServiceRef | None
    listeners: list[Listener] = field(default_factory=list)
    labels: tuple[tuple[str, str], ...] | None = None  # None: not a plain label selector

    @property
    def name(self) -> str:
        return self.obj.doc.name


def read_node(obj: Obj, env: Env) -> Node:
    spec = obj.spec
    node = Node(obj, _service(spec, obj, env), read_listeners(spec, obj, env, node=True),
                _labels(spec))
    _client_side(spec, obj, env)
    for key in ("awsName", "meshRef", "logging"):
        spec.raw(key)  # names and access logs: no routing meaning
    return node


def read_listeners(spec: View, obj: Obj, env: Env, node: bool) -> list[Listener]:
    out = []
    for view in mappings(spec, "listeners"):
        mapping = view.map("portMapping") or view.at("portMapping")
        port, protocol = mapping.int("port"), mapping.req_str("protocol")
        if port is None or not 1 <= port <= 65535:
            raise mapping.error("port must be 1-65535", "port")
        if protocol not in PROTOCOLS:
            raise mapping.error(f"protocol must be one of {', '.join(PROTOCOLS)}", "protocol")
        if node:
            _listener_policies(view, obj, env)
        out.append(Listener(port, str(protocol), view.path))
    return out


def _service(spec: View, obj: Obj, env: Env) -> ServiceRef | None:
    discovery = spec.map("serviceDiscovery") or spec.at("serviceDiscovery")
    dns = discovery.map("dns")
    if dns is None:
        if "awsCloudMap" in discovery:
            discovery.raw("awsCloudMap")
            env.report("HOST_NOT_A_SERVICE", obj, discovery.at("awsCloudMap"),
                       "AWS Cloud Map discovery names no Kubernetes Service; routes to this "
                       "node are dropped")
        return None
    host = str(dns.req_str("hostname"))
    for key in ("responseType", "ipPreference"):
        if value := dns.str(key):
            env.report("TRAFFIC_POLICY_DROPPED", obj, dns.at(key),
                       f"{key} {value} has no Gateway API equivalent")
    ref = resolve_host(host, obj.doc.namespace(), env.ctx.model.services)
    if ref is None:
        env.report("HOST_NOT_A_SERVICE", obj, dns.at("hostname"),
                   f"hostname {host!r} is not a Kubernetes Service name; routes to this node "
                   "are dropped")
    return ref


def _labels(spec: View) -> tuple[tuple[str, str], ...] | None:
    selector = spec.map("podSelector")
    if selector is None:
        return None
    labels = selector.str_map("matchLabels")
    if selector.raw("matchExpressions"):
        return None
    return tuple(sorted(labels.items())) or None


def _listener_policies(view: View, obj: Obj, env: Env) -> None:
    for key in _LISTENER_POLICIES:
        if key in view:
            view.raw(key)
            env.report("TRAFFIC_POLICY_DROPPED", obj, view.at(key),
                       f"listener {key} has no Gateway API equivalent")
    if "tls" in view:
        view.raw("tls")
        env.report("MESH_TLS_DROPPED", obj, view.at("tls"),
                   "listener TLS is left to the target mesh's mTLS")


def _client_side(spec: View, obj: Obj, env: Env) -> None:
    """``backends`` / ``backendGroups`` say which virtual services this node may call
    (see CLIENT_SCOPE_WIDENED on the tables); client TLS policies are the mesh's job."""
    spec.raw("backendGroups")
    for key in _CLIENT_TLS:
        if key in spec:
            spec.raw(key)
    tls = [v.path for v in mappings(spec, "backends") if v.at("virtualService").map(
        "clientPolicy") is not None]
    if "clientPolicy" in (spec.map("backendDefaults") or spec.at("backendDefaults")):
        tls.append((*spec.path, "backendDefaults", "clientPolicy"))
    for path in tls:
        env.report("MESH_TLS_DROPPED", obj, path, "client TLS policy is left to the target "
                   "mesh's mTLS")
