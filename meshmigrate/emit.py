"""CompiledRoutes -> Gateway API objects (HTTPRoute, GRPCRoute, TCPRoute) and per-subset
Services, with the labels and source annotations of DESIGN §3; deterministic YAML."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from meshmigrate import actions, yamlout
from meshmigrate.actions import Obj, RuleContext
from meshmigrate.compile import CompiledRoute, CompiledRule
from meshmigrate.findings import Findings
from meshmigrate.model import RoutingModel, Rule, SubsetService
from meshmigrate.targets import Profile

GROUP = "gateway.networking.k8s.io"
MANAGED_BY = {"app.kubernetes.io/managed-by": "meshmigrate"}
SOURCE_ANNOTATION = "meshmigrate.io/source"
MAX_RULES, MAX_MATCHES, MAX_MATCHES_PER_RULE = 16, 128, 64
KIND_ORDER = {"Service": 0, "GRPCRoute": 1, "HTTPRoute": 2, "TCPRoute": 3}


def emit(routes: Sequence[CompiledRoute], model: RoutingModel, profile: Profile,
         findings: Findings) -> list[Obj]:
    """Every object to apply, sorted by kind, namespace and name."""
    objects = [subset_service(s, model) for s in model.subset_services.values()]
    names: set[tuple[str, str, str]] = set()
    for route in routes:
        ctx = RuleContext(route, model, profile, findings)
        for obj in route_objects(route, ctx):
            _unique_name(obj, names)
            objects.append(obj)
    return sorted((o for o in objects if o), key=_sort_key)


def _sort_key(obj: Obj) -> tuple[int, str, str]:
    meta = obj["metadata"]
    return (KIND_ORDER.get(obj["kind"], 9), meta.get("namespace", ""), meta["name"])


def _unique_name(obj: Obj, taken: set[tuple[str, str, str]]) -> None:
    meta = obj["metadata"]
    base, n = meta["name"], 2
    while (obj["kind"], meta["namespace"], meta["name"]) in taken:
        meta["name"] = dns_label(f"{base}-{n}")
        n += 1
    taken.add((obj["kind"], meta["namespace"], meta["name"]))


def dns_label(text: str, limit: int = 63) -> str:
    """A valid DNS-1123 label (lower case, digits, '-'), deterministic."""
    label = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-") or "x"
    return label[:limit].rstrip("-")


# --- metadata --------------------------------------------------------------------------
def metadata(name: str, namespace: str, sources: Iterable[str],
             annotations: dict[str, str] | None = None) -> Obj:
    notes = {SOURCE_ANNOTATION: ",".join(sorted(set(sources)))}
    notes.update(annotations or {})
    return {"name": name, "namespace": namespace, "labels": dict(MANAGED_BY),
            "annotations": dict(sorted(notes.items()))}


def subset_service(sub: SubsetService, model: RoutingModel) -> Obj:
    """Per-subset Service: the parent's selector plus the subset labels, same ports
    (semantics.md §3.5)."""
    parent = model.services.get(sub.parent)
    if parent is None or parent.selector is None:
        return {}
    selector = dict(parent.selector) | dict(sub.labels)
    ports = [_port(p) for p in parent.ports]
    sources = [sub.origin.ref] if sub.origin else []
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": metadata(sub.ref.name, sub.ref.namespace, sources),
            "spec": {"selector": dict(sorted(selector.items())), "ports": ports}}


def _port(p: Any) -> Obj:
    out: Obj = {"name": p.name} if p.name else {}
    out["port"] = p.port
    if p.protocol and p.protocol != "TCP":
        out["protocol"] = p.protocol
    if p.target_port is not None:
        out["targetPort"] = p.target_port
    if p.app_protocol:
        out["appProtocol"] = p.app_protocol
    return out


# --- routes ----------------------------------------------------------------------------
def route_objects(route: CompiledRoute, ctx: RuleContext) -> list[Obj]:
    kind = route.kind
    if kind == "GRPCRoute" and not _grpc_fits(route):
        _report_table(ctx, "GRPC_AS_HTTPROUTE",
                      "rules use matches or actions GRPCRoute lacks; routed with HTTPRoute")
        kind = "HTTPRoute"
    if kind == "TCPRoute":
        rules = [{"backendRefs": actions.backend_refs(r.rule.destinations, ctx, r.rule)}
                 for r in route.rules]
        return [_route_object(route, kind, rules, 0, ctx)]
    out: list[Obj] = []
    for notes, crules in _policy_groups(route, kind, ctx):
        rules = [gw for r in crules for gw in _rules(r, kind, ctx)]
        for chunk in _split(rules):
            obj = _route_object(route, kind, chunk, len(out), ctx)
            obj["metadata"]["annotations"] = dict(sorted(
                (obj["metadata"]["annotations"] | notes).items()))
            out.append(obj)
    if len(out) > 1:
        _report_table(ctx, "ROUTE_SPLIT_LIMITS", f"rules split over {len(out)} routes "
                      "(rule limits or per-route policy annotations); ties between routes "
                      "follow creation time, then name")
    return out


def _policy_groups(route: CompiledRoute, kind: str, ctx: RuleContext
                   ) -> list[tuple[dict[str, str], list[CompiledRule]]]:
    """Linkerd takes retries and timeouts as annotations on the whole route, so rules that
    need different values go to different routes (semantics.md §4.2)."""
    if not ctx.profile.annotations_for_policy:
        return [({}, route.rules)]
    from meshmigrate.linkerd_annotations import annotation_groups

    groups = annotation_groups([r.rule for r in route.rules], grpc=kind == "GRPCRoute")
    return [(notes, [route.rules[i] for i in idx]) for notes, idx in groups]


def _report_table(ctx: RuleContext, code: str, message: str) -> None:
    origin = ctx.route.table.origin
    ctx.findings.add(code, origin.doc if origin else None, origin.path if origin else (),
                     message)


def _route_object(route: CompiledRoute, kind: str, rules: list[Obj], index: int,
                  ctx: RuleContext) -> Obj:
    table = route.table
    name = table.name or table.service.name
    if route.port is not None and route.table.port is None:  # split here by port
        name = f"{name}-{route.port}"
    if index:
        name = f"{name}-{index}"
    parent: Obj = {"group": "", "kind": "Service", "name": table.service.name}
    if table.service.namespace != table.route_namespace:
        parent["namespace"] = table.service.namespace
    if route.port is not None:
        parent["port"] = route.port
    docs = {id(r.rule.origin.doc): r.rule.origin.doc for r in route.rules if r.rule.origin}
    if table.origin:
        docs[id(table.origin.doc)] = table.origin.doc
    sources = {doc.ref() for doc in docs.values()}
    version = "v1alpha2" if kind == "TCPRoute" else "v1"
    return {"apiVersion": f"{GROUP}/{version}", "kind": kind,
            "metadata": metadata(dns_label(name), table.route_namespace, sources,
                                 dict(table.annotations)),
            "spec": {"parentRefs": [parent], "rules": rules}}



def _split(rules: list[Obj]) -> list[list[Obj]]:
    """Keep a route within 16 rules and 128 matches (HTTPRouteSpec limits), in order."""
    chunks: list[list[Obj]] = [[]]
    count = 0
    for rule in rules:
        n = len(rule.get("matches", [])) or 1
        if len(chunks[-1]) >= MAX_RULES or (chunks[-1] and count + n > MAX_MATCHES):
            chunks.append([])
            count = 0
        chunks[-1].append(rule)
        count += n
    return chunks


def _grpc_fits(route: CompiledRoute) -> bool:
    for crule in route.rules:
        rule = crule.rule
        if rule.redirect or rule.rewrite or rule.rewrite_host or rule.timeout_ms or rule.cors:
            return False
        if rule.retry is not None and not rule.retry.is_source_default:
            return False
        if any(actions.render_grpc_match(m) is None for m in crule.matches):
            return False
    return True


def _rules(crule: CompiledRule, kind: str, ctx: RuleContext) -> list[Obj]:
    """One compiled rule -> Gateway API rules. A prefix rewrite needs one rule per match
    (ReplacePrefixMatch requires a single PathPrefix match)."""
    rule = crule.rule
    if rule.direct_status is not None:
        return []  # reported by the converter (DIRECT_RESPONSE_DROPPED)
    per_match = rule.rewrite is not None and kind == "HTTPRoute"
    groups = [[m] for m in crule.matches] if per_match else [
        crule.matches[i:i + MAX_MATCHES_PER_RULE]
        for i in range(0, len(crule.matches), MAX_MATCHES_PER_RULE)]
    out = [_rule(rule, group, kind, ctx) for group in groups]
    _name_rules(out, rule, ctx)
    return out


def _name_rules(rules: list[Obj], rule: Rule, ctx: RuleContext) -> None:
    if not rule.name or not ctx.profile.rule_names:
        return
    base = dns_label(rule.name)
    for i, gw in enumerate(rules):
        gw["name"] = base if i == 0 else dns_label(f"{base}-{i}")
        # name must come first for readability
        rules[i] = {"name": gw.pop("name"), **gw}


def _rule(rule: Rule, matches: list[Any], kind: str, ctx: RuleContext) -> Obj:
    out: Obj = {}
    if kind == "GRPCRoute":
        out["matches"] = [actions.render_grpc_match(m) for m in matches]
    else:
        out["matches"] = [actions.render_match(m) for m in matches]
    filters = _filters(rule, matches[0] if len(matches) == 1 else None, ctx, kind)
    if filters:
        out["filters"] = filters
    if rule.redirect is None:
        out["backendRefs"] = actions.backend_refs(rule.destinations, ctx, rule)
    if kind == "HTTPRoute":
        timeouts = actions.timeouts(rule, ctx)
        if timeouts:
            out["timeouts"] = timeouts
        retry = actions.retry_field(rule, ctx)
        if retry:
            out["retry"] = retry
    return out


def _filters(rule: Rule, match: Any, ctx: RuleContext, kind: str) -> list[Obj]:
    out = actions.header_filters(rule.request_headers, rule.response_headers)
    if kind == "HTTPRoute":
        out.extend(_rewrite_or_redirect(rule, match, ctx))
    out.extend(_mirrors(rule, ctx))
    if rule.cors is not None and kind == "HTTPRoute":
        out.extend(_cors(rule, ctx))
    return out


def _rewrite_or_redirect(rule: Rule, match: Any, ctx: RuleContext) -> list[Obj]:
    if rule.redirect is not None:
        return [_redirect(rule, ctx)]
    rewrite: Obj = {}
    if rule.rewrite_host:
        rewrite["hostname"] = rule.rewrite_host
    path = actions.rewrite_path(rule, match, ctx)
    if path:
        rewrite["path"] = path
    if not rewrite:
        return []
    if not ctx.profile.url_rewrite:
        ctx.report(rule, "REWRITE_NOT_SUPPORTED",
                   f"target {ctx.profile.target} rejects URLRewrite", "rewrite")
        return []
    return [{"type": "URLRewrite", "urlRewrite": rewrite}]


def _redirect(rule: Rule, ctx: RuleContext) -> Obj:
    red = rule.redirect
    assert red is not None
    out: Obj = {}
    if red.scheme:
        out["scheme"] = red.scheme
    if red.host:
        out["hostname"] = red.host
    if red.path is not None:
        out["path"] = {"type": "ReplaceFullPath", "replaceFullPath": red.path.value}
    port = red.port or _redirect_port(rule, ctx)
    if port:
        out["port"] = port
    out["statusCode"] = _redirect_code(red.code, rule, ctx)
    return {"type": "RequestRedirect", "requestRedirect": out}


def _redirect_port(rule: Rule, ctx: RuleContext) -> int | None:
    """The port Envoy puts in the Location when the source names none: the request's port
    when the host is kept (the Host header as sent) or derivePort says so; the scheme's
    default when the host is replaced. Gateway API instead uses the scheme's default port
    whenever a scheme is set, else the request's port (HTTPRequestRedirectFilter.port)."""
    red = rule.redirect
    assert red is not None
    if red.host and not red.derive_port_from_request:
        return None if red.scheme else 80  # Envoy drops the port with host_redirect
    if not red.scheme:
        return None  # both keep the request's port
    port = ctx.route.port
    info = ctx.model.services.get(ctx.route.table.service)
    if port is None and info is not None and len(info.ports) == 1:
        port = info.ports[0].port
    if port is None:
        ctx.report(rule, "REDIRECT_NOT_SUPPORTED", "the source redirect keeps the request's "
                   "port; Gateway API would use the scheme's default port and the Service's "
                   "port is unknown", "redirect")
    return port


