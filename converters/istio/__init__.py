"""Istio ``networking.istio.io`` VirtualService and DestinationRule -> the routing model.

Registered through the ``meshmigrate.converters`` entry point as ``istio``
(``converters.istio:CONVERTER``). The pipeline, per semantics.md §3, §8 and §11:

1. DestinationRules (oldest first) -> the subset index; traffic policies are reported.
2. Each VirtualService -> candidate route tables (per host, per producer/consumer scope).
3. Several VirtualServices for one host: only the oldest is in effect.
4. Tables in effect, the per-subset Services they use and the source objects go into the
   model. A VirtualService that is ignored entirely reports only that it is.
"""

from __future__ import annotations

from converters.istio.context import Env
from converters.istio.destinationrule import index_destination_rules
from converters.istio.duplicates import report, resolve_duplicates
from converters.istio.virtualservice import (
    Age,
    Candidate,
    VsResult,
    convert_virtual_service,
    object_age,
)
from meshmigrate.fields import View
from meshmigrate.model import RouteTable
from meshmigrate.registry import ConvertContext, Converter
from meshmigrate.sources import Document

GROUP = "networking.istio.io"
VERSIONS = ("v1", "v1beta1", "v1alpha3")


class IstioConverter(Converter):
    name = "istio"
    description = "Istio VirtualService and DestinationRule (networking.istio.io)"
    kinds = {(GROUP, "VirtualService"): VERSIONS,  # noqa: RUF012 (the base class's shape)
             (GROUP, "DestinationRule"): VERSIONS}

    def convert(self, docs: list[Document], ctx: ConvertContext) -> None:
        rules = sorted((d for d in docs if d.kind == "DestinationRule"), key=_age)
        subsets = index_destination_rules(rules, ctx)
        services = [d for d in docs if d.kind == "VirtualService"]
        delegates = _delegate_targets(services, ctx)
        results = [convert_virtual_service(Env(doc, ctx.model, subsets), delegates)
                   for doc in services]
        dropped = resolve_duplicates(results)
        for drop in dropped:
            report(drop, ctx.findings)
        gone = {id(drop.candidate) for drop in dropped}
        for result in results:
            _commit(result, [c for c in result.candidates if id(c) not in gone], ctx)
        _add_sources([d for d in docs if d.kind == "DestinationRule"], results, ctx)


def _commit(result: VsResult, kept: list[Candidate], ctx: ConvertContext) -> None:
    """Add what one VirtualService contributes that is in effect."""
    env = result.env
    if result.candidates and not kept:
        return  # ignored entirely: DUPLICATE_HOST_IGNORED says so
    if result.in_mesh:
        ConvertContext(ctx.model, env.findings).report_unconsumed(result.view)
    ctx.findings.extend(env.findings)
    for candidate in kept:
        ctx.model.tables.append(candidate.table)
        _add_subset_services(candidate.table, env, ctx)


def _add_subset_services(table: RouteTable, env: Env, ctx: ConvertContext) -> None:
    refs = [d.service for r in table.rules for d in r.destinations]
    refs += [m.service for r in table.rules for m in r.mirrors]
    for ref in refs:
        subset = env.subset_services.get(ref)
        if subset is None or ref in ctx.model.subset_services:
            continue
        ctx.model.subset_services[ref] = subset
        if subset.origin is not None:
            ctx.findings.add("SUBSET_SERVICE_CREATED", subset.origin.doc, subset.origin.path,
                             f"Service {ref} selects subset {subset.subset!r} of "
                             f"{subset.parent} (parent selector plus the subset's labels)")


def _add_sources(rules: list[Document], results: list[VsResult], ctx: ConvertContext) -> None:
    """The objects converted, for cutover: VirtualServices applying to the mesh with a host
    that is a Service (ignored duplicates too: left in place, they would win again), and
    DestinationRules whose subsets became Services."""
    used = {id(s.origin.doc) for s in ctx.model.subset_services.values() if s.origin}
    ctx.model.sources += [r.env.doc for r in results if r.candidates]
    ctx.model.sources += [doc for doc in rules if id(doc) in used]


def _delegate_targets(services: list[Document], ctx: ConvertContext) -> set[tuple[str, str]]:
    """(namespace, name) of every VirtualService some rule delegates to."""
    out = set()
    for doc in services:
        for rule in ctx.view(doc).at("spec").list("http"):
            target = rule.map("delegate") if isinstance(rule.node, dict) else None
            name = target.str("name") if target is not None else None
            if target is not None and name:
                out.add((target.str("namespace") or doc.namespace(), name))
    return out


def _age(doc: Document) -> Age:
    return object_age(View(doc))


CONVERTER = IstioConverter()
