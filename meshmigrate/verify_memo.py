"""Verification by symmetry: Service ports whose configuration is the same up to names.

Meshes are templated: thousands of Services carry the same VirtualService and the same
routes, with only the Service, namespace and backend names changed. The evaluators treat
those names as opaque identifiers: they compare them for equality (and route names for
order, kept here as a permutation) and never match patterns against them — except through
the Host, which defaults to the Service's name, so any Host condition disables the
shortcut. If two Service ports have the same *signature* (every input of both evaluators,
each identifier replaced by the order of its first appearance) and the first was proven
equivalent on its witness requests, the second is too, without evaluating a request. Only
object names and namespaces are identifiers; every other string (header names, paths,
values) is kept as written.

Only "no difference" is reused; a Service port with differences is always evaluated, so
every difference is reported with its own requests.

A signature costs about as much as verifying a small Service port, so the shortcut turns
itself off on meshes that are not templated: once :data:`TRIAL` signatures were computed and
fewer than :data:`MIN_HIT_RATE` of them were reused, no more are computed (the outcome of
verification is the same either way; only its cost changes).
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import fields, is_dataclass
from typing import Any

from meshmigrate.model import RouteTable, RoutingModel
from meshmigrate.semantics.outcome import ServiceKey

_HOST_HEADERS = frozenset({"host", ":authority"})
_METADATA_KEPT = ("name", "namespace", "creationTimestamp")

ObjKey = tuple[str, str]

#: Signatures computed before the shortcut may give up on a mesh.
TRIAL = 512
#: The share of reused signatures below which it gives up.
MIN_HIT_RATE = 0.05


_FIELDS: dict[type, tuple[str, ...] | None] = {}


def _compared_fields(cls: type) -> tuple[str, ...] | None:
    """The compared fields of a dataclass (cached per class); None for other classes."""
    if cls not in _FIELDS:
        _FIELDS[cls] = tuple(f.name for f in fields(cls) if f.compare) if is_dataclass(
            cls) else None
    return _FIELDS[cls]


class _Renamer:
    """Identifiers -> ``#0``, ``#1``… in order of first appearance; other values as is."""

    def __init__(self, identifiers: frozenset[str]) -> None:
        self.identifiers = identifiers
        self.tokens: dict[str, str] = {}

    def canon(self, value: Any) -> Hashable:
        if isinstance(value, str):
            return self.name(value) if value in self.identifiers else value
        if value is None or isinstance(value, int | float):
            return value
        names = _compared_fields(type(value))
        if names is not None:
            return (type(value).__name__, *(self.canon(getattr(value, n)) for n in names))
        if isinstance(value, enum.Enum):
            return value.value  # type: ignore[no-any-return]
        if isinstance(value, dict):
            return tuple((self.canon(k), self.canon(v)) for k, v in value.items())
        if isinstance(value, list | tuple):
            return tuple(self.canon(v) for v in value)
        if isinstance(value, frozenset | set):
            return tuple(self.canon(v) for v in sorted(value, key=repr))
        return value  # type: ignore[no-any-return]

    def name(self, value: str) -> str:
        return self.tokens.setdefault(value, f"#{len(self.tokens)}")


class Memo:
    """Signatures of Service ports, and which signatures were proven equivalent."""

    def __init__(self, model: RoutingModel, objects: Sequence[dict[str, Any]]) -> None:
        self.routes: dict[ObjKey, list[dict[str, Any]]] = {}
        self.services: dict[ObjKey, dict[str, Any]] = {}
        self.equivalent: dict[Hashable, bool] = {}
        self.computed = 0
        self.reused = 0
        for obj in objects:
            self._index(obj)
        self.identifiers = frozenset(_identifiers(model, objects))

    def _index(self, obj: dict[str, Any]) -> None:
        ns, name = _ns_name(obj)
        if obj.get("kind") == "Service" and obj.get("apiVersion") == "v1":
            self.services[(ns, name)] = obj
            return
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        parents = {(str(r.get("namespace") or ns), str(r.get("name") or ""))
                   for r in (spec or {}).get("parentRefs") or [] if isinstance(r, dict)}
        for parent in sorted(parents):
            self.routes.setdefault(parent, []).append(obj)

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
        """The Service port's configuration up to names; None when it cannot be reused
        or the shortcut gave up on this mesh."""
        if not self.worthwhile:
            return None
        self.computed += 1
        tables = list(tables)
        routes = self.routes.get((key.namespace, key.name), [])
        if _host_conditions(tables, routes):
            return None
        names = _Renamer(self.identifiers)
        head = (names.canon(key.namespace), names.canon(key.name), key.port)
        source = names.canon(tables)
        target = tuple(names.canon(_route_view(r)) for r in routes)
        order = tuple(sorted(range(len(routes)), key=lambda i: _ns_name(routes[i])))
        return (head, source, target, order, self._service_ports(names))

    def _service_ports(self, names: _Renamer) -> Hashable:
        """The ports of every Service the signature names (backend ports are checked)."""
        seen = list(names.tokens)
        found = [(names.tokens[ns], names.tokens[name], self.services[(ns, name)])
                 for ns in seen for name in seen if (ns, name) in self.services]
        return tuple((ns, name, names.canon(_service_view(svc)))
                     for ns, name, svc in sorted(found, key=lambda f: (f[0], f[1])))


