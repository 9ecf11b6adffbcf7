"""The source evaluator: run a :class:`Request` through the routing model with the source
mesh's *own* semantics (DESIGN §1; semantics.md §8 and §11).

The model states those semantics explicitly, and this module only obeys them:

* **Table selection.** The tables of the addressed Service whose ``port`` is unset or equal to
  the request's port and whose protocol fits (TCP tables for TCP requests, HTTP/gRPC tables
  otherwise). A client namespace that has consumer tables for the Service uses only those
  (GEP-1294; the converters copy every applicable rule into consumer tables). No table: the
  request goes to the Service itself, untouched.
* **Rule selection.** ``first_match`` tables: the first rule (in order) with a matching
  :class:`~meshmigrate.model.Match` wins (Istio, Consul, Linkerd ServiceProfile). Other tables
  rank matches with Gateway API precedence (semantics.md §10). Several tables for one request
  are tried in model order. Unmatched requests get 404 (``Unmatched.NOT_FOUND``) or go to the
  Service itself or the table's fallback (``Unmatched.PASS_THROUGH``).
* **Actions.** Destinations (``port=None`` = the request's port), redirects (Location built
  like Envoy does), direct responses, string-prefix rewrites (Envoy ``prefix_rewrite``),
  header operations, timeouts, retries and mirrors. Converters write the source's default
  retry policy into each rule (``RetryPolicy.is_source_default``), so ``Rule.retry`` None
  means "no retries" here; ``RouteTable.default_retry`` is informational.

Clients in a :class:`Request` carry no workload labels, so a match on ``source_labels`` never
matches here (the converter reports ``SOURCE_SELECTOR_DROPPED`` for it).

Regular expressions run on Python's ``re``: a close approximation of RE2 (Envoy) and Rust
``regex`` (Linkerd) for the patterns meshes use; Rust's leftmost-first alternation is not
modelled.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from meshmigrate.model import (
    Anchor,
    Destination,
    HeaderOps,
    Match,
    PathKind,
    PathMatch,
    PathRewrite,
    Protocol,
    Redirect,
    RewriteKind,
    RouteTable,
    RoutingModel,
    Rule,
    ServiceRef,
    StringMatch,
    StrKind,
    Unmatched,
)
from meshmigrate.semantics.atoms import Atoms, HeaderAtom, PathAtom, QueryAtom, ValueKind
from meshmigrate.semantics.atoms import PathKind as AtomPathKind
from meshmigrate.semantics.durations import DurationError, format_duration
from meshmigrate.semantics.outcome import (
    Backend,
    Mirror,
    Outcome,
    Request,
    Retry,
    ServiceKey,
)
from meshmigrate.semantics.outcome import (
    Redirect as RedirectOutcome,
)

DEFAULT_PORT = 80
_DEFAULT_SCHEME_PORTS = {"http": 80, "https": 443}
_HOST_HEADERS = ("host", ":authority")


# --- regular expressions ----------------------------------------------------------------

@functools.lru_cache(maxsize=8192)
def compile_regex(pattern: str, ignore_case: bool = False) -> re.Pattern[str] | None:
    """Compile an RE2/Rust-style pattern with Python's ``re``; None if it does not compile
    (such a condition never matches). ``\\z`` (RE2 end of text) becomes ``\\Z``."""
    try:
        return re.compile(pattern.replace(r"\z", r"\Z"), re.IGNORECASE if ignore_case else 0)
    except (re.error, OverflowError, RecursionError):
        return None


def regex_matches(pattern: str, text: str, *, ignore_case: bool = False,
                  anchor: Anchor = Anchor.FULL) -> bool:
    """RE2 ``FullMatch`` for ``Anchor.FULL``; anchored at the start only for ``Anchor.START``
    (SMI ``pathRegex``)."""
    compiled = compile_regex(pattern, ignore_case)
    if compiled is None:
        return False
    found = compiled.fullmatch(text) if anchor is Anchor.FULL else compiled.match(text)
    return found is not None


# --- matching ---------------------------------------------------------------------------

def segment_prefix_matches(prefix: str, path: str) -> bool:
    """Gateway API PathPrefix: whole ``/``-separated segments; a trailing ``/`` in the
    prefix is ignored, so ``/foo/`` matches ``/foo`` (semantics.md §10)."""
    trimmed = prefix.rstrip("/")
    if not trimmed:
        return True
    return path == trimmed or path.startswith(trimmed + "/")


def path_matches(pm: PathMatch, path: str) -> bool:
    """One path condition. ``PREFIX`` is a plain string prefix (``/v2`` matches
    ``/v2example``, Istio ``uri.prefix``, semantics.md §11)."""
    if pm.kind is PathKind.REGEX:
        return regex_matches(pm.value, path, ignore_case=pm.ignore_case, anchor=pm.anchor)
    value, subject = (pm.value.lower(), path.lower()) if pm.ignore_case else (pm.value, path)
    if pm.kind is PathKind.EXACT:
        return subject == value
    if pm.kind is PathKind.PREFIX:
        return subject.startswith(value)
    return segment_prefix_matches(value, subject)


def string_matches(sm: StringMatch, actual: str | None) -> bool:
    """A header or query condition; ``invert`` negates it, and an absent value satisfies
    an inverted condition (Istio ``withoutHeaders``, Consul ``invert``)."""
    return _string_condition(sm, actual) != sm.invert


def _string_condition(sm: StringMatch, actual: str | None) -> bool:
    if actual is None:
        return False
    if sm.kind is StrKind.PRESENT:
        return True
    if sm.kind is StrKind.REGEX:
        return regex_matches(sm.value, actual, ignore_case=sm.ignore_case)
    value, subject = (sm.value.lower(), actual.lower()) if sm.ignore_case else (sm.value, actual)
    if sm.kind is StrKind.EXACT:
        return subject == value
    if sm.kind is StrKind.PREFIX:
        return subject.startswith(value)
    return subject.endswith(value)


def header_value(request: Request, name: str) -> str | None:
    """The request's value for a header condition; ``host``/``:authority`` is the Host the
    client sends (the Service name unless a Host header is given)."""
    lname = name.lower()
    if lname in ("host", ":authority"):
        return request.host
    if lname == ":method":
        return request.method
    if lname == ":path":
        return request.path
    found: str | None = None
    for key, value in request.headers:  # repeated headers are seen comma-joined
        if key == lname or key.lower() == lname:
            found = value if found is None else f"{found},{value}"
    return found


def method_matches(m: Match, method: str) -> bool:
    if m.methods is None:
        return True
    return (method in m.methods) != m.negated_methods


def match_applies(m: Match, request: Request) -> bool:
    """All conditions of one match block, ANDed (the path first: it decides most)."""
    if m.path is not None and not path_matches(m.path, request.path):
        return False
    if not (
        (m.port is None or m.port == request.service.port)
        and (m.source_namespace is None or m.source_namespace == request.client_namespace)
        and not m.source_labels  # a Request has no client labels: never selected
        and (m.scheme is None or m.scheme.lower() == request.scheme.lower())
        and method_matches(m, request.method)
    ):
        return False
    for h in m.headers:
        if not string_matches(h, header_value(request, h.name)):
            return False
    return all(string_matches(q, request.query_param(q.name)) for q in m.query)


def first_matching(rule: Rule, request: Request) -> Match | bool | None:
    """The first match block of ``rule`` that the request satisfies; True when the rule has
    no match blocks (it matches everything); None when nothing matches."""
    if not rule.matches:
        return True
    return next((m for m in rule.matches if match_applies(m, request)), None)


def _precedence(m: Match | None, index: int) -> tuple[int, int, int, int, int, int]:
    """Gateway API precedence key (smaller wins): Exact, longest prefix, method, most
    headers, most query params, then rule order (semantics.md §10)."""
    if m is None:
        return (1, 0, 1, 0, 0, index)
    exact = m.path is not None and m.path.kind is PathKind.EXACT
    prefix = len(m.path.value) if m.path is not None and not exact else 1
    return (0 if exact else 1, -prefix, 0 if m.methods else 1, -len(m.headers),
            -len(m.query), index)


# --- the evaluator ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Hit:
    table: RouteTable
    index: int
    rule: Rule
    match: Match | None  # None: the rule had no match blocks


class SourceEvaluator:
    """Evaluate requests against a :class:`RoutingModel` with source semantics.

    Tables are indexed by Service at construction, so one request costs
    O(rules of that Service).
    """

    def __init__(self, model: RoutingModel) -> None:
        self.model = model
        self._tables: dict[ServiceRef, list[RouteTable]] = defaultdict(list)
        self._views: dict[tuple[ServiceKey, str], list[RouteTable]] = {}
        for table in model.tables:
            self._tables[table.service].append(table)

    # -- discovery ------------------------------------------------------------------------
    def services(self) -> list[ServiceKey]:
        """Every Service port some table routes: the table's port, else every port of the
        Service as known from the input (port 80 when the Service is unknown)."""
        keys: set[ServiceKey] = set()
        for ref, tables in self._tables.items():
            for table in tables:
                keys.update(ServiceKey(ref.namespace, ref.name, p) for p in self._ports(table))
        return sorted(keys)

    def _ports(self, table: RouteTable) -> list[int]:
        if table.port is not None:
            return [table.port]
        info = self.model.services.get(table.service)
        ports = [p.port for p in info.ports if p.port] if info else []
        return ports or [DEFAULT_PORT]

    def tables_for(self, service: ServiceKey) -> list[RouteTable]:
        """Every table (producer or consumer, any protocol) for a Service port."""
        ref = ServiceRef(service.namespace, service.name)
        return [t for t in self._tables.get(ref, []) if t.port in (None, service.port)]

    def consumer_namespaces(self, service: ServiceKey) -> list[str]:
        """Client namespaces with their own (consumer) tables for this Service port."""
        found = {t.consumer_namespace for t in self.tables_for(service)}
        found.update(m.source_namespace for t in self.tables_for(service)
                     for r in t.rules for m in r.matches)
        return sorted(ns for ns in found if ns)

    def atoms(self, service: ServiceKey) -> Atoms:
        """Every condition the Service's tables test, for witness generation."""
        return service_atoms(self.tables_for(service))

    # -- evaluation -----------------------------------------------------------------------
    def applicable_tables(self, request: Request) -> list[RouteTable]:
        """Tables for the request's Service port; consumer tables of the client's namespace
        replace producer tables (GEP-1294). The port's protocol decides between HTTP/gRPC
        and TCP tables (a port is one or the other), not the request: HTTP/gRPC tables
        when there are any, else TCP tables."""
        fitting = self.tables_for(request.service)
        consumer = [t for t in fitting if t.consumer_namespace == request.client_namespace]
        chosen = consumer or [t for t in fitting if t.consumer_namespace is None]
        http = [t for t in chosen if t.protocol is not Protocol.TCP]
        return http or chosen

    def evaluate(self, request: Request) -> Outcome:
        view = (request.service, request.client_namespace)
        tables = self._views.get(view)
        if tables is None:
            tables = self._views[view] = self.applicable_tables(request)
        if not tables:
            return to_service(request)
        for table in tables:
            hit = select_rule(table, request)
            if hit is not None:
                return apply_rule(hit, request)
        return unmatched(tables, request)


