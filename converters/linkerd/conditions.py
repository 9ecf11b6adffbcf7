"""ServiceProfile request conditions -> model matches (semantics.md §4.1).

A condition sets any of ``pathRegex``, ``method``, ``all``, ``any``, ``not``; every field
that is set must hold (the destination controller ANDs them, ``pkg/profiles``
``ToRequestMatch``), and a condition with none set is rejected ("A request match must have a
field set"). The tree is normalised to disjunctive normal form: negations are pushed down
to the leaves (De Morgan), each conjunction becomes one :class:`Match`, and the matches of
a rule are ORed. ``not method`` is kept as a negated method set; ``not pathRegex`` has no
equivalent and is dropped (the match widens) with ``NEGATIVE_MATCH_DROPPED``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from converters.linkerd.regex import check_regex
from converters.linkerd.viewutil import has_list, kind_of, mappings
from meshmigrate.fields import View
from meshmigrate.sources import FieldPath

#: More conjunctions than this is a condition no route could carry (128 matches per route).
MAX_CONJUNCTIONS = 128


@dataclass(frozen=True, slots=True)
class Literal:
    """One leaf test: ``kind`` is "path" or "method"; ``origin`` is its field path."""

    kind: str
    value: str
    negated: bool
    origin: FieldPath


Conjunction = tuple[Literal, ...]


class TooComplex(Exception):
    """The normal form of a condition has more than :data:`MAX_CONJUNCTIONS` terms."""


def normal_form(cond: View, negate: bool = False) -> list[Conjunction]:
    """The condition at ``cond`` (negated when ``negate``) as ORed conjunctions."""
    if not isinstance(cond.node, dict):
        raise cond.error(f"expected a mapping, got {kind_of(cond.node)}")
    parts = _parts(cond, negate)
    if not parts:
        raise cond.error("a request condition must set pathRegex, method, all, any or not")
    # not(a AND b) == (not a) OR (not b)
    return _or(parts) if negate else _and(parts)


def _parts(cond: View, negate: bool) -> list[list[Conjunction]]:
    parts: list[list[Conjunction]] = []
    for key in ("pathRegex", "method"):
        value = cond.str(key)
        if value and key == "pathRegex":
            check_regex(cond, key, value.strip(), "Rust regex")
        if value:
            kind = "path" if key == "pathRegex" else "method"
            parts.append([(Literal(kind, value, negate, (*cond.path, key)),)])
    if has_list(cond, "all"):
        children = [normal_form(c, negate) for c in mappings(cond, "all")]
        parts.append(_or(children) if negate else _and(children))
    if has_list(cond, "any"):
        children = [normal_form(c, negate) for c in mappings(cond, "any")]
        parts.append(_and(children) if negate else _or(children))
    if cond.map("not") is not None:
        parts.append(normal_form(cond.at("not"), not negate))
    return parts


def _or(terms: Iterable[list[Conjunction]]) -> list[Conjunction]:
    out = [conj for term in terms for conj in term]
    if len(out) > MAX_CONJUNCTIONS:
        raise TooComplex
    return out


def _and(terms: list[list[Conjunction]]) -> list[Conjunction]:
    """Cross product (AND of ORs); AND of nothing is the one empty conjunction (true)."""
    out: list[Conjunction] = []
    for combo in itertools.product(*terms):
        out.append(tuple(lit for conj in combo for lit in conj))
        if len(out) > MAX_CONJUNCTIONS:
            raise TooComplex
    return out
