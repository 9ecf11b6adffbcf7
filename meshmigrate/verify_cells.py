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

Within a class, the method/header/query variants are narrowed to the match blocks that can
apply there and to one per distinct reading of their conditions; a header's presence is a
reading of its own only where some rule modifies that header (:func:`_distinct`).

``exhaustive=True`` evaluates the whole cross product (the previous behaviour); the tests
check on every golden case and on random configurations that both find the same
differences.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache, partial
from itertools import count
from typing import Any

from meshmigrate.model import (
    Anchor,
    Match,
    PathKind,
    PathMatch,
    Protocol,
    RouteTable,
    Rule,
    ServiceRef,
    StringMatch,
)
from meshmigrate.semantics.atoms import Atoms, PathAtom, united
from meshmigrate.semantics.outcome import Outcome, Request, ServiceKey, request_at
from meshmigrate.semantics.source import (
    header_value,
    methods_match,
    path_atom,
    path_matches,
    rule_label,
    service_atoms,
    string_matches,
)
from meshmigrate.semantics.witness import path_sample_masks, witnesses

__all__ = ["EVERY_HEADER", "PathReaders", "evaluated", "path_classes", "source_atoms",
           "source_match_atoms", "source_modified_headers", "source_path_conditions",
           "variants"]

#: A stand-in Service for cached request shapes (replaced per Service port).
_ANY_SERVICE = ServiceKey("meshmigrate-witness", "service", 0)
_CACHE = 4096  # distinct condition sets kept (bounded memory on large meshes)

Evaluate = Callable[[Request], tuple[Outcome, Outcome]]

#: The request headers rules modify when they are not known: every header's presence
#: matters (see :func:`evaluated`).
EVERY_HEADER = frozenset({"*"})


# --- path classes --------------------------------------------------------------------------

def _tested(test: Callable[[str], bool], samples: Sequence[str]) -> int:
    return sum(1 << i for i, sample in enumerate(samples) if test(sample))


def _source_mask(condition: PathMatch, samples: Sequence[str],
                 found: Mapping[PathAtom, int]) -> int | None:
    """The source evaluator's own reading of a condition, where it can differ from the
    atom's (case folding, regex dialect); None where it cannot. A full-match regex without
    ``\\z`` compiles as its atom does (:func:`~meshmigrate.semantics.source.compile_regex`),
    so its atom's mask (``found``) is its reading too."""
    if not condition.ignore_case and condition.kind is not PathKind.REGEX:
        return None
    if (condition.kind is PathKind.REGEX and condition.anchor is Anchor.FULL
            and r"\z" not in condition.value and path_atom(condition) in found):
        return None
    return _tested(partial(path_matches, condition), samples)


def path_classes(paths: frozenset[PathAtom], grpc: bool,
                 source: frozenset[PathMatch] = frozenset()) -> tuple[tuple[str, ...], ...]:
    """The witness path samples for these conditions, grouped by the truth value of every
    condition (each group sorted; groups in the order of their first sample)."""
    return tuple(samples for _, samples in _classes(paths, grpc, source))


