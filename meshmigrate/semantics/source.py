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
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

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
    RetryPolicy,
    RewriteKind,
    RouteTable,
    RoutingModel,
    Rule,
    ServiceRef,
    StringMatch,
    StrKind,
    Unmatched,
)
from meshmigrate.semantics.atoms import (
    Atoms,
    HeaderAtom,
    PathAtom,
    QueryAtom,
    ValueKind,
    header_atom,
    path_atom_of,
    query_atom,
)
from meshmigrate.semantics.atoms import PathKind as AtomPathKind
from meshmigrate.semantics.durations import DurationError, format_duration
from meshmigrate.semantics.outcome import (
    Backend,
    Mirror,
    Outcome,
    Request,
    Retry,
    ServiceKey,
    backend,
    forwarded,
    template_outcome,
)
from meshmigrate.semantics.outcome import (
    Redirect as RedirectOutcome,
)
from meshmigrate.semantics.plans import (
    MEMO_SIZE,
    bounded_put,
    literal_head,
    memo_put,
)

DEFAULT_PORT = 80
_DEFAULT_SCHEME_PORTS = {"http": 80, "https": 443}
# compiled views kept per evaluator: verify goes Service port by Service port, and a view
# is compiled again cheaply; few views kept keep the memory they use warm (measured: 1024
# kept cost about 5% more than 16 on a 2,000-Service mesh)
_PLANS_KEPT = 16
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
    return methods_match(m.methods, m.negated_methods, method)


def methods_match(methods: frozenset[str] | None, negated: bool, method: str) -> bool:
    """A block's method condition: any method when None, else one of them (none of them
    when ``negated``)."""
    return methods is None or (method in methods) != negated


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

class _Hit(NamedTuple):
    """The rule that decides a request: its table, its position there, and the match block
    the request satisfied. (A named tuple: compiled views make one per match block.)"""

    table: RouteTable
    position: int  # of the rule in the table
    rule: Rule
    match: Match | None  # None: the rule had no match blocks


