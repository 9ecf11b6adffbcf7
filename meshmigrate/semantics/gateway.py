"""The Gateway API (GAMMA) evaluator: what a conformant mesh does with a request.

It reads HTTPRoute, GRPCRoute, TCPRoute and TLSRoute objects (``gateway.networking.k8s.io``
v1, v1beta1, v1alpha2, v1alpha3) and core ``v1`` Services **as plain dicts parsed from YAML**
and computes a request's :class:`~meshmigrate.semantics.outcome.Outcome` from the Gateway API
spec alone (``apis/v1/httproute_types.go``, ``grpcroute_types.go``, ``shared_types.go`` and
GEP-1294 for mesh attachment). It never looks at meshmigrate's routing model: it is the
independent check of the converter's output (DESIGN §1).

Choices where the spec leaves room (each also noted where it is implemented):

- **Regex path precedence** is implementation-specific. :data:`REGEX_PATH_RANK` defaults to
  :attr:`RegexRank.BELOW_PREFIX`, Istio's ``getURIRank``/``sortHTTPRoutes``
  (``pilot/pkg/config/kube/gateway/conversion.go``): Exact > PathPrefix (any, even ``/``) >
  RegularExpression; among regexes the longer pattern (in characters) wins.
- **creationTimestamp**: routes without one (freshly emitted YAML) count as *newer* than every
  route that has one, and as equally old among themselves, so ``{namespace}/{name}`` decides.
- **Outcome.request_headers** is the whole header map the backend sees, lower-case names,
  repeated request headers comma-joined (RFC 9110 §5.3), **without** ``host``: the host the
  backend sees is ``Outcome.host``. A RequestHeaderModifier that sets ``host`` changes
  ``Outcome.host``. Header *matches* see repeated headers comma-joined too (as Envoy does).
- **Non-forwarded outcomes** (404, 500, redirect) carry only ``status``, ``rule`` and
  ``redirect``: nothing reaches a backend, so there is no path, host or header map to compare.
- **backendRequest without retry** becomes ``Retry(attempts=0, per_try_timeout=...)``: a
  per-try timeout with no retries is exactly a bound on each backend request. A ``retry``
  without ``attempts`` (implementation-specific count) is recorded as ``attempts=0``, noted.
- **Backend-level filters** are applied only when every backend that gets traffic has the same
  ones; otherwise the Outcome (one per request) cannot say which applies, and a note says so.
- **Partly invalid backends**: ``Outcome.backends`` lists the valid ones; the share that would
  get a 500 (spec: "the proportion of requests that would otherwise have been routed to an
  invalid backend MUST receive a 500") is reported in ``notes``.
- **CORS** and **ExtensionRef** filters are reported in ``notes`` and otherwise ignored.
- **Route-type conflicts** (GRPCRoute > HTTPRoute > TLSRoute > TCPRoute, GEP-1294) are decided
  among the routes that apply to the client (its consumer routes, else the producer routes).
- **Protocol**: the route kind that wins on the port decides how a request is evaluated
  (TCPRoute/TLSRoute: the first rule's backends of the highest-precedence route; HTTPRoute
  and GRPCRoute: matching on path and headers), whatever ``Request.protocol`` says.
- **Invalid rules** (what the CRD's CEL rules or the spec's "Accepted: False" would reject) are
  dropped and listed in :attr:`GatewayEvaluator.problems`; a route left with no valid rule does
  not attach at all.
"""

from __future__ import annotations

import enum
import re
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from operator import attrgetter, itemgetter
from types import MappingProxyType
from typing import Any, NamedTuple, Protocol

from meshmigrate.semantics.atoms import (
    Atoms,
    PathAtom,
    ValueKind,
    header_atom,
    path_atom_of,
    query_atom,
    united,
)
from meshmigrate.semantics.durations import DurationError, canonical_duration
from meshmigrate.semantics.outcome import (
    Backend,
    Mirror,
    Outcome,
    Redirect,
    Request,
    Retry,
    ServiceKey,
    forwarded,
    template_outcome,
)
from meshmigrate.semantics.outcome import backend as _make_backend
from meshmigrate.semantics.plans import MEMO_SIZE, Memo, bounded_put, literal_head, memo_put

__all__ = [
    "DEFAULT_SERVICE_PORT",
    "GATEWAY_GROUP",
    "REGEX_PATH_RANK",
    "ROUTE_KIND_PRIORITY",
    "GatewayEvaluator",
    "RegexRank",
    "replace_prefix_match",
    "segment_prefix_match",
]

GATEWAY_GROUP = "gateway.networking.k8s.io"


class RegexRank(enum.Enum):
    """Where RegularExpression path matches rank (implementation-specific in the spec)."""

    BELOW_PREFIX = "below-prefix"  # Istio getURIRank: Exact 3 > Prefix 2 > Regex 1
    AS_PREFIX = "as-prefix"  # ranked like a PathPrefix with as many characters


REGEX_PATH_RANK = RegexRank.BELOW_PREFIX

# GEP-1294: on one Service port the first kind present wins; the others are Conflicted.
ROUTE_KIND_PRIORITY: tuple[str, ...] = ("GRPCRoute", "HTTPRoute", "TLSRoute", "TCPRoute")
_L4_KINDS = frozenset({"TLSRoute", "TCPRoute"})
_WELL_KNOWN_PORTS: dict[str, int] = {"http": 80, "https": 443}
DEFAULT_SERVICE_PORT = 80  # a port-less parentRef to a Service we were not given
_GRPC_APP_PROTOCOLS = frozenset({"grpc", "grpc-web"})

_ViewKey = str | None  # client namespace of a consumer view; None = the producer view
_AttachKey = tuple[str, str, int | None]  # (namespace, name, port or None = any port)


# --------------------------------------------------------------------------- path helpers


def segment_prefix_match(path: str, prefix: str) -> bool:
    """Gateway API ``PathPrefix``: whole ``/``-separated elements, trailing ``/`` ignored
    (``/abc`` matches ``/abc``, ``/abc/``, ``/abc/def``, not ``/abcd``; ``/`` matches all)."""
    stem = prefix.rstrip("/")
    return not stem or path == stem or path.startswith(stem + "/")


def replace_prefix_match(path: str, prefix: str, replacement: str) -> str:
    """``ReplacePrefixMatch`` per the table in ``HTTPPathModifier`` (httproute_types.go):
    the matched prefix is replaced on element boundaries, trailing ``/`` on either side
    ignored, and an empty result becomes ``/`` (``/foo`` + ``/xyz/`` on ``/foo/bar`` →
    ``/xyz/bar``; ``/foo`` + ``""`` on ``/foo`` → ``/``; ``/foo`` + ``/xyz`` on ``/foo/`` →
    ``/xyz/``)."""
    if not segment_prefix_match(path, prefix):
        return path
    rest = path[len(prefix.rstrip("/")):]  # "" or starts with "/"
    new = replacement.rstrip("/") + rest
    return new if new.startswith("/") else "/" + new


# --------------------------------------------------------------------------- parsed objects


class _Invalid(Exception):
    """A rule (or route) that a conformant implementation would not accept."""


class _Port(NamedTuple):
    """A Service port. (NamedTuples: one is made per port of every Service.)"""

    number: int
    name: str
    app_protocol: str


class _Service(NamedTuple):
    ports: tuple[_Port, ...]
    parentable: bool  # ClusterIP Services only may be parents (GEP-1294)
    numbers: frozenset[int] = frozenset()  # the port numbers


