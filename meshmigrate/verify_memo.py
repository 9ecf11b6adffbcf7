"""Verification by symmetry: Service ports whose configuration is the same up to names.

Meshes are templated: thousands of Services carry the same VirtualService and the same
routes, with only the Service, namespace and backend names changed. If two Service ports
have the same *signature* and the first was proven equivalent on its witness requests, the
second is too, without evaluating a request.

The signature is every input of both evaluators for the port (its source tables; the routes
attached to it, and the Services they name), with each string in an *identifier position*
replaced by the order of its first appearance, and everything else kept as written.
Identifier positions are where the evaluators read object names and namespaces: a
``ServiceRef``, a table's ``consumer_namespace`` and ``name``, ``Match.source_namespace``;
a route's ``metadata`` name and namespace, and the ``name``/``namespace`` of its
parentRefs, backendRefs and RequestMirror backendRefs; a Service's name and namespace.
Header names and values, paths, hostnames, header-modifier values… are literal, wherever
they are and whatever they spell. (Of a route's annotations only Linkerd's retry and
timeout ones count: ``verify.annotation_policies`` reads them.)

Why equal signatures mean equal verdicts: let σ map the first port's identifiers to the
second's, token by token. The evaluators only compare identifiers with each other, for
equality (Service, backend, parent and namespace lookups; a client namespace against a
consumer or source namespace), and route names for order — the signature records the order
of the port's routes (oldest first, then ``namespace/name``, as Gateway API ties routes) as
a permutation, so σ keeps it. They never compare an identifier with a literal, never match
a pattern against one and never take one apart, so the second port's witness requests are
the first's renamed by σ, each with both outcomes renamed by σ, and outcome comparison,
being equality, does not see σ. Three things would break that, so the signature keeps
them out:

- the values the evaluators themselves give identifiers (``""``, the ``default``
  namespace, the namespace standing for "any other client", and client namespaces the
  caller fixes: ``Memo(constants=...)``) are kept literal, so σ fixes them;
- the Host defaults to the Service's name and is data: conditions test it, rewrites,
  redirects and header modifiers replace it with literal hostnames. Any of those, either
  side, and the port gets no signature. Otherwise the Host and a redirect's Location
  carry the request's own name on both sides at the same place (after ``scheme://``, and
  names hold no ``/`` or ``:``), so comparing them is still comparing literals;
- an identifier position holding something other than a string (the evaluator would
  turn it into one) gives no signature either.

Only "no difference" is reused; a Service port with differences is always evaluated, so
every difference is reported with its own requests.

:meth:`Memo.signature` hands out symmetry classes, numbers standing for signatures, and
computes a signature in two parts: the source part, then the rest, which needs the routes
indexed by parent. A port whose source part no earlier port had is alone in its class, and
the rest of its signature waits until a second port shares that part; so on a mesh that is
not templated the routes are never indexed nor read. The shortcut also turns itself off
there: once :data:`TRIAL` signatures were computed and fewer than :data:`MIN_HIT_RATE` of
them were reused, no more are computed (the outcome of verification is the same either
way; only its cost changes).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from operator import attrgetter
from typing import Any

from meshmigrate.model import (
    Destination,
    HeaderOps,
    Match,
    RouteTable,
    RoutingModel,
    Rule,
)
from meshmigrate.semantics.outcome import ServiceKey

_HOST_HEADERS = frozenset({"host", ":authority"})
#: Linkerd reads retries and timeouts from these annotations (``verify.annotation_policies``).
_POLICY_ANNOTATIONS = ("retry.linkerd.io/", "timeout.linkerd.io/")
#: The identifiers the evaluators themselves supply: "" (unset), the default namespace and
#: ``verify.UNRELATED_NAMESPACE``. Kept literal, so renaming fixes them.
CONSTANTS = frozenset({"", "default", "meshmigrate-other-clients"})

ObjKey = tuple[str, str]

#: Signatures computed before the shortcut may give up on a mesh.
TRIAL = 512
#: The share of reused signatures below which it gives up.
MIN_HIT_RATE = 0.05

# The compared fields of the model classes, by role. tests/test_verify_memo.py checks that
# they are every field, so a new field cannot slip by unclassified.
TABLE_LITERAL = ("protocol", "port", "unmatched", "first_match", "default_retry",
                 "annotations")
TABLE_NAMED = ("service", "consumer_namespace", "name", "rules", "fallback")
RULE_LITERAL = ("redirect", "direct_status", "name", "request_headers", "response_headers",
                "rewrite", "rewrite_host", "timeout_ms", "retry", "cors", "fault")
RULE_NAMED = ("matches", "destinations", "mirrors")
DEST_LITERAL = ("port", "weight", "subset", "request_headers", "response_headers")
MIRROR_LITERAL = ("port", "percent")
_table_literal = attrgetter(*TABLE_LITERAL)
_rule_literal = attrgetter(*RULE_LITERAL)
_dest_literal = attrgetter(*DEST_LITERAL)
_mirror_literal = attrgetter(*MIRROR_LITERAL)


class _Unsuitable(Exception):
    """The Service port cannot have a signature (see the module doc)."""


class _Names:
    """Identifiers -> 0, 1… (the count of identifiers met before); :data:`CONSTANTS` as
    written."""

    __slots__ = ("constants", "seen")

    def __init__(self, constants: frozenset[str] = CONSTANTS) -> None:
        self.constants = constants
        #: every identifier met, in order of first appearance, with what stands for it
        self.seen: dict[str, int | str] = {}

    def __call__(self, value: str) -> int | str:
        canon = self.seen.get(value)
        if canon is None:
            canon = self.seen[value] = value if value in self.constants else len(self.seen)
        return canon

    def raw(self, value: Any) -> Hashable:
        """An identifier as a manifest holds it: unset stays unset (the evaluator supplies
        the default); a string is renamed; anything else is unsuitable."""
        if value is None:
            return None
        if not isinstance(value, str):
            raise _Unsuitable
        return self(value)

    # -- the routing model (source side) ------------------------------------------------
    def table(self, table: RouteTable) -> Hashable:
        ns = table.consumer_namespace
        return (self(table.service.namespace), self(table.service.name),
                None if ns is None else self(ns), self(table.name), _table_literal(table),
                tuple([self.rule(r) for r in table.rules]),
                tuple([self.destination(d) for d in table.fallback]))

    def rule(self, rule: Rule) -> Hashable:
        if rule.rewrite_host is not None or (rule.redirect is not None
                                             and rule.redirect.host is not None):
            raise _Unsuitable
        _no_host_ops(rule.request_headers)
        return (_rule_literal(rule), tuple([self.match(m) for m in rule.matches]),
                tuple([self.destination(d) for d in rule.destinations]),
                tuple([(self(m.service.namespace), self(m.service.name), _mirror_literal(m))
                       for m in rule.mirrors]))

    def match(self, match: Match) -> Hashable:
        for header in match.headers:
            if header.name.lower() in _HOST_HEADERS:
                raise _Unsuitable
        ns = match.source_namespace
        if ns is None:
            return match  # every field literal: the frozen Match compares as written
        # the same Match without its namespace (Match has slots: copy it field by field)
        return (_without_namespace(match), self(ns))

    def destination(self, dest: Destination) -> Hashable:
        _no_host_ops(dest.request_headers)
        return (self(dest.service.namespace), self(dest.service.name), _dest_literal(dest))

    # -- Gateway API objects (target side) ----------------------------------------------
    def route(self, route: dict[str, Any]) -> Hashable:
        meta = route.get("metadata")
        spec = route.get("spec")
        if not isinstance(meta, dict) or not isinstance(spec, dict):
            raise _Unsuitable
        if spec.get("hostnames"):
            raise _Unsuitable
        annotations = meta.get("annotations")
        if isinstance(annotations, dict):
            annotations = {k: v for k, v in annotations.items()
                           if isinstance(k, str) and k.startswith(_POLICY_ANNOTATIONS)}
        head = (self.raw(meta.get("namespace")), self.raw(meta.get("name")),
                repr(meta.get("creationTimestamp")), repr(annotations),
                repr({k: v for k, v in route.items() if k not in ("metadata", "spec")}))
        rest = repr({k: v for k, v in spec.items() if k not in ("parentRefs", "rules")})
        parents = tuple([self.ref(r, filters=False) for r in _dicts(spec.get("parentRefs"))])
        rules = tuple([self.route_rule(r) for r in _dicts(spec.get("rules"))])
        return (head, rest, parents, rules)

    def ref(self, ref: dict[str, Any], filters: bool) -> Hashable:
        """A parentRef or backendRef (``filters``: a backendRef's own filters)."""
        return tuple([(k, self.raw(v) if k in ("name", "namespace")
                       else self.filters(v) if filters and k == "filters" else repr(v))
                      for k, v in ref.items()])

    def route_rule(self, rule: dict[str, Any]) -> Hashable:
        for match in _dicts(rule.get("matches")):
            if any(str(h.get("name", "")).lower() in _HOST_HEADERS
                   for h in _dicts(match.get("headers"))):
                raise _Unsuitable
        return tuple([(k, self.filters(v) if k == "filters"
                       else tuple([self.ref(r, filters=True) for r in _dicts(v)])
                       if k == "backendRefs" else repr(v))
                      for k, v in rule.items()])

    def filters(self, value: Any) -> Hashable:
        return tuple([self.filter(f) for f in _dicts(value)])

    def filter(self, filt: dict[str, Any]) -> Hashable:
        for key in ("urlRewrite", "requestRedirect"):
            spec = filt.get(key)
            if isinstance(spec, dict) and spec.get("hostname"):
                raise _Unsuitable
        modifier = filt.get("requestHeaderModifier")
        if isinstance(modifier, dict) and any(
                str(h.get("name", "")).lower() in _HOST_HEADERS
                for op in ("set", "add") for h in _dicts(modifier.get(op))):
            raise _Unsuitable
        mirror = filt.get("requestMirror")
        if not isinstance(mirror, dict):
            return repr(filt)
        ref = mirror.get("backendRef")
        return (repr({k: v for k, v in filt.items() if k != "requestMirror"}),
                repr({k: v for k, v in mirror.items() if k != "backendRef"}),
                self.ref(ref, filters=False) if isinstance(ref, dict) else repr(ref))


def _without_namespace(match: Match) -> Match:
    return Match(path=match.path, methods=match.methods, headers=match.headers,
                 query=match.query, port=match.port, source_namespace=None,
                 source_labels=match.source_labels, scheme=match.scheme,
                 negated_methods=match.negated_methods, origin=match.origin)


def _no_host_ops(ops: HeaderOps) -> None:
    """Setting or adding ``host`` rewrites the authority (source.apply_request_header_ops)."""
    if ops and any(name.lower() in _HOST_HEADERS for name, _ in (*ops.set, *ops.add)):
        raise _Unsuitable


def _dicts(value: Any) -> list[dict[str, Any]]:
    """The items of a list that the evaluators read, all mappings; unset is empty. Anything
    else in a position holding identifiers is unsuitable."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _Unsuitable
    return value


class _Group:
    """Service ports with the same source part: the first one, while it is alone (its
    target part not computed yet), and the symmetry class of each target part."""

    __slots__ = ("classes", "first")

    def __init__(self) -> None:
        self.first: tuple[ServiceKey, _Names, int] | None = None
        self.classes: dict[Hashable, int] = {}


class Memo:
    """Symmetry classes of Service ports (numbers standing for their signatures), and
    which were proven equivalent."""

    def __init__(self, model: RoutingModel, objects: Sequence[dict[str, Any]],
                 constants: Iterable[str] = ()) -> None:
        """``constants``: more names to keep as written, such as the client namespaces
        verification is told to send every request from."""
        del model  # the tables come with each signature; every identifier is by position
        self.objects = objects
        self.constants = CONSTANTS.union(constants)
        self._routes: dict[ObjKey, list[dict[str, Any]]] | None = None
        self._services: dict[ObjKey, list[dict[str, Any]]] = {}
        self.equivalent: dict[Hashable, bool] = {}
        self._groups: dict[Hashable, _Group] = {}  # by source part
        self._count = 0  # symmetry classes so far
        self.computed = 0
        self.reused = 0

    @property
    def routes(self) -> dict[ObjKey, list[dict[str, Any]]]:
        """Routes by parent (namespace, name), built at the first signature."""
        if self._routes is None:
            self._routes = {}
            self._index(self.objects)
        return self._routes

    def _index(self, objects: Iterable[Any]) -> None:
        """File Services by (namespace, name) and routes by parent, the items of ``List``
        objects in their place (as the Gateway API evaluator reads them). One pass over
        every object: kept to dictionary lookups."""
        routes, services = self._routes, self._services
        assert routes is not None
        for obj in objects:
            if not isinstance(obj, dict):
                continue
            kind = obj.get("kind")
            if kind == "Service" and obj.get("apiVersion") == "v1":
                meta = obj.get("metadata")
                key = _ns_name(obj) if type(meta) is not dict else (
                    meta.get("namespace") or "default", meta.get("name") or "")
                if type(key[0]) is not str or type(key[1]) is not str:
                    key = _ns_name(obj)  # as the evaluator reads it
                found = services.get(key)
                if found is None:
                    services[key] = [obj]
                else:
                    found.append(obj)
                continue
            if kind == "List":
                items = obj.get("items")
                self._index(items if isinstance(items, list) else [])
                continue
            spec = obj.get("spec")
            refs = spec.get("parentRefs") if isinstance(spec, dict) else None
            if not refs or not isinstance(refs, list):
                continue
            ns = _ns_name(obj)[0]
            parents = {(str(r.get("namespace") or ns), str(r.get("name") or ""))
                       for r in refs if isinstance(r, dict)}
            for parent in parents:
                routes.setdefault(parent, []).append(obj)

    @property
    def worthwhile(self) -> bool:
        """False once the trial shows this mesh is not templated (see the module doc)."""
        return self.computed < TRIAL or self.reused >= MIN_HIT_RATE * self.computed

    def lookup(self, signature: Hashable | None) -> bool:
        """Whether ``signature`` was proven equivalent (and count the reuse)."""
        hit = signature is not None and self.equivalent.get(signature, False)
        self.reused += hit
        return hit

    def signature(self, key: ServiceKey, tables: Iterable[RouteTable]) -> Hashable | None:
        """The Service port's symmetry class: the same for two ports exactly when their
        signatures are equal; None when it cannot be reused or the shortcut gave up on this
        mesh. The source part is computed first: a port whose source part is new is alone
        in its class so far, and the rest of its signature waits until another port shares
        that part (most ports of a mesh that is not templated never need it)."""
        if not self.worthwhile:
            return None
        self.computed += 1
        names = _Names(self.constants)
        try:
            source = (names(key.namespace), names(key.name), key.port,
                      tuple([names.table(t) for t in tables]))
        except _Unsuitable:
            return None
        group = self._groups.get(source)
        if group is None:
            self._groups[source] = group = _Group()
            group.first = (key, names, self._fresh())
            return group.first[2]
        if group.first is not None:  # a second port: the first one's signature is due
            first_key, first_names, first_class = group.first
            group.first = None
            first = self._target(first_key, first_names)
            if first is not None:
                group.classes[first] = first_class
        target = self._target(key, names)
        if target is None:
            return None
        found = group.classes.get(target)
        if found is None:
            found = group.classes[target] = self._fresh()
        return found

    def _fresh(self) -> int:
        """A new symmetry class."""
        self._count += 1
        return self._count

    def _target(self, key: ServiceKey, names: _Names) -> Hashable | None:
        """The rest of a signature, naming on from its source part: the routes attached to
        the Service, their order, and the Services named."""
        routes = self.routes.get((key.namespace, key.name), [])
        try:
            target = tuple([names.route(r) for r in routes])
        except _Unsuitable:
            return None
        labels = [_label(r) for r in routes]
        order = tuple(sorted(range(len(routes)), key=labels.__getitem__))
        return (target, order, self._service_views(names))

    def _service_views(self, names: _Names) -> Hashable:
        """Every Service the signature names, as the Gateway API evaluator reads it (its
        ports, type, clusterIP: backend ports are checked), in a canonical order. The
        default namespace counts as named: unset namespaces default to it."""
        seen = names.seen
        namespaces = [*seen.items(), *((ns, ns) for ns in sorted(self.constants)
                                       if ns not in seen)]
        found = []
        for ns, ns_canon in namespaces:
            for name, name_canon in seen.items():
                for service in self._services.get((ns, name), ()):
                    spec = service.get("spec")
                    view = ({k: v for k, v in spec.items() if k != "selector"}
                            if isinstance(spec, dict) else spec)
                    found.append((ns_canon, name_canon, repr(view)))
        return tuple(found)


def _ns_name(obj: dict[str, Any]) -> ObjKey:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    return (str((meta or {}).get("namespace") or "default"), str((meta or {}).get("name") or ""))


def _label(route: dict[str, Any]) -> str:
    """``namespace/name``: the Gateway API evaluator's tie-break between routes."""
    ns, name = _ns_name(route)
    return f"{ns}/{name}"
