"""Rendering a compiled rule's actions: backendRefs, filters, timeouts, retry.

What the target profile cannot take becomes a finding here (semantics.md §1, §3.3).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from meshmigrate.compile import CompiledRoute
from meshmigrate.findings import Findings
from meshmigrate.gmatch import EXACT, PREFIX, REGEX, GMatch
from meshmigrate.model import (
    Destination,
    HeaderOps,
    PathKind,
    PathRewrite,
    RetryPolicy,
    RewriteKind,
    RoutingModel,
    Rule,
)
from meshmigrate.targets import Profile

Obj = dict[str, Any]


@dataclass
class RuleContext:
    route: CompiledRoute
    model: RoutingModel
    profile: Profile
    findings: Findings
    #: Route-wide findings already added (``Findings`` de-duplicates them too; this only
    #: saves building the same finding once per rule).
    route_findings: set[tuple[str, str]] = dataclasses.field(default_factory=set)

    def report(self, rule: Rule, code: str, message: str, *sub: str | int) -> None:
        if rule.origin is None:
            self.findings.add(code, None, (), message)
        else:
            self.findings.add(code, rule.origin.doc, (*rule.origin.path, *sub), message)


def format_duration(ms: int) -> str:
    """Milliseconds -> a GEP-2257 duration (``^([0-9]{1,5}(h|m|s|ms)){1,4}$``): ``1s500ms``."""
    if ms <= 0:
        return "0s"
    parts: list[str] = []
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        count, ms = divmod(ms, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


# --- matches ---------------------------------------------------------------------------
def render_match(m: GMatch) -> Obj:
    out: Obj = {"path": {"type": m.path.type, "value": m.path.value}}
    if m.headers:
        out["headers"] = [_named(h) for h in m.headers]
    if m.query:
        out["queryParams"] = [_named(q) for q in m.query]
    if m.method:
        out["method"] = m.method
    return out


def _named(cond: tuple[str, str, str]) -> Obj:
    name, typ, value = cond
    return {"name": name, "type": typ, "value": value} if typ != EXACT else {
        "name": name, "value": value}


def render_grpc_match(m: GMatch) -> Obj | None:
    """An HTTP path condition as a GRPCRoute method match: ``/pkg.Svc/Method`` exact, or a
    service prefix ``/pkg.Svc/``. None when the path does not have that shape."""
    value = m.path.value
    out: Obj = {}
    if m.path.type == EXACT and value.count("/") == 2 and value.split("/")[2]:
        _, service, method = value.split("/")
        out["method"] = {"service": service, "method": method}
    elif m.path.type == PREFIX and value.strip("/") and "/" not in value.strip("/"):
        out["method"] = {"service": value.strip("/")}
    elif not (m.path.type == PREFIX and value == "/"):
        return None
    if m.query or (m.method not in (None, "POST")):
        return None
    if m.headers:
        out["headers"] = [_named(h) for h in m.headers]
    return out


# --- backends -------------------------------------------------------------------------
def backend_refs(dests: tuple[Destination, ...], ctx: RuleContext, rule: Rule) -> list[Obj]:
    refs: list[Obj] = []
    for i, dest in enumerate(dests):
        ref: Obj = {"name": dest.service.name}
        if dest.service.namespace != ctx.route.table.route_namespace:
            ref["namespace"] = dest.service.namespace
        port = _backend_port(dest, ctx, rule, i)
        if port is not None:
            ref["port"] = port
        if len(dests) > 1 or dest.weight != 1:
            ref["weight"] = dest.weight
        filters = header_filters(dest.request_headers, dest.response_headers)
        if filters:
            ref["filters"] = filters
        refs.append(ref)
    return refs


def _backend_port(dest: Destination, ctx: RuleContext, rule: Rule, index: int) -> int | None:
    """``port`` is required on a Service backendRef. Istio semantics for an omitted port is
    the port the request was addressed to; else the Service's only port."""
    if dest.port is not None:
        return dest.port
    if ctx.route.port is not None:
        return ctx.route.port
    info = ctx.model.services.get(dest.service)
    sub = ctx.model.subset_services.get(dest.service)
    if info is None and sub is not None:
        info = ctx.model.services.get(sub.parent)
    if info is not None and len(info.ports) == 1:
        return info.ports[0].port
    ctx.report(rule, "SERVICE_PORT_UNKNOWN",
               f"no port for backend {dest.service}: the Service is not in the input or has "
               "several ports; pass the Service manifest with -f", "route", index)
    return None


