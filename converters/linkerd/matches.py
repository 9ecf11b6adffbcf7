"""Conjunctions of ServiceProfile condition leaves -> :class:`meshmigrate.model.Match`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from converters.linkerd.conditions import Conjunction, Literal
from converters.linkerd.regex import linkerd_path_regex
from meshmigrate.model import Anchor, Dialect, Match, PathKind, PathMatch
from meshmigrate.sources import FieldPath, format_path

#: (code, field path, message) -> None
Report = Callable[[str, FieldPath, str], None]


def rule_matches(conjunctions: Sequence[Conjunction], report: Report) -> tuple[Match, ...]:
    """One match per satisfiable conjunction, duplicates removed, source order kept.
    An empty result means the condition can never hold (not "every request")."""
    out: dict[Match, Match] = {}
    for conj in conjunctions:
        match = conjunction_match(conj, report)
        if match is not None:
            out.setdefault(dataclasses.replace(match, origin=()), match)
    return tuple(out.values())


def conjunction_match(conj: Conjunction, report: Report) -> Match | None:
    """The match for one conjunction, or None when its method tests contradict."""
    methods = _methods(conj)
    if methods is not None and not methods[0] and not methods[1]:
        return None
    return Match(path=_path(conj, report),
                 methods=methods[0] if methods else None,
                 negated_methods=bool(methods and methods[1]),
                 origin=_common_prefix([lit.origin[:-1] for lit in conj]))


def _methods(conj: Conjunction) -> tuple[frozenset[str], bool] | None:
    """(method set, negated) or None for "any method". A positive set minus the negated
    methods stays positive; only-negated tests give a negated set."""
    allowed: frozenset[str] | None = None
    excluded: frozenset[str] = frozenset()
    for lit in conj:
        if lit.kind != "method":
            continue
        if lit.negated:
            excluded |= {lit.value}
        else:
            allowed = frozenset({lit.value}) if allowed is None else allowed & {lit.value}
    if allowed is not None:
        return allowed - excluded, False
    return (excluded, True) if excluded else None


def _path(conj: Conjunction, report: Report) -> PathMatch | None:
    paths: list[Literal] = []
    for lit in conj:
        if lit.kind == "path" and lit.negated:
            report("NEGATIVE_MATCH_DROPPED", lit.origin,
                   f"'not pathRegex {lit.value!r}' cannot be expressed; the condition was "
                   "dropped, so this match also takes the paths it excluded")
        elif lit.kind == "path" and lit.value not in (p.value for p in paths):
            paths.append(lit)
    for extra in paths[1:]:
        report("MATCH_NOT_SUPPORTED", extra.origin,
               f"pathRegex {extra.value!r} must hold together with {paths[0].value!r} "
               f"({format_path(paths[0].origin)}); only one path regex fits a match, so "
               "this one was dropped")
    return _path_match(paths[0], report) if paths else None


def _path_match(lit: Literal, report: Report) -> PathMatch:
    value, partial = linkerd_path_regex(lit.value)
    if partial:
        report("REGEX_ANCHOR_PARTIAL", lit.origin,
               f"Linkerd anchors {lit.value!r} as ^…$ without a group, so the anchors bind "
               "only to the first and last alternatives; encoded exactly as "
               f"{value!r}")
    return PathMatch(PathKind.REGEX, value, dialect=Dialect.RUST, anchor=Anchor.FULL)


def _common_prefix(paths: Sequence[FieldPath]) -> FieldPath:
    if not paths:
        return ()
    first, size = paths[0], len(paths[0])
    for other in paths[1:]:
        same = 0
        while same < min(size, len(other)) and first[same] == other[same]:
            same += 1
        size = same
    return first[:size]
