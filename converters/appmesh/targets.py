"""``weightedTargets`` -> weighted :class:`Destination`\\ s.

A target is a VirtualNode; its Service is the node's DNS hostname and its port the node's
listener port (or the target's ``port``), mapped to the Service port that reaches it. When
several nodes share one hostname they are told apart only by ``podSelector``; each gets a
Service of its own (``<service>-<subset>``) selecting its pods, since one shared Service
would mix them (SHARED_HOSTNAME_SPLIT: App Mesh itself resolves the shared name to every
pod of the Service).
"""

from __future__ import annotations

from collections import Counter

from converters.appmesh.env import Env, Obj, object_ref
from converters.appmesh.hosts import service_port
from converters.appmesh.nodes import Node
from meshmigrate.fields import View
from meshmigrate.model import Destination, Provenance, ServiceInfo, ServiceRef, SubsetService
from meshmigrate.subsets import place_subset_service


class Targets:
    def __init__(self, env: Env, nodes: dict[tuple[str, str], Node]) -> None:
        self.env, self.nodes = env, nodes
        self.sharing = Counter(n.service for n in nodes.values() if n.service is not None)

    def target(self, view: View, obj: Obj) -> Destination | None:
        """One weighted target of ``obj`` (a VirtualRouter); None when it cannot be resolved
        (reported)."""
        weight = view.int("weight")
        if weight is None or not 0 <= weight <= 100:
            raise view.error("weight must be 0-100", "weight")
        node = self.node(view.map("virtualNodeRef"), view, "virtualNodeARN", obj)
        port = view.int("port")
        return None if node is None else self.destination(node, port, weight, obj, view)

    def node(self, ref_view: View | None, parent: View, arn_key: str, obj: Obj) -> Node | None:
        ref = object_ref(ref_view, obj.doc.namespace())
        if ref is None:
            arn = parent.str(arn_key)
            self.env.report("REFERENCE_UNRESOLVED", obj, parent.at(arn_key) if arn else parent,
                            f"virtual node {arn or '(no reference)'} is not a Kubernetes "
                            "object in the input; the target is dropped")
            return None
        node = self.nodes.get(ref)
        if node is None:
            self.env.report("REFERENCE_UNRESOLVED", obj, ref_view or parent,
                            f"VirtualNode {ref[0]}/{ref[1]} is not in the input; the target is "
                            "dropped")
        return node

    def destination(self, node: Node, port: int | None, weight: int, obj: Obj,
                    where: View) -> Destination | None:
        if node.service is None:
            return None  # reported on the node (HOST_NOT_A_SERVICE)
        if port is None and len(node.listeners) == 1:
            port = node.listeners[0].port
        service, subset = self._service(node, node.service)
        return Destination(service, self._port(node.service, port, obj, where), weight,
                           subset=subset)

    def _port(self, svc: ServiceRef, port: int | None, obj: Obj, where: View) -> int | None:
        if port is None:
            return None
        mapped = service_port(self.env.ctx.model.services.get(svc), port)
        if mapped is None:
            self.env.report("SERVICE_PORT_UNKNOWN", obj, where,
                            f"Service {svc} has no port reaching container port {port}; port "
                            f"{port} is used")
        return port if mapped is None else mapped

    def _service(self, node: Node, parent: ServiceRef) -> tuple[ServiceRef, str | None]:
        if self.sharing[parent] < 2:
            return parent, None
        subset = node.name.removeprefix(f"{parent.name}-") or node.name
        info = self.env.ctx.model.services.get(parent)
        problem = ("its podSelector is not a plain matchLabels selector" if node.labels is None
                   else f"Service {parent} is not in the input" if info is None else None)
        if problem or node.labels is None or info is None:
            self.env.report("SUBSET_NOT_CONVERTIBLE", node.obj, ("spec", "podSelector"),
                            f"VirtualNode {node.name} shares hostname {parent} with other nodes "
                            f"but {problem}; the whole Service is used")
            return parent, subset
        return self._subset_service(node, info, subset, node.labels), subset

    def _subset_service(self, node: Node, parent: ServiceInfo, subset: str,
                        labels: tuple[tuple[str, str], ...]) -> ServiceRef:
        ref, create = place_subset_service(parent, subset, labels, self.env.ctx.model.services)
        shown = ",".join(f"{k}={v}" for k, v in labels)
        where = ("spec", "podSelector", "matchLabels")
        self.env.report("SHARED_HOSTNAME_SPLIT", node.obj, where,
                        f"VirtualNode {node.name} shares hostname {parent.ref} with other "
                        f"nodes; it becomes Service {ref} (pods labelled {shown}), although "
                        "App Mesh resolves the shared name to every pod of the Service")
        if create:
            self.env.ctx.model.subset_services.setdefault(ref, SubsetService(
                ref, parent.ref, subset, labels, Provenance(node.obj.doc, where)))
            self.env.report("SUBSET_SERVICE_CREATED", node.obj, where,
                            f"Service {ref} (pods of {parent.ref} labelled {shown}) stands for "
                            f"VirtualNode {node.name}")
        return ref



