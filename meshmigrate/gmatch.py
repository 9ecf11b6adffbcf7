"""Gateway API match conditions as the compiler reasons about them.

A :class:`GMatch` is one entry of an HTTPRoute rule's ``matches``. The compiler needs three
operations on them: the spec's precedence key, whether two can match the same request, and
their intersection (so an earlier, less specific source rule can be given the overlap
explicitly and keep winning). Regular expressions the compiler generated itself (to encode a
plain string prefix) carry their literal prefix, so they can be intersected exactly; a
user-written regex can only be sampled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

EXACT, PREFIX, REGEX = "Exact", "PathPrefix", "RegularExpression"

#: Regex path precedence is implementation-specific (HTTPRouteRule doc, "Proxy or Load
#: Balancer routing configuration generated from HTTPRoutes MUST prioritize matches based on
#: ... Exact path match, Prefix path match with largest number of characters"). We follow
#: Istio's ranking (pilot sortHTTPRoutes): Exact > PathPrefix > regex, longer values first
#: within PathPrefix and within regex; the Gateway API evaluator uses the same ranking.
RANK = {EXACT: 3, PREFIX: 2, REGEX: 1}


class Unknown:
    """Marker: whether two conditions overlap cannot be decided exactly."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = Unknown()


@dataclass(frozen=True, slots=True)
class GPath:
    """``type`` and ``value`` as emitted. For regexes generated from a string prefix,
    ``lit`` is that prefix and ``cont`` says what may follow: ``any`` (``lit.*``) or
    ``nonslash`` (``lit[^/].*``, the part of a string prefix that a segment prefix misses).
    ``excl`` marks a PathPrefix ``/a/`` standing for the string prefix ``/a/``: Gateway API
    also matches ``/a`` with it, so the compiler routes the exact path ``/a`` elsewhere."""

    type: str
    value: str
    lit: str | None = None
    cont: str = "any"
    excl: str | None = None  # PathPrefix "/a/" for a string prefix: "/a" is not matched


@dataclass(frozen=True, slots=True)
class GMatch:
    path: GPath
    method: str | None = None
    headers: tuple[tuple[str, str, str], ...] = ()  # (name lower-case, type, value), sorted
    query: tuple[tuple[str, str, str], ...] = ()
    origin: int = -1  # index of the source Match within its rule (for rewrites)
    _key: tuple[int, int, bool, int, int] | None = field(
        default=None, init=False, repr=False, compare=False, hash=False)

    def key(self) -> tuple[int, int, bool, int, int]:
        """Gateway API precedence: bigger wins (semantics.md §10). Computed once (the
        compiler compares every pair of matches of a table)."""
        key = self._key
        if key is None:
            length = len(self.path.value) if self.path.type != EXACT else 0
            key = (RANK[self.path.type], length, self.method is not None, len(self.headers),
                   len(self.query))
            object.__setattr__(self, "_key", key)
        return key

    def same_conditions(self, other: GMatch) -> bool:
        return (self.path, self.method, self.headers, self.query) == (
            other.path, other.method, other.headers, other.query)


def regex_for_string_prefix(lit: str, cont: str) -> GPath:
    tail = "[^/].*" if cont == "nonslash" else ".*"
    return GPath(REGEX, re.escape(lit).replace("\\/", "/") + tail, lit, cont)


def segment_under(path: str, prefix: str) -> bool:
    """Gateway API PathPrefix semantics: ``prefix`` matches ``path`` on segment boundaries;
    a trailing ``/`` in the prefix is ignored (HTTPPathMatch doc)."""
    base = prefix.rstrip("/")
    return base == "" or path == base or path.startswith(base + "/")


@lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def regex_full(pattern: str, text: str) -> bool:
    rx = _compiled(pattern)
    return bool(rx and rx.fullmatch(text))


_META = set(".^$*+?()[]{}|\\")


