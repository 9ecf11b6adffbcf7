"""The SMI converter plugin: TrafficSplit (+ the HTTPRouteGroups/TCPRoutes it references).

TrafficTarget (``access.smi-spec.io``) is authorization, which GAMMA routes do not carry
(GEP-3779 is only Implementable): it is reported, not converted.
"""

from __future__ import annotations

from converters.linkerd.matches import Report
from converters.linkerd.names import resolve_name
from converters.smi.backends import read_backends
from converters.smi.groups import RouteGroup
from converters.smi.refs import HTTP_ROUTE_GROUP, TCP_ROUTE, resolve_refs
from converters.smi.split import Split, split_tables
from meshmigrate.model import ServiceRef
from meshmigrate.registry import ConvertContext, Converter
from meshmigrate.sources import Document, FieldPath

SPLIT, SPECS, ACCESS = "split.smi-spec.io", "specs.smi-spec.io", "access.smi-spec.io"
ALL_VERSIONS = ("v1alpha1", "v1alpha2", "v1alpha3", "v1alpha4")


class SmiConverter(Converter):
    name = "smi"
    description = "SMI TrafficSplit with HTTPRouteGroup/TCPRoute matches (smi-spec.io)"
    kinds = {  # noqa: RUF012 (the base class declares it as a plain attribute)
        (SPLIT, "TrafficSplit"): ALL_VERSIONS,
        (SPECS, HTTP_ROUTE_GROUP): ALL_VERSIONS,
        (SPECS, TCP_ROUTE): ALL_VERSIONS,
        (ACCESS, "TrafficTarget"): ALL_VERSIONS,
    }

    def convert(self, docs: list[Document], ctx: ConvertContext) -> None:
        index = {(d.namespace(), d.kind, d.name): RouteGroup(d) for d in docs
                 if d.group == SPECS}
        roots: dict[ServiceRef, Document] = {}
        for doc in docs:
            if doc.kind == "TrafficSplit":
                convert_split(doc, ctx, index, roots)
            elif doc.kind == "TrafficTarget":
                ctx.findings.add("UNSUPPORTED_SOURCE", doc, (),
                                 "TrafficTarget (access control) is not converted: GAMMA "
                                 "routes carry no authorization")
        for group in index.values():
            if group.used:
                ctx.report_unconsumed(group.view, group.roots)


def convert_split(doc: Document, ctx: ConvertContext, index: dict[tuple[str, str, str],
                  RouteGroup], roots: dict[ServiceRef, Document]) -> None:
    """Add the tables of one TrafficSplit (the first one per root Service wins)."""
    view = ctx.view(doc)
    report = _reporter(doc, ctx)
    spec = view.map("spec") or view.at("spec")
    name = spec.req_str("service")
    root = resolve_name(name, doc.namespace())
    if root is None:
        report("HOST_NOT_A_SERVICE", ("spec", "service"),
               f"{name!r} is not a Kubernetes Service name; not converted")
        return
    if root in roots:
        report("DUPLICATE_HOST_IGNORED", ("spec", "service"),
               f"{roots[root].ref()} already splits {root}; SMI does not merge splits, "
               "so this one was not converted")
        return
    version = doc.api_version.rpartition("/")[2]
    backends = read_backends(spec, version, doc.namespace(), report)
    refs = resolve_refs(spec, version, doc.namespace(), index, report)
    if refs is None:
        return
    roots[root] = doc
    _check_root(root, ctx, report)
    ctx.model.tables.extend(split_tables(Split(doc, spec, root, backends, refs, report),
                                         ctx.model.services))
    ctx.model.sources.append(doc)
    ctx.report_unconsumed(view)


def _check_root(root: ServiceRef, ctx: ConvertContext, report: Report) -> None:
    if root not in ctx.model.services:
        report("SERVICE_UNKNOWN", ("spec", "service"),
               f"Service {root} is not in the input; its ports are unknown, so the split "
               "applies to every port as HTTP")


def _reporter(doc: Document, ctx: ConvertContext) -> Report:
    def report(code: str, path: FieldPath, message: str) -> None:
        ctx.findings.add(code, doc, path, message)
    return report