class SourceEvaluator:
    """Evaluate requests against a :class:`RoutingModel` with source semantics.

    Tables are indexed by Service at construction. The first request to a Service port
    (and client view) compiles its tables (see ``_Plan``), so the next ones cost a path
    lookup and the conditions of the few rules the path selects; the compiled views are
    kept in a bounded cache. :meth:`evaluate_plain` is the uncompiled definition. Not
    thread-safe (the current port's memo is shared state): one evaluator per thread.
    """

    def __init__(self, model: RoutingModel) -> None:
        self.model = model
        self._tables: dict[ServiceRef, list[RouteTable]] = defaultdict(list)
        for table in model.tables:
            self._tables[table.service].append(table)
        # compiled views, a bounded cache (verify asks for one Service port at a time)
        self._plans: OrderedDict[tuple[ServiceKey, str | None], _Plan] = OrderedDict()
        self._clients: OrderedDict[tuple[ServiceKey, str], _Plan] = OrderedDict()  # by client ns
        self._last: tuple[ServiceKey, str, _Plan] | None = None
        # the current view (that of self._last), read by evaluate without a call
        self._last_service: ServiceKey | None = None
        self._last_client = ""
        self._last_plan = _EMPTY_PLAN
        # what the current plan worked out, for the next requests to the same view (witness
        # requests share paths and header sets; bounded, cleared when the plan changes): the
        # positions a path selects (see _Plan.selected), and forwards by (position, path,
        # headers)
        self._paths: dict[str, tuple[int, ...]] = {}
        self._outcomes: dict[tuple[int, str, tuple[tuple[str, str], ...]], Outcome] = {}
        self._last_tables: tuple[ServiceKey, list[RouteTable]] | None = None

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
        last = self._last_tables  # verify asks for one port several times in a row
        if last is None or last[0] is not service:
            ref = ServiceRef(service.namespace, service.name)
            last = self._last_tables = (service, [
                t for t in self._tables.get(ref, []) if t.port in (None, service.port)])
        return list(last[1])

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
        return self._view(request.service, self._view_key(request.service,
                                                          request.client_namespace))

    def _view_key(self, service: ServiceKey, client_ns: str) -> str | None:
        """The client namespace when it has consumer tables for the port, else None (the
        producer tables apply)."""
        fitting = self.tables_for(service)
        return client_ns if any(t.consumer_namespace == client_ns for t in fitting) else None

    def _view(self, service: ServiceKey, key: str | None) -> list[RouteTable]:
        chosen = [t for t in self.tables_for(service) if t.consumer_namespace == key]
        http = [t for t in chosen if t.protocol is not Protocol.TCP]
        return http or chosen

    def evaluate(self, request: Request) -> Outcome:
        """The Outcome of ``request`` with the source mesh's semantics (module docstring),
        computed with the port's compiled view (the same as :meth:`evaluate_plain`). A
        forward depends on the request only through its path and headers (the Service is
        the view's), so the forwards of the current view are remembered by those: witness
        requests often differ only in method or query. (All inline: this runs once per
        witness request.)"""
        if request.service is self._last_service and \
                request.client_namespace == self._last_client:  # the common case
            plan = self._last_plan
        else:
            plan = self._plan(request.service, request.client_namespace)
        path = request.path
        positions = self._paths.get(path)
        if positions is None:
            if not plan.tables:
                return to_service(request)
            positions = memo_put(self._paths, path, plan.selected(path))
        steps = plan.steps
        hit, step_key, done_rule, found = -1, None, -1, None
        for pos in positions:  # the first that passes, or the best ranked (see select_rule)
            candidate = steps[pos]
            if found is not None and candidate.table != found.table:
                break
            if candidate.rule == done_rule or not (candidate.simple
                                                   or candidate.passes(request)):
                continue
            if candidate.key is None:
                hit, found = pos, candidate
                break
            done_rule = candidate.rule
            if step_key is None or candidate.key < step_key:
                hit, step_key, found = pos, candidate.key, candidate
        if found is None:
            return plan.not_found or unmatched(plan.tables, request)
        step = found
        action = step.action
        template = action.template
        if template is None:
            return action.fixed or apply_rule(step.hit, request)
        key = (hit, path, request.headers)
        outcomes = self._outcomes
        outcome = outcomes.get(key)
        if outcome is None:
            if len(outcomes) >= MEMO_SIZE:  # as memo_put does
                outcomes.clear()
            outcome = outcomes[key] = action.forward(template, request, step.hit)
        return outcome

    def evaluate_plain(self, request: Request) -> Outcome:
        """:meth:`evaluate` by the plain definition (:func:`evaluate_tables`), without
        compiled views (slower; tests hold :meth:`evaluate` to it)."""
        return evaluate_tables(self.applicable_tables(request), request)

    def _plan(self, service: ServiceKey, client_ns: str) -> _Plan:
        """The compiled view for a client of a Service port; the last one is kept at hand
        (requests come Service by Service), the others in a bounded cache."""
        last = self._last
        if last is not None and last[0] is service and last[1] == client_ns:
            return last[2]
        plan = self._clients.get((service, client_ns))
        if plan is None:
            view = (service, self._view_key(service, client_ns))
            plan = self._plans.get(view)
            if plan is None:
                plan = _Plan.compile(service, self._view(service, view[1]))
                bounded_put(self._plans, view, plan, _PLANS_KEPT)
            bounded_put(self._clients, (service, client_ns), plan, _PLANS_KEPT)
        if last is None or last[2] is not plan:
            self._paths.clear()
            self._outcomes.clear()
        self._last = (service, client_ns, plan)
        self._last_service, self._last_client, self._last_plan = service, client_ns, plan
        return plan


def evaluate_tables(tables: Sequence[RouteTable], request: Request) -> Outcome:
    """The plain definition of :meth:`SourceEvaluator.evaluate` given the applicable
    tables: the first table with a rule for the request decides (tests hold the compiled
    evaluator to it)."""
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
    return _forwarded(request, (backend(svc.namespace, svc.name, svc.port, 1),), rule=None)


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
        backend(d.service.namespace, d.service.name,
                d.port if d.port is not None else request.service.port, d.weight)
        for d in destinations if d.weight > 0)


def rule_label(table: RouteTable, index: int) -> str:
    """``Kind/namespace/name#index`` of the source object (else the table's name)."""
    return f"{_table_label(table)}#{index}"


def _table_label(table: RouteTable) -> str:
    owner = table.origin.ref if table.origin is not None else table.name or str(table.service)
    where = f"@{table.consumer_namespace}" if table.consumer_namespace else ""
    return f"{owner}{where}"


_FAULT_NOTES = ("fault injection (the request is still forwarded here)",)


