"""Which witness requests one Service port needs: one path per *path class*, not every path.

:mod:`meshmigrate.semantics.witness` builds path samples so that every pair of path
conditions that can disagree gets a sample on which they do, and crosses them with method,
header, query and host variants. Many samples are alike: two paths on which every path
condition of the Service port (either side's) has the same truth value cannot select
different rules, on either side, for any method/header/query variant — both evaluators
decide which rule applies from those truth values alone (first match in the source; the
Gateway API precedence of the matching rules in the target, GEP-1294 / HTTPRouteRule docs).
Such paths form a *path class*; the full cross product (about 200 samples × 6 variants per
Service port on the benchmark mesh) shrinks to classes × variants (about 10 × 6).

What the class does not fix is what a rule *does* with the path: a prefix or full-path
rewrite and a redirect's ``Location`` depend on the exact path. For a request whose deciding
rule on either side reads the path that way (:class:`PathReaders`), the other paths of the
class are evaluated too, once per distinct pair of outcomes the first path produced: two
variants with the same pair of outcomes were decided by the same rules and differ only in
parts of the request the rewrite does not read (headers, query, method), so they stay alike
on every path of the class.

``exhaustive=True`` evaluates the whole cross product (the previous behaviour); the tests
check on every golden case and on random configurations that both find the same
differences.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache, partial
from typing import Any

from meshmigrate.model import PathMatch, RouteTable, Rule
from meshmigrate.semantics.atoms import Atoms, PathAtom
from meshmigrate.semantics.outcome import Outcome, Request, ServiceKey
from meshmigrate.semantics.source import path_atom, path_matches, rule_label, service_atoms
from meshmigrate.semantics.witness import path_samples, witnesses

__all__ = ["PathReaders", "evaluated", "path_classes", "source_match_atoms",
           "source_path_conditions", "variants"]

#: A stand-in Service for cached request shapes (replaced per Service port).
_ANY_SERVICE = ServiceKey("meshmigrate-witness", "service", 0)
_CACHE = 4096  # distinct condition sets kept (bounded memory on large meshes)

Evaluate = Callable[[Request], tuple[Outcome, Outcome]]


# --- path classes --------------------------------------------------------------------------

def _predicate(atom: PathAtom) -> Callable[[str], bool]:
    """The atom's condition as a fast test: string operations for case-sensitive literal
    kinds (the same as :meth:`PathAtom.regex` on a path, which holds no line break), else
    the compiled full-match regex (an invalid one matches nothing, as
    :meth:`PathAtom.matches` says)."""
    if not atom.ignore_case and atom.kind != "regex":
        value = atom.value
        if atom.kind == "exact":
            return value.__eq__
        if atom.kind == "prefix":
            return lambda path: path.startswith(value)
        stem = value.rstrip("/")
        below = stem + "/"
        return lambda path: path == stem or path.startswith(below) or not stem
    try:
        compiled = re.compile(atom.regex(), re.IGNORECASE if atom.ignore_case else 0)
    except re.error:
        return lambda _path: False
    return lambda path: compiled.fullmatch(path) is not None


def path_classes(paths: frozenset[PathAtom], grpc: bool,
                 source: frozenset[PathMatch] = frozenset()) -> tuple[tuple[str, ...], ...]:
    """The witness path samples for these conditions, grouped by the truth value of every
    condition (each group sorted; groups in the order of their first sample)."""
    return tuple(samples for _, samples in _classes(paths, grpc, source))


@lru_cache(maxsize=_CACHE)
def _classes(paths: frozenset[PathAtom], grpc: bool, source: frozenset[PathMatch]
             ) -> tuple[tuple[frozenset[PathAtom], tuple[str, ...]], ...]:
    """Path classes with the set of conditions true on each.

    The source's path conditions are tested as the source evaluator tests them too
    (:func:`~meshmigrate.semantics.source.path_matches`), beside their atoms: where the two
    disagree (Unicode case folding: ``(?i)s`` matches ``ſ``, ``"ſ".lower()`` is not ``s``)
    the paths fall in different classes, so no difference between the evaluators' readings
    is hidden."""
    samples = path_samples(Atoms(paths=paths, grpc=grpc))
    ordered = sorted(paths)
    conditions = sorted(source, key=repr)
    tests = [_predicate(atom) for atom in ordered]
    tests += [partial(path_matches, condition) for condition in conditions]
    groups: dict[tuple[bool, ...], list[str]] = {}
    for sample in samples:
        groups.setdefault(tuple(test(sample) for test in tests), []).append(sample)
    atoms = [*ordered, *(path_atom(c) for c in conditions)]
    return tuple((frozenset(a for a, hit in zip(atoms, truth, strict=True) if hit),
                  tuple(group)) for truth, group in groups.items())


@lru_cache(maxsize=_CACHE)
def variants(atoms: Atoms) -> tuple[Request, ...]:
    """The method/header/query/host variants of one path (``atoms`` without paths): the
    witness generator crosses every path with the same set."""
    shapes = witnesses(_ANY_SERVICE, replace(atoms, paths=frozenset()),
                       [_ANY_SERVICE.namespace])
    return tuple(r for r in shapes if r.path == "/")


def _at(shape: Request, service: ServiceKey, path: str, namespace: str) -> Request:
    return Request(service=service, path=path, method=shape.method, scheme=shape.scheme,
                   query=shape.query, headers=shape.headers, client_namespace=namespace,
                   protocol=shape.protocol)


# --- which rules read the path ---------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PathReaders:
    """Labels of the rules whose outcome depends on the exact request path (rewrites and
    redirects), on each side. A label is the one the evaluators put in ``Outcome.rule``."""

    source: frozenset[str]
    target: frozenset[str]

    def involved(self, source: Outcome, target: Outcome) -> bool:
        return source.rule in self.source or target.rule in self.target


def source_path_readers(tables: Iterable[RouteTable]) -> frozenset[str]:
    """Source rules with a path rewrite or a redirect (whose Location carries the path)."""
    return frozenset(rule_label(table, index) for table in tables
                     for index, rule in enumerate(table.rules)
                     if rule.rewrite is not None or rule.redirect is not None)


_PATH_FILTERS = frozenset({"URLRewrite", "RequestRedirect"})


def target_path_readers(objects: Sequence[Mapping[str, Any]]) -> frozenset[str]:
    """Route rules with a URLRewrite or RequestRedirect filter, on the rule or on one of its
    backendRefs, labelled ``namespace/name#ruleName-or-index`` as the Gateway API evaluator
    labels them (any kind: a shared label only makes this more cautious)."""
    found: set[str] = set()
    for obj in objects:
        spec = obj.get("spec")
        rules = spec.get("rules") if isinstance(spec, Mapping) else None
        if not isinstance(rules, list):
            continue
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
        route = f"{(meta or {}).get('namespace') or 'default'}/{(meta or {}).get('name') or ''}"
        for index, rule in enumerate(rules):
            if isinstance(rule, Mapping) and _reads_path(rule):
                found.add(f"{route}#{rule.get('name') or index}")
    return frozenset(found)


def _reads_path(rule: Mapping[str, Any]) -> bool:
    filters = [f for f in rule.get("filters") or [] if isinstance(f, Mapping)]
    for ref in rule.get("backendRefs") or []:
        if isinstance(ref, Mapping):
            filters += [f for f in ref.get("filters") or [] if isinstance(f, Mapping)]
    return any(f.get("type") in _PATH_FILTERS for f in filters)


# --- the requests ----------------------------------------------------------------------------

Evaluated = tuple[Request, Outcome, Outcome]


def evaluated(service: ServiceKey, atoms: Atoms, namespaces: Sequence[str],
              evaluate: Evaluate, readers: PathReaders, *,
              source_paths: frozenset[PathMatch] = frozenset(),
              matches: Sequence[Atoms] | None = None,
              exhaustive: bool = False) -> Iterator[Evaluated]:
    """Each needed witness request for ``service`` with its source and target outcomes (see
    the module docstring), per client namespace in the given order. Deterministic.

    ``matches`` (each match block of either side as its own atoms) narrows the variants of
    a path class to the conditions of the match blocks that can apply on it (their path
    condition holds there, or they have none): no other block can match a request with that
    path, so the others' header, query, method and host conditions cannot change which
    rule decides it."""
    if exhaustive:
        yield from _exhaustive(service, atoms, namespaces, evaluate)
        return
    every = variants(replace(atoms, paths=frozenset()))
    classes = [(samples, every if matches is None else _narrowed(atoms, true, matches))
               for true, samples in _classes(atoms.paths, atoms.grpc, source_paths)]
    for namespace in namespaces:
        for samples, shapes in classes:
            yield from _one_class(service, samples, shapes, namespace, evaluate, readers)


def _narrowed(atoms: Atoms, true: frozenset[PathAtom],
              matches: Sequence[Atoms]) -> tuple[Request, ...]:
    """The variants for a path class on which the path conditions ``true`` hold."""
    found = Atoms(hosts=atoms.hosts, grpc=atoms.grpc)  # route hostnames are not per match
    for match in matches:
        if not match.paths or match.paths & true:
            found = found | replace(match, paths=frozenset())
    return variants(found)


def _one_class(service: ServiceKey, samples: tuple[str, ...], shapes: tuple[Request, ...],
               namespace: str, evaluate: Evaluate, readers: PathReaders
               ) -> Iterator[Evaluated]:
    """Every variant on the class's first path; the other paths only for the variants whose
    deciding rules read the path (one per distinct pair of outcomes)."""
    again: dict[tuple[Outcome, Outcome], Request] = {}
    for shape in shapes:
        request = _at(shape, service, samples[0], namespace)
        source, target = evaluate(request)
        yield request, source, target
        if len(samples) > 1 and readers.involved(source, target):
            again.setdefault((source, target), shape)
    for path in samples[1:]:
        for shape in again.values():
            request = _at(shape, service, path, namespace)
            yield (request, *evaluate(request))


def _exhaustive(service: ServiceKey, atoms: Atoms, namespaces: Sequence[str],
                evaluate: Evaluate) -> Iterator[Evaluated]:
    shapes = witnesses(_ANY_SERVICE, atoms, [_ANY_SERVICE.namespace])
    for namespace in namespaces:
        for shape in shapes:
            request = _at(shape, service, shape.path, namespace)
            yield (request, *evaluate(request))


def source_match_atoms(tables: Iterable[RouteTable]) -> list[Atoms]:
    """Each match block of the source tables as its own atoms (for :func:`evaluated`)."""
    out: list[Atoms] = []
    for table in tables:
        for rule in table.rules:
            out += [service_atoms([RouteTable(table.service, (Rule(matches=(match,)),),
                                              protocol=table.protocol)])
                    for match in rule.matches]
    return out


def source_path_conditions(tables: Iterable[RouteTable]) -> frozenset[PathMatch]:
    """Every path condition of the source tables (for :func:`evaluated`)."""
    return frozenset(match.path for table in tables for rule in table.rules
                     for match in rule.matches if match.path is not None)