def select_rule(table: RouteTable, request: Request) -> _Hit | None:
    """The rule of ``table`` that decides ``request``, by the table's own semantics."""
    candidates: list[tuple[tuple[int, ...], _Hit]] = []
    for index, rule in enumerate(table.rules):
        found = first_matching(rule, request)
        if found is None:
            continue
        match = found if isinstance(found, Match) else None
        hit = _Hit(table, index, rule, match)
        if table.first_match:
            return hit
        candidates.append((_precedence(match, index), hit))
    return min(candidates, key=lambda c: c[0])[1] if candidates else None


def unmatched(tables: Sequence[RouteTable], request: Request) -> Outcome:
    """No rule matched: 404 if any applicable table says so, else pass-through."""
    if any(t.unmatched is Unmatched.NOT_FOUND for t in tables):
        return Outcome(status=404)
    fallback: tuple[Destination, ...] = getattr(tables[0], "fallback", ()) or ()
    if not fallback:
        return to_service(request)
    backends = _backends(fallback, request)
    if not backends:
        return Outcome(status=500, notes=("fallback destinations have no weight",))
    return _forwarded(request, backends, rule=None)


def to_service(request: Request) -> Outcome:
    """The request goes to the addressed Service itself, untouched."""
    svc = request.service
    return _forwarded(request, (Backend(svc.namespace, svc.name, svc.port, 1),), rule=None)