def apply_rule(hit: _Hit, request: Request) -> Outcome:
    """The outcome of the rule that matched."""
    rule, label = hit.rule, rule_label(hit.table, hit.position)
    notes = _FAULT_NOTES if rule.fault else ()
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
    """A forwarded HTTP request: the rule's rewrites and header operations applied."""
    rule = hit.rule
    template, req_ops = forward_template(rule, request.service.port, backends, label, notes)
    headers, host = apply_request_header_ops(request_header_map(request.headers),
                                             rule.rewrite_host or request.host, req_ops)
    return Outcome(200, label, backends, rewrite_path(rule.rewrite, hit.match, request.path),
                   host, headers, template.response_headers, None, template.timeout,
                   template.retry, template.mirrors, template.notes)


def forward_template(rule: Rule, port: int, backends: tuple[Backend, ...], label: str,
                     notes: tuple[str, ...]) -> tuple[Outcome, list[HeaderOps]]:
    """What a forward by ``rule`` of a request to ``port`` is whatever the request (its
    path, host and request headers left unset), and the request header operations that
    do something."""
    req_ops, resp_ops, op_notes = _header_ops(rule)
    retry = rule.retry  # converters make source defaults explicit; None = no retries
    template = template_outcome(
        200, label, backends, apply_header_ops((), resp_ops) if resp_ops else (),
        ms_to_duration(rule.timeout_ms),
        None if retry is None else _retry_of(retry, rule.timeout_ms),
        _mirrors(rule, port) if rule.mirrors else (),
        notes + op_notes if op_notes else notes)
    return template, req_ops


def _mirrors(rule: Rule, port: int) -> tuple[Mirror, ...]:
    """The rule's mirrors for a request to ``port`` (``port=None`` means that port)."""
    return tuple(Mirror(m.service.namespace, m.service.name,
                        m.port if m.port is not None else port, m.percent)
                 for m in rule.mirrors)


def _retry_of(retry: RetryPolicy, timeout_ms: int | None) -> Retry:
    """The retries of a rule with this policy and request timeout; cached by the values
    they depend on (rules share a few policies, often the source's default, but seldom the
    policy object), a tuple cheaper to hash than the policy. The rules of a table that do
    share one policy object: the last one is remembered by identity."""
    last = _LAST_RETRY[0]
    if last is not None and last[0] is retry and last[1] == timeout_ms:
        return last[2]
    key = (retry.attempts, retry.codes, retry.per_try_timeout_ms, retry.backoff_ms, timeout_ms)
    try:
        found = _RETRIES.get(key)
        if found is None:
            found = memo_put(_RETRIES, key, _retry(retry, timeout_ms))
    except TypeError:  # a policy holding a list, say
        found = _retry(retry, timeout_ms)
    _LAST_RETRY[0] = (retry, timeout_ms, found)
    return found


_LAST_RETRY: list[tuple[RetryPolicy, int | None, Retry] | None] = [None]
_RETRIES: dict[tuple[object, ...], Retry] = {}


def _retry(retry: RetryPolicy, timeout_ms: int | None) -> Retry:
    """See :func:`_retry_of`."""
    return Retry(retry.attempts, tuple(sorted(set(retry.codes))),
                 ms_to_duration(effective_per_try(retry.per_try_timeout_ms, timeout_ms)),
                 ms_to_duration(retry.backoff_ms))


def effective_per_try(per_try_ms: int | None, timeout_ms: int | None) -> int | None:
    """A try cannot outlast the whole request: Envoy's route timeout fires first, so a
    per-try timeout above it acts as the route timeout (0 = no timeout)."""
    if per_try_ms and timeout_ms and per_try_ms > timeout_ms:
        return timeout_ms
    return per_try_ms


def _header_ops(rule: Rule) -> tuple[list[HeaderOps], list[HeaderOps], tuple[str, ...]]:
    """Rule-level header operations, then the destination's when they are the same for
    every destination (a per-backend difference cannot be shown in one outcome); the
    operations that do nothing are left out (usually all of them)."""
    dests = rule.destinations
    live = [dests[0]] if len(dests) == 1 and dests[0].weight > 0 else \
        [d for d in dests if d.weight > 0]
    if len(live) == 1:  # the usual case
        dest = live[0]
        return (_acting_pair(rule.request_headers, dest.request_headers),
                _acting_pair(rule.response_headers, dest.response_headers), ())
    req, resp = [rule.request_headers], [rule.response_headers]
    dest_req = {d.request_headers for d in live}
    dest_resp = {d.response_headers for d in live}
    notes: tuple[str, ...] = ()
    if len(dest_req) == 1 and len(dest_resp) == 1:
        req.append(next(iter(dest_req)))
        resp.append(next(iter(dest_resp)))
    elif len(dest_req) > 1 or len(dest_resp) > 1:
        notes = ("destinations modify headers differently; only rule-level operations shown",)
    return _acting(*req), _acting(*resp), notes


