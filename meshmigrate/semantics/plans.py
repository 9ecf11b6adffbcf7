"""What both evaluators' compiled views share: bounded caches and the per-port memo.

Each evaluator (:mod:`~meshmigrate.semantics.source`, :mod:`~meshmigrate.semantics.gateway`)
compiles the routing of a Service port once into a *plan* and keeps a few plans; a
:class:`Memo` remembers what the current plan worked out for the next requests to the same
port. Both are bounded so memory does not grow with the mesh.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TypeVar

from meshmigrate.semantics.outcome import Outcome

__all__ = ["MEMO_SIZE", "PLAN_CACHE_SIZE", "Memo", "bounded_put", "literal_head", "memo_put"]

PLAN_CACHE_SIZE = 1024  # compiled views kept (each is small; verify needs one at a time)
MEMO_SIZE = 4096  # entries of each Memo table before it starts over

_K = TypeVar("_K")
_V = TypeVar("_V")


def bounded_put(cache: OrderedDict[_K, _V], key: _K, value: _V,
                limit: int = PLAN_CACHE_SIZE) -> None:
    """Add to a cache of at most ``limit`` entries, dropping the oldest. (An OrderedDict: a
    plain dict's first key, after many deletions at the front, is found by skipping every
    deleted slot.)"""
    if len(cache) >= limit:
        cache.popitem(last=False)
    cache[key] = value


def memo_put(table: dict[_K, _V], key: _K, value: _V) -> _V:
    """Remember ``value`` in a Memo table, starting the table over when it is full."""
    if len(table) >= MEMO_SIZE:
        table.clear()
    table[key] = value
    return value


@dataclass(slots=True)
class Memo:
    """What the current plan worked out, for the next requests to the same Service port
    (witness requests share paths and header sets): the positions a path's conditions
    select, and forwarded outcomes by (position, path, headers). Bounded; cleared when the
    plan changes."""

    paths: dict[str, tuple[int, ...]] = field(default_factory=dict)
    outcomes: dict[tuple[int, str, tuple[tuple[str, str], ...]], Outcome] = field(
        default_factory=dict)

    def clear(self) -> None:
        self.paths.clear()
        self.outcomes.clear()


_REGEX_META = re.compile(r"[.^$*+?{}\[\]\\|()]")


@lru_cache(maxsize=8192)
def literal_head(pattern: str) -> str:
    """Literal text every match of ``pattern`` (anchored at the start) starts with, possibly
    "": the leading plain characters, without the last one when a quantifier may drop it.
    Conservative: nothing for a pattern with an alternation anywhere. (Cached: meshes repeat
    regexes.) A cheap pre-check before the regex itself; the compiler has its own, more
    thorough reading (:func:`meshmigrate.gmatch.literal_head`), kept apart so the evaluators
    stay independent of what they check."""
    if "|" in pattern:
        return ""
    meta = _REGEX_META.search(pattern)
    if meta is None:
        return pattern
    end = meta.start()
    if end > 0 and pattern[end] in "*?{":
        end -= 1
    return pattern[:end]