@dataclass(frozen=True, slots=True)
class _RouteId:
    kind: str
    namespace: str
    name: str
    created: float | None
    label: str = field(init=False, compare=False)  # ``{namespace}/{name}``
    _order: tuple[int, float, str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        label = f"{self.namespace}/{self.name}"
        object.__setattr__(self, "label", label)
        # A missing timestamp sorts after every present one (see module docstring).
        object.__setattr__(self, "_order", (1, 0.0, label) if self.created is None
                           else (0, self.created, label))

    def order(self) -> tuple[int, float, str]:
        """Cross-route tie-break: oldest creationTimestamp, then ``{namespace}/{name}``."""
        return self._order


@dataclass(frozen=True, slots=True)
class _Cond:
    """One string condition: Exact, PathPrefix (paths only) or RegularExpression."""

    kind: str
    value: str
    pattern: re.Pattern[str] | None = None

    def test(self, text: str | None) -> bool:
        if text is None:
            return False
        if self.pattern is not None:
            # Full match: Envoy-based meshes use RE2 full match; Python re is close enough
            # for the RE2 subset (RE2 has no backreferences or lookaround).
            return self.pattern.fullmatch(text) is not None
        if self.kind == "PathPrefix":
            return segment_prefix_match(text, self.value)
        return text == self.value


def _cond(kind: str, value: str, allowed: Sequence[str]) -> _Cond:
    if kind not in allowed:
        raise _Invalid(f"unsupported match type {kind!r}")
    if kind != "RegularExpression":
        return _Cond(kind, value)
    try:
        return _Cond(kind, value, re.compile(value))
    except re.error as exc:
        raise _Invalid(f"invalid regular expression {value!r}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class _Match:
    """One HTTPRouteMatch / GRPCRouteMatch: all conditions ANDed."""

    path: _Cond
    headers: tuple[tuple[str, _Cond], ...]
    queries: tuple[tuple[str, _Cond], ...]
    method: str | None
    rank: tuple[int, ...]  # precedence, larger first
    atoms: Atoms
    order: tuple[int, ...] = field(init=False, compare=False)  # the rank negated: sorts first
    simple: bool = field(init=False, compare=False)  # a path condition only
    # it tests a header other than host (which every request has)
    needs_headers: bool = field(init=False, compare=False)
    # (name, value) of each header condition when all are Exact on headers other than host
    exact_headers: tuple[tuple[str, str], ...] | None = field(init=False, compare=False)
    # where a compiled view indexes the path condition (see _HttpPlan): _EXACT and the
    # value, _ALWAYS, _PREFIX and (first segment, stem, stem + "/"), or _REGEX and
    # (literal head, pattern)
    slot: tuple[Any, ...] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        put = object.__setattr__
        put(self, "order", tuple([-r for r in self.rank]))
        headers = self.headers
        put(self, "simple", self.method is None and not headers and not self.queries)
        if not headers:  # most matches
            put(self, "needs_headers", False)
            put(self, "exact_headers", ())
        else:
            put(self, "needs_headers", any(name != "host" for name, _ in headers))
            exact = all(c.kind == "Exact" and name != "host" for name, c in headers)
            put(self, "exact_headers", tuple(
                [(name, c.value) for name, c in headers]) if exact else None)
        put(self, "slot", _slot(self.path))

    def test(self, request: Request) -> bool:
        return (
            self.path.test(request.path)
            and (self.method is None or request.method == self.method)
            and all(cond.test(_header_value(request, name)) for name, cond in self.headers)
            and all(cond.test(request.query_param(name)) for name, cond in self.queries)
        )

    def passes(self, request: Request) -> bool:
        """The method, header and query conditions of :meth:`test` (a compiled view has
        tested the path); an absent header satisfies no header condition."""
        if self.method is not None and request.method != self.method:
            return False
        if self.headers:
            headers = request.headers
            if self.needs_headers and not headers:
                return False
            values = _match_headers(headers)
            exact = self.exact_headers
            if exact is not None:  # _Cond.test of an Exact: the value, and not None
                for name, value in exact:
                    if values.get(name) != value:
                        return False
            else:
                for name, cond in self.headers:
                    if not cond.test(request.host if name == "host" else values.get(name)):
                        return False
        if self.queries:
            for name, cond in self.queries:
                if not cond.test(request.query_param(name)):
                    return False
        return True


_EXACT, _ALWAYS, _PREFIX, _REGEX = range(4)  # kinds of _Match.slot


def _slot(cond: _Cond) -> tuple[Any, ...]:
    """Where a compiled view indexes a path condition (see :attr:`_Match.slot`)."""
    if cond.pattern is not None:
        return _REGEX, literal_head(cond.value), cond.pattern
    if cond.kind != "PathPrefix":
        return _EXACT, cond.value
    stem = cond.value.rstrip("/")
    if not stem:
        return (_ALWAYS,)
    return _PREFIX, _first_segment(stem), stem, stem + "/"


def _header_value(request: Request, name: str) -> str | None:
    """The value a header match sees: repeated headers comma-joined; ``host`` is the Host
    the client sends (``Request.host``, which defaults to the Service name)."""
    if name == "host":
        return request.host
    values = [value for key, value in request.headers if key.lower() == name]
    return ",".join(values) if values else None


@dataclass(slots=True)
class _State:
    """The request as it flows through a rule's filters."""

    request: Request
    match: _Match
    path: str
    host: str
    headers: dict[str, str]
    response: dict[str, str] = field(default_factory=dict)
    mirrors: list[Mirror] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    redirect: Redirect | None = None


class _Filter(Protocol):
    def apply(self, state: _State) -> None: ...

    def fixed(self, parts: _Fixed) -> None:
        """What :meth:`apply` does that does not depend on the request (a compiled view
        works it out once per rule; a RequestRedirect is never compiled)."""


@dataclass(slots=True)
class _Fixed:
    """The parts of a forward that every request gets (see :meth:`_Filter.fixed`)."""

    notes: list[str]
    response: dict[str, str] = field(default_factory=dict)
    mirrors: list[Mirror] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _HeaderFilter:
    """Request/ResponseHeaderModifier: set overwrites, add appends with ``,``, remove
    deletes; names case-insensitive (HTTPHeaderFilter)."""

    response: bool
    set: tuple[tuple[str, str], ...]
    add: tuple[tuple[str, str], ...]
    remove: tuple[str, ...]

    def apply(self, state: _State) -> None:
        if self.response:
            self.edit(state.response)
            return
        host = self.host()
        if host is not None:
            state.host = host
        state.notes.extend(self.notes())
        self.edit(state.headers)

    def fixed(self, parts: _Fixed) -> None:
        if self.response:
            self.edit(parts.response)
        else:
            parts.notes.extend(self.notes())

    def host(self) -> str | None:
        """The Host a request modifier sets (setting or adding ``host`` is an authority
        rewrite; the last one wins), None when it leaves the Host alone."""
        if self.response:
            return None
        found: str | None = None
        for name, value in (*self.set, *self.add):
            if name == "host":
                found = value
        return found

    def notes(self) -> tuple[str, ...]:
        """What a request modifier cannot do, once per attempt."""
        if self.response:
            return ()
        return tuple("RequestHeaderModifier cannot remove host; ignored"
                     for name in self.remove if name == "host")

    def edit(self, target: dict[str, str]) -> None:
        """Set, add, remove on a header map. A request modifier leaves ``host`` out: the
        map a backend sees never holds it (see :meth:`host`)."""
        skip = None if self.response else "host"
        for name, value in self.set:
            if name != skip:
                target[name] = value
        for name, value in self.add:
            if name != skip:
                old = target.get(name)
                target[name] = value if old is None else f"{old},{value}"
        for name in self.remove:
            target.pop(name, None)


@dataclass(frozen=True, slots=True)
class _PathModifier:
    kind: str  # ReplaceFullPath | ReplacePrefixMatch
    value: str

    def rewrite(self, path: str, match: _Match) -> str:
        if self.kind == "ReplaceFullPath":
            return self.value
        return replace_prefix_match(path, match.path.value, self.value)


@dataclass(frozen=True, slots=True)
class _RewriteFilter:
    hostname: str | None
    path: _PathModifier | None

    def apply(self, state: _State) -> None:
        if self.hostname is not None:
            state.host = self.hostname
        if self.path is not None:
            state.path = self.path.rewrite(state.path, state.match)

    def fixed(self, parts: _Fixed) -> None:
        pass  # host and path: see _Action


@dataclass(frozen=True, slots=True)
class _RedirectFilter:
    """RequestRedirect (HTTPRequestRedirectFilter): the Location is built from the request,
    each field overriding its part; statusCode defaults to 302."""

    scheme: str | None
    hostname: str | None
    path: _PathModifier | None
    port: int | None
    status: int

    def apply(self, state: _State) -> None:
        state.redirect = Redirect(self.location(state.request, state.match), self.status)

    def fixed(self, parts: _Fixed) -> None:
        raise AssertionError("a redirect depends on the request")

    def location(self, request: Request, match: _Match) -> str:
        scheme = self.scheme or request.scheme
        host = self.hostname or _strip_port(request.host)
        path = self.path.rewrite(request.path, match) if self.path else request.path
        port = self._port(request)
        # "SHOULD NOT add the port number" for http:80 and https:443.
        shown = "" if _WELL_KNOWN_PORTS.get(scheme) == port else f":{port}"
        query = "&".join(f"{key}={value}" for key, value in request.query)
        return f"{scheme}://{host}{shown}{path}" + (f"?{query}" if query else "")

    def _port(self, request: Request) -> int:
        """Explicit port; else the well-known port of an explicit scheme; else the port the
        request came in on (the Gateway "listener port"; in a mesh, the Service port)."""
        if self.port is not None:
            return self.port
        if self.scheme is not None:
            return _WELL_KNOWN_PORTS.get(self.scheme, request.service.port)
        return request.service.port


def _strip_port(host: str) -> str:
    if host.startswith("["):  # [v6addr]:port
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


@dataclass(frozen=True, slots=True)
class _MirrorFilter:
    mirror: Mirror | None
    problem: str | None = None

    def apply(self, state: _State) -> None:
        self.fixed(state)

    def fixed(self, parts: _Fixed | _State) -> None:
        if self.mirror is not None:
            parts.mirrors.append(self.mirror)
        elif self.problem:
            parts.notes.append(self.problem)


@dataclass(frozen=True, slots=True)
class _NoteFilter:
    note: str

    def apply(self, state: _State) -> None:
        state.notes.append(self.note)

    def fixed(self, parts: _Fixed) -> None:
        parts.notes.append(self.note)


class _BackendRef(NamedTuple):
    """One backendRef as read. (A NamedTuple: one is made per distinct backendRef; never
    compared as a whole.)"""

    backend: Backend | None  # None: invalid (then ``problem`` says why)
    weight: int
    filters: tuple[_Filter, ...] = ()
    problem: str | None = None


class _Rule:
    """One valid rule of a route. ``direct``: the backends when the rule has no filters and
    every backendRef is valid and filter-less (the common case a compiled view handles
    directly), else None; ``weight``: their total. (A plain class: one is made per rule.)"""

    __slots__ = ("backends", "direct", "filters", "index", "label", "matches", "notes",
                 "retry", "route", "timeout", "weight")

    def __init__(self, route: _RouteId, index: int, label: str, matches: tuple[_Match, ...],
                 filters: tuple[_Filter, ...], backends: tuple[_BackendRef, ...],
                 timeout: str | None = None, retry: Retry | None = None,
                 notes: tuple[str, ...] = ()) -> None:
        self.route = route
        self.index = index
        self.label = label
        self.matches = matches
        self.filters = filters
        self.backends = backends
        self.timeout = timeout
        self.retry = retry
        self.notes = notes
        direct: list[Backend] | None = None if filters else []
        weight = 0
        for ref in backends:
            if direct is None or ref.backend is None or ref.filters:
                direct = None
                break
            direct.append(ref.backend)
            weight += ref.backend.weight
        self.direct = None if direct is None else tuple(direct)
        self.weight = weight


_PATH_READERS = (_RewriteFilter, _RedirectFilter)


def _modified_headers(rule: _Rule) -> list[str]:
    """Names of the request headers a RequestHeaderModifier of the rule or of one of its
    backendRefs sets, adds or removes (lower-case, as parsed)."""
    names: list[str] = []
    for filt in (*rule.filters, *(f for ref in rule.backends for f in ref.filters)):
        if isinstance(filt, _HeaderFilter) and not filt.response:
            names += [name for name, _ in (*filt.set, *filt.add)]
            names += filt.remove
    return names


def _reads_path(rule: _Rule) -> bool:
    """Whether a filter of the rule or of one of its backendRefs rewrites or redirects."""
    for filt in rule.filters:
        if isinstance(filt, _PATH_READERS):
            return True
    for ref in rule.backends:
        for filt in ref.filters:
            if isinstance(filt, _PATH_READERS):
                return True
    return False


class _Candidate(NamedTuple):
    """One match of a rule in a view, with its sort key (see :func:`_candidate_key`). (A
    NamedTuple: every compiled view makes one per match.)"""

    key: tuple[Any, ...]
    rule: _Rule
    match: _Match


@dataclass(frozen=True, slots=True)
class _View:
    """The routes that apply to one client view of one Service port."""

    kind: str
    rules: tuple[_Rule, ...]
    notes: tuple[str, ...] = ()

    def candidates(self) -> list[_Candidate]:
        """Every match of the rules, precedence-sorted (see :func:`_candidate_key`)."""
        found = [_Candidate(_candidate_key(rule, i, match), rule, match)
                 for rule in self.rules for i, match in enumerate(rule.matches)]
        found.sort(key=_KEY)  # keys are unique: (route, rule index, match index)
        return found


# --------------------------------------------------------------------------- small readers


def _meta(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or "default"), str(meta.get("name") or "")


def _created(obj: Mapping[str, Any]) -> float | None:
    raw = (obj.get("metadata") or {}).get("creationTimestamp")
    if isinstance(raw, datetime):
        stamp = raw
    elif isinstance(raw, str):
        try:
            stamp = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()


def _is_route(obj: Mapping[str, Any]) -> bool:
    api = str(obj.get("apiVersion", ""))
    return api.startswith(GATEWAY_GROUP + "/") and obj.get("kind") in ROUTE_KIND_PRIORITY


def _is_service(obj: Mapping[str, Any]) -> bool:
    return obj.get("apiVersion") == "v1" and obj.get("kind") == "Service"


def _flatten(objects: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for obj in objects:
        if obj.get("kind") == "List":
            yield from _flatten(obj.get("items") or [])
        elif obj:
            yield obj


def _service_entry(obj: Mapping[str, Any]) -> _Service:
    spec = obj.get("spec") or {}
    ports = tuple([
        _Port(int(p["port"]), str(p.get("name") or ""), str(p.get("appProtocol") or ""))
        for p in spec.get("ports") or []
        if "port" in p
    ])
    parentable = spec.get("type") != "ExternalName" and spec.get("clusterIP") != "None"
    return _Service(ports, parentable, frozenset([p.number for p in ports]))


_ROOT_MATCHES: tuple[Mapping[str, Any], ...] = ({},)  # the CRD default: PathPrefix /


def _canonical(value: Any, what: str) -> str | None:
    """A canonical duration, or None for a disabled ("0s") or absent one."""
    if value is None:
        return None
    try:
        text = _canonical_text(str(value))
    except DurationError as exc:
        raise _Invalid(f"invalid {what} duration {value!r}") from exc
    return None if text == "0s" else text


@lru_cache(maxsize=1024)
def _per_try_only(per_try: str) -> Retry:
    """A backendRequest timeout without retry (see module docstring), one object per
    duration: routes repeat a few."""
    return Retry(0, per_try_timeout=per_try)


@lru_cache(maxsize=1024)
def _canonical_text(text: str) -> str:
    """:func:`canonical_duration`, cached: routes repeat a few durations."""
    return canonical_duration(text)


# --------------------------------------------------------------------------- parser


class _Parser:
    """Turns route dicts into :class:`_Rule` objects, applying the CRD defaults and
    dropping what the CRD validation (CEL) or the spec would reject."""

    def __init__(self, services: Mapping[tuple[str, str], _Service], strict: bool,
                 regex_rank: RegexRank, problems: list[str]) -> None:
        self.services = services
        self.strict = strict
        self.regex_rank = regex_rank
        self.problems = problems
        self.below = regex_rank is RegexRank.BELOW_PREFIX  # (for _cached_http_match)
        # backendRefs read alike (see backend()), by (namespace, name, port, weight)
        self.refs: dict[tuple[str, str, int, int], _BackendRef] = {}
        # labels of the rules that read the request path (see noted())
        self.readers: set[str] = set()
        # request headers some rule modifies (see noted())
        self.modified: set[str] = set()
        # matches by (type, value) of a path-only match, and by _http_match_key
        self.paths: dict[tuple[str, str], _Match] = {}
        self.keyed: dict[_MatchKey, _Match] = {}

    # routes -----------------------------------------------------------------------------

    def rules(self, obj: Mapping[str, Any]) -> tuple[_RouteId, list[_Rule]]:
        """The route's identity and its valid rules (invalid ones are listed as problems)."""
        ns, name = _meta(obj)
        route = _RouteId(str(obj["kind"]), ns, name, _created(obj))
        spec = obj.get("spec") or {}
        # CRD default: rules = [{matches: [{path: {type: PathPrefix, value: /}}]}].
        raw_rules = spec.get("rules") or [{}]
        rules: list[_Rule] = []
        for index, raw in enumerate(raw_rules):
            try:
                rules.append(self.rule(route, index, raw))
            except _Invalid as exc:
                self.problems.append(f"{route.kind} {route.label} rule {index} dropped: {exc}")
        if spec.get("hostnames"):
            self.problems.append(f"{route.kind} {route.label}: hostnames are ignored for "
                                 "mesh routing (GEP-1294)")
        return route, rules

    def rule(self, route: _RouteId, index: int, raw: Mapping[str, Any]) -> _Rule:
        label = f"{route.label}#{raw.get('name') or index}"
        kind = route.kind
        if kind in _L4_KINDS:
            return _Rule(route, index, label, (), (), tuple(
                [self.backend(ref, route, ()) for ref in raw.get("backendRefs") or []]))
        raw_matches = raw.get("matches") or _ROOT_MATCHES
        if kind == "HTTPRoute":
            http_match = self.http_match
            matches = tuple([http_match(m) for m in raw_matches])
        else:
            matches = self.matches(kind, raw_matches)
        raw_filters = raw.get("filters")
        filters = self.filters(route, raw_filters, matches) if raw_filters else ()
        refs = raw.get("backendRefs")
        backends: tuple[_BackendRef, ...] = ()
        if refs:
            if filters and any(isinstance(f, _RedirectFilter) for f in filters):
                raise _Invalid("RequestRedirect filter must not be used together with "
                               "backendRefs")
            backend = self.backend
            backends = tuple([backend(ref, route, matches) for ref in refs])
        if kind != "HTTPRoute" or (not raw.get("timeouts") and raw.get("retry") is None):
            return self.noted(_Rule(route, index, label, matches, filters, backends))
        timeout, retry, notes = self.timing(route, raw)
        return self.noted(_Rule(route, index, label, matches, filters, backends, timeout,
                                retry, notes))

    def noted(self, rule: _Rule) -> _Rule:
        """``rule``, its label added to :attr:`readers` when its outcome reads the request
        path (a URLRewrite or RequestRedirect filter on it or on one of its backendRefs;
        only a rule whose ``direct`` is None has filters at all)."""
        if rule.direct is None:
            if _reads_path(rule):
                self.readers.add(rule.label)
            self.modified.update(_modified_headers(rule))
        return rule

    def timing(self, route: _RouteId,
               raw: Mapping[str, Any]) -> tuple[str | None, Retry | None, tuple[str, ...]]:
        """``timeouts.request`` and the retry policy (HTTPRoute only: GRPCRoute has none)."""
        timeouts = raw.get("timeouts")
        if route.kind != "HTTPRoute" or (not timeouts and raw.get("retry") is None):
            return None, None, ()
        timeouts = timeouts or {}
        request = _canonical(timeouts.get("request"), "timeouts.request")
        per_try = _canonical(timeouts.get("backendRequest"), "timeouts.backendRequest")
        retry_spec = raw.get("retry")
        if retry_spec is None:
            return request, (_per_try_only(per_try) if per_try else None), ()
        notes: tuple[str, ...] = ()
        attempts = retry_spec.get("attempts")
        if attempts is None:
            notes = ("retry.attempts unset: the number of retries is implementation-specific",)
        retry = Retry(
            attempts=int(attempts or 0),
            codes=tuple(sorted(int(c) for c in retry_spec.get("codes") or [])),
            per_try_timeout=per_try,
            backoff=_canonical(retry_spec.get("backoff"), "retry.backoff"),
        )
        return request, retry, notes

    # matches ----------------------------------------------------------------------------

    def matches(self, kind: str, raw: Sequence[Mapping[str, Any]]) -> tuple[_Match, ...]:
        if kind == "GRPCRoute":
            return tuple([self.grpc_match(m) for m in raw])
        return tuple([self.http_match(m) for m in raw])

    def http_match(self, raw: Mapping[str, Any]) -> _Match:
        """HTTPRouteMatch with CRD defaults: path PathPrefix ``/``, header/query type Exact.
        Meshes repeat their matches (the same path on many routes), so one written with
        plain strings is parsed once (:func:`_http_match_key`) and, by this parser, found
        by its key in a plain dict."""
        if len(raw) == 1:  # the usual shape, a path only: its _http_match_key, directly
            path = raw.get("path")
            if path.__class__ is dict and len(path) == 2:
                kind, value = path.get("type"), path.get("value")
                if kind and kind.__class__ is str and value.__class__ is str:
                    pair = (kind, value)
                    found = self.paths.get(pair)
                    if found is None:
                        found = self.paths[pair] = _cached_http_match(
                            (kind, value, (), (), None), self.below)
                    return found
        key = _http_match_key(raw)
        if key is None:
            return _http_match(raw, self.regex_rank)
        found = self.keyed.get(key)
        if found is None:
            found = self.keyed[key] = _cached_http_match(key, self.below)
        return found

    def grpc_match(self, raw: Mapping[str, Any]) -> _Match:
        """GRPCRouteMatch: the method match becomes a path condition on ``/service/method``
        (as Istio converts it); precedence = characters in service, then method, then
        number of header matches (GRPCRouteRule.matches)."""
        method = raw.get("method") or {}
        kind = str(method.get("type") or "Exact")
        service, name = str(method.get("service") or ""), str(method.get("method") or "")
        path = _grpc_path(kind, service, name)
        headers = _value_conds(_value_items(raw.get("headers"), lower=True), lower=True)
        rank = (len(service), len(name), len(headers))
        atoms = Atoms(
            paths=frozenset({_path_atom(path)}),
            headers=frozenset([header_atom(n, _atom_kind(c), c.value) for n, c in headers]),
            grpc=True,
        )
        return _Match(path, headers, (), None, rank, atoms)

    # filters ----------------------------------------------------------------------------

    def filters(self, route: _RouteId, raw: Sequence[Mapping[str, Any]],
                matches: tuple[_Match, ...]) -> tuple[_Filter, ...]:
        if not raw:
            return ()
        if len(raw) == 1 and route.kind == "HTTPRoute":  # nothing for the counts to reject
            return (self.filter(route, raw[0], matches),)
        _check_filter_counts(route.kind, [str(f.get("type")) for f in raw])
        return tuple([self.filter(route, f, matches) for f in raw])

    def filter(self, route: _RouteId, raw: Mapping[str, Any],
               matches: tuple[_Match, ...]) -> _Filter:
        kind = raw.get("type")
        if kind in ("RequestHeaderModifier", "ResponseHeaderModifier"):
            return _header_filter(raw, response=kind == "ResponseHeaderModifier")
        if kind == "RequestMirror":
            return self.mirror(route, raw.get("requestMirror") or {})
        if kind == "URLRewrite":
            spec = raw.get("urlRewrite") or {}
            return _RewriteFilter(spec.get("hostname"), _path_modifier(spec, matches))
        if kind == "RequestRedirect":
            return _redirect_filter(raw.get("requestRedirect") or {}, matches)
        if kind == "CORS":
            return _NoteFilter(f"CORS filter of {route.label} not evaluated")
        if kind == "ExtensionRef":
            ref = raw.get("extensionRef") or {}
            return _NoteFilter(f"ExtensionRef filter {ref.get('kind')}/{ref.get('name')} "
                               "not evaluated (implementation-specific)")
        raise _Invalid(f"unknown filter type {kind!r}")  # spec: Accepted=False

    def mirror(self, route: _RouteId, spec: Mapping[str, Any]) -> _MirrorFilter:
        """RequestMirror: ``percent`` or ``fraction`` (default 100%); invalid refs dropped."""
        ref = spec.get("backendRef") or {}
        backend, problem = self.resolve(ref, route.namespace)
        if backend is None:
            return _MirrorFilter(None, f"mirror dropped: {problem}")
        return _MirrorFilter(Mirror(backend.namespace, backend.name, backend.port,
                                    _mirror_percent(spec)))

    # backends ---------------------------------------------------------------------------

    def backend(self, ref: Mapping[str, Any], route: _RouteId,
                matches: tuple[_Match, ...]) -> _BackendRef:
        """An HTTPBackendRef / BackendRef. One without filters, of the default group and
        kind, with a string name and namespace and integer port and weight, depends on
        nothing else: routes repeat those, so they are read once (see :meth:`read_backend`)."""
        name, port = ref.get("name"), ref.get("port")
        if name.__class__ is str and port.__class__ is int:
            key: tuple[str, str, int, int] | None = None
            if len(ref) == 2:  # the usual shape: name and port only
                key = (route.namespace, name, port, 1)
            else:
                weight, namespace = ref.get("weight", 1), ref.get("namespace")
                if weight.__class__ is int and not ref.get("filters") \
                        and ref.get("group") in (None, "") \
                        and ref.get("kind") in (None, "Service") \
                        and (namespace is None or namespace.__class__ is str):
                    key = (namespace or route.namespace, name, port, weight)
            if key is not None:
                found = self.refs.get(key)
                if found is None:
                    found = self.refs[key] = self.service_backend(*key)
                return found
        return self.read_backend(ref, route, matches)

    def service_backend(self, namespace: str, name: str, port: int, weight: int) -> _BackendRef:
        """:meth:`read_backend` of a filter-less reference to a Service (what
        :meth:`resolve` reads of it, given)."""
        weight = max(weight, 0)  # BackendRef.weight: default 1, min 0
        problem = self.service_problem(namespace, name, port)
        if problem:
            return _BackendRef(None, weight, (), problem)
        return _BackendRef(_make_backend(namespace, name, port, weight), weight, (), None)

    def read_backend(self, ref: Mapping[str, Any], route: _RouteId,
                     matches: tuple[_Match, ...]) -> _BackendRef:
        """:meth:`backend`, as written."""
        weight = max(int(ref.get("weight", 1)), 0)  # BackendRef.weight: default 1, min 0
        raw_filters = ref.get("filters")
        filters: tuple[_Filter, ...] = ()
        if raw_filters:
            _check_filter_counts(route.kind, [str(f.get("type")) for f in raw_filters])
            filters = tuple(self.filter(route, f, matches) for f in raw_filters)
        backend, problem = self.resolve(ref, route.namespace, weight)
        return _BackendRef(backend, weight, filters, problem)

    def resolve(self, ref: Mapping[str, Any], route_ns: str,
                weight: int = 1) -> tuple[Backend | None, str | None]:
        """A BackendObjectReference: group "" / kind Service by default, namespace the
        route's; ``port`` is required for a Service."""
        group, kind = str(ref.get("group") or ""), str(ref.get("kind") or "Service")
        ns, name = str(ref.get("namespace") or route_ns), str(ref.get("name") or "")
        port = ref.get("port")
        if group not in ("", "core") or kind != "Service":
            return None, f"backendRef {group}/{kind} {ns}/{name} is not a Service (unsupported)"
        if port is None:
            return None, f"backendRef Service {ns}/{name} has no port (required)"
        problem = self.service_problem(ns, name, int(port))
        if problem:
            return None, problem
        return _make_backend(ns, name, int(port), weight), None

    def service_problem(self, ns: str, name: str, port: int) -> str | None:
        service = self.services.get((ns, name))
        if service is None:
            return f"backend Service {ns}/{name} not found" if self.strict else None
        if service.ports and port not in service.numbers:
            return f"backend Service {ns}/{name} has no port {port}"
        return None


def _http_match(raw: Mapping[str, Any], regex_rank: RegexRank) -> _Match:
    """HTTPRouteMatch with CRD defaults: path PathPrefix ``/``, header/query type Exact."""
    path_spec = raw.get("path") or {}
    kind = str(path_spec.get("type") or "PathPrefix")
    path = _cond(kind, str(path_spec.get("value", "/")), _PATH_TYPES)
    return _build_match(path, _value_items(raw.get("headers"), lower=True),
                        _value_items(raw.get("queryParams"), lower=False), raw.get("method"),
                        regex_rank)


_PATH_TYPES = ("Exact", "PathPrefix", "RegularExpression")
_VALUE_TYPES = ("Exact", "RegularExpression")


def _build_match(path: _Cond, headers: _ValuesKey, queries: _ValuesKey, method: Any,
                 regex_rank: RegexRank) -> _Match:
    """The :class:`_Match` of a path condition, header and query matches as (name, type,
    value) (a repeated name counts only the first time, header names case-insensitive) and
    the method as written (``""`` ranks as a method but tests none, as before)."""
    header_conds = _value_conds(headers, lower=True)
    query_conds = _value_conds(queries, lower=False)
    rank = (_path_rank(path.kind, regex_rank), len(path.value), int(method is not None),
            len(header_conds), len(query_conds))
    atoms = Atoms(
        paths=frozenset({_path_atom(path)}),
        headers=frozenset([header_atom(n, _atom_kind(c), c.value) for n, c in header_conds])
        if header_conds else _EMPTY,
        queries=frozenset([query_atom(n, _atom_kind(c), c.value) for n, c in query_conds])
        if query_conds else _EMPTY,
        methods=frozenset({str(method)}) if method else _EMPTY,
    )
    return _Match(path, header_conds, query_conds, str(method) if method else None, rank,
                  atoms)

def _path_rank(kind: str, regex_rank: RegexRank) -> int:
    """HTTPRouteRule.matches precedence: Exact, then PathPrefix; regex per the constant."""
    if kind == "Exact":
        return 3
    if kind == "RegularExpression" and regex_rank is RegexRank.BELOW_PREFIX:
        return 1
    return 2


def _value_items(raw: Any, *, lower: bool) -> _ValuesKey:
    """Header or query matches as written, as (name, type, value) texts, type defaulted; a
    repeated name (lower-cased for headers) is read only the first time (spec)."""
    out: dict[str, tuple[str, str, str]] = {}
    for item in raw or []:
        name = str(item["name"]).lower() if lower else str(item["name"])
        if name not in out:
            out[name] = (name, str(item.get("type") or "Exact"), str(item["value"]))
    return tuple(out.values())


def _value_conds(items: _ValuesKey, *, lower: bool) -> tuple[tuple[str, _Cond], ...]:
    """Header or query matches as (name, condition); a repeated name counts only the first
    time (spec)."""
    if not items:
        return ()
    out: dict[str, _Cond] = {}
    for name, kind, value in items:
        if lower:
            name = name.lower()
        if name not in out:
            out[name] = _cond(kind, value, _VALUE_TYPES)
    return tuple(out.items())


_ValuesKey = tuple[tuple[str, str, str], ...]  # (name, type, value) of header/query matches
# (path type, path value, headers, query params, method) of an HTTPRouteMatch
_MatchKey = tuple[str, str, _ValuesKey, _ValuesKey, str | None]


def _http_match_key(raw: Mapping[str, Any]) -> _MatchKey | None:
    """What :func:`_http_match` reads of a match written with plain strings, CRD defaults
    applied (None for any other shape: it is parsed as written)."""
    path = raw.get("path")
    if not path:
        kind, value = "PathPrefix", "/"
    elif isinstance(path, dict):
        kind, value = path.get("type") or "PathPrefix", path.get("value", "/")
    else:
        return None
    method = raw.get("method")
    headers = raw.get("headers")
    headers = _values_key(headers) if headers else ()
    queries = raw.get("queryParams")
    queries = _values_key(queries) if queries else ()
    if (kind.__class__ is not str or value.__class__ is not str or headers is None
            or queries is None or (method is not None and method.__class__ is not str)):
        return None
    return kind, value, headers, queries, method


def _values_key(raw: Any) -> _ValuesKey | None:
    """Header or query matches (a non-empty list) as (name, type, value), type defaulted;
    None unless every part is a string."""
    if not isinstance(raw, list):
        return None
    out: list[tuple[str, str, str]] = []
    for item in raw:
        if not isinstance(item, dict):
            return None
        name, kind, value = item.get("name"), item.get("type") or "Exact", item.get("value")
        if name.__class__ is not str or kind.__class__ is not str or \
                value.__class__ is not str:
            return None
        out.append((name, kind, value))
    return tuple(out)


@lru_cache(maxsize=16384)
def _cached_http_match(key: _MatchKey, regex_below_prefix: bool) -> _Match:
    """:func:`_http_match` of the match :func:`_http_match_key` read, built from the key
    (an invalid one raises each time: exceptions are not cached). The regex rank is a bool
    here: an enum member hashes in Python."""
    kind, value, headers, queries, method = key
    return _build_match(_cond(kind, value, _PATH_TYPES), headers, queries, method,
                        RegexRank.BELOW_PREFIX if regex_below_prefix else RegexRank.AS_PREFIX)


def _path_atom(cond: _Cond) -> PathAtom:
    """The atom of a path condition: one object per distinct atom, the same one the source
    evaluator makes for an equal condition (:func:`~meshmigrate.semantics.atoms.path_atom_of`
    called alike), so the two sides' sets unite without calling ``__eq__``."""
    kind = cond.kind
    if kind == "Exact":
        return path_atom_of("exact", cond.value, False)
    if kind == "PathPrefix":
        return path_atom_of("segment_prefix", cond.value, False)
    return path_atom_of("regex", cond.value, False, "full")


def _atom_kind(cond: _Cond) -> ValueKind:
    return "exact" if cond.kind == "Exact" else "regex"


def _grpc_path(kind: str, service: str, method: str) -> _Cond:
    """The ``/service/method`` condition of a GRPCMethodMatch (forms as in Istio's
    conversion: service only → ``/svc/.+``; method only → ``/[^/]+/method``)."""
    if kind not in ("Exact", "RegularExpression"):
        raise _Invalid(f"unsupported GRPCMethodMatch type {kind!r}")
    if not service and not method:
        return _Cond("PathPrefix", "/")
    if kind == "Exact" and service and method:
        return _Cond("Exact", f"/{service}/{method}")
    quote = re.escape if kind == "Exact" else (lambda text: f"(?:{text})")
    svc = quote(service) if service else "[^/]+"
    meth = quote(method) if method else ".+"
    return _cond("RegularExpression", f"/{svc}/{meth}", ("RegularExpression",))


_SINGLE_USE = ("RequestHeaderModifier", "ResponseHeaderModifier", "RequestRedirect",
               "URLRewrite", "CORS")
_GRPC_FILTERS = frozenset({"RequestHeaderModifier", "ResponseHeaderModifier", "RequestMirror",
                           "ExtensionRef"})


def _check_filter_counts(route_kind: str, kinds: Sequence[str]) -> None:
    """CEL on HTTPRouteRule.filters: each filter type at most once except RequestMirror and
    ExtensionRef; RequestRedirect and URLRewrite are exclusive. GRPCRoute has fewer types."""
    if len(kinds) > 1:  # (one filter can neither repeat nor combine)
        for kind in _SINGLE_USE:
            if kinds.count(kind) > 1:
                raise _Invalid(f"{kind} filter cannot be repeated")
        if "RequestRedirect" in kinds and "URLRewrite" in kinds:
            raise _Invalid("RequestRedirect and URLRewrite cannot be combined")
    if route_kind == "GRPCRoute" and not set(kinds) <= _GRPC_FILTERS:
        raise _Invalid(f"GRPCRoute does not support filters {sorted(set(kinds) - _GRPC_FILTERS)}")


def _header_filter(raw: Mapping[str, Any], *, response: bool) -> _HeaderFilter:
    spec = raw.get("responseHeaderModifier" if response else "requestHeaderModifier") or {}
    remove = spec.get("remove")
    return _HeaderFilter(response, _header_pairs(spec.get("set")), _header_pairs(spec.get("add")),
                         tuple([str(n).lower() for n in remove]) if remove else ())


def _header_pairs(raw: Any) -> tuple[tuple[str, str], ...]:
    """The (lower-case name, value) pairs of a header modifier's ``set`` or ``add``."""
    return tuple([(str(h["name"]).lower(), str(h["value"])) for h in raw]) if raw else ()


def _path_modifier(spec: Mapping[str, Any], matches: tuple[_Match, ...]) -> _PathModifier | None:
    """HTTPPathModifier. ReplacePrefixMatch needs exactly one PathPrefix match (CEL)."""
    path = spec.get("path")
    if not path:
        return None
    kind = str(path.get("type"))
    if kind == "ReplaceFullPath":
        return _PathModifier(kind, str(path.get("replaceFullPath") or "/"))
    if kind != "ReplacePrefixMatch":
        raise _Invalid(f"unknown path modifier type {kind!r}")
    if len(matches) != 1 or matches[0].path.kind != "PathPrefix":
        raise _Invalid("ReplacePrefixMatch needs exactly one PathPrefix match")
    return _PathModifier(kind, str(path.get("replacePrefixMatch") or ""))


def _redirect_filter(spec: Mapping[str, Any], matches: tuple[_Match, ...]) -> _RedirectFilter:
    port = spec.get("port")
    return _RedirectFilter(
        scheme=spec.get("scheme"),
        hostname=spec.get("hostname"),
        path=_path_modifier(spec, matches),
        port=int(port) if port is not None else None,
        status=int(spec.get("statusCode") or 302),  # CRD default 302
    )


def _mirror_percent(spec: Mapping[str, Any]) -> float:
    if spec.get("percent") is not None:
        return float(spec["percent"])
    fraction = spec.get("fraction")
    if fraction:
        return 100.0 * float(fraction["numerator"]) / float(fraction.get("denominator") or 100)
    return 100.0


def _candidate_key(rule: _Rule, match_index: int, match: _Match) -> tuple[Any, ...]:
    """Sort key: precedence (larger first), then oldest route, ``ns/name``, rule order and
    match order (HTTPRouteRule.matches / GRPCRouteRule.matches doc)."""
    return (match.order, rule.route.order(), rule.index, match_index)


def _build_view(rules: Sequence[_Rule]) -> _View:
    """The view of these rules (unique by route kind, route and index): the route kind that
    wins on the port (GEP-1294) and its rules, the others noted."""
    kind = rules[0].route.kind
    for rule in rules:
        if rule.route.kind != kind:
            break
    else:  # the usual case: no route-kind conflict
        return _View(kind, tuple(rules))
    kinds = {rule.route.kind for rule in rules}
    kind = next(k for k in ROUTE_KIND_PRIORITY if k in kinds)
    notes = tuple(sorted({f"{r.route.kind} {r.route.label} ignored: {kind} wins on this "
                          "Service port (GEP-1294)" for r in rules if r.route.kind != kind}))
    return _View(kind, tuple(rule for rule in rules if rule.route.kind == kind), notes)


_KEY = attrgetter("key")
_EMPTY: frozenset[Any] = frozenset()


def _header_map(request: Request) -> dict[str, str]:
    """The request's headers as the backend sees them before filters (no ``host``)."""
    out: dict[str, str] = {}
    for name, value in request.headers:
        key = name.lower()
        if key != "host":
            out[key] = f"{out[key]},{value}" if key in out else value
    return out


# --------------------------------------------------------------------------- evaluator


class GatewayEvaluator:
    """Evaluates requests against Gateway API routes attached to Services (GAMMA).

    Routes are indexed per parent Service port at construction. The first request to a
    Service port (and client view) compiles its view (see ``_HttpPlan``), so the next ones
    cost a path lookup and the conditions of the few matches the path selects; the
    compiled views are kept in a bounded cache. :meth:`evaluate_plain` is the uncompiled
    definition. Not thread-safe (the current port's memo is shared state): one evaluator
    per thread."""

    def __init__(self, objects: Iterable[Mapping[str, Any]], *, strict_backends: bool = False,
                 regex_rank: RegexRank = REGEX_PATH_RANK) -> None:
        """``strict_backends``: a backendRef to a Service absent from ``objects`` is invalid
        (by default it is assumed to exist). ``regex_rank``: see :class:`RegexRank`."""
        objs = list(_flatten(objects))
        self.problems: list[str] = []
        self._services = {_meta(o): _service_entry(o) for o in objs
                          if o.get("kind") == "Service" and _is_service(o)}
        self._attached: dict[_AttachKey, list[tuple[_ViewKey, _Rule]]] = defaultdict(list)
        self._hostnames: dict[_AttachKey, set[str]] = defaultdict(set)
        # compiled views, a bounded cache (verify asks for one Service port at a time)
        self._plans: OrderedDict[tuple[ServiceKey, _ViewKey], _Plan] = OrderedDict()
        # the last plan asked for (requests come Service by Service) and its client
        self._last_service: ServiceKey | None = None
        self._last_client = ""
        self._last_plan: _Plan = _NO_ROUTES
        self._memo = Memo()  # what the current plan worked out (see _HttpPlan.evaluate)
        self._last_entries: tuple[ServiceKey, list[tuple[_ViewKey, _Rule]]] | None = None
        parser = _Parser(self._services, strict_backends, regex_rank, self.problems)
        for obj in objs:
            if obj.get("kind") in ROUTE_KIND_PRIORITY and _is_route(obj):
                self._attach(obj, parser)
        self._path_readers = frozenset(parser.readers)
        self._modified_headers = frozenset(parser.modified)

    # indexing ---------------------------------------------------------------------------

    def _attach(self, obj: Mapping[str, Any], parser: _Parser) -> None:
        route, rules = parser.rules(obj)
        spec = obj.get("spec") or {}
        if not rules:
            self.problems.append(f"{route.kind} {route.label} has no valid rule: not attached")
            return
        hostnames = spec.get("hostnames")
        for ref in spec.get("parentRefs") or []:
            for key in self._parent_keys(route, ref):
                view: _ViewKey = None if key[0] == route.namespace else route.namespace
                self._attached[key].extend([(view, rule) for rule in rules])
                if hostnames:
                    self._hostnames[key].update(str(h) for h in hostnames)

    def _parent_keys(self, route: _RouteId, ref: Mapping[str, Any]) -> list[_AttachKey]:
        """The Service ports a parentRef names. ParentReference.group defaults to
        gateway.networking.k8s.io and kind to Gateway: a Service parent needs ``group: ""``
        explicitly (shared_types.go). No port and no sectionName = every port (GEP-1294)."""
        group, kind = ref.get("group", GATEWAY_GROUP), ref.get("kind", "Gateway")
        if kind != "Service" or group not in ("", "core"):
            if kind == "Service":
                self.problems.append(f"{route.kind} {route.label}: parentRef to Service "
                                     f"{ref.get('name')} lacks group \"\"; not attached")
            return []
        ns, name = str(ref.get("namespace") or route.namespace), str(ref.get("name") or "")
        service = self._services.get((ns, name))
        if service is not None and not service.parentable:
            self.problems.append(f"{route.kind} {route.label}: Service {ns}/{name} is not a "
                                 "ClusterIP Service; not attached")
            return []
        ports = self._parent_ports(route, ref, service)
        return [(ns, name, port) for port in ports]

    def _parent_ports(self, route: _RouteId, ref: Mapping[str, Any],
                      service: _Service | None) -> list[int | None]:
        port, section = ref.get("port"), ref.get("sectionName")
        if service is None:
            if section and port is None:
                self.problems.append(f"{route.kind} {route.label}: cannot resolve port name "
                                     f"{section!r} of unknown Service {ref.get('name')}")
                return []
            return [int(port) if port is not None else None]
        # When both port and sectionName are set, both must match the same Service port.
        return [p.number for p in service.ports
                if (port is None or p.number == int(port)) and (not section or p.name == section)]

    # public API -------------------------------------------------------------------------

    def services(self) -> list[ServiceKey]:
        """Every Service port some route attaches to (port 80 for a port-less parentRef to a
        Service that was not given)."""
        keys = {(ns, name, port if port is not None else DEFAULT_SERVICE_PORT)
                for ns, name, port in self._attached}
        # (sorted as tuples: ServiceKey's order is its fields', compared in Python)
        return [ServiceKey(*key) for key in sorted(keys)]

    def path_reader_labels(self) -> frozenset[str]:
        """The labels (as :attr:`Outcome.rule` writes them) of every valid route rule whose
        outcome reads the request path: a URLRewrite or RequestRedirect filter on the rule
        or on one of its backendRefs (worked out while the rules were parsed)."""
        return self._path_readers

    def modified_header_names(self) -> frozenset[str]:
        """Lower-case names of the request headers a RequestHeaderModifier of some valid
        route rule (or of one of its backendRefs) sets, adds or removes (worked out while
        the rules were parsed; an invalid rule decides no request, so its filters do not
        count)."""
        return self._modified_headers

    def atoms(self, service: ServiceKey) -> Atoms:
        """The match conditions of every route attached to ``service`` (any client view)."""
        entries = self._entries(service)
        blocks = [match.atoms for _, rule in entries for match in rule.matches]
        grpc = self._is_grpc_port(service) or any(
            rule.route.kind == "GRPCRoute" for _, rule in entries)
        hostnames = self._hostnames
        return united(blocks, grpc, _EMPTY.union(
            *[hostnames.get(key, ()) for key in self._keys(service)]))

    def match_atoms(self, service: ServiceKey) -> list[Atoms]:
        """Each match of every route attached to ``service``, as its own atoms (a GRPCRoute
        match carries ``grpc``); the route hostnames are not per match (see :meth:`atoms`)."""
        return [match.atoms for _, rule in self._entries(service) for match in rule.matches]

    def evaluate(self, request: Request) -> Outcome:
        """The Outcome of ``request`` under the Gateway API spec (see module docstring)."""
        if request.service is self._last_service and \
                request.client_namespace == self._last_client:  # the common case, inline
            return self._last_plan.evaluate(request, self._memo)
        return self._plan(request.service, request.client_namespace).evaluate(
            request, self._memo)

    def evaluate_plain(self, request: Request) -> Outcome:
        """:meth:`evaluate` by the plain definition, without compiled views: each candidate
        tested in full, in precedence order (slower; tests hold :meth:`evaluate` to it)."""
        service = request.service
        view = self._view(service, self._view_key(service, request.client_namespace))
        if view is None:
            return _straight(request, ())
        if view.kind in _L4_KINDS:
            return _forward_l4(request, view)
        for candidate in view.candidates():
            if candidate.match.test(request):
                return _forward(request, candidate.rule, candidate.match, view.notes)
        # "When no rules matching a request have been successfully attached to the parent a
        # request is coming from, a HTTP 404 status code MUST be returned."
        return Outcome(status=404, notes=view.notes)

    # views ------------------------------------------------------------------------------

    def _keys(self, service: ServiceKey) -> tuple[_AttachKey, _AttachKey]:
        return (service.namespace, service.name, service.port), (service.namespace,
                                                                  service.name, None)

    def _entries(self, service: ServiceKey) -> list[tuple[_ViewKey, _Rule]]:
        """Rules attached to this port, plus those of port-less parentRefs to a Service we
        were not given (they attach to all of its ports, whatever they are)."""
        last = self._last_entries  # verify asks for one port several times in a row
        if last is not None and last[0] is service:
            return last[1]
        exact, anyport = self._keys(service)
        found = self._attached.get(exact, []) + self._attached.get(anyport, [])
        self._last_entries = (service, found)
        return found

    def _view(self, service: ServiceKey, key: _ViewKey) -> _View | None:
        """The routes of one client view (see :meth:`_view_key`), in no particular order."""
        unique = {(r.route.kind, r.route.label, r.index): r
                  for v, r in self._entries(service) if v == key}
        # (their order does not matter: a view's candidates are sorted by unique keys)
        return _build_view(list(unique.values())) if unique else None

    def _view_key(self, service: ServiceKey, client_ns: str) -> _ViewKey:
        """GEP-1294: a client namespace with consumer routes for this Service port uses only
        those; every other client uses the producer routes (None)."""
        return client_ns if any(v == client_ns for v, _ in self._entries(service)) else None

    def _plan(self, service: ServiceKey, client_ns: str) -> _Plan:
        """The compiled view for a client of a Service port; the last one is kept at hand
        (requests come Service by Service), the others in a bounded cache."""
        if service is self._last_service and client_ns == self._last_client:
            return self._last_plan
        view = (service, self._view_key(service, client_ns))
        plan = self._plans.get(view)
        if plan is None:
            plan = _compile(service, self._view(service, view[1]))
            bounded_put(self._plans, view, plan)
        if self._last_plan is not plan:
            self._memo.clear()
        self._last_service, self._last_client, self._last_plan = service, client_ns, plan
        return plan

    def _is_grpc_port(self, service: ServiceKey) -> bool:
        entry = self._services.get((service.namespace, service.name))
        for port in entry.ports if entry else ():
            if port.number == service.port:
                return (port.app_protocol in _GRPC_APP_PROTOCOLS or port.name == "grpc"
                        or port.name.startswith("grpc-"))
        return False


# --------------------------------------------------------------------------- outcomes


def _straight(request: Request, notes: tuple[str, ...]) -> Outcome:
    """No route applies: the request goes to the Service it addressed, untouched."""
    sk = request.service
    return Outcome(
        status=200,
        backends=(_make_backend(sk.namespace, sk.name, sk.port, 1),),
        path=request.path,
        host=request.host,
        request_headers=tuple(sorted(_header_map(request).items())),
        notes=notes,
    )


def _forward_l4(request: Request, view: _View) -> Outcome:
    """TCPRoute / TLSRoute: the first rule's backends of the highest-precedence route."""
    rule = min(view.rules, key=lambda r: (r.route.order(), r.index))
    valid = tuple(b.backend for b in rule.backends if b.backend is not None)
    notes = view.notes + tuple(b.problem for b in rule.backends if b.problem)
    if not valid or sum(b.weight for b in valid) == 0:
        return Outcome(status=500, rule=rule.label, notes=notes)
    straight = _straight(request, notes)
    return Outcome(status=200, rule=rule.label, backends=valid, path=straight.path,
                   host=straight.host, request_headers=straight.request_headers, notes=notes)


def _forward(request: Request, rule: _Rule, match: _Match,
             view_notes: tuple[str, ...]) -> Outcome:
    """Apply the winning rule (``match`` of it won): filters, then redirect or backends."""
    state = _State(request, match, request.path, request.host, _header_map(request))
    state.notes.extend(view_notes + rule.notes)
    for filt in rule.filters:
        filt.apply(state)
    if state.redirect is not None:
        return Outcome(status=state.redirect.status, rule=rule.label, redirect=state.redirect,
                       notes=tuple(state.notes))
    valid = [b for b in rule.backends if b.backend is not None]
    _note_invalid_share(state.notes, rule.backends)
    if not valid or sum(b.weight for b in valid) == 0:
        # "If *all* entries in BackendRefs are invalid ... MUST receive a 500"; a rule with
        # no backendRefs and no redirect has nowhere to send the request either.
        return Outcome(status=500, rule=rule.label, notes=tuple(state.notes))
    _apply_backend_filters(state, valid)
    return _forwarded(rule, state, tuple(b.backend for b in valid if b.backend is not None))


def _forwarded(rule: _Rule, state: _State, backends: tuple[Backend, ...]) -> Outcome:
    if state.redirect is not None:  # a backend-level RequestRedirect (Extended)
        return Outcome(status=state.redirect.status, rule=rule.label, redirect=state.redirect,
                       notes=tuple(state.notes))
    return Outcome(
        status=200,
        rule=rule.label,
        backends=backends,
        path=state.path,
        host=state.host,
        request_headers=tuple(sorted(state.headers.items())),
        response_headers=tuple(sorted(state.response.items())),
        timeout=rule.timeout,
        retry=rule.retry,
        mirrors=tuple(sorted(state.mirrors)),
        notes=tuple(state.notes),
    )


def _note_invalid_share(notes: list[str], refs: tuple[_BackendRef, ...]) -> None:
    if all(ref.backend is not None for ref in refs):
        return
    total = sum(ref.weight for ref in refs)
    for ref in refs:
        if ref.backend is None:
            share = f"{ref.weight}/{total}" if total else "0"
            notes.append(f"{ref.problem}; {share} of requests get 500")


def _apply_backend_filters(state: _State, valid: list[_BackendRef]) -> None:
    """HTTPBackendRef.filters apply only to requests sent to that backend; an Outcome can
    show them only when every backend that receives traffic has the same ones."""
    filters = _backend_filters(valid)
    if filters is None:
        state.notes.append(_BACKEND_FILTERS_DIFFER)
        return
    for filt in filters:
        filt.apply(state)


_BACKEND_FILTERS_DIFFER = "backendRef filters differ between backends; not applied"


def _backend_filters(valid: list[_BackendRef]) -> tuple[_Filter, ...] | None:
    """The backend-level filters every valid backend that gets traffic has (None: they
    differ)."""
    chosen = {ref.filters for ref in valid if ref.weight > 0}
    return None if len(chosen) > 1 else next(iter(chosen), ())


# --------------------------------------------------------------------------- compiled views
#
# A view is compiled once per (Service port, client view) into a plan that finds the winning
# candidate without testing every match in turn (path conditions are indexed) and knows what
# the candidate's rule does except for the parts that depend on the request. Both are
# checked against the plain definitions (_Match.test, _forward) in tests/test_gateway_eval.py.


class _Plan(Protocol):
    def evaluate(self, request: Request, memo: Memo) -> Outcome: ...


@dataclass(frozen=True, slots=True)
class _NoRoutes:
    """No route applies: every request goes to the Service it addressed, untouched."""

    def evaluate(self, request: Request, memo: Memo) -> Outcome:
        return _straight(request, ())


@dataclass(frozen=True, slots=True)
class _L4Plan:
    """TCPRoute / TLSRoute wins on the port."""

    view: _View

    def evaluate(self, request: Request, memo: Memo) -> Outcome:
        return _forward_l4(request, self.view)


class _Action:
    """What one rule does with a request, worked out when the view is compiled: ``fixed``
    (the same Outcome for every request: a 500), a forward (``template`` holds every part
    but the path, host and request headers; ``plain`` when the request's path, host and
    headers go through unchanged), or neither (a redirect: the generic :func:`_forward`).
    (A plain class: one is made per rule of every compiled view.)"""

    __slots__ = ("edits", "fixed", "host", "paths", "plain", "rule", "template",
                 "view_notes")

    def __init__(self, rule: _Rule, view_notes: tuple[str, ...], fixed: Outcome | None = None,
                 template: Outcome | None = None, paths: tuple[_PathModifier, ...] = (),
                 host: str | None = None, edits: tuple[_HeaderFilter, ...] = ()) -> None:
        self.rule = rule
        self.view_notes = view_notes
        self.fixed = fixed
        self.template = template
        self.paths = paths  # URLRewrite path modifiers, in order
        self.host = host  # the Host every request ends up with; None: the request's
        self.edits = edits  # RequestHeaderModifiers, in order
        self.plain = not paths and host is None and not edits

    def outcome(self, request: Request, match: _Match) -> Outcome:
        """The outcome of ``request`` when ``match`` (a match of the rule) wins."""
        if self.fixed is not None:
            return self.fixed
        template = self.template
        if template is None:
            return _forward(request, self.rule, match, self.view_notes)
        return self.forward(request, match, template)

    def forward(self, request: Request, match: _Match, template: Outcome) -> Outcome:
        """:meth:`outcome` of a forward (``template`` is :attr:`template`)."""
        headers, host = _header_items(request.headers)
        if self.plain:
            return forwarded(template, request.path, request.service.name if host is None
                             else host, headers)
        path = request.path
        for modifier in self.paths:
            path = modifier.rewrite(path, match)
        if self.edits:
            edited = dict(headers)
            for edit in self.edits:
                edit.edit(edited)
            headers = tuple(sorted(edited.items()))
        if self.host is not None:
            host = self.host
        elif host is None:  # see Request.host
            host = request.service.name
        return forwarded(template, path, host, headers)


def _action(rule: _Rule, view_notes: tuple[str, ...]) -> _Action:
    """Compile the action of a rule (the same for each of its matches): what
    :func:`_forward` does with every request, in its order (rule filters, the invalid
    backends' share, backend filters), the path, host and request headers left out."""
    direct = rule.direct
    if direct is not None:  # the common case: no filters, every backend valid
        notes = view_notes + rule.notes if view_notes else rule.notes
        if not direct or not rule.weight:
            return _Action(rule, view_notes, fixed=template_outcome(
                500, rule.label, (), (), None, None, (), notes))
        return _Action(rule, view_notes, template=template_outcome(
            200, rule.label, direct, (), rule.timeout, rule.retry, (), notes))
    valid: list[_BackendRef] = []
    weight = 0
    plain = True  # no valid backend that gets traffic has filters: _backend_filters is ()
    for ref in rule.backends:
        if ref.backend is not None:
            valid.append(ref)
            weight += ref.weight
            plain = plain and not (ref.filters and ref.weight > 0)
    backend_filters = () if plain else _backend_filters(valid)
    host: str | None = None  # what the filters do with the request, in order
    paths: list[_PathModifier] = []
    edits: list[_HeaderFilter] = []
    for filt in rule.filters + backend_filters if backend_filters else rule.filters:
        if isinstance(filt, _RedirectFilter):
            return _Action(rule, view_notes)
        if isinstance(filt, _RewriteFilter):
            host = filt.hostname if filt.hostname is not None else host
            if filt.path is not None:
                paths.append(filt.path)
        elif isinstance(filt, _HeaderFilter) and not filt.response:
            rewritten = filt.host()
            host = rewritten if rewritten is not None else host
            edits.append(filt)
    parts = _Fixed([*view_notes, *rule.notes], {}, [])
    for filt in rule.filters:
        filt.fixed(parts)
    if len(valid) < len(rule.backends):
        _note_invalid_share(parts.notes, rule.backends)
    if not weight:  # no valid backend, or none with a weight: a 500 whatever the request
        return _Action(rule, view_notes, fixed=Outcome(status=500, rule=rule.label,
                                                       notes=tuple(parts.notes)))
    if backend_filters is None:
        parts.notes.append(_BACKEND_FILTERS_DIFFER)
    else:
        for filt in backend_filters:
            filt.fixed(parts)
    template = template_outcome(
        200, rule.label, tuple([b.backend for b in valid if b.backend is not None]),
        tuple(sorted(parts.response.items())) if parts.response else (), rule.timeout,
        rule.retry, tuple(sorted(parts.mirrors)) if parts.mirrors else (), tuple(parts.notes))
    return _Action(rule, view_notes, template=template, paths=tuple(paths), host=host,
                   edits=tuple(edits))


class _HttpPlan:
    """An HTTPRoute/GRPCRoute view with its path conditions indexed. Positions are indices
    into ``matches`` (the precedence-sorted candidates), ``actions`` (what the rule of
    each does) and ``owners`` (which rule of the view it is, numbered):

    - ``exact``: Exact paths by value;
    - ``always``: PathPrefix ``/`` (an empty stem: the value without trailing ``/``);
    - ``prefixes``: other PathPrefix stems by their first segment (a path can only be
      under a stem that starts with the path's own first segment), as (stem, stem + "/",
      positions);
    - ``regexes``: RegularExpression paths, each with the literal text every path it
      matches starts with (to skip most of them without running them).

    (A plain class: one is made per compiled view.)
    """

    __slots__ = ("actions", "always", "exact", "matches", "not_found", "owners", "prefixes",
                 "regexes")

    def __init__(self, matches: tuple[_Match, ...], actions: tuple[_Action, ...],
                 owners: tuple[int, ...], exact: dict[str, tuple[int, ...]],
                 always: tuple[int, ...],
                 prefixes: dict[str, tuple[tuple[str, str, tuple[int, ...]], ...]],
                 regexes: tuple[tuple[int, str, re.Pattern[str]], ...],
                 not_found: Outcome) -> None:
        self.matches = matches
        self.actions = actions
        self.owners = owners  # the rule of each position, numbered
        self.exact = exact
        self.always = always
        self.prefixes = prefixes
        self.regexes = regexes
        self.not_found = not_found

    def evaluate(self, request: Request, memo: Memo) -> Outcome:
        """The outcome of the first candidate (in precedence order) whose match the request
        satisfies. A forward depends on the request only through its path and headers (the
        Service is the plan's), so ``memo`` keeps those of the current plan: witness
        requests often differ only in method or query."""
        path = request.path
        positions = memo.paths.get(path)
        if positions is None:
            positions = memo_put(memo.paths, path, self.selected(path))
        matches = self.matches
        if len(positions) == 1:  # the usual case: one condition on the path, or none
            pos = positions[0]
            match = matches[pos]
            if not match.simple and not match.passes(request):
                return self.not_found
        else:
            for pos in positions:
                match = matches[pos]
                if match.simple or match.passes(request):
                    break
            else:
                return self.not_found
        action = self.actions[pos]
        template = action.template
        if template is None:
            return action.outcome(request, match)
        # by rule, not match: a rule's matches forward alike (ReplacePrefixMatch, the one
        # rewrite that reads the match, needs a rule with one match)
        headers = request.headers
        key = (self.owners[pos], path, headers)
        outcomes = memo.outcomes
        found = outcomes.get(key)
        if found is None:
            if len(outcomes) >= MEMO_SIZE:  # memo_put, inline
                outcomes.clear()
            if action.plain:  # Action.forward, inline
                items, host = _header_items(headers)
                found = forwarded(template, path, request.service.name if host is None
                                  else host, items)
            else:
                found = action.forward(request, match, template)
            outcomes[key] = found
        return found

    def selected(self, path: str) -> tuple[int, ...]:
        """The positions whose path condition ``path`` satisfies, in order, up to the first
        one with no other condition (nothing after it can win). Regexes, the costly
        conditions, are tried only up to the first such position the others found."""
        found = self.exact.get(path, ())
        if self.always:
            found += self.always
        end = path.find("/", 1)  # see _first_segment
        for stem, slashed, positions in self.prefixes.get(path if end < 0 else path[:end], ()):
            if path.startswith(slashed) or path == stem:
                found += positions
        matches = self.matches
        if len(found) > 1:
            found, limit = _until_simple(found, matches)
        elif found and matches[found[0]].simple:  # _until_simple, inline
            limit = found[0]
        else:
            limit = len(matches)
        regexes = self.regexes
        if not regexes or regexes[0][0] > limit:
            return found
        more: list[int] = []
        for pos, head, pattern in regexes:  # in position order
            if pos > limit:
                break
            # Full match: Envoy-based meshes use RE2 full match (see _Cond.test)
            if path.startswith(head) and pattern.fullmatch(path) is not None:
                more.append(pos)
                if matches[pos].simple:
                    break
        return _until_simple((*found, *more), matches)[0] if more else found


def _until_simple(found: tuple[int, ...], matches: tuple[_Match, ...]
                  ) -> tuple[tuple[int, ...], int]:
    """``found`` sorted and cut after its first position whose match has no condition but
    the path, and that position (else one past every position)."""
    if len(found) > 1:
        found = tuple(sorted(found))
    for end, pos in enumerate(found):
        if matches[pos].simple:
            return found[:end + 1], pos
    return found, len(matches)


def _first_segment(path: str) -> str:
    """``/a/b`` → ``/a``; ``/a`` → ``/a``."""
    end = path.find("/", 1)
    return path if end < 0 else path[:end]


_NO_ROUTES = _NoRoutes()
_NOT_FOUND = Outcome(status=404)  # (what most views answer when no rule matches)


def _compile(service: ServiceKey, view: _View | None) -> _Plan:
    """Compile a view of ``service`` (see :class:`_HttpPlan`)."""
    if view is None:
        return _NO_ROUTES
    if view.kind in _L4_KINDS:
        return _L4Plan(view)
    notes = view.notes
    order: list[tuple[Any, ...]] = []
    for owner, rule in enumerate(view.rules):
        action = _action(rule, notes)
        route, index = rule.route._order, rule.index
        for i, match in enumerate(rule.matches):  # the key of _candidate_key, unique
            order.append((match.order, route, index, i, match, action, owner))
    order.sort(key=_PRECEDENCE)
    exact: dict[str, tuple[int, ...]] = {}
    stems: dict[str, tuple[tuple[Any, ...], list[int]]] = {}  # PathPrefix slots by stem
    always: tuple[int, ...] = ()
    regexes: list[tuple[int, str, re.Pattern[str]]] = []
    # the last three columns of the rows, at once
    matches, actions, owners = list(zip(*order, strict=True))[4:] if order else ((), (), ())
    for pos, match in enumerate(matches):
        slot = match.slot
        kind = slot[0]
        if kind == _EXACT:
            exact[slot[1]] = (*exact.get(slot[1], ()), pos)
        elif kind == _ALWAYS:
            always += (pos,)
        elif kind == _PREFIX:
            listed = stems.get(slot[2])
            if listed is None:
                stems[slot[2]] = (slot, [pos])
            else:
                listed[1].append(pos)
        else:
            regexes.append((pos, slot[1], slot[2]))
    prefixes: dict[str, tuple[tuple[str, str, tuple[int, ...]], ...]] = {}
    for (_, segment, stem, slashed), found in stems.values():
        prefixes[segment] = (*prefixes.get(segment, ()), (stem, slashed, tuple(found)))
    return _HttpPlan(matches, actions, owners, exact, always, prefixes, tuple(regexes),
                     Outcome(status=404, notes=notes) if notes else _NOT_FOUND)


_PRECEDENCE = itemgetter(0, 1, 2, 3)


@lru_cache(maxsize=1024)
def _header_items(headers: tuple[tuple[str, str], ...]
                  ) -> tuple[tuple[tuple[str, str], ...], str | None]:
    """The request's headers as the backend sees them before filters, sorted (no ``host``),
    and the ``host`` header the client sends (:attr:`Request.host` when not None); cached:
    witness requests share a few header sets."""
    out: dict[str, str] = {}
    host: str | None = None
    for name, value in headers:
        if name == "host" and host is None:
            host = value
        key = name.lower()
        if key != "host":
            out[key] = f"{out[key]},{value}" if key in out else value
    return tuple(sorted(out.items())), host


@lru_cache(maxsize=1024)
def _match_headers(headers: tuple[tuple[str, str], ...]) -> Mapping[str, str]:
    """What header matches see (see :func:`_header_value`): lower-case names, repeated
    headers comma-joined. ``host`` is looked up as ``Request.host`` instead."""
    values: dict[str, list[str]] = defaultdict(list)
    for key, value in headers:
        values[key.lower()].append(value)
    return MappingProxyType({name: ",".join(found) for name, found in values.items()})
