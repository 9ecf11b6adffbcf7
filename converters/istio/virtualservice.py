"""VirtualService -> candidate route tables, one set per host (semantics.md §3.1).

Tables are only *candidates* here: when several VirtualServices define the same host for the
same clients, only the oldest is in effect (see :mod:`converters.istio.duplicates`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from converters.istio.context import Env, mappings
from converters.istio.hosts import applies_to_mesh, resolve_host
from converters.istio.retries import DEFAULT_RETRY
from converters.istio.rules import http_rule, tcp_rule
from converters.istio.scopes import export_scopes, restrict, split_scopes
from meshmigrate.fields import View
from meshmigrate.model import (
    Match,
    Protocol,
    Provenance,
    RouteTable,
    Rule,
    ServiceRef,
    Unmatched,
)
from meshmigrate.sources import FieldPath

Age = tuple[datetime, str, str]
_EPOCH = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A table a VirtualService would define, with the host entry it comes from."""

    table: RouteTable
    host_path: FieldPath


@dataclass
class VsResult:
    env: Env
    view: View
    candidates: list[Candidate] = field(default_factory=list)
    in_mesh: bool = True

    @property
    def age(self) -> Age:
        return object_age(self.view)


def object_age(view: View) -> Age:
    """Istio's order for configs (pilot ``sortConfigByCreationTime``): creation time (a
    missing one is the zero time, the oldest), then name, then namespace."""
    stamp = view.at("metadata").raw("creationTimestamp")
    return _timestamp(view, stamp), view.doc.name, view.doc.namespace()


def _timestamp(view: View, stamp: object) -> datetime:
    if stamp is None:
        return _EPOCH
    try:
        when = stamp if isinstance(stamp, datetime) else datetime.fromisoformat(str(stamp))
    except ValueError:
        raise view.at("metadata").error(f"invalid timestamp {stamp!r}",
                                        "creationTimestamp") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def convert_virtual_service(env: Env, delegates: set[tuple[str, str]]) -> VsResult:
    """Candidate tables for every host of one VirtualService."""
    view = View(env.doc)
    result = VsResult(env, view)
    spec = view.map("spec") or view.at("spec")
    gateways = spec.str_list("gateways")
    if not applies_to_mesh(gateways):
        env.report("GATEWAY_ONLY_SKIPPED", spec.at("gateways"),
                   f"bound to gateways {', '.join(gateways)} only, not to the mesh")
        result.in_mesh = False
        return result
    if not spec.str_list("hosts"):
        return _delegate_target(spec, env, delegates, result)
    http = tuple(r for r in (http_rule(v, env) for v in mappings(spec, "http")) if r)
    tcp = tuple(r for r in (tcp_rule(v, env) for v in mappings(spec, "tcp")) if r)
    _report_tls(spec, env)
    result.candidates = _host_tables(spec, http, tcp, env)
    return result


def _host_tables(spec: View, http: tuple[Rule, ...], tcp: tuple[Rule, ...],
                 env: Env) -> list[Candidate]:
    """Tables for each host that is a Service (a Service named twice counts once)."""
    hosts = spec.str_list("hosts")
    seen: set[ServiceRef] = set()
    out: list[Candidate] = []
    for index, host in enumerate(hosts):
        service = _service(spec, index, host, env)
        if service is None or service in seen:
            continue
        seen.add(service)
        name = env.doc.name if len(hosts) == 1 else f"{env.doc.name}-{service.name}"
        where = spec.at("hosts").at(index).path
        out += _tables(service, name, http, tcp, export_scopes(spec, service, env), env, where)
    return out


def _delegate_target(spec: View, env: Env, delegates: set[tuple[str, str]],
                     result: VsResult) -> VsResult:
    """A VirtualService without hosts is valid only as a delegate of another one."""
    if (env.namespace, env.doc.name) not in delegates:
        raise spec.error("required field is missing", "hosts")
    env.report("DELEGATE_NOT_SUPPORTED", spec,
               "delegate VirtualService (no hosts): its rules are only reachable through a "
               "delegating rule, which is not converted")
    result.in_mesh = False
    return result


def _service(spec: View, index: int, host: str, env: Env) -> ServiceRef | None:
    service = resolve_host(host, env.namespace, env.model.services)
    where = spec.at("hosts").at(index)
    if service is None:
        env.report("HOST_NOT_A_SERVICE", where,
                   f"host {host!r} is not a Kubernetes Service (wildcard, external name or "
                   "IP); no route for it")
    elif env.service(service) is None:
        env.report("SERVICE_UNKNOWN", where,
                   f"Service {service} is not in the input; its ports are unknown")
    return service


def _tables(service: ServiceRef, name: str, http: tuple[Rule, ...], tcp: tuple[Rule, ...],
            scopes: list[str | None], env: Env, where: FieldPath) -> list[Candidate]:
    groups = [(_http_protocol(service, env), None, name, http),
              *_tcp_groups(tcp, name)]
    out = []
    for protocol, port, table_name, rules in groups:
        for scope, scoped in split_scopes(rules, service, scopes, env):
            table = RouteTable(
                service=service, rules=scoped, protocol=protocol, port=port,
                consumer_namespace=scope, unmatched=Unmatched.NOT_FOUND, first_match=True,
                default_retry=None if protocol is Protocol.TCP else DEFAULT_RETRY,
                name=table_name, origin=Provenance(env.doc))
            out.append(Candidate(table, where))
    return out


def _tcp_groups(rules: tuple[Rule, ...],
                name: str) -> list[tuple[Protocol, int | None, str, tuple[Rule, ...]]]:
    """``tcp[]`` as one table per matched port (rules without a port match apply to every
    port and appear in each), plus one for the other ports. TCPRoute has no matches, so a
    port is the only thing that can tell the rules apart."""
    ports = sorted({m.port for r in rules for m in r.matches if m.port is not None})
    groups = [(port, restrict(rules, _on_port(port))) for port in (*ports, None)]
    groups = [(port, scoped) for port, scoped in groups if scoped]
    suffix = len(groups) > 1
    return [(Protocol.TCP, port, f"{name}-{port}" if suffix and port else name, scoped)
            for port, scoped in groups]


def _on_port(port: int | None) -> Callable[[Match], bool]:
    """Matches for connections to ``port`` (None: matches without a port condition)."""
    return lambda match: match.port in (None, port) if port is not None else match.port is None


def _http_protocol(service: ServiceRef, env: Env) -> Protocol:
    """GRPC when every port of the (known) Service is a gRPC port (istio.io protocol
    selection: port name ``grpc``/``grpc-*`` or appProtocol), else HTTP."""
    info = env.service(service)
    if info is not None and info.ports and all(p.is_grpc for p in info.ports):
        return Protocol.GRPC
    return Protocol.HTTP


def _report_tls(spec: View, env: Env) -> None:
    if "tls" in spec:
        spec.raw("tls")
        env.report("TLS_ROUTE_NOT_CONVERTED", spec.at("tls"),
                   "tls[] (SNI routing of unterminated TLS) is not converted; that traffic "
                   "keeps its default routing")