@lru_cache(maxsize=_CACHE)
def _classes(paths: frozenset[PathAtom], grpc: bool, source: frozenset[PathMatch]
             ) -> tuple[tuple[frozenset[PathAtom], tuple[str, ...]], ...]:
    """Path classes with the set of conditions true on each, by partition refinement over
    one bitmask per condition (the witness generator's, :func:`path_sample_masks`: it
    tested every sample against every condition while choosing them).

    The source's path conditions are also tested as the source evaluator tests them
    (:func:`~meshmigrate.semantics.source.path_matches`) where that can differ from their
    atoms (Unicode case folding: ``(?i)s`` matches ``ſ``, ``"ſ".lower()`` is not ``s``), so
    paths the two readings tell apart fall in different classes. (Neither the order of the
    masks nor of the conditions changes the classes or their sets of conditions.)"""
    samples, found = path_sample_masks(Atoms(paths=paths, grpc=grpc))
    masks = list(found.items())
    for condition in source:
        own = _source_mask(condition, samples, found)
        masks += [(path_atom(condition), own)] if own is not None else []
    # each group with the conditions true on it, carried through the refinement
    groups: list[tuple[int, tuple[PathAtom, ...]]] = (
        [((1 << len(samples)) - 1, ())] if samples else [])
    for atom, mask in masks:
        split: list[tuple[int, tuple[PathAtom, ...]]] = []
        for group, true in groups:
            inside = group & mask
            if not inside:
                split.append((group, true))
                continue
            split.append((inside, (*true, atom)))
            if inside != group:
                split.append((group & ~mask, true))
        groups = split
    groups.sort(key=lambda item: item[0] & -item[0])  # by first sample
    return tuple((frozenset(true), _members(samples, group)) for group, true in groups)


def _members(samples: Sequence[str], group: int) -> tuple[str, ...]:
    """The samples whose bits are set in ``group``, in order."""
    out: list[str] = []
    while group:
        low = group & -group
        out.append(samples[low.bit_length() - 1])
        group ^= low
    return tuple(out)


@lru_cache(maxsize=_CACHE)
def variants(atoms: Atoms) -> tuple[Request, ...]:
    """The method/header/query/host variants of one path (``atoms`` without paths): the
    witness generator crosses every path with the same set."""
    shapes = witnesses(_ANY_SERVICE, replace(atoms, paths=frozenset()),
                       [_ANY_SERVICE.namespace])
    return tuple(r for r in shapes if r.path == "/")


_at = request_at  # a variant ``shape`` at a Service port, path and client namespace


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


def source_modified_headers(tables: Iterable[RouteTable]) -> frozenset[str]:
    """Lower-case names of every request header a header operation of the source's rules
    (or of their destinations) sets, adds or removes (the target's:
    :meth:`~meshmigrate.semantics.gateway.GatewayEvaluator.modified_header_names`)."""
    names: set[str] = set()
    for table in tables:
        for rule in table.rules:
            for ops in (rule.request_headers, *(d.request_headers for d in rule.destinations)):
                if ops.set or ops.add or ops.remove:
                    names.update(name.lower() for name, _ in (*ops.set, *ops.add))
                    names.update(name.lower() for name in ops.remove)
    return frozenset(names)


# --- the requests ----------------------------------------------------------------------------

Evaluated = tuple[Request, Outcome, Outcome]


#: A match block as atoms, with the source's own Match and the token of what narrowing
#: reads of it (:func:`_token`; None: computed from the atoms, for target blocks).
Block = tuple[Atoms, Match | None, int | None]


def evaluated(service: ServiceKey, atoms: Atoms, namespaces: Sequence[str],
              evaluate: Evaluate, readers: PathReaders, *,
              source_paths: frozenset[PathMatch] = frozenset(),
              matches: Sequence[Block] | None = None,
              modified: frozenset[str] = EVERY_HEADER,
              exhaustive: bool = False) -> Iterator[Evaluated]:
    """Each needed witness request for ``service`` with its source and target outcomes (see
    the module docstring), per client namespace in the given order. Deterministic.

    ``matches`` (each match block of either side as its own atoms, with the source's Match
    for source blocks) narrows the variants of a path class to the conditions of the match
    blocks that can apply on it (their path condition holds there, or they have none): no
    other block can match a request with that path, so the others' header, query, method
    and host conditions cannot change which rule decides it. Of the variants left, those
    every condition reads alike are evaluated once (:func:`_distinct`); ``modified`` names
    the request headers some rule of either side modifies."""
    if exhaustive:
        yield from _exhaustive(service, atoms, namespaces, evaluate,
                               _condition_sets(matches or ()))
        return
    found = _classes(atoms.paths, atoms.grpc, source_paths)
    if matches is None:
        every = variants(replace(atoms, paths=frozenset()))
        classes = [(samples, every) for _, samples in found]
    else:
        narrow = _Narrowing(atoms, matches, modified)
        classes = [(samples, narrow.variants(true)) for true, samples in found]
    for namespace in namespaces:
        for samples, shapes in classes:
            yield from _one_class(service, samples, shapes, namespace, evaluate, readers)