def _acting(*ops: HeaderOps) -> list[HeaderOps]:
    """The operations that do something, in order (an empty one changes nothing)."""
    return [op for op in ops if op.set or op.add or op.remove]


def _acting_pair(first: HeaderOps, then: HeaderOps) -> list[HeaderOps]:
    """:func:`_acting` of two operations (the rule's and its destination's)."""
    if first.set or first.add or first.remove:
        return [first, then] if then.set or then.add or then.remove else [first]
    return [then] if then.set or then.add or then.remove else []


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


@functools.lru_cache(maxsize=1024)
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
        if table.protocol is Protocol.GRPC:
            grpc = True
        for rule in table.rules:
            for match in rule.matches:
                if match.path is not None:
                    paths.add(path_atom(match.path))
                if match.methods:
                    methods.update(match.methods)
                for cond in match.headers:
                    if cond.kind is StrKind.EXACT and cond.name.lower() in _HOST_HEADERS:
                        hosts.add(cond.value)
                    else:
                        headers.add(header_atom(_header_name(cond.name), *_value_atom(cond)))
                for cond in match.query:
                    queries.add(query_atom(cond.name, *_value_atom(cond)))
    return Atoms(frozenset(paths), frozenset(headers), frozenset(queries),
                 frozenset(methods), frozenset(hosts), grpc)


def _header_name(name: str) -> str:
    lname = name.lower()
    return "host" if lname == ":authority" else lname


def path_atom(pm: PathMatch) -> PathAtom:
    """The atom of a path condition (one object per distinct atom)."""
    kind = pm.kind
    if kind is PathKind.REGEX:
        return path_atom_of("regex", pm.value, pm.ignore_case,
                            "start" if pm.anchor is Anchor.START else "full")
    return path_atom_of(_atom_path_kind(kind), pm.value, pm.ignore_case)


def _atom_path_kind(kind: PathKind) -> AtomPathKind:
    """The atom kind of a model path kind (by identity: an Enum hashes in Python)."""
    if kind is PathKind.EXACT:
        return "exact"
    if kind is PathKind.PREFIX:
        return "prefix"
    return "segment_prefix" if kind is PathKind.SEGMENT_PREFIX else "regex"


def _value_atom(cond: StringMatch) -> tuple[ValueKind, str]:
    """(kind, value) of a header/query atom; a case-insensitive condition becomes a
    ``(?i)`` regex, since atoms have no case flag."""
    kind = cond.kind
    if kind is StrKind.EXACT and not cond.ignore_case:  # the usual kind
        return "exact", cond.value
    if not cond.ignore_case or kind is StrKind.PRESENT:
        return _VALUE_ATOM_KINDS[kind], cond.value
    body = {StrKind.EXACT: re.escape(cond.value), StrKind.PREFIX: re.escape(cond.value) + ".*",
            StrKind.SUFFIX: ".*" + re.escape(cond.value)}.get(kind, cond.value)
    return "regex", f"(?i){body}"


_VALUE_ATOM_KINDS: dict[StrKind, ValueKind] = {
    StrKind.EXACT: "exact", StrKind.PREFIX: "prefix", StrKind.SUFFIX: "suffix",
    StrKind.REGEX: "regex", StrKind.PRESENT: "present"}


# --- compiled views ---------------------------------------------------------------------
#
# The tables of one view (a Service port, and a client namespace with consumer tables or
# the producer tables) are compiled once into a plan: every (rule, match) pair in order,
# with the path conditions indexed and the rule's action worked out except for the parts
# that depend on the request. Tests hold it to the plain definition (evaluate_tables).

_PSEUDO_HEADERS = frozenset({"host", ":authority", ":method", ":path"})
_NO_BLOCKS: tuple[None] = (None,)  # the match blocks of a rule without any: one, empty