def _forwarded(request: Request, backends: tuple[Backend, ...], rule: str | None,
               notes: tuple[str, ...] = ()) -> Outcome:
    """Forwarded untouched (also the shape of a TCP outcome: the bytes are not changed)."""
    return Outcome(status=200, rule=rule, backends=backends, path=request.path,
                   host=request.host, request_headers=request_header_map(request.headers),
                   notes=notes)


def _backends(destinations: Iterable[Destination], request: Request) -> tuple[Backend, ...]:
    """Weighted backends; ``port=None`` means the port the request was addressed to;
    zero-weight destinations get nothing."""
    return tuple(
        Backend(d.service.namespace, d.service.name,
                d.port if d.port is not None else request.service.port, d.weight)
        for d in destinations if d.weight > 0)


def rule_label(table: RouteTable, index: int) -> str:
    """``Kind/namespace/name#index`` of the source object (else the table's name)."""
    owner = table.origin.ref if table.origin is not None else table.name or str(table.service)
    where = f"@{table.consumer_namespace}" if table.consumer_namespace else ""
    return f"{owner}{where}#{index}"


def apply_rule(hit: _Hit, request: Request) -> Outcome:
    """The outcome of the rule that matched."""
    rule, label = hit.rule, rule_label(hit.table, hit.index)
    notes = ("fault injection (the request is still forwarded here)",) if rule.fault else ()
    if rule.redirect is not None:
        return redirect_outcome(rule.redirect, hit.match, request, label, notes)
    if rule.direct_status is not None:
        return Outcome(status=rule.direct_status, rule=label, notes=notes)
    backends = _backends(rule.destinations, request)
    if not backends:
        return Outcome(status=500, rule=label, notes=(*notes, "no destination with weight"))
    if hit.table.protocol is Protocol.TCP:
        return _forwarded(request, backends, label, notes)
    return forward_outcome(hit, request, backends, label, notes)