#: What a source match block tests besides its path, as the source evaluator reads it
#: (:func:`_rest_applies`): methods, whether they are negated, headers, query parameters.
Rest = tuple[frozenset[str] | None, bool, tuple[StringMatch, ...], tuple[StringMatch, ...]]


def _rest(match: Match) -> Rest:
    """A source block's :data:`Rest` (its origin and path are not part of it, so equal
    conditions of different rules and Services share cached variants)."""
    return (match.methods, match.negated_methods, match.headers, match.query)


#: Cached variants by what decides them (hosts, gRPC, the blocks that apply, each as a
#: token), shared by every Service port.
_BUILT: dict[tuple[Any, ...], tuple[Request, ...]] = {}
#: Tokens number the distinct things narrowing reads of a block. A token is never given to
#: two different readings, even after the table is cleared (the count goes on), so a token
#: kept elsewhere (the block cache, :data:`_BUILT`) can go stale but never wrong.
_TOKENS: dict[tuple[Any, ...], int] = {}
_NEXT_TOKEN = count()


def _token(atoms: Atoms, rest: Rest | None) -> int:
    """The token of a block read as ``atoms`` (its paths aside) and, for a source block,
    its :data:`Rest`."""
    key = (atoms.headers, atoms.queries, atoms.methods, atoms.grpc, rest)
    found = _TOKENS.get(key)
    if found is None:
        if len(_TOKENS) > 16 * _CACHE:  # bounded memory
            _TOKENS.clear()
        found = _TOKENS[key] = next(_NEXT_TOKEN)
    return found


class _Narrowing:
    """The variants of each path class of one Service port, from the blocks that can apply
    on it (classes with the same blocks share them, on this port and on every other)."""

    def __init__(self, atoms: Atoms, blocks: Sequence[Block],
                 modified: frozenset[str] = EVERY_HEADER) -> None:
        self.atoms = atoms
        self.modified = modified
        self.blocks = blocks
        self.always = [i for i, (block, _, _) in enumerate(blocks) if not block.paths]
        self.by_path: dict[PathAtom, list[int]] = {}
        for i, (block, _, _) in enumerate(blocks):
            for path in block.paths:
                self.by_path.setdefault(path, []).append(i)
        self.done: dict[tuple[int, ...], tuple[Request, ...]] = {}
        if len(_BUILT) > 16 * _CACHE:  # bounded memory: start over
            _BUILT.clear()
        self.tokens = [_token(block, None) if token is None else token
                       for block, _, token in blocks]
        self.head = (atoms.grpc, atoms.hosts, modified)

    def variants(self, true: frozenset[PathAtom]) -> tuple[Request, ...]:
        """For a path class on which the path conditions ``true`` hold."""
        found_on = {i for path in true for i in self.by_path.get(path, ())}
        applies = tuple(sorted(found_on.union(self.always)))
        found = self.done.get(applies)
        if found is None:
            key = (self.head, tuple(sorted({self.tokens[i] for i in applies})))
            found = _BUILT.get(key)
            if found is None:
                found = _BUILT[key] = self._build([self.blocks[i] for i in applies])
            self.done[applies] = found
        return found

    def _build(self, blocks: list[Block]) -> tuple[Request, ...]:
        own = [block for block, _, _ in blocks]
        found = replace(united(own, self.atoms.grpc or any(block.grpc for block in own),
                               self.atoms.hosts),  # route hostnames are not per match
                        paths=frozenset())  # (the class fixes the path)
        present = frozenset(h.name for h in found.headers
                            if _presence_matters(h.name, self.modified))
        return _distinct(found, frozenset(_rest(m) for _, m, _ in blocks if m is not None),
                         present, _block_shapes(found, _condition_sets(blocks)))