class _Action:
    """What a rule does with a request, worked out when the view is compiled: ``fixed``
    (the same Outcome for every request: a direct response, a 500), a forward
    (``template`` holds every part but the path, host and request headers), or neither (a
    redirect: :func:`apply_rule` itself). (A plain class: one is made per rule of every
    compiled view.)"""

    __slots__ = ("fixed", "host", "ops", "rewrite", "template")

    def __init__(self, fixed: Outcome | None = None, template: Outcome | None = None,
                 rewrite: bool = False, host: str | None = None,
                 ops: tuple[HeaderOps, ...] = ()) -> None:
        self.fixed = fixed
        self.template = template
        self.rewrite = rewrite  # the path is rewritten (see rewrite_path)
        self.host = host  # the Host every request ends up with; None: the request's
        self.ops = ops  # request header operations, Host ones left out

    @staticmethod
    def compile(hit: _Hit, service: ServiceKey, label: str) -> _Action:
        """The action of ``hit.rule`` (labelled ``label``) for requests to the port
        ``service``; as :func:`apply_rule` does it (a one-destination rule, the usual kind,
        read in one pass: what :func:`forward_template` does, inline)."""
        rule = hit.rule
        if rule.redirect is not None:
            return _REDIRECT
        port = service.port
        dests = rule.destinations
        only = dests[0] if len(dests) == 1 else None
        if only is not None:
            backends: tuple[Backend, ...] = (backend(
                only.service.namespace, only.service.name,
                only.port if only.port is not None else port, only.weight),) \
                if only.weight > 0 else ()
        else:
            backends = _backends_at(dests, port)
        if rule.direct_status is not None or not backends:
            # a direct response, or a 500: the same whatever the request
            return _Action(fixed=apply_rule(hit, Request(service)))
        notes = _FAULT_NOTES if rule.fault else ()
        if hit.table.protocol is Protocol.TCP:  # forwarded untouched (see _forwarded)
            return _Action(template=template_outcome(200, label, backends, (), None, None,
                                                     (), notes))
        if only is None:
            template, req_ops = forward_template(rule, port, backends, label, notes)
        else:  # forward_template, inline; the destination's header operations apply
            first, then = rule.response_headers, only.response_headers
            response = apply_header_ops((), _acting_pair(first, then)) \
                if first.set or first.add or first.remove or then.set or then.add \
                or then.remove else ()
            retry, timeout_ms = rule.retry, rule.timeout_ms
            template = template_outcome(
                200, label, backends, response, ms_to_duration(timeout_ms),
                None if retry is None else _retry_of(retry, timeout_ms),
                _mirrors(rule, port) if rule.mirrors else (), notes)
            first, then = rule.request_headers, only.request_headers
            if not (first.set or first.add or first.remove or then.set or then.add
                    or then.remove):  # the usual case
                return _Action(template=template, rewrite=rule.rewrite is not None,
                               host=rule.rewrite_host or None)
            req_ops = _acting_pair(first, then)
        if not req_ops:
            return _Action(template=template, rewrite=rule.rewrite is not None,
                           host=rule.rewrite_host or None)
        return _Action.with_request_ops(rule, template, req_ops)

    @staticmethod
    def with_request_ops(rule: Rule, template: Outcome, req_ops: list[HeaderOps]) -> _Action:
        """The forward by ``template`` of a rule with request header operations (see
        :func:`apply_request_header_ops`: those naming the Host set it)."""
        host = rule.rewrite_host or None
        for op in req_ops:
            for name, value in (*op.set, *op.add):
                if name.lower() in _HOST_HEADERS:
                    host = value
        if not any(name.lower() in _HOST_HEADERS for op in req_ops
                   for name in (*(p[0] for p in op.set), *(p[0] for p in op.add), *op.remove)):
            # no operation names the Host (the usual case): they apply as they are
            return _Action(template=template, rewrite=rule.rewrite is not None, host=host,
                           ops=tuple(req_ops))
        plain = tuple(HeaderOps(tuple(p for p in op.set if p[0].lower() not in _HOST_HEADERS),
                                tuple(p for p in op.add if p[0].lower() not in _HOST_HEADERS),
                                tuple(n for n in op.remove if n.lower() not in _HOST_HEADERS))
                      for op in req_ops)
        return _Action(template=template, rewrite=rule.rewrite is not None, host=host,
                       ops=plain if any(plain) else ())

    def outcome(self, request: Request, hit: _Hit) -> Outcome:
        """The outcome of ``request`` when ``hit`` (a match of the rule) decides it."""
        if self.fixed is not None:
            return self.fixed
        template = self.template
        if template is None:
            return apply_rule(hit, request)
        return self.forward(template, request, hit)

    def forward(self, template: Outcome, request: Request, hit: _Hit) -> Outcome:
        """The forward of ``request`` by ``template`` (this action's): the rewritten path,
        the Host and the request headers filled in."""
        headers, host = _header_items(request.headers)
        path = request.path
        if self.rewrite:
            path = rewrite_path(hit.rule.rewrite, hit.match, path)
        if self.ops:
            headers = apply_header_ops(headers, self.ops)
        if self.host is not None:
            host = self.host
        elif host is None:  # see Request.host
            host = request.service.name
        return forwarded(template, path, host, headers)


