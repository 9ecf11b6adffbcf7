"""DestinationRule -> subset index and findings (semantics.md §3.5).

Only subsets matter to routing: they become per-subset Services when a converted
destination names them. Traffic policies (load balancing, connection pools, outlier
detection, TLS...) have no route-level equivalent and are reported, field by field.
"""

from __future__ import annotations

from converters.istio.context import mappings
from converters.istio.hosts import resolve_host
from converters.istio.matches import port_number
from converters.istio.subsets import Subset, SubsetIndex
from meshmigrate.fields import View
from meshmigrate.model import Provenance
from meshmigrate.registry import ConvertContext
from meshmigrate.sources import Document

_POLICIES = {
    "loadBalancer": "load balancing (consistentHash would be sessionPersistence, approx.)",
    "connectionPool": "connection pool limits",
    "outlierDetection": "outlier detection",
    "tunnel": "tunnel settings",
    "proxyProtocol": "PROXY protocol",
    "retryBudget": "retry budget",
}
_OBJECT_FIELDS = {"exportTo": "exportTo (visibility of the rule)",
                  "workloadSelector": "workloadSelector (which clients use the rule)"}


def index_destination_rules(docs: list[Document], ctx: ConvertContext) -> SubsetIndex:
    """Read every DestinationRule (``docs`` oldest first) into a subset index."""
    index = SubsetIndex()
    for doc in docs:
        _read(doc, ctx, index)
    return index


def _read(doc: Document, ctx: ConvertContext, index: SubsetIndex) -> None:
    view = ctx.view(doc)
    spec = view.map("spec") or view.at("spec")
    host = spec.req_str("host")
    service = resolve_host(host, doc.namespace(), ctx.model.services)
    subsets = list(mappings(spec, "subsets"))
    if service is None and subsets:
        ctx.findings.add("HOST_NOT_A_SERVICE", doc, spec.at("host").path,
                         f"host {host!r} is not a Kubernetes Service; its subsets cannot "
                         "become Services")
    for item in subsets:
        subset = Subset(item.req_str("name"), tuple(sorted(item.str_map("labels").items())),
                        Provenance(doc, item.path))
        if service is not None:
            index.add(service, subset)
        _policy(item.map("trafficPolicy"), ctx)
    _policy(spec.map("trafficPolicy"), ctx)
    _object_fields(spec, ctx)
    ctx.report_unconsumed(view)


def _policy(view: View | None, ctx: ConvertContext) -> None:
    """A TrafficPolicy (top level, per subset, or per port)."""
    if view is None:
        return
    for key, what in _POLICIES.items():
        if key in view:
            view.raw(key)
            ctx.findings.add("TRAFFIC_POLICY_DROPPED", view.doc, view.at(key).path,
                             f"{what} has no Gateway API field")
    _tls(view.map("tls"), ctx)
    for item in mappings(view, "portLevelSettings"):
        port = item.map("port")
        if port is not None:
            port_number(port, "number")
        _policy(item, ctx)


def _tls(view: View | None, ctx: ConvertContext) -> None:
    """ISTIO_MUTUAL is the mesh's own mTLS (dropped, info); anything else is backend TLS
    that GAMMA routes do not carry (BackendTLSPolicy at best)."""
    if view is None:
        return
    mode = view.str("mode") or "DISABLE"
    for key in list(view.node):
        view.raw(str(key))
    if mode == "ISTIO_MUTUAL":
        ctx.findings.add("MESH_TLS_DROPPED", view.doc, view.path,
                         "tls mode ISTIO_MUTUAL is provided by the mesh itself")
    else:
        ctx.findings.add("BACKEND_TLS_NOT_CONVERTED", view.doc, view.path,
                         f"tls mode {mode} to the backend is not converted")


def _object_fields(spec: View, ctx: ConvertContext) -> None:
    for key, what in _OBJECT_FIELDS.items():
        if key in spec:
            spec.raw(key)
            ctx.findings.add("TRAFFIC_POLICY_DROPPED", spec.doc, spec.at(key).path,
                             f"{what} has no Gateway API equivalent")