def _ns_name(obj: dict[str, Any]) -> ObjKey:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    return (str((meta or {}).get("namespace") or "default"), str((meta or {}).get("name") or ""))


def _route_view(route: dict[str, Any]) -> dict[str, Any]:
    """What the evaluator reads of a route: labels and annotations never matter."""
    meta = route.get("metadata") if isinstance(route.get("metadata"), dict) else {}
    kept = {k: (meta or {}).get(k) for k in _METADATA_KEPT}
    return {**{k: v for k, v in route.items() if k != "metadata"}, "metadata": kept}


def _service_view(service: dict[str, Any]) -> Any:
    spec = service.get("spec") if isinstance(service.get("spec"), dict) else {}
    return {k: v for k, v in (spec or {}).items() if k != "selector"}


def _identifiers(model: RoutingModel, objects: Sequence[dict[str, Any]]) -> set[str]:
    """Every namespace and object name either side mentions (Services, routes, backends,
    consumer namespaces)."""
    found: set[str] = {"default"}
    for ref in [*model.services, *model.subset_services]:
        found.update((ref.namespace, ref.name))
    for table in model.tables:
        found.update((table.service.namespace, table.service.name))
        found.update(ns for ns in (table.consumer_namespace,) if ns)
        for rule in table.rules:
            found.update(n for d in rule.destinations for n in (d.service.namespace,
                                                                  d.service.name))
            found.update(n for m in rule.mirrors for n in (m.service.namespace, m.service.name))
            found.update(m.source_namespace for m in rule.matches if m.source_namespace)
    for obj in objects:
        found.update(_ns_name(obj))
        found.update(_ref_names(obj))
    return found


def _ref_names(obj: dict[str, Any]) -> list[str]:
    """``name``/``namespace`` of every object reference of a route: parentRefs, backendRefs
    and mirror backendRefs, on rules and on backendRefs (the only places route kinds hold
    them); header names and the like are *not* identifiers (they compare without case, so
    renaming them could hide a difference)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return []
    refs = _dicts(spec.get("parentRefs"))
    for rule in _dicts(spec.get("rules")):
        backends = _dicts(rule.get("backendRefs"))
        refs += backends
        for holder in (rule, *backends):
            for filt in _dicts(holder.get("filters")):
                mirror = filt.get("requestMirror")
                if isinstance(mirror, dict) and isinstance(mirror.get("backendRef"), dict):
                    refs.append(mirror["backendRef"])
    return [v for ref in refs for k in ("name", "namespace") if isinstance(v := ref.get(k), str)]


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _host_conditions(tables: list[RouteTable], routes: list[dict[str, Any]]) -> bool:
    """True when some condition tests the Host, which defaults to the Service's name: a
    pattern or a case-insensitive comparison could tell two names apart."""
    for match in (m for t in tables for r in t.rules for m in r.matches):
        if any(h.name.lower() in _HOST_HEADERS for h in match.headers):
            return True
    if any((r.get("spec") or {}).get("hostnames") for r in routes):
        return True
    return any(str(h.get("name", "")).lower() in _HOST_HEADERS
               for r in routes for h in _route_headers(r))


def _route_headers(route: dict[str, Any]) -> Iterable[dict[str, Any]]:
    spec = route.get("spec") if isinstance(route.get("spec"), dict) else {}
    for rule in (spec or {}).get("rules") or []:
        for match in (rule or {}).get("matches") or []:
            yield from (h for h in (match or {}).get("headers") or [] if isinstance(h, dict))
