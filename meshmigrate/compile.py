"""First-match source rules -> precedence-safe Gateway API rules.

Source meshes (Istio, Consul, Linkerd SP, App Mesh) pick the *first* rule that matches;
Gateway API picks the *most specific* match across all rules (HTTPRouteRule doc, semantics.md
§10). For every pair of overlapping matches where a later source rule's match outranks an
earlier one, the compiler gives the earlier rule the intersection explicitly (a match at
least as specific, placed earlier, so it wins the tie by rule order). Where the intersection
cannot be written as one Gateway API match, the closest encoding is emitted and an error
finding names an example request whose outcome changes.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from meshmigrate.findings import Findings
from meshmigrate.gmatch import (
    EXACT,
    PREFIX,
    REGEX,
    UNKNOWN,
    GMatch,
    GPath,
    Unknown,
    covers,
    demoted,
    example_path,
    intersect,
    regex_for_string_prefix,
)
from meshmigrate.model import (
    Destination,
    Match,
    PathKind,
    PathMatch,
    Protocol,
    RouteTable,
    RoutingModel,
    Rule,
    ServiceInfo,
    StringMatch,
    StrKind,
    Unmatched,
)
from meshmigrate.targets import Profile

MAX_EXTRA_MATCHES = 512  # per table: beyond this the order fix-up gives up (and says so)
METHODS = ("CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE")


@dataclass
class CompiledRule:
    """A Gateway API rule: its matches and the source rule whose actions it carries."""

    matches: list[GMatch]
    rule: Rule
    index: int  # index of the source rule in its table (-1: the added catch-all)


@dataclass
class CompiledRoute:
    """One route to emit: a table (or its port slice) and its ordered compiled rules."""

    table: RouteTable
    port: int | None
    kind: str  # HTTPRoute | GRPCRoute | TCPRoute
    rules: list[CompiledRule] = field(default_factory=list)


def compile_model(model: RoutingModel, profile: Profile, findings: Findings
                  ) -> list[CompiledRoute]:
    """Compile every table of ``model`` for ``profile``."""
    out: list[CompiledRoute] = []
    for table in model.tables:
        info = model.services.get(table.service)
        for port in _ports(table, info):
            out.append(_compile_table(table, port, info, profile, findings))
    return out


# --- ports and protocol ----------------------------------------------------------------
def _ports(table: RouteTable, info: ServiceInfo | None) -> list[int | None]:
    """Split a table per Service port when its rules depend on the port: port matches,
    destinations that follow the request's port on a multi-port Service, or gRPC ports
    beside others (GEP-1294: a parentRef without port attaches to every port)."""
    if table.port is not None:
        return [table.port]
    mentioned = sorted({m.port for r in table.rules for m in r.matches if m.port is not None})
    known = [p.port for p in info.ports] if info else []
    if not known:
        return list[int | None](mentioned) if mentioned else [None]
    follows = any(d.port is None for r in table.rules for d in r.destinations) or any(
        m.port is None for r in table.rules for m in r.mirrors)
    grpc_mix = len({p.is_grpc for p in info.ports}) > 1 if info else False
    if mentioned or grpc_mix or (follows and len(known) > 1):
        return list[int | None](sorted(set(known) | set(mentioned)))
    return [None]


def _kind(table: RouteTable, port: int | None, info: ServiceInfo | None) -> str:
    if table.protocol is Protocol.TCP:
        return "TCPRoute"
    ports = [info.port(port)] if (info and port is not None) else (list(info.ports) if info
                                                                     else [])
    grpc = table.protocol is Protocol.GRPC or (bool(ports) and all(
        p is not None and p.is_grpc for p in ports))
    return "GRPCRoute" if grpc else "HTTPRoute"


def _for_port(rules: tuple[Rule, ...], port: int | None) -> list[tuple[int, Rule, list[int]]]:
    """Rules applying on ``port`` with the indexes of their matches that apply."""
    out: list[tuple[int, Rule, list[int]]] = []
    for i, rule in enumerate(rules):
        if not rule.matches:
            out.append((i, rule, []))
            continue
        keep = [j for j, m in enumerate(rule.matches) if m.port is None or m.port == port]
        if keep:
            out.append((i, rule, keep))
    return out


# --- one table ------------------------------------------------------------------------
def _compile_table(table: RouteTable, port: int | None, info: ServiceInfo | None,
                   profile: Profile, findings: Findings) -> CompiledRoute:
    kind = _kind(table, port, info)
    route = CompiledRoute(table, port, kind)
    applicable = _for_port(table.rules, port)
    if kind == "TCPRoute":
        route.rules = [CompiledRule([], rule, i) for i, rule, _ in applicable[:1]]
        return route
    groups = [_translate(rule, keep) for _, rule, keep in applicable]
    for _, rule, keep in applicable:
        if any(rule.matches[j].negated_methods for j in keep):
            # HTTPRouteMatch.method is one of nine methods; the source's negated set also
            # matches extension methods (RFC 9110 §9.1), which the expansion cannot list
            _report_rule(findings, rule, "METHOD_NEGATION_CLOSED",
                         "a negated method set is listed as the Gateway API methods it "
                         "allows: requests with an extension method (e.g. PURGE) no longer "
                         "match this rule")
    if table.unmatched is Unmatched.PASS_THROUGH:
        catch_all = _catch_all(table)
        applicable.append((-1, catch_all, []))
        groups.append([GMatch(GPath(PREFIX, "/"))])
    groups = _drop_shadowed(groups, applicable, findings)
    _route_exclusions(groups)
    extra = _preserve_order(groups, applicable, findings, table)
    if extra:
        _report(findings, table, "ORDER_PRESERVED_BY_SPLIT",
                f"{extra} extra match(es) added so earlier rules keep winning", None)
    route.rules = [CompiledRule(ms, rule, i)
                   for (i, rule, _), ms in zip(applicable, groups, strict=True) if ms]
    return route


def _catch_all(table: RouteTable) -> Rule:
    """Unmatched requests go to the Service itself (or the table's fallback): a last rule
    matching everything (Linkerd SP, SMI and Consul fall through; semantics.md §8.9)."""
    dests = tuple(table.fallback) or (Destination(table.service, None),)
    return Rule(destinations=dests, name="fallthrough", origin=table.origin)


# --- translation of one source rule ----------------------------------------------------
def _translate(rule: Rule, keep: list[int]) -> list[GMatch]:
    if not rule.matches:
        return [GMatch(GPath(PREFIX, "/"))]
    out: list[GMatch] = []
    for j in keep:
        out.extend(_translate_match(rule.matches[j], j))
    return out


def _translate_match(match: Match, index: int) -> list[GMatch]:
    """One source match -> GMatches matching exactly the same requests, where possible.
    Conditions nothing can express (source labels) make the match unusable: converters
    report them; the match is skipped rather than widened to every client."""
    if match.source_labels:
        return []
    methods: list[str | None] = [None]
    if match.methods is not None:
        # not(method) lists the excluded methods: expand over the enum (semantics.md §4.1)
        methods = [m for m in METHODS if (m in match.methods) != match.negated_methods]
    headers = tuple(sorted(c for c in (_named(h) for h in match.headers) if c))
    query = tuple(sorted(c for c in (_named(q) for q in match.query) if c))
    return [GMatch(path, method, headers, query, index)
            for path in _paths(match.path) for method in methods]


def _paths(path: PathMatch | None) -> list[GPath]:
    """Path encodings. A plain string prefix (Istio/Envoy, semantics.md §8.2) is not a
    Gateway API PathPrefix: ``/api`` also matches ``/apiary`` -> PathPrefix for the segment
    part plus a regex for the rest; ``/api/`` does not match ``/api`` -> a regex."""
    if path is None:
        return [GPath(PREFIX, "/")]
    if path.ignore_case:
        return [GPath(REGEX, "(?i)" + _regex_body(path))]
    if path.kind is PathKind.EXACT:
        return [GPath(EXACT, path.value)]
    if path.kind is PathKind.SEGMENT_PREFIX:
        return [GPath(PREFIX, path.value or "/")]
    if path.kind is PathKind.PREFIX:
        value = path.value or "/"
        if value == "/":
            return [GPath(PREFIX, "/")]
        if value.endswith("/"):
            return [GPath(PREFIX, value, excl=value.rstrip("/"))]
        return [GPath(PREFIX, value), regex_for_string_prefix(value, "nonslash")]
    return [GPath(REGEX, _regex_body(path))]


def _regex_body(path: PathMatch) -> str:
    import re

    if path.kind is PathKind.REGEX:
        return path.value if path.anchor.value == "full" else f"(?:{path.value}).*"
    body = re.escape(path.value).replace("\\/", "/")
    return body + ".*" if path.kind is not PathKind.EXACT else body


def _named(cond: StringMatch) -> tuple[str, str, str] | None:
    """Header/query condition -> (name, type, value). Negations cannot be expressed
    (converters report them): dropped here."""
    import re

    if cond.invert:
        return None
    value = cond.value
    esc = re.escape(value)
    table = {
        StrKind.EXACT: (EXACT, value),
        StrKind.PREFIX: (REGEX, f"{esc}.*"),
        StrKind.SUFFIX: (REGEX, f".*{esc}"),
        StrKind.REGEX: (REGEX, value),
        StrKind.PRESENT: (REGEX, ".*"),
    }
    typ, val = table[cond.kind]
    if cond.ignore_case:
        typ, val = REGEX, "(?i)" + (esc if cond.kind is StrKind.EXACT else val)
    return (cond.name, typ, val)


# --- trailing-slash string prefixes ----------------------------------------------------
def _route_exclusions(groups: list[list[GMatch]]) -> None:
    """A string prefix ``/a/`` is emitted as PathPrefix ``/a/``, which Gateway API also
    matches for ``/a`` (a trailing slash is ignored, HTTPPathMatch doc). The exact path
    ``/a`` (with the same conditions) is handed to the later rules that take it in the
    source, as Exact matches that outrank the prefix. Where no later rule takes all of it
    (a 404 in the source), the prefix falls back to the exact regex ``/a/.*``."""
    for i, ms in enumerate(groups):
        for k, g in enumerate(ms):
            if g.path.excl is not None and not _hand_over(g, groups, i):
                ms[k] = GMatch(regex_for_string_prefix(g.path.value, "any"), g.method,
                               g.headers, g.query, g.origin)


def _hand_over(g: GMatch, groups: list[list[GMatch]], i: int) -> bool:
    assert g.path.excl is not None
    target = GMatch(GPath(EXACT, g.path.excl), g.method, g.headers, g.query)
    additions: list[tuple[int, GMatch]] = []
    for j in range(i + 1, len(groups)):
        for m in groups[j]:
            x = intersect(target, m)
            if x is None:
                continue
            if isinstance(x, Unknown):
                return False
            additions.append((j, GMatch(x.path, x.method, x.headers, x.query, m.origin)))
            if x.same_conditions(target):
                for j2, add in additions:
                    if not any(y.same_conditions(add) for y in groups[j2]):
                        groups[j2].append(add)
                return True
    return False


# --- shadowing and order ---------------------------------------------------------------
def _drop_shadowed(groups: list[list[GMatch]], applicable: list[tuple[int, Rule, list[int]]],
                   findings: Findings) -> list[list[GMatch]]:
    """A match covered by an earlier rule's match never wins in the source: drop it. A rule
    left with no match is reported (RULE_SHADOWED)."""
    out: list[list[GMatch]] = []
    for gi, ms in enumerate(groups):
        earlier = [m for prev in out for m in prev]
        kept = [g for g in ms if not any(covers(m, g) for m in earlier)]
        if ms and not kept and applicable[gi][0] >= 0:  # the added catch-all is silent
            rule = applicable[gi][1]
            _report_rule(findings, rule, "RULE_SHADOWED",
                         "every request this rule matches is taken by an earlier rule")
        out.append(kept)
    return out


def _preserve_order(groups: list[list[GMatch]], applicable: list[tuple[int, Rule, list[int]]],
                    findings: Findings, table: RouteTable) -> int:
    """Add intersections so that every overlap goes to the earlier source rule. Returns the
    number of matches added."""
    work = deque((i, g) for i, ms in enumerate(groups) for g in ms)
    added = 0
    while work:
        i, g = work.popleft()
        if g not in groups[i]:
            continue  # replaced by its demoted form
        key = g.key()
        for h in range(i):
            for m in list(groups[h]):
                if key <= m.key():
                    continue  # m wins on precedence or on the rule-order tie (_needed)
                x = _needed(g, m)
                if x is None:
                    continue
                if isinstance(x, Unknown) and _demotable(g, m):
                    g = _demote(groups[i], g)
                    work.append((i, g))
                    break
                if isinstance(x, Unknown) or added >= MAX_EXTRA_MATCHES:
                    _order_problem(findings, applicable, h, i, m, g)
                    continue
                if any(y.same_conditions(x) for y in groups[h]):
                    continue
                groups[h].append(x)
                work.append((h, x))
                added += 1
            else:
                continue
            break
    return added


def _demotable(g: GMatch, m: GMatch) -> bool:
    """Any Exact or PathPrefix outranks every regex, so an earlier regex rule cannot keep
    the requests a later such match also takes. Written as an equivalent regex that is not
    longer than the earlier one, the later match ranks at or below it (Istio ranks longer
    regexes first, then rule order decides)."""
    if g.path.type == REGEX or m.path.type != REGEX:
        return False
    return _with_path(g, demoted(g.path)).key() <= m.key()


def _with_path(g: GMatch, path: GPath) -> GMatch:
    return GMatch(path, g.method, g.headers, g.query, g.origin)


def _demote(group: list[GMatch], g: GMatch) -> GMatch:
    lowered = _with_path(g, demoted(g.path))
    group[group.index(g)] = lowered
    return lowered


def _needed(g: GMatch, m: GMatch) -> GMatch | Unknown | None:
    """The match earlier rule ``m`` needs so that later ``g`` cannot steal its requests;
    None when nothing is needed. UNKNOWN when it cannot be expressed."""
    if g.key() <= m.key():
        return None  # m wins on precedence or on the rule-order tie
    x = intersect(g, m)
    if x is None:
        return None
    if isinstance(x, Unknown) or x.key() < g.key():
        return UNKNOWN
    return GMatch(x.path, x.method, x.headers, x.query, origin=m.origin)


def _order_problem(findings: Findings, applicable: list[tuple[int, Rule, list[int]]],
                   h: int, i: int, m: GMatch, g: GMatch) -> None:
    early, late = applicable[h][1], applicable[i][1]
    x = intersect(g, m)
    path = example_path(x.path if isinstance(x, GMatch) else g.path)
    _report_rule(findings, early, "ORDER_NOT_PRESERVED",
                 f"requests such as {g.method or 'GET'} {path} match this rule first in the "
                 f"source but a later, more specific rule ({_where(late)}) wins in Gateway API")


def _where(rule: Rule) -> str:
    if rule.origin is None:
        return "added rule"
    from meshmigrate.sources import format_path

    return format_path(rule.origin.path) or rule.origin.ref


def _report_rule(findings: Findings, rule: Rule, code: str, message: str) -> None:
    if rule.origin is None:
        findings.add(code, None, (), message)
    else:
        findings.add(code, rule.origin.doc, rule.origin.path, message)


def _report(findings: Findings, table: RouteTable, code: str, message: str,
            path: tuple[str | int, ...] | None) -> None:
    if table.origin is not None:
        findings.add(code, table.origin.doc, path or table.origin.path, message)
    else:
        findings.add(code, None, (), message)


__all__ = ["CompiledRoute", "CompiledRule", "compile_model"]