_REDIRECT = _Action()  # every redirect: apply_rule works it out per request


def _backends_at(destinations: tuple[Destination, ...], port: int) -> tuple[Backend, ...]:
    """:func:`_backends` for a request to ``port`` (one destination, the usual case, made
    directly)."""
    if len(destinations) == 1:
        d = destinations[0]
        if d.weight <= 0:
            return ()
        return (backend(d.service.namespace, d.service.name,
                        d.port if d.port is not None else port, d.weight),)
    return tuple(backend(d.service.namespace, d.service.name,
                         d.port if d.port is not None else port, d.weight)
                 for d in destinations if d.weight > 0)


class _Step:
    """One (rule, match) pair of a compiled view: the match's conditions besides the path
    and the port (decided at compile time), and what the rule does. (A plain class: views
    are compiled often, and this is their most numerous part.)"""

    __slots__ = ("action", "exact_query", "fields", "final", "hit", "key", "match",
                 "needs_headers", "plain_headers", "rule", "simple", "table")

    def __init__(self, hit: _Hit, action: _Action, table: int, rule: int,
                 key: tuple[int, ...] | None) -> None:
        self.hit = hit
        self.action = action
        self.table = table  # position of the table in the view
        self.rule = rule  # a number for the rule, unique in the view
        self.key = key  # Gateway API precedence (tables without first_match), else None
        m = self.match = hit.match  # None: the rule has no match blocks
        if m is None or (m.source_namespace is None and m.scheme is None
                         and m.methods is None and not m.headers and not m.query):
            # nothing but the path (and the port) to test: passes() is never asked, and
            # the step takes every request it sees (nothing after it wins) without a key
            self.simple, self.final = True, key is None
            return
        self.simple = self.final = False
        # a client namespace, scheme or method to test
        self.fields = not (m.source_namespace is None and m.scheme is None
                           and m.methods is None)
        self.needs_headers = False  # an absent header fails it
        self.plain_headers: tuple[_PlainHeader, ...] | None = None
        self.exact_query: tuple[tuple[str, str, bool], ...] | None = None
        if m.headers:
            self.needs_headers = any(not h.invert and h.name.lower() not in _PSEUDO_HEADERS
                                     for h in m.headers)
            self.plain_headers = _plain_headers(m.headers)
        if m.query and all(q.kind is StrKind.EXACT and not q.ignore_case for q in m.query):
            self.exact_query = tuple((q.name, q.value, q.invert) for q in m.query)

    def passes(self, request: Request) -> bool:
        """The conditions :func:`match_applies` tests besides the path and the port."""
        m = self.match
        if m is None:
            return True
        if self.fields and not (
            (m.source_namespace is None or m.source_namespace == request.client_namespace)
            and (m.scheme is None or m.scheme.lower() == request.scheme.lower())
            and (m.methods is None or (request.method in m.methods) != m.negated_methods)
        ):
            return False
        if m.headers:
            if self.needs_headers and not request.headers:
                return False
            plain = self.plain_headers
            if plain is not None:  # see _plain_headers
                joined = _joined_headers(request.headers)
                for name, kind, value, invert, regex in plain:
                    actual = joined.get(name)
                    if actual is None:
                        if not invert:
                            return False
                    elif (actual == value if kind is StrKind.EXACT
                          else actual.startswith(value) if kind is StrKind.PREFIX
                          else regex(actual) is not None if kind is StrKind.REGEX
                          else actual.endswith(value) if kind is StrKind.SUFFIX
                          else True) == invert:  # StrKind.PRESENT
                        return False
            else:
                for h in m.headers:
                    if not string_matches(h, _header_value(request, h.name)):
                        return False
        if not m.query:
            return True
        exact_query = self.exact_query
        if exact_query is not None:  # as Exact in _plain_headers, on query_param's value
            query = request.query
            for name, value, invert in exact_query:
                for key, actual in query:  # query_param, inline
                    if key == name:
                        if (actual == value) == invert:
                            return False
                        break
                else:
                    if not invert:  # absent: None != value
                        return False
            return True
        return all(string_matches(q, request.query_param(q.name)) for q in m.query)