def _presence_matters(name: str, modified: frozenset[str]) -> bool:
    """Whether a header's presence can change an outcome beyond the conditions on it: when
    some rule modifies it (``add`` appends to a value that is there, ``set``/``remove`` act
    on it), and always for the Host (absent, it is the Service's name)."""
    lname = name.lower()
    return lname in modified or "*" in modified or lname in ("host", ":authority")


def _condition_sets(blocks: Sequence[Block]) -> list[Atoms]:
    """Each block's atoms, and for a source block with negated header or query conditions
    (``withoutHeaders``, an inverted match) also the atoms of its other conditions alone:
    atoms carry no negation, so meeting all of a block's atoms at once *misses* a negated
    condition, and meeting its positive ones with the negated header absent meets it."""
    out: list[Atoms] = []
    for atoms, match, _ in blocks:
        out.append(atoms)
        if match is not None and (any(h.invert for h in match.headers)
                                  or any(q.invert for q in match.query)):
            out.append(_block_atoms(None, match.methods, match.negated_methods,
                                    tuple(h for h in match.headers if not h.invert),
                                    tuple(q for q in match.query if not q.invert),
                                    Protocol.HTTP)[0])
    return out


def _block_shapes(atoms: Atoms, blocks: Sequence[Atoms]) -> tuple[Atoms, ...]:
    """Each distinct block's own conditions (without paths), with the port's gRPC flag, Host
    values and methods (a block without a method condition is met by every method, and the
    others' methods must meet its headers too): the variants of each (:func:`_distinct`)."""
    seen: dict[Atoms, None] = {}
    for block in blocks:
        seen.setdefault(replace(block, paths=frozenset(), grpc=atoms.grpc, hosts=atoms.hosts,
                                methods=atoms.methods))
    return tuple(seen)


@lru_cache(maxsize=4 * _CACHE)
def _distinct(atoms: Atoms, source: frozenset[Rest], present: frozenset[str] | None = None,
              blocks: tuple[Atoms, ...] = ()) -> tuple[Request, ...]:
    """The variants of ``atoms``, one per distinct reading: the truth of every method,
    header, query and host condition (the source's blocks as the source evaluator reads
    them), the presence of every query parameter named and of the headers in ``present``
    (None: every header named). Two variants read alike are decided by the same rules on
    both sides; their outcomes differ only in the values they carry through untouched,
    which no rule reads.

    A header's presence needs its own bit only where it can change an outcome beyond the
    conditions on it (:func:`_presence_matters`): both evaluators forward every request
    header as sent except those a header modifier names, so two variants that differ only
    in carrying a header no rule modifies, with a value no condition on it accepts, get the
    same outcome on each side up to that carried header. A query parameter's presence
    always counts: a redirect's Location carries the query.

    The variants of ``atoms`` are a covering design (every condition met and missed, every
    pair of conditions on one thing told apart, everything met at once), not every
    combination; the variants of each match block of ``blocks`` on its own are read too, so
    that each block is met with every method and with each of its conditions missed on its
    own (a block of a method, a query parameter and a header that must be absent is met
    with the header present only that way)."""
    ordered = sorted(source, key=repr)
    kept: dict[tuple[bool, ...], Request] = {}
    for shapes in (variants(atoms), *(variants(block) for block in blocks)):
        for shape in shapes:
            kept.setdefault(_reading(shape, atoms, ordered, present), shape)
    return tuple(kept.values())