def _redirect_code(code: int, rule: Rule, ctx: RuleContext) -> int:
    """Always explicit: Istio defaults to 301, Gateway API to 302 (semantics.md §8.3)."""
    if code in ctx.profile.redirect_codes:
        return code
    closest = 301 if code in (301, 308) else 302
    ctx.report(rule, "REDIRECT_CODE_UNSUPPORTED",
               f"redirect code {code} needs Gateway API v1.5; {closest} emitted", "redirect")
    return closest


def _mirrors(rule: Rule, ctx: RuleContext) -> list[Obj]:
    out: list[Obj] = []
    for i, mirror in enumerate(rule.mirrors):
        if not ctx.profile.request_mirror:
            ctx.report(rule, "MIRROR_DROPPED", f"target {ctx.profile.target} rejects "
                       "RequestMirror", "mirror")
            continue
        ref: Obj = {"name": mirror.service.name}
        if mirror.service.namespace != ctx.route.table.route_namespace:
            ref["namespace"] = mirror.service.namespace
        port = mirror.port or ctx.route.port or _single_port(ctx, mirror.service)
        if port:
            ref["port"] = port
        else:
            ctx.report(rule, "SERVICE_PORT_UNKNOWN", f"no port for mirror {mirror.service}",
                       "mirror", i)
        spec: Obj = {"backendRef": ref}
        if mirror.percent < 100:
            if not ctx.profile.mirror_percent:
                ctx.report(rule, "MIRROR_DROPPED", "mirror percentage needs v1.3 or the "
                           "experimental channel", "mirror", i)
                continue
            spec["percent"] = int(mirror.percent) if mirror.percent == int(
                mirror.percent) else None
            if spec["percent"] is None:
                del spec["percent"]
                spec["fraction"] = {"numerator": round(mirror.percent * 1000),
                                    "denominator": 100000}
        out.append({"type": "RequestMirror", "requestMirror": spec})
    return out