def forward_outcome(hit: _Hit, request: Request, backends: tuple[Backend, ...], label: str,
                    notes: tuple[str, ...]) -> Outcome:
    rule = hit.rule
    req_ops, resp_ops, op_notes = _header_ops(rule)
    headers, host = apply_request_header_ops(request_header_map(request.headers),
                                             rule.rewrite_host or request.host, req_ops)
    retry = rule.retry  # converters make source defaults explicit; None = no retries
    return Outcome(
        status=200, rule=label, backends=backends,
        path=rewrite_path(rule.rewrite, hit.match, request.path),
        host=host,
        request_headers=headers,
        response_headers=apply_header_ops((), resp_ops),
        timeout=ms_to_duration(rule.timeout_ms),
        retry=None if retry is None else Retry(
            retry.attempts, tuple(sorted(set(retry.codes))),
            ms_to_duration(effective_per_try(retry.per_try_timeout_ms, rule.timeout_ms)),
            ms_to_duration(retry.backoff_ms)),
        mirrors=tuple(Mirror(m.service.namespace, m.service.name,
                             m.port if m.port is not None else request.service.port, m.percent)
                      for m in rule.mirrors),
        notes=notes + op_notes,
    )


def effective_per_try(per_try_ms: int | None, timeout_ms: int | None) -> int | None:
    """A try cannot outlast the whole request: Envoy's route timeout fires first, so a
    per-try timeout above it acts as the route timeout (0 = no timeout)."""
    if per_try_ms and timeout_ms and per_try_ms > timeout_ms:
        return timeout_ms
    return per_try_ms


def _header_ops(rule: Rule) -> tuple[list[HeaderOps], list[HeaderOps], tuple[str, ...]]:
    """Rule-level header operations, then the destination's when they are the same for
    every destination (a per-backend difference cannot be shown in one outcome)."""
    req, resp = [rule.request_headers], [rule.response_headers]
    dest_req = {d.request_headers for d in rule.destinations if d.weight > 0}
    dest_resp = {d.response_headers for d in rule.destinations if d.weight > 0}
    notes: tuple[str, ...] = ()
    if len(dest_req) == 1 and len(dest_resp) == 1:
        req.append(next(iter(dest_req)))
        resp.append(next(iter(dest_resp)))
    elif len(dest_req) > 1 or len(dest_resp) > 1:
        notes = ("destinations modify headers differently; only rule-level operations shown",)
    return req, resp, notes


# --- paths and redirects ----------------------------------------------------------------

