"""VirtualService -> :class:`RouteTable`\\ s for the Service clients call (``awsName``).

- Provider ``virtualRouter``: one table per router listener (port), the router's ordered
  routes as first-match rules; no route matches -> 404 (Envoy), ``Unmatched.NOT_FOUND``.
- Provider ``virtualNode``: one catch-all rule to the node's Service (App Mesh builds an
  Envoy route for it too: 15 s timeout, default retries).
- HTTP and gRPC tables carry App Mesh's default retry policy for routes without their own.
- App Mesh gives a route to a client only when the client's VirtualNode lists the virtual
  service among its ``backends``; a GAMMA route applies to every client
  (CLIENT_SCOPE_WIDENED).
"""

from __future__ import annotations

from converters.appmesh.env import Env, Obj, object_ref
from converters.appmesh.hosts import resolve_host, service_port
from converters.appmesh.nodes import Listener, Node
from converters.appmesh.policies import DEFAULT_RETRY, DEFAULT_TIMEOUT_MS, GRPC_DEFAULT_RETRY
from converters.appmesh.routers import PROTOCOL, Router, RuleBuilder
from converters.appmesh.targets import Targets
from meshmigrate.fields import View
from meshmigrate.model import Protocol, Provenance, RouteTable, Rule, ServiceRef, Unmatched


class TableBuilder:
    def __init__(self, env: Env, routers: dict[tuple[str, str], Router], targets: Targets,
                 rules: RuleBuilder) -> None:
        self.env, self.routers, self.targets, self.rules = env, routers, targets, rules

    def tables(self, vs: Obj) -> list[RouteTable]:
        svc = self._service(vs)
        provider = vs.spec.map("provider") or vs.spec.at("provider")
        by_router, by_node = provider.map("virtualRouter"), provider.map("virtualNode")
        if (by_router is None) == (by_node is None):
            raise provider.error("set exactly one of virtualRouter, virtualNode")
        if svc is None:
            provider.use()
            return []
        tables = (self._router_tables(vs, svc, by_router) if by_router is not None else
                  self._node_tables(vs, svc, by_node) if by_node is not None else [])
        if tables:
            self.env.report("CLIENT_SCOPE_WIDENED", vs, ("spec", "awsName"),
                            "App Mesh applies these routes only to clients whose VirtualNode "
                            f"lists this virtual service as a backend; routes for {svc} apply "
                            "to every client")
        return tables

    def _service(self, vs: Obj) -> ServiceRef | None:
        """``awsName`` (default: the object's name), the name clients call."""
        name = vs.spec.str("awsName") or vs.doc.name
        vs.spec.raw("meshRef")
        ref = resolve_host(name, vs.doc.namespace(), self.env.ctx.model.services)
        if ref is None:
            self.env.report("HOST_NOT_A_SERVICE", vs, ("spec", "awsName"),
                            f"virtual service name {name!r} is not a Kubernetes Service name; "
                            "not converted")
        elif not self.env.known(ref):
            self.env.report("SERVICE_UNKNOWN", vs, ("spec", "awsName"),
                            f"Service {ref} is not in the input; its ports were not checked")
        return ref

    def _router_tables(self, vs: Obj, svc: ServiceRef, view: View) -> list[RouteTable]:
        router = self._router(vs, view)
        if router is None:
            return []
        router.used = True
        return [self._table(vs, svc, listener, self.rules.rules(router, listener))
                for listener in router.listeners]

    def _router(self, vs: Obj, view: View) -> Router | None:
        ref = object_ref(view.map("virtualRouterRef"), vs.doc.namespace())
        router = self.routers.get(ref) if ref is not None else None
        if router is None:
            shown = f"VirtualRouter {ref[0]}/{ref[1]}" if ref else \
                f"virtual router {view.str('virtualRouterARN') or '(no reference)'}"
            self.env.report("REFERENCE_UNRESOLVED", vs, view,
                            f"{shown} is not in the input; the virtual service is not converted")
        return router

    def _node_tables(self, vs: Obj, svc: ServiceRef, view: View) -> list[RouteTable]:
        node = self.targets.node(view.map("virtualNodeRef"), view, "virtualNodeARN", vs)
        if node is None:
            return []
        listeners = node.listeners or [Listener(0, "http", ())]
        return [self._node_table(vs, svc, node, listener, view) for listener in listeners]

    def _node_table(self, vs: Obj, svc: ServiceRef, node: Node, listener: Listener,
                    where: View) -> RouteTable:
        port = listener.port or None
        dest = self.targets.destination(node, port, 1, vs, where)
        http = listener.protocol != "tcp"
        rule = Rule(destinations=(dest,) if dest else (),
                    timeout_ms=DEFAULT_TIMEOUT_MS if http else None,
                    origin=Provenance(vs.doc, where.path))
        if http:
            self.env.report("TIMEOUT_DEFAULT_EXPLICIT", vs, where,
                            "App Mesh's route to the node has the default 15s timeout; it is "
                            "written explicitly")
        return self._table(vs, svc, listener, [rule])

    def _table(self, vs: Obj, svc: ServiceRef, listener: Listener, rules: list[Rule]
               ) -> RouteTable:
        protocol = PROTOCOL[listener.protocol]
        default = {Protocol.HTTP: DEFAULT_RETRY, Protocol.GRPC: GRPC_DEFAULT_RETRY}.get(protocol)
        if default is not None and any(r.retry is None for r in rules):
            self.env.report("SOURCE_DEFAULT_RETRY_ASSUMED", vs, ("spec", "provider"),
                            "routes without retryPolicy get App Mesh's default retry policy (2 "
                            "retries on 503, connection failures, refused streams and resets; "
                            "meshes created since 2020-07-29), assumed to apply")
        return RouteTable(service=svc, rules=tuple(rules), protocol=protocol,
                          port=self._table_port(vs, svc, listener.port or None),
                          unmatched=Unmatched.NOT_FOUND, default_retry=default,
                          name=vs.doc.name, origin=Provenance(vs.doc, ()))

    def _table_port(self, vs: Obj, svc: ServiceRef, port: int | None) -> int | None:
        if port is None:
            return None
        mapped = service_port(self.env.ctx.model.services.get(svc), port)
        if mapped is None:
            self.env.report("SERVICE_PORT_UNKNOWN", vs, ("spec", "awsName"),
                            f"Service {svc} has no port reaching listener port {port}; the "
                            "routes apply to all its ports")
        return mapped