@lru_cache(maxsize=4096)
def literal_head(pattern: str) -> str:
    """The literal text every match of ``pattern`` starts with ('' when unknown)."""
    if re.search(r"(?<!\\)\|", pattern):
        return ""  # an alternation: the branches need not share a head
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern) and not pattern[i + 1].isalnum():
            out.append(pattern[i + 1])
            i += 2
            continue
        if ch in _META:
            if ch in "*?{" and out:
                out.pop()  # the previous character is optional or repeated
            break
        out.append(ch)
        i += 1
    return "".join(out)


def demoted(path: GPath) -> GPath:
    """The same set of paths written as a regular expression (which ranks below every
    Exact and PathPrefix match)."""
    if path.type == PREFIX and path.value == "/":
        return regex_for_string_prefix("/", "any")
    if path.type == PREFIX and path.excl is not None:
        return regex_for_string_prefix(path.excl + "/", "any")  # still without the exact path
    body = re.escape(path.value.rstrip("/") if path.type == PREFIX else path.value)
    body = body.replace("\\/", "/")
    return GPath(REGEX, body + "(/.*)?" if path.type == PREFIX else body)


def _samples(prefix: str) -> tuple[str, ...]:
    base = prefix.rstrip("/") or ""
    return (base or "/", base + "/", base + "/x", base + "/x/y")


def intersect_path(a: GPath, b: GPath) -> GPath | Unknown | None:
    """The paths matched by both ``a`` and ``b`` as one condition; None when disjoint."""
    if a is b or (a.type == b.type and a.value == b.value and a == b):
        return a
    if b.type == EXACT and a.type != EXACT:
        a, b = b, a
    if a.type == EXACT:
        return a if _path_matches(b, a.value) and a.value != b.excl else None
    if a.type == REGEX and b.type == PREFIX:
        a, b = b, a
    if a.type == PREFIX and b.type == PREFIX:
        return _prefix_prefix(a, b)
    if a.type == PREFIX:  # b is a regex
        return _prefix_regex(a, b)
    return _regex_regex(a, b)


def _path_matches(cond: GPath, path: str) -> bool:
    if cond.type == EXACT:
        return cond.value == path
    if cond.type == PREFIX:
        return segment_under(path, cond.value)
    return regex_full(cond.value, path)


def _prefix_prefix(a: GPath, b: GPath) -> GPath | None:
    if segment_under(a.value.rstrip("/") or "/", b.value):
        res = a
    elif segment_under(b.value.rstrip("/") or "/", a.value):
        res = b
    else:
        return None
    for excl in (a.excl, b.excl):
        if excl is not None and excl == res.value.rstrip("/"):
            return GPath(PREFIX, excl + "/", excl=excl)  # the exact path stays excluded
    return res


def _prefix_regex(p: GPath, r: GPath) -> GPath | Unknown | None:
    if r.lit is None:
        return UNKNOWN if _may_overlap(p.value, r.value) else None
    lit, base = r.lit, p.value.rstrip("/")
    if base.startswith(lit) and (len(base) > len(lit) or r.cont == "any"):
        if r.cont == "any" or base[len(lit)] != "/":
            return p  # every path under p matches r
        return None
    if base == "" or lit.startswith(base + "/") or lit == base + "/":
        return r  # r only matches paths below p
    return None


@lru_cache(maxsize=4096)
def _may_overlap(prefix: str, pattern: str) -> bool:
    """Whether PathPrefix ``prefix`` and the user regex ``pattern`` may share a path: their
    literal heads agree, or a sample path under the prefix matches."""
    head, base = literal_head(pattern), prefix.rstrip("/")
    if head.startswith(base) or base.startswith(head):
        return True
    return any(regex_full(pattern, s) for s in _samples(prefix))


def _regex_regex(a: GPath, b: GPath) -> GPath | Unknown | None:
    if a.lit is None or b.lit is None:
        return _user_regexes(a, b)
    (long, llit), (short, slit) = sorted(((a, a.lit), (b, b.lit)), key=lambda p: -len(p[1]))
    if not llit.startswith(slit):
        return None
    if len(llit) == len(slit):
        return long if long.cont == "nonslash" else short
    if short.cont == "nonslash" and llit[len(slit)] == "/":
        return None
    return long


