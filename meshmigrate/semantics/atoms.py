"""Match-condition atoms: the conditions some rule of one Service port tests.

Evaluators (the Gateway API one and the source-mesh ones) describe the conditions their rules
use as atoms; :mod:`meshmigrate.semantics.witness` turns the union of both sides' atoms into
requests that can tell the two sides apart. Atoms describe *what* is tested, not which rule
tests it or in which order.

Path kinds:

- ``exact``: the whole path equals ``value``.
- ``prefix``: a plain string prefix, as in Istio ``uri.prefix`` / Envoy ``prefix``
  (``/api`` matches ``/apix``).
- ``segment_prefix``: Gateway API ``PathPrefix``: whole ``/``-separated segments, a trailing
  ``/`` in the value ignored (``/api`` matches ``/api``, ``/api/``, ``/api/x``, not ``/apix``).
- ``regex``: ``anchored="full"`` must match the whole path (RE2 full match in Envoy and
  Gateway API implementations); ``anchored="start"`` only at its start (SMI ``pathRegex``).

``ignore_case`` makes any kind case-insensitive (Istio ``ignoreUriCase``, Consul
``caseInsensitive``). Regexes are evaluated with Python's :mod:`re`; the RE2 subset the meshes
use means the same thing there, except for RE2-only syntax such as ``\\pN`` classes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

__all__ = [
    "Atoms",
    "HeaderAtom",
    "PathAtom",
    "PathKind",
    "QueryAtom",
    "ValueKind",
    "header_atom",
    "path_atom_of",
    "query_atom",
    "split_global_flags",
]

PathKind = Literal["exact", "prefix", "segment_prefix", "regex"]
ValueKind = Literal["exact", "prefix", "suffix", "regex", "present"]

# Leading global inline flags such as ``(?i)`` must stay at the front when a regex is wrapped.
_GLOBAL_FLAGS = re.compile(r"^\(\?([aiLmsux]+)\)")


def split_global_flags(regex: str) -> tuple[str, str]:
    """Split a leading global inline-flag group off a regex: ``(?i)abc`` → ``("i", "abc")``."""
    found = _GLOBAL_FLAGS.match(regex)
    if found is None:
        return "", regex
    return found.group(1), regex[found.end():]


@lru_cache(maxsize=4096)
def _compiled(pattern: str, ignore_case: bool) -> re.Pattern[str] | None:
    """Compile once; an invalid regex matches nothing (it would be rejected upstream)."""
    try:
        return re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    except re.error:
        return None


def _fullmatch(pattern: str, text: str, ignore_case: bool) -> bool:
    compiled = _compiled(pattern, ignore_case)
    return compiled is not None and compiled.fullmatch(text) is not None


@dataclass(frozen=True, slots=True, order=True)
class PathAtom:
    """One path condition (see the module docstring for the kinds)."""

    kind: PathKind
    value: str
    ignore_case: bool = False
    anchored: Literal["full", "start"] = "full"

    def regex(self) -> str:
        """An equivalent Python regex with full-match semantics (without the case flag)."""
        if self.kind == "exact":
            return re.escape(self.value)
        if self.kind == "prefix":
            return re.escape(self.value) + ".*"
        if self.kind == "segment_prefix":
            stem = self.value.rstrip("/")
            return f"{re.escape(stem)}(?:/.*)?" if stem else ".*"
        if self.anchored == "start":
            flags, body = split_global_flags(self.value)
            return (f"(?{flags})" if flags else "") + f"(?:{body}).*"
        return self.value

    def matches(self, path: str) -> bool:
        """Whether a request path (without query) satisfies this condition."""
        return _fullmatch(self.regex(), path, self.ignore_case)


@dataclass(frozen=True, slots=True, order=True)
class HeaderAtom:
    """One header condition; ``name`` is lower-case. ``present`` ignores ``value``."""

    name: str
    kind: ValueKind
    value: str = ""

    def regex(self) -> str:
        """An equivalent Python regex over the header value (full match)."""
        return _value_regex(self.kind, self.value)

    def matches(self, value: str | None) -> bool:
        """Whether a header value (None = header absent) satisfies this condition."""
        return value is not None and _fullmatch(self.regex(), value, False)


@dataclass(frozen=True, slots=True, order=True)
class QueryAtom:
    """One query-parameter condition; ``name`` is case-sensitive."""

    name: str
    kind: ValueKind
    value: str = ""

    def regex(self) -> str:
        """An equivalent Python regex over the parameter value (full match)."""
        return _value_regex(self.kind, self.value)

    def matches(self, value: str | None) -> bool:
        """Whether a parameter value (None = absent) satisfies this condition."""
        return value is not None and _fullmatch(self.regex(), value, False)


def _value_regex(kind: ValueKind, value: str) -> str:
    if kind == "exact":
        return re.escape(value)
    if kind == "prefix":
        return re.escape(value) + ".*"
    if kind == "suffix":
        return ".*" + re.escape(value)
    if kind == "present":
        return ".*"
    return value


@dataclass(frozen=True, slots=True)
class Atoms:
    """All conditions tested by the rules of one Service port. ``hosts`` are Host-header
    values the rules care about; ``grpc`` says the port carries gRPC."""

    paths: frozenset[PathAtom] = field(default_factory=frozenset)
    headers: frozenset[HeaderAtom] = field(default_factory=frozenset)
    queries: frozenset[QueryAtom] = field(default_factory=frozenset)
    methods: frozenset[str] = field(default_factory=frozenset)
    hosts: frozenset[str] = field(default_factory=frozenset)
    grpc: bool = False

    def __or__(self, other: Atoms) -> Atoms:
        """The union of two atom sets (``grpc`` if either side says so)."""
        return Atoms(
            paths=self.paths | other.paths,
            headers=self.headers | other.headers,
            queries=self.queries | other.queries,
            methods=self.methods | other.methods,
            hosts=self.hosts | other.hosts,
            grpc=self.grpc or other.grpc,
        )


_NO_ATOMS: frozenset[Any] = frozenset()


def united(blocks: Sequence[Atoms], grpc: bool, hosts: frozenset[str] | None = None) -> Atoms:
    """The union of every block's conditions, in one pass per kind, with ``grpc`` as given
    and ``hosts`` as given (else the blocks')."""
    return Atoms(_NO_ATOMS.union(*[block.paths for block in blocks]),
                 _NO_ATOMS.union(*[block.headers for block in blocks]),
                 _NO_ATOMS.union(*[block.queries for block in blocks]),
                 _NO_ATOMS.union(*[block.methods for block in blocks]),
                 _NO_ATOMS.union(*[block.hosts for block in blocks]) if hosts is None
                 else hosts,
                 grpc)


# Interned atoms: each evaluator gathers the atoms of every Service port, and the sets are
# united and looked up again and again downstream; equal atoms that are one object compare
# without calling the dataclass ``__eq__``. (Cached on plain strings: cheap to look up.)

@lru_cache(maxsize=16384)
def path_atom_of(kind: PathKind, value: str, ignore_case: bool = False,
                 anchored: Literal["full", "start"] = "full") -> PathAtom:
    """``PathAtom(kind, value, ignore_case, anchored)``, one object per distinct atom."""
    return PathAtom(kind, value, ignore_case, anchored)


@lru_cache(maxsize=16384)
def header_atom(name: str, kind: ValueKind, value: str) -> HeaderAtom:
    """``HeaderAtom(name, kind, value)``, one object per distinct atom."""
    return HeaderAtom(name, kind, value)


@lru_cache(maxsize=16384)
def query_atom(name: str, kind: ValueKind, value: str) -> QueryAtom:
    """``QueryAtom(name, kind, value)``, one object per distinct atom."""
    return QueryAtom(name, kind, value)