# A plain header condition (see _plain_headers): lower-case name, kind, value, invert, and
# for a regex its compiled full match (else a test never used).
_PlainHeader = tuple[str, StrKind, str, bool, Callable[[str], object]]


def _plain_headers(conditions: tuple[StringMatch, ...]) -> tuple[_PlainHeader, ...] | None:
    """The header conditions as :data:`_PlainHeader` tuples when none reads a
    pseudo-header or ignores case (the usual kinds) except a regex (compiled with the case
    flag): :func:`string_matches` on the header's joined value is then a plain string test
    or the regex's full match. None otherwise."""
    if not all((h.kind is StrKind.REGEX or not h.ignore_case)
               and h.name.lower() not in _PSEUDO_HEADERS for h in conditions):
        return None
    return tuple((h.name.lower(), h.kind, h.value, h.invert,
                  _value_test(h.value, h.ignore_case) if h.kind is StrKind.REGEX else _no_match)
                 for h in conditions)


def _value_test(pattern: str, ignore_case: bool) -> Callable[[str], object]:
    """The full match of a header regex (as :func:`regex_matches` does it): not None when
    it matches; a regex that does not compile matches nothing."""
    compiled = compile_regex(pattern, ignore_case)
    return _no_match if compiled is None else compiled.fullmatch


def _no_match(text: str) -> None:
    """The test of a value regex that does not compile."""
    return None


def _header_value(request: Request, name: str) -> str | None:
    """:func:`header_value`, with the request's header map built once per header set."""
    lname = name.lower()
    if lname in _PSEUDO_HEADERS:
        return header_value(request, lname)
    return _joined_headers(request.headers).get(lname)


_NOT_FOUND = Outcome(status=404)  # what unmatched() gives when a table says 404


@dataclass(slots=True, eq=False)
class _Plan:
    """A compiled view. Positions index ``steps``, the (rule, match) pairs in evaluation
    order (tables in order, rules in order, matches in order); path conditions are indexed:
    ``exact`` (case-sensitive Exact, by value), ``always`` (no path condition, or a
    segment prefix ``/``), ``prefixes`` (case-sensitive string prefixes, by value),
    ``segments`` (case-sensitive segment prefixes, by stem), ``others`` (regexes and
    case-insensitive conditions, each with the literal text a matching path starts with
    and its test). (Not frozen, so cheaper to build: one is made per view, and never
    changed.)
    """

    tables: tuple[RouteTable, ...]
    steps: tuple[_Step, ...]
    exact: Mapping[str, tuple[int, ...]]
    always: tuple[int, ...]
    prefixes: tuple[tuple[str, tuple[int, ...]], ...]
    segments: tuple[tuple[str, str, tuple[int, ...]], ...]
    others: tuple[tuple[int, str, Callable[[str], object]], ...]
    not_found: Outcome | None  # the Outcome of a request no rule takes, when fixed

    def selected(self, path: str) -> tuple[int, ...]:
        """The positions whose path condition ``path`` satisfies, in order, up to the first
        one of a first_match table with no other condition (nothing after it can win)."""
        found = [*self.exact.get(path, ()), *self.always]
        for value, positions in self.prefixes:
            if path.startswith(value):
                found += positions
        for stem, slashed, positions in self.segments:
            if path.startswith(slashed) or path == stem:
                found += positions
        for pos, head, test in self.others:
            if path.startswith(head) and test(path):
                found.append(pos)
        found.sort()
        steps = self.steps
        for end, pos in enumerate(found):
            if steps[pos].final:
                return tuple(found[:end + 1])
        return tuple(found)

    @staticmethod
    def compile(service: ServiceKey, tables: Sequence[RouteTable]) -> _Plan:
        """Compile the view ``tables`` of ``service``; a match block that tests another port
        or client labels can never apply here and is left out."""
        port = service.port
        steps: list[_Step] = []
        paths = _PathIndex()
        rule_number = 0
        for table_pos, table in enumerate(tables):
            owner = _table_label(table)
            ranked = not table.first_match
            for index, rule in enumerate(table.rules):
                rule_number += 1
                action: _Action | None = None
                for match in rule.matches or _NO_BLOCKS:
                    if match is not None and (match.source_labels or (
                            match.port is not None and match.port != port)):
                        continue
                    hit = _new_hit(_Hit, (table, index, rule, match))
                    if action is None:
                        action = _Action.compile(hit, service, f"{owner}#{index}")
                    paths.add(len(steps), match.path if match is not None else None)
                    steps.append(_Step(hit, action, table_pos, rule_number,
                                       _precedence(match, index) if ranked else None))
        not_found = _NOT_FOUND if any(
            t.unmatched is Unmatched.NOT_FOUND for t in tables) else None
        return _Plan(tuple(tables), tuple(steps), paths.frozen_exact(), tuple(paths.always),
                     paths.frozen(paths.prefixes),
                     tuple((stem, stem + "/", tuple(found))
                           for stem, found in paths.segments.items()),
                     tuple(paths.others), not_found)