def _user_regexes(a: GPath, b: GPath) -> GPath | Unknown | None:
    """Two regexes, at least one written by a user: disjoint when their literal heads
    disagree; exact when one is a plain literal; otherwise undecided."""
    for x, y in ((a, b), (b, a)):
        if x.lit is None and _is_literal(x.value):
            return x if regex_full(y.value, literal_head(x.value)) else None
    ha = a.lit if a.lit is not None else literal_head(a.value)
    hb = b.lit if b.lit is not None else literal_head(b.value)
    return UNKNOWN if ha.startswith(hb) or hb.startswith(ha) else None


def _is_literal(pattern: str) -> bool:
    """True when ``pattern`` matches exactly one string (no metacharacter unescaped)."""
    unescaped = re.sub(r"\\[^A-Za-z0-9]", "", pattern)
    return not any(c in _META for c in unescaped)


def _merge_named(
    a: tuple[tuple[str, str, str], ...], b: tuple[tuple[str, str, str], ...]
) -> tuple[tuple[str, str, str], ...] | Unknown | None:
    merged: dict[str, tuple[str, str, str]] = {c[0]: c for c in a}
    for cond in b:
        have = merged.get(cond[0])
        if have is None or have == cond:
            merged[cond[0]] = cond
            continue
        both = _merge_one(have, cond)
        if both is None or isinstance(both, Unknown):
            return both
        merged[cond[0]] = both
    return tuple(sorted(merged.values()))


def _merge_one(x: tuple[str, str, str], y: tuple[str, str, str]
               ) -> tuple[str, str, str] | Unknown | None:
    if x[1] == EXACT and y[1] == EXACT:
        return None
    if x[1] == REGEX and y[1] == REGEX:
        return UNKNOWN
    exact, rx = (x, y) if x[1] == EXACT else (y, x)
    return exact if regex_full(rx[2], exact[2]) else None


def intersect(a: GMatch, b: GMatch) -> GMatch | Unknown | None:
    """Requests matching both ``a`` and ``b`` as one GMatch (None: no request does; that
    wins over UNKNOWN, so the parts are computed in turn and the first None returns)."""
    if a.method and b.method and a.method != b.method:
        return None
    path = intersect_path(a.path, b.path)
    if path is None:
        return None
    headers = _merge_named(a.headers, b.headers) if a.headers or b.headers else ()
    if headers is None:
        return None
    query = _merge_named(a.query, b.query) if a.query or b.query else ()
    if query is None:
        return None
    if isinstance(path, Unknown) or isinstance(headers, Unknown) or isinstance(query, Unknown):
        return UNKNOWN
    return GMatch(path, a.method or b.method, headers, query, origin=a.origin)


def covers(outer: GMatch, inner: GMatch) -> bool:
    """Every request matching ``inner`` also matches ``outer``: their intersection (as
    :func:`intersect` computes it) has ``inner``'s conditions. Checked part by part, without
    building the intersection (the compiler asks this of every pair of matches)."""
    if outer.method and outer.method != inner.method:
        return False  # disjoint, or the intersection has a method inner lacks
    path = intersect_path(inner.path, outer.path)
    if path is not inner.path and path != inner.path:  # None and UNKNOWN included
        return False
    if (inner.headers or outer.headers) and _merge_named(
            inner.headers, outer.headers) != inner.headers:
        return False
    return not (inner.query or outer.query) or _merge_named(
        inner.query, outer.query) == inner.query


def example_path(path: GPath) -> str:
    """A concrete path the condition matches (for messages naming an example request)."""
    if path.type == EXACT:
        return path.value
    if path.type == PREFIX:
        return path.value.rstrip("/") + "/x" if path.value != "/" else "/x"
    if path.lit is not None:
        return path.lit + ("x" if path.cont == "nonslash" else "")
    return "/"
