"""VirtualRouter -> ordered rules per listener.

Route order: ``priority`` 0-1000, "0 is the highest priority, and first matched route is
selected" (App Mesh CDK/console reference). Routes without a priority have "no particular
priority"; App Mesh has sorted routes by match length, longest first
(aws-app-mesh-roadmap#77, 2019, before priorities existed).
The converter puts prioritized routes first (ascending, ties in list order), then the others
longest match first, and says so whenever that order is an assumption
(SOURCE_ORDER_ASSUMED). No route matches: Envoy answers 404.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from converters.appmesh.env import Env, Obj, mappings
from converters.appmesh.matches import grpc_match, http_match
from converters.appmesh.nodes import Listener, read_listeners
from converters.appmesh.policies import idle_timeout, request_timeout, retry_policy
from converters.appmesh.targets import Targets
from meshmigrate.fields import View
from meshmigrate.model import Match, Protocol, Provenance, RetryPolicy, Rule
from meshmigrate.sources import FieldPath

ROUTE_KIND = {"http": "httpRoute", "http2": "http2Route", "grpc": "grpcRoute",
              "tcp": "tcpRoute"}
PROTOCOL = {"http": Protocol.HTTP, "http2": Protocol.HTTP, "grpc": Protocol.GRPC,
            "tcp": Protocol.TCP}


@dataclass(frozen=True, slots=True)
class RouteSpec:
    name: str
    priority: int | None
    index: int
    kind: str
    port: int | None  # match.port: the listener the route belongs to
    length: int  # match length, App Mesh's order for routes without priority
    path: FieldPath


@dataclass
class Router:
    obj: Obj
    listeners: list[Listener]
    routes: list[RouteSpec]
    rules: dict[int, list[Rule]] = field(default_factory=dict)  # by listener port
    used: bool = False


def read_router(obj: Obj, env: Env) -> Router:
    spec = obj.spec
    for key in ("awsName", "meshRef"):
        spec.raw(key)
    listeners = read_listeners(spec, obj, env, node=False)
    routes = [_route(view, i) for i, view in enumerate(mappings(spec, "routes"))]
    kinds = {ROUTE_KIND[listener.protocol] for listener in listeners}
    for route in routes:
        if route.kind not in kinds:
            raise spec.error(f"{route.kind} needs a listener with protocol "
                             f"{_protocol_of(route.kind)}", "listeners")
    return Router(obj, listeners, routes)


def _route(view: View, index: int) -> RouteSpec:
    name, priority = str(view.req_str("name")), view.int("priority")
    if priority is not None and not 0 <= priority <= 1000:
        raise view.error("priority must be 0-1000", "priority")
    kinds = [kind for kind in ROUTE_KIND.values() if view.map(kind) is not None]
    if len(kinds) != 1:
        raise view.error("set exactly one of httpRoute, http2Route, grpcRoute, tcpRoute")
    match = view.at(kinds[0]).at("match")
    return RouteSpec(name, priority, index, kinds[0], match.int("port"), _length(match),
                     view.path)


def _length(match: View) -> int:
    node: dict[str, Any] = match.node if isinstance(match.node, dict) else {}
    path: dict[str, Any] = node["path"] if isinstance(node.get("path"), dict) else {}
    texts = (node.get("prefix"), path.get("exact"), path.get("regex"),
             node.get("serviceName"), node.get("methodName"))
    return sum(len(t) for t in texts if isinstance(t, str))


def _protocol_of(kind: str) -> str:
    return next(p for p, k in ROUTE_KIND.items() if k == kind)


def ordered(router: Router, listener: Listener, env: Env) -> list[RouteSpec]:
    routes = [r for r in router.routes if r.kind == ROUTE_KIND[listener.protocol]
              and r.port in (None, listener.port)]
    first = sorted((r for r in routes if r.priority is not None),
                   key=lambda r: (r.priority or 0, r.index))
    rest = sorted((r for r in routes if r.priority is None), key=lambda r: (-r.length, r.index))
    ties = len({r.priority for r in first}) < len(first)
    if len(routes) > 1 and (rest or ties):
        env.report("SOURCE_ORDER_ASSUMED", router.obj, ("spec", "routes"),
                   "routes without a priority (or with equal ones) have no defined order; "
                   "assumed: by priority, then without priority longest match first: "
                   + ", ".join(r.name for r in first + rest))
    return first + rest


class RuleBuilder:
    def __init__(self, env: Env, targets: Targets) -> None:
        self.env, self.targets = env, targets

    def rules(self, router: Router, listener: Listener) -> list[Rule]:
        if listener.port not in router.rules:
            router.rules[listener.port] = [self._rule(router.obj, route) for route in
                                           ordered(router, listener, self.env)]
        return router.rules[listener.port]

    def _rule(self, obj: Obj, route: RouteSpec) -> Rule:
        view = obj.root
        for part in route.path:
            view = view.at(part)
        spec = view.map(route.kind) or view.at(route.kind)
        matches, timeout, retry = self._behaviour(spec, route.kind, obj)
        action = spec.map("action") or spec.at("action")
        dests = [self.targets.target(t, obj) for t in mappings(action, "weightedTargets")]
        return Rule(matches=matches, destinations=tuple(d for d in dests if d is not None),
                    name=route.name, timeout_ms=timeout, retry=retry,
                    origin=Provenance(obj.doc, route.path))

    def _behaviour(self, spec: View, kind: str, obj: Obj
                   ) -> tuple[tuple[Match, ...], int | None, RetryPolicy | None]:
        if kind == "tcpRoute":
            timeout = spec.map("timeout")
            if timeout is not None:
                idle_timeout(timeout, obj, self.env)
            return (), None, None
        matches = (grpc_match if kind == "grpcRoute" else http_match)(spec, obj, self.env)
        timeout_ms, default = request_timeout(spec, obj, self.env)
        if default:
            self.env.report("TIMEOUT_DEFAULT_EXPLICIT", obj, ("spec", "routes"),
                            "routes without timeout.perRequest keep App Mesh's default of 15s; "
                            "it is written explicitly")
        return matches, timeout_ms, retry_policy(spec, obj, self.env)
