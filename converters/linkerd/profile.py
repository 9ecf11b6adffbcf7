"""A ServiceProfile -> one first-match, pass-through route table (semantics.md §4.1).

- The profile is named after the Service's FQDN. In the Service's namespace it applies to
  every client (a producer table); in another namespace it applies to the clients of that
  namespace and takes priority for them (a consumer table, GEP-1294).
- Routes are tried in order and only *classify* traffic: a request no route matches still
  goes to the Service (``Unmatched.PASS_THROUGH``) — or to the ``dstOverrides``, which
  split all of the Service's traffic (``RouteTable.fallback``).
- While a ServiceProfile exists, Linkerd ignores HTTPRoutes and retry/timeout annotations
  for the Service (reference/httproute.md): it must be deleted at cutover.
"""

from __future__ import annotations

from converters.linkerd.matches import Report
from converters.linkerd.names import parse_fqdn
from converters.linkerd.opaque import by_port, opaque_ports
from converters.linkerd.overrides import dst_overrides
from converters.linkerd.retries import read_budget, report_budget
from converters.linkerd.routes import RouteContext, build_rule
from converters.linkerd.viewutil import mappings
from meshmigrate.fields import View
from meshmigrate.model import Destination, Protocol, Provenance, RouteTable, Rule, Unmatched
from meshmigrate.registry import ConvertContext
from meshmigrate.sources import Document, FieldPath


def convert_profile(doc: Document, ctx: ConvertContext) -> None:
    """Add the table for one ServiceProfile (nothing when its name is not a Service)."""
    view = ctx.view(doc)
    report = _reporter(doc, ctx)
    service = parse_fqdn(doc.name)
    if service is None:
        report("HOST_NOT_A_SERVICE", ("metadata", "name"),
               f"ServiceProfile name {doc.name!r} is not a Service FQDN "
               "(name.namespace.svc.cluster.local); not converted")
        return
    report("SERVICEPROFILE_OVERRIDES", ("metadata", "name"),
           "Linkerd ignores HTTPRoutes and retry/timeout annotations for a Service while a "
           "ServiceProfile for it exists: delete this ServiceProfile at cutover")
    if service not in ctx.model.services:
        report("SERVICE_UNKNOWN", ("metadata", "name"),
               f"Service {service} is not in the input; its ports are unknown")
    spec = view.map("spec") or view.at("spec")
    table = _table(doc, spec, report)
    opaque = opaque_ports(spec)
    if table.rules or table.fallback:
        ctx.model.tables.extend(by_port(table, opaque, ctx.model.services.get(service), report))
    ctx.model.sources.append(doc)
    ctx.report_unconsumed(view)


def _table(doc: Document, spec: View, report: Report) -> RouteTable:
    service = parse_fqdn(doc.name)
    assert service is not None
    budget = read_budget(spec)
    fallback = dst_overrides(spec, report)
    route_ctx = RouteContext(budget, fallback or (Destination(service, None),), report)
    rules = _rules(spec, route_ctx)
    report_budget(spec, budget, _any_retryable(spec), report)
    consumer = doc.namespace() if doc.namespace() != service.namespace else None
    return RouteTable(service=service, rules=rules, protocol=Protocol.HTTP,
                      consumer_namespace=consumer, unmatched=Unmatched.PASS_THROUGH,
                      name=doc.name, origin=Provenance(doc, ()), fallback=fallback)


def _rules(spec: View, ctx: RouteContext) -> tuple[Rule, ...]:
    rules: list[Rule] = []
    defaulted: list[str] = []
    for route in mappings(spec, "routes"):
        rule, uses_default = build_rule(route, ctx)
        if rule is not None:
            rules.append(rule)
            if uses_default:
                defaulted.append(rule.name or "")
    if defaulted:
        ctx.report("TIMEOUT_DEFAULT_EXPLICIT", (*spec.path, "routes"),
                   f"{len(defaulted)} route(s) without a timeout get Linkerd's ServiceProfile "
                   f"default of 10s, written explicitly: {', '.join(defaulted)}")
    return tuple(rules)


def _any_retryable(spec: View) -> bool:
    routes = spec.node.get("routes") if isinstance(spec.node, dict) else None
    return any(isinstance(r, dict) and r.get("isRetryable") is True for r in routes or ())


def _reporter(doc: Document, ctx: ConvertContext) -> Report:
    def report(code: str, path: FieldPath, message: str) -> None:
        ctx.findings.add(code, doc, path, message)
    return report