def header_filters(req: HeaderOps, resp: HeaderOps) -> list[Obj]:
    out: list[Obj] = []
    for typ, field, ops in (("RequestHeaderModifier", "requestHeaderModifier", req),
                            ("ResponseHeaderModifier", "responseHeaderModifier", resp)):
        if ops:
            out.append({"type": typ, field: _header_ops(ops)})
    return out


def _header_ops(ops: HeaderOps) -> Obj:
    out: Obj = {}
    if ops.set:
        out["set"] = [{"name": n, "value": v} for n, v in ops.set]
    if ops.add:
        out["add"] = [{"name": n, "value": v} for n, v in ops.add]
    if ops.remove:
        out["remove"] = list(ops.remove)
    return out


# --- rewrite --------------------------------------------------------------------------
def rewrite_path(rule: Rule, match: GMatch | None,
                 ctx: RuleContext) -> Obj | None:
    """The URLRewrite path modifier for one match of ``rule``, or None.

    Istio ``rewrite.uri`` is Envoy ``prefix_rewrite``: a string substitution of the matched
    prefix (semantics.md §8.2). Gateway API ReplacePrefixMatch works on segments and needs a
    single PathPrefix match (HTTPPathModifier doc), so each match gets its own rule and its
    own modifier, and the cases where the two differ are reported."""
    rw = rule.rewrite
    if rw is None or match is None:
        return None
    if rw.kind is RewriteKind.FULL:
        return {"type": "ReplaceFullPath", "replaceFullPath": rw.value}
    if rw.kind is RewriteKind.REGEX:
        return None  # reported by the converter (REWRITE_NOT_SUPPORTED)
    return _prefix_rewrite(rw, rule, match, ctx)


def _source_prefix(rule: Rule, match: GMatch) -> str | None:
    """The string prefix the source matched (None for exact/regex matches: the whole path
    is replaced; '/' when the source match had no path)."""
    if not rule.matches or match.origin < 0:
        return "/"
    path = rule.matches[match.origin].path
    if path is None:
        return "/"
    if path.kind in (PathKind.PREFIX, PathKind.SEGMENT_PREFIX):
        return path.value or "/"
    return None


def _prefix_rewrite(rw: PathRewrite, rule: Rule, match: GMatch, ctx: RuleContext) -> Obj | None:
    src = _source_prefix(rule, match)
    if src is None:
        return {"type": "ReplaceFullPath", "replaceFullPath": rw.value}
    if match.path.type == EXACT:
        # Exact request path: the result is fully known.
        return {"type": "ReplaceFullPath",
                "replaceFullPath": rw.value + match.path.value[len(src):]}
    if match.path.type == REGEX:
        ctx.report(rule, "REWRITE_PREFIX_SEMANTICS",
                   f"paths matching {match.path.value!r} are forwarded without the prefix "
                   f"rewrite to {rw.value!r}: Gateway API can only rewrite a PathPrefix match",
                   "rewrite")
        return None
    # A request under the PathPrefix q is q + rest; the source substitutes the string
    # prefix, Gateway API the segment prefix: compare both on sample requests.
    replacement = rw.value + match.path.value[len(src):]
    for rest in ("/x", "/x/y"):
        request = match.path.value.rstrip("/") + rest
        source = rw.value + request[len(src):] if request.startswith(src) else request
        target = _gateway(replacement, rest)
        if source != target:
            ctx.report(rule, "REWRITE_PREFIX_SEMANTICS",
                       f"prefix rewrite {src!r} -> {rw.value!r}: for {request} the source "
                       f"gives {source!r}, Gateway API gives {target!r}", "rewrite")
            break
    return {"type": "ReplacePrefixMatch", "replacePrefixMatch": replacement}