# a _Hit without the named tuple's Python-level __new__ (compile makes one per match)
_new_hit = tuple.__new__
_EMPTY_PLAN = _Plan((), (), {}, (), (), (), (), None)  # no view yet


def _path_test(pm: PathMatch) -> Callable[[str], object]:
    """:func:`path_matches` for ``pm`` as a function of the path, truthy when it matches
    (a regex compiled once)."""
    if pm.kind is not PathKind.REGEX:
        return functools.partial(path_matches, pm)
    compiled = compile_regex(pm.value, pm.ignore_case)
    if compiled is None:
        return _never
    return compiled.fullmatch if pm.anchor is Anchor.FULL else compiled.match


def _never(path: str) -> bool:
    """The test of a path regex that does not compile: it never matches."""
    return False


class _PathIndex:
    """Path conditions sorted into the kinds :class:`_Plan` indexes."""

    __slots__ = ("always", "exact", "others", "prefixes", "segments")

    def __init__(self) -> None:
        self.exact: dict[str, list[int]] = {}
        self.always: list[int] = []
        self.prefixes: dict[str, list[int]] = {}
        self.segments: dict[str, list[int]] = {}
        self.others: list[tuple[int, str, Callable[[str], object]]] = []

    def add(self, pos: int, pm: PathMatch | None) -> None:
        if pm is None:
            self.always.append(pos)
            return
        kind = pm.kind
        if pm.ignore_case or kind is PathKind.REGEX:
            head = literal_head(pm.value) if kind is PathKind.REGEX and not pm.ignore_case \
                else ""
            self.others.append((pos, head, _path_test(pm)))
        elif kind is PathKind.EXACT:
            self.exact.setdefault(pm.value, []).append(pos)
        elif kind is PathKind.PREFIX:
            (self.prefixes.setdefault(pm.value, []) if pm.value else self.always).append(pos)
        else:
            stem = pm.value.rstrip("/")
            (self.segments.setdefault(stem, []) if stem else self.always).append(pos)

    def frozen_exact(self) -> dict[str, tuple[int, ...]]:
        return {value: tuple(found) for value, found in self.exact.items()}

    @staticmethod
    def frozen(found: dict[str, list[int]]) -> tuple[tuple[str, tuple[int, ...]], ...]:
        return tuple((value, tuple(positions)) for value, positions in found.items())


def _header_items(headers: tuple[tuple[str, str], ...]
                  ) -> tuple[tuple[tuple[str, str], ...], str | None]:
    """:func:`request_header_map` and the ``host`` header the client sends
    (:attr:`Request.host` when not None); remembered (witness requests share a few header
    sets) in a plain bounded dict, cheaper to ask than a bounded ``lru_cache``."""
    found = _HEADER_ITEMS.get(headers)
    if found is None:
        host = next((value for name, value in headers if name == "host"), None)
        found = memo_put(_HEADER_ITEMS, headers, (request_header_map(headers), host))
    return found


def _joined_headers(headers: tuple[tuple[str, str], ...]) -> Mapping[str, str]:
    """Header values by lower-case name, repeated headers comma-joined in order (what
    :func:`header_value` sees for an ordinary header); remembered as
    :func:`_header_items` is."""
    found = _JOINED_HEADERS.get(headers)
    if found is None:
        joined: dict[str, str] = {}
        for key, value in headers:
            lkey = key.lower()
            joined[lkey] = f"{joined[lkey]},{value}" if lkey in joined else value
        found = memo_put(_JOINED_HEADERS, headers, MappingProxyType(joined))
    return found


_HEADER_ITEMS: dict[tuple[tuple[str, str], ...],
                    tuple[tuple[tuple[str, str], ...], str | None]] = {}
_JOINED_HEADERS: dict[tuple[tuple[str, str], ...], Mapping[str, str]] = {}