def rewrite_path(rewrite: PathRewrite | None, match: Match | None, path: str) -> str:
    """The path the backend sees. ``PREFIX_STRING`` is Envoy ``prefix_rewrite``: the
    matched prefix is replaced as a plain string, an exact or regex match has its whole
    path replaced, and a rule without a path condition has the implicit prefix ``/``
    (so ``/v2`` on ``/x`` gives ``/v2x``; semantics.md §8.2, §11)."""
    if rewrite is None:
        return path
    if rewrite.kind is RewriteKind.FULL:
        return rewrite.value
    if rewrite.kind is RewriteKind.REGEX:
        return regex_substitute(rewrite.pattern, rewrite.value, path)
    pm = match.path if match is not None else None
    if pm is not None and pm.kind in (PathKind.EXACT, PathKind.REGEX):
        return rewrite.value
    prefix_len = len(pm.value) if pm is not None else 1
    return rewrite.value + path[prefix_len:]


def regex_substitute(pattern: str, replacement: str, path: str) -> str:
    """Envoy ``regex_rewrite`` (RE2 ``GlobalReplace``, ``\\1`` groups); approximated with
    ``re.sub``. A pattern that does not compile leaves the path unchanged."""
    compiled = compile_regex(pattern)
    if compiled is None:
        return path
    try:
        return compiled.sub(replacement, path)
    except (re.error, IndexError):
        return path


def redirect_outcome(redirect: Redirect, match: Match | None, request: Request, label: str,
                     notes: tuple[str, ...]) -> Outcome:
    """A redirect as Envoy builds it (``RedirectAction``): the scheme defaults to the
    request's; without ``host_redirect`` the authority is the Host the client sent, port
    included; ``port_redirect`` replaces the port (Istio sets it for ``port`` and for
    ``derivePort: FROM_REQUEST_PORT``); the query string is kept. A scheme's well-known
    port is left out of the Location (the same URL either way)."""
    scheme = redirect.scheme or request.scheme
    port = redirect.port
    if port is None and redirect.derive_port_from_request:
        port = request.service.port
    if redirect.host is not None:
        host = redirect.host
    else:
        host, sent_port = split_host_port(host_as_sent(request))
        port = port if port is not None else sent_port
    path = rewrite_path(redirect.path, match, request.path)
    location = format_location(scheme, host, port, path, request.query)
    return Outcome(status=redirect.code, rule=label,
                   redirect=RedirectOutcome(location, redirect.code), notes=notes)


def host_as_sent(request: Request) -> str:
    """The Host header the client sends: the explicit one, else the Service name with the
    port when the port is not the scheme's well-known one (as HTTP clients do)."""
    explicit = request.header("host")
    if explicit is not None:
        return explicit
    svc = request.service
    default = _DEFAULT_SCHEME_PORTS.get(request.scheme)
    return svc.name if svc.port == default else f"{svc.name}:{svc.port}"


def split_host_port(authority: str) -> tuple[str, int | None]:
    """``web:8080`` -> ("web", 8080); ``[::1]:80`` -> ("[::1]", 80); ``web`` -> ("web", None)."""
    host, sep, port = authority.rpartition(":")
    if sep and port.isdigit() and (host.endswith("]") or ":" not in host):
        return host, int(port)
    return authority, None


# --- headers, locations, durations ------------------------------------------------------

