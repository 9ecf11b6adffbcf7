"""The discovery chain walk: where a request for a service (and subset) ends up.

Mirrors consul ``agent/consul/discoverychain/compile.go``:

- ``getSplitterOrResolverNode``: a target without a subset goes through the service's
  splitter when it has one, else straight to its resolver; a router destination *with* a
  subset always goes to the resolver.
- A split to another service (no subset) that has its own splitter is flattened into it,
  weights multiplied (``flattenAdjacentSplitterNodes``); a split to the splitter's own
  service goes to the resolver.
- ``getResolverNode``: ``redirect`` first (naming another service resets the subset), then
  ``defaultSubset`` when no subset was asked for; a subset the resolver does not define
  makes Consul refuse the chain.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from converters.consul.env import Entry, Env
from converters.consul.headers import merged
from converters.consul.spec import Hop, Resolver, Split, Subset
from converters.consul.subsets import filter_labels
from meshmigrate.model import Destination, Provenance, ServiceRef, SubsetService
from meshmigrate.sources import FieldPath
from meshmigrate.subsets import place_subset_service


@dataclass(frozen=True, slots=True)
class Target:
    service: ServiceRef
    subset: str | None = None


@dataclass(frozen=True, slots=True)
class Where:
    """The field that refers to a target (findings about the target point there)."""

    entry: Entry
    path: FieldPath


@dataclass
class Splitter:
    entry: Entry
    splits: list[Split]


class Chain:
    def __init__(self, env: Env, splitters: dict[ServiceRef, Splitter],
                 resolvers: dict[ServiceRef, Resolver]) -> None:
        self.env, self.splitters, self.resolvers = env, splitters, resolvers

    def next_hop(self, target: Target, where: Where) -> tuple[Destination, ...]:
        """The weighted destinations of ``target``."""
        if target.subset is None and target.service in self.splitters:
            return self._split(target.service, frozenset())
        return (self.resolve(target, where),)

    def _split(self, ref: ServiceRef, seen: frozenset[ServiceRef]) -> tuple[Destination, ...]:
        splitter, out = self.splitters[ref], list[Destination]()
        for split in splitter.splits:
            sid = ServiceRef(split.hop.namespace or ref.namespace, split.hop.service or ref.name)
            where = Where(splitter.entry, split.hop.path)
            nested = (sid != ref and split.hop.subset is None and sid in self.splitters
                      and sid not in seen)
            if nested:
                out.extend(_nest(split, d) for d in self._split(sid, seen | {ref}))
                continue
            dest = self.resolve(Target(sid, split.hop.subset), where)
            out.append(replace(dest, weight=split.weight, request_headers=split.request_headers,
                               response_headers=split.response_headers))
        return tuple(out)

    def resolve(self, target: Target, where: Where) -> Destination:
        """The resolver node of ``target``: follow redirects, apply the default subset."""
        history = [target]
        while True:
            resolver = self.resolvers.get(target.service)
            redirected = _redirect(target, resolver.redirect) if resolver and resolver.redirect \
                else target
            if resolver is not None and redirected != target:
                if redirected in history:
                    raise resolver.entry.spec.error(
                        "circular resolver redirect: " + " -> ".join(
                            _show(t) for t in (*history, redirected)), "redirect")
                history.append(target := redirected)
                where = Where(resolver.entry, resolver.entry.spec.at("redirect").path)
                continue
            if target.subset is None and resolver is not None and resolver.default_subset:
                target = Target(target.service, resolver.default_subset)
                where = Where(resolver.entry, resolver.entry.spec.at("defaultSubset").path)
                continue
            return self._leaf(target, resolver, where)

    def _leaf(self, target: Target, resolver: Resolver | None, where: Where) -> Destination:
        svc, name = target.service, target.subset
        if name is None:
            self._check_known(svc, where)
            return Destination(svc, None)
        subset = resolver.subsets.get(name) if resolver is not None else None
        if subset is None or resolver is None:
            self._report(where, "SUBSET_UNKNOWN",
                         f"service {svc} has no subset {name!r} (no ServiceResolver defines "
                         "it; Consul refuses this chain); the whole Service is used")
            return Destination(svc, None, subset=name)
        return Destination(self._subset_service(svc, subset, resolver), None, subset=name)

    def _subset_service(self, parent: ServiceRef, subset: Subset, resolver: Resolver
                        ) -> ServiceRef:
        labels = filter_labels(subset.filter)
        where = Where(resolver.entry, (*subset.path, "filter"))
        if labels is None:
            self._report(where, "SUBSET_NOT_CONVERTIBLE",
                         f"subset {subset.name!r} filter {subset.filter!r} is not a conjunction "
                         "of Service.Meta.<key> == <value> terms; the whole Service is used")
            return parent
        if not labels:
            return parent  # an empty filter selects every instance
        info = self.env.ctx.model.services.get(parent)
        if info is None:
            self._report(where, "SUBSET_NOT_CONVERTIBLE",
                         f"subset {subset.name!r}: Service {parent} is not in the input, so no "
                         "per-subset Service can be derived from it; the whole Service is used")
            return parent
        shown = ",".join(f"{k}={v}" for k, v in labels)
        self._report(where, "SUBSET_FILTER_AS_LABELS",
                     f"subset {subset.name!r} selects pods labelled {shown}: this assumes the "
                     "Consul service metadata equals the pod labels")
        ref, create = place_subset_service(info, subset.name, labels, self.env.ctx.model.services)
        if create:
            self._add(SubsetService(ref, parent, subset.name, labels,
                                    Provenance(where.entry.doc, where.path)), shown, where)
        return ref

    def _add(self, sub: SubsetService, shown: str, where: Where) -> None:
        self.env.ctx.model.subset_services.setdefault(sub.ref, sub)
        self._report(where, "SUBSET_SERVICE_CREATED",
                     f"Service {sub.ref} (pods of {sub.parent} labelled {shown}) stands for "
                     f"subset {sub.subset!r}")

    def _check_known(self, svc: ServiceRef, where: Where) -> None:
        if not self.env.known(svc):
            self._report(where, "SERVICE_UNKNOWN",
                         f"Service {svc} is not in the input; its ports were not checked")

    def _report(self, where: Where, code: str, message: str) -> None:
        self.env.report(code, where.entry.doc, where.path, message)


def _nest(outer: Split, inner: Destination) -> Destination:
    """A destination of a nested splitter, weighted by the outer split (hundredths of a
    percent, rounded as Consul's ``NormalizeServiceSplitWeight`` does)."""
    return replace(inner, weight=round(outer.weight * inner.weight / 10_000),
                   request_headers=merged(outer.request_headers, inner.request_headers),
                   response_headers=merged(outer.response_headers, inner.response_headers))


def _redirect(target: Target, hop: Hop) -> Target:
    """Consul ``rewriteTarget``: another service name resets the subset; a given subset or
    namespace replaces the target's."""
    name, subset = target.service.name, target.subset
    if hop.service and hop.service != name:
        name, subset = hop.service, None
    if hop.subset:
        subset = hop.subset
    return Target(ServiceRef(hop.namespace or target.service.namespace, name), subset)


def _show(target: Target) -> str:
    return f"{target.service}" + (f"/{target.subset}" if target.subset else "")