def _reading(shape: Request, atoms: Atoms, source: Sequence[Rest],
             present: frozenset[str] | None = None) -> tuple[bool, ...]:
    bits = [shape.method == method for method in sorted(atoms.methods)]
    for atom in sorted(atoms.headers):
        value = shape.header(atom.name)
        if present is None or atom.name in present:
            bits.append(value is not None)
        bits.append(atom.matches(value))
    for query in sorted(atoms.queries):
        value = shape.query_param(query.name)
        bits += (value is not None, query.matches(value))
    bits += [shape.header("host") == host for host in sorted(atoms.hosts)]
    bits.append(shape.header("host") is not None)
    bits += [_rest_applies(rest, shape) for rest in source]
    return tuple(bits)


def _rest_applies(rest: Rest, request: Request) -> bool:
    """A source block's method, header and query conditions, read by the source evaluator
    (its path condition is the class's; port, scheme and namespace are fixed per port)."""
    methods, negated, headers, query = rest
    return (methods_match(methods, negated, request.method)
            and all(string_matches(h, header_value(request, h.name)) for h in headers)
            and all(string_matches(q, request.query_param(q.name)) for q in query))


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
                evaluate: Evaluate, blocks: Sequence[Atoms] = ()) -> Iterator[Evaluated]:
    """Every witness path with every variant: the port's (:func:`witnesses`) and each match
    block's own (as :func:`_distinct` reads them)."""
    shapes = witnesses(_ANY_SERVICE, atoms, [_ANY_SERVICE.namespace])
    if blocks:
        paths = sorted({shape.path for shape in shapes})
        known = set(shapes)
        extra = {_at(variant, _ANY_SERVICE, path, _ANY_SERVICE.namespace)
                 for block in _block_shapes(atoms, blocks) for variant in variants(block)
                 for path in paths}
        shapes = [*shapes, *sorted(extra - known, key=_request_order)]
    for namespace in namespaces:
        for shape in shapes:
            request = _at(shape, service, shape.path, namespace)
            yield (request, *evaluate(request))


def _request_order(request: Request) -> tuple[Any, ...]:
    return (request.path, request.method, request.headers, request.query, request.protocol)


def source_match_atoms(tables: Iterable[RouteTable]) -> list[Block]:
    """Each match block of the source tables as its own atoms, with the block itself (for
    :func:`evaluated`)."""
    out: list[Block] = []
    for table in tables:
        for rule in table.rules:
            for match in rule.matches:
                atoms, token = _block_atoms(match.path, match.methods, match.negated_methods,
                                            match.headers, match.query, table.protocol)
                out.append((atoms, match, token))
    return out


def source_atoms(tables: Sequence[RouteTable], blocks: Sequence[Block]) -> Atoms:
    """The tables' atoms (:func:`~meshmigrate.semantics.source.service_atoms`) from their
    blocks' (:func:`source_match_atoms`): the union of every block's, with ``grpc`` for a
    gRPC table even when it has no match."""
    return united([atoms for atoms, _, _ in blocks],
                  any(t.protocol is Protocol.GRPC for t in tables))


@lru_cache(maxsize=4 * _CACHE)
def _block_atoms(path: PathMatch | None, methods: frozenset[str] | None, negated: bool,
                 headers: tuple[StringMatch, ...], query: tuple[StringMatch, ...],
                 protocol: Protocol) -> tuple[Atoms, int]:
    """One source match block's atoms, as the source evaluator states them, and its
    narrowing token (keyed by the conditions they are made of, not by the block, so equal
    conditions of different rules and Services share them)."""
    match = Match(path=path, methods=methods, headers=headers, query=query,
                  negated_methods=negated)
    atoms = service_atoms([RouteTable(ServiceRef("", ""), (Rule(matches=(match,)),),
                                      protocol=protocol)])
    return atoms, _token(atoms, _rest(match))


def source_path_conditions(tables: Iterable[RouteTable]) -> frozenset[PathMatch]:
    """Every path condition of the source tables (for :func:`evaluated`)."""
    return frozenset(match.path for table in tables for rule in table.rules
                     for match in rule.matches if match.path is not None)