def request_header_map(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """The headers a backend sees before any operation: lower-case names, repeats
    comma-joined, sorted, without ``host`` (the host is a separate outcome aspect)."""
    merged: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        if key != "host":
            merged[key] = f"{merged[key]},{value}" if key in merged else value
    return tuple(sorted(merged.items()))


def apply_request_header_ops(headers: tuple[tuple[str, str], ...], host: str,
                             ops: Sequence[HeaderOps]) -> tuple[tuple[tuple[str, str], ...], str]:
    """Request header operations; setting (or adding) ``host`` rewrites the authority,
    as Envoy and Istio treat it (semantics.md §3.3); removing it is not possible."""
    if not any(ops):
        return headers, host
    for op in ops:
        for name, value in (*op.set, *op.add):
            if name.lower() in _HOST_HEADERS:
                host = value
    plain_ops = [HeaderOps(tuple(p for p in op.set if p[0].lower() not in _HOST_HEADERS),
                           tuple(p for p in op.add if p[0].lower() not in _HOST_HEADERS),
                           tuple(n for n in op.remove if n.lower() not in _HOST_HEADERS))
                 for op in ops]
    return apply_header_ops(headers, plain_ops), host


def apply_header_ops(headers: Iterable[tuple[str, str]],
                     ops: Iterable[HeaderOps]) -> tuple[tuple[str, str], ...]:
    """Apply header operations in order: ``set`` overwrites, ``add`` appends comma-joined,
    ``remove`` deletes (names case-insensitive)."""
    current = dict(headers)
    for op in ops:
        for name, value in op.set:
            current[name.lower()] = value
        for name, value in op.add:
            key = name.lower()
            current[key] = f"{current[key]},{value}" if key in current else value
        for name in op.remove:
            current.pop(name.lower(), None)
    return tuple(sorted(current.items()))


def format_location(scheme: str, host: str, port: int | None, path: str,
                    query: Sequence[tuple[str, str]]) -> str:
    """``scheme://host[:port]path[?query]``; the scheme's well-known port is left out."""
    authority = host
    if port is not None and _DEFAULT_SCHEME_PORTS.get(scheme) != port:
        authority = f"{host}:{port}"
    suffix = "?" + "&".join(f"{k}={v}" if v else k for k, v in query) if query else ""
    return f"{scheme}://{authority}{path}{suffix}"


def ms_to_duration(ms: int | None) -> str | None:
    """Milliseconds as a canonical Gateway API duration (GEP-2257), None for no value."""
    if ms is None:
        return None
    try:
        return format_duration(ms)
    except DurationError:  # too long for GEP-2257: still comparable as a string
        return f"{ms}ms"


# --- atoms ------------------------------------------------------------------------------

def service_atoms(tables: Iterable[RouteTable]) -> Atoms:
    """Every path, header, query, method and host condition the tables' matches test."""
    paths: set[PathAtom] = set()
    headers: set[HeaderAtom] = set()
    queries: set[QueryAtom] = set()
    methods: set[str] = set()
    hosts: set[str] = set()
    grpc = False
    for table in tables:
        grpc = grpc or table.protocol is Protocol.GRPC
        for match in (m for rule in table.rules for m in rule.matches):
            if match.path is not None:
                paths.add(path_atom(match.path))
            methods.update(match.methods or ())
            for cond in match.headers:
                if cond.name.lower() in _HOST_HEADERS and cond.kind is StrKind.EXACT:
                    hosts.add(cond.value)
                else:
                    headers.add(HeaderAtom(_header_name(cond.name), *_value_atom(cond)))
            queries.update(QueryAtom(q.name, *_value_atom(q)) for q in match.query)
    return Atoms(frozenset(paths), frozenset(headers), frozenset(queries),
                 frozenset(methods), frozenset(hosts), grpc)


def _header_name(name: str) -> str:
    lname = name.lower()
    return "host" if lname == ":authority" else lname


def path_atom(pm: PathMatch) -> PathAtom:
    start = pm.kind is PathKind.REGEX and pm.anchor is Anchor.START
    return PathAtom(_PATH_ATOM_KINDS[pm.kind], pm.value, pm.ignore_case,
                    "start" if start else "full")


_PATH_ATOM_KINDS: dict[PathKind, AtomPathKind] = {
    PathKind.EXACT: "exact", PathKind.PREFIX: "prefix",
    PathKind.SEGMENT_PREFIX: "segment_prefix", PathKind.REGEX: "regex"}


def _value_atom(cond: StringMatch) -> tuple[ValueKind, str]:
    """(kind, value) of a header/query atom; a case-insensitive condition becomes a
    ``(?i)`` regex, since atoms have no case flag."""
    if not cond.ignore_case or cond.kind is StrKind.PRESENT:
        return _VALUE_ATOM_KINDS[cond.kind], cond.value
    body = {StrKind.EXACT: re.escape(cond.value), StrKind.PREFIX: re.escape(cond.value) + ".*",
            StrKind.SUFFIX: ".*" + re.escape(cond.value)}.get(cond.kind, cond.value)
    return "regex", f"(?i){body}"


_VALUE_ATOM_KINDS: dict[StrKind, ValueKind] = {
    StrKind.EXACT: "exact", StrKind.PREFIX: "prefix", StrKind.SUFFIX: "suffix",
    StrKind.REGEX: "regex", StrKind.PRESENT: "present"}