def _single_port(ctx: RuleContext, ref: Any) -> int | None:
    """The only port of a Service (or of a subset Service's parent), else None."""
    sub = ctx.model.subset_services.get(ref)
    info = ctx.model.services.get(sub.parent if sub else ref)
    return info.ports[0].port if info is not None and len(info.ports) == 1 else None


def _cors(rule: Rule, ctx: RuleContext) -> list[Obj]:
    cors = rule.cors
    assert cors is not None
    if not ctx.profile.cors:
        ctx.report(rule, "CORS_DROPPED", "CORS filter needs Gateway API v1.5 (standard) or "
                   "v1.3 experimental", "corsPolicy")
        return []
    spec: Obj = {}
    for key, values in (("allowOrigins", cors.allow_origins),
                        ("allowMethods", cors.allow_methods),
                        ("allowHeaders", cors.allow_headers),
                        ("exposeHeaders", cors.expose_headers)):
        if values:
            spec[key] = list(values)
    if cors.allow_credentials is not None:
        spec["allowCredentials"] = cors.allow_credentials
    if cors.max_age_s is not None:
        spec["maxAge"] = cors.max_age_s  # Gateway API defaults to 5 s: always explicit
    return [{"type": "CORS", "cors": spec}]


# --- output -------------------------------------------------------------------------------
def dump_yaml_stream(objects: Iterable[Obj]) -> str:
    """YAML documents joined by ``---``; key order as built (deterministic). The same text
    as PyYAML's C dumper, written by :mod:`meshmigrate.yamlout` (PyYAML's representer is
    pure Python and dominated the cost of large outputs)."""
    return yamlout.dump_all(objects)
