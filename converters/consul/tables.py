"""One :class:`RouteTable` per service whose config entries change its routing.

The start node decides the shape (consul ``agent/xds/routes.go``,
``makeUpstreamRouteForDiscoveryChain``):

- a router: its routes in order (first match wins); Consul then appends a catch-all route
  ("to send unmatched traffic to the next hop in the chain"): the service's splitter or
  resolver. That is the table's ``PASS_THROUGH`` ``fallback``, which the compiler turns into
  a last rule that is safe next to regex rules;
- a splitter only: no rules, the weighted splits as ``fallback``;
- a resolver only (redirect, default subset or request timeout): likewise, except that a
  resolver ``requestTimeout`` (applied only where the resolver is the start node) needs a
  rule to carry it: an explicit catch-all rule, which leaves no request unmatched (the
  table then says ``NOT_FOUND``, so no second catch-all is added after it).

Routes without their own timeout keep Envoy's default of 15 s, written explicitly. The
fallback cannot carry a timeout (model gap): Consul's catch-all route keeps Envoy's 15 s,
the fallback has none.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from converters.consul.chain import Chain, Target, Where
from converters.consul.durations import DEFAULT_TIMEOUT_MS, effective_timeout
from converters.consul.env import Entry, Env
from converters.consul.spec import Route
from meshmigrate.model import (
    Destination,
    PathRewrite,
    Provenance,
    RewriteKind,
    RouteTable,
    Rule,
    ServiceRef,
    Unmatched,
)


@dataclass
class Routers:
    entries: dict[ServiceRef, Entry]
    routes: dict[ServiceRef, list[Route]]


class TableBuilder:
    def __init__(self, env: Env, chain: Chain, routers: Routers) -> None:
        self.env, self.chain, self.routers = env, chain, routers

    def services(self) -> list[ServiceRef]:
        """Services with a router, a splitter, or a resolver that routes traffic."""
        found = {*self.routers.entries, *self.chain.splitters,
                 *(ref for ref, res in self.chain.resolvers.items() if res.routes_traffic)}
        return sorted(found, key=lambda ref: (ref.namespace, ref.name))

    def table(self, svc: ServiceRef) -> RouteTable:
        entry, rules, fallback = self._rules(svc)
        if not self.env.known(svc):
            self.env.report("SERVICE_UNKNOWN", entry.doc, ("metadata", "name"),
                            f"Service {svc} is not in the input; its ports were not checked")
        if any(r.timeout_ms == DEFAULT_TIMEOUT_MS for r in rules):
            self.env.report("TIMEOUT_DEFAULT_EXPLICIT", entry.doc, ("spec",),
                            "routes without requestTimeout keep Envoy's default request "
                            "timeout of 15s; it is written explicitly")
        rules = [replace(r, destinations=self._ports(r.destinations, svc)) for r in rules]
        catch_all = bool(rules) and not rules[-1].matches
        return RouteTable(service=svc, rules=tuple(rules),
                          unmatched=Unmatched.NOT_FOUND if catch_all else Unmatched.PASS_THROUGH,
                          name=svc.name, origin=Provenance(entry.doc, ()),
                          fallback=() if catch_all else self._ports(fallback, svc))

    def _rules(self, svc: ServiceRef) -> tuple[Entry, list[Rule], tuple[Destination, ...]]:
        """The entry that starts the chain, its rules and where unmatched requests go."""
        if svc in self.routers.entries:
            entry = self.routers.entries[svc]
            rules = [self._route_rule(route, entry) for route in self.routers.routes[svc]]
            return entry, rules, self._next(svc, entry, ("spec", "routes"))
        if svc in self.chain.splitters:
            entry = self.chain.splitters[svc].entry
            return entry, [], self._next(svc, entry, ("spec", "splits"))
        resolver = self.chain.resolvers[svc]
        fallback = (self.chain.resolve(Target(svc), Where(resolver.entry, ("spec",))),)
        if not resolver.timeout:
            return resolver.entry, [], fallback
        timeout, _ = effective_timeout(resolver.timeout)
        return resolver.entry, [Rule(destinations=fallback, timeout_ms=timeout, origin=Provenance(
            resolver.entry.doc, ("spec", "requestTimeout")))], fallback

    def _route_rule(self, route: Route, router: Entry) -> Rule:
        dest = route.destination
        target = Target(ServiceRef(dest.hop.namespace or router.ref.namespace,
                                   dest.hop.service or router.ref.name), dest.hop.subset)
        timeout, _ = effective_timeout(dest.timeout)
        rewrite = dest.prefix_rewrite
        return Rule(matches=route.matches,
                    destinations=self.chain.next_hop(target, Where(router, dest.hop.path)),
                    request_headers=dest.request_headers, response_headers=dest.response_headers,
                    rewrite=PathRewrite(RewriteKind.PREFIX_STRING, rewrite) if rewrite else None,
                    timeout_ms=timeout, retry=dest.retry,
                    origin=Provenance(router.doc, route.path))

    def _next(self, svc: ServiceRef, entry: Entry, path: tuple[str, ...]
              ) -> tuple[Destination, ...]:
        """Consul's catch-all destination (``newDefaultServiceRoute``): the service's own
        splitter or resolver."""
        return self.chain.next_hop(Target(svc), Where(entry, path))

    def _ports(self, dests: tuple[Destination, ...], table: ServiceRef
               ) -> tuple[Destination, ...]:
        return tuple(self._port(d, table) for d in dests)

    def _port(self, dest: Destination, table: ServiceRef) -> Destination:
        """Consul routes to a service, not a port: requests keep their port, except towards
        another Service that has a single port, which can only be that one."""
        subset = self.env.ctx.model.subset_services.get(dest.service)
        parent = subset.parent if subset is not None else dest.service
        info = self.env.ctx.model.services.get(parent)
        if parent == table or info is None or len(info.ports) != 1:
            return dest
        return replace(dest, port=info.ports[0].port)