def _gateway(replacement: str, rest: str) -> str:
    """ReplacePrefixMatch on segment boundaries (HTTPPathModifier doc table): exactly one
    ``/`` joins the replacement and the rest of the path."""
    if not rest:
        return replacement or "/"
    return replacement.rstrip("/") + rest


# --- timeouts and retries ---------------------------------------------------------------
def timeouts(rule: Rule, ctx: RuleContext) -> Obj | None:
    out: Obj = {}
    if rule.timeout_ms is not None and rule.timeout_ms > 0:
        out["request"] = format_duration(rule.timeout_ms)
    retry = rule.retry
    if retry is not None and retry.per_try_timeout_ms:
        per_try = retry.per_try_timeout_ms
        if rule.timeout_ms and per_try > rule.timeout_ms:
            per_try = rule.timeout_ms  # CEL: backendRequest must not exceed request
        out["backendRequest"] = format_duration(per_try)
    if not out:
        return None
    if not ctx.profile.timeouts_field:
        return None
    return out


def retry_field(rule: Rule, ctx: RuleContext) -> Obj | None:
    """HTTPRoute ``retry`` (GEP-1731, experimental). A source default policy is kept only
    where the target applies the same default (Istio's GAMMA path)."""
    policy = rule.retry
    if policy is None:
        if ctx.profile.keeps_source_default_retries:
            _report_added_retries(ctx)
        return None
    if policy.is_source_default and ctx.profile.keeps_source_default_retries:
        return None
    if not ctx.profile.retry_field:
        if not ctx.profile.annotations_for_policy:
            _report_retry_loss(policy, rule, ctx)
        return None
    out: Obj = {"attempts": policy.attempts}
    if policy.codes:
        out["codes"] = list(policy.codes)
    if policy.backoff_ms:
        out["backoff"] = format_duration(policy.backoff_ms)
    return out


def _report_added_retries(ctx: RuleContext) -> None:
    """Istio applies its default retry policy to every HTTPRoute rule without ``retry``
    (semantics.md §8.4), so requests the source never retried are retried after the move."""
    origin = ctx.route.table.origin
    ctx.findings.add("TARGET_DEFAULT_RETRIES_ADDED", origin.doc if origin else None,
                     origin.path if origin else (),
                     f"target {ctx.profile.target} retries failed requests by default "
                     "(2 attempts) where the source did not retry; set retry.attempts "
                     "explicitly (experimental channel) to keep them unretried")


def _report_retry_loss(policy: RetryPolicy, rule: Rule, ctx: RuleContext) -> None:
    """Explicit retries are reported per rule; the source's default policy once per table
    (it applies to every rule alike)."""
    where = f"for target {ctx.profile.target} ({ctx.profile.channel} channel)"
    if not policy.is_source_default:
        ctx.report(rule, "RETRY_DROPPED", f"retry policy ({policy.attempts} attempts) cannot "
                   f"be expressed {where}", "retries")
        return
    message = (f"the source mesh retries failed requests by default ({policy.attempts} "
               f"attempts); no retries are configured {where}: use --channel "
               "experimental or --target istio to keep them")
    if ("DEFAULT_RETRIES_LOST", message) in ctx.route_findings:
        return
    ctx.route_findings.add(("DEFAULT_RETRIES_LOST", message))
    origin = ctx.route.table.origin
    ctx.findings.add("DEFAULT_RETRIES_LOST", origin.doc if origin else None,
                     origin.path if origin else (), message)
