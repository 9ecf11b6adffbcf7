"""Witness requests: a small, deterministic set of requests that can tell two configs apart.

Given the union of the match conditions (:class:`~meshmigrate.semantics.atoms.Atoms`) that the
source and the target use for one Service port, :func:`witnesses` builds requests such that:

- for every condition there is a request that satisfies it and, where possible, one that does
  not (a path, a header/query value present with another value, the header/query absent);
- for every **pair** of conditions on the same thing (two path conditions, two conditions on
  the same header or query parameter) there is a request in each non-empty region of the pair:
  A and not B, B and not A, A and B. So any two conditions that can disagree get a witness
  on which they do (e.g. string prefix ``/api`` vs segment prefix ``/api`` → ``/apix``);
- paths are crossed with methods, with each single header/query variant, with all
  conditions satisfied at once, and with that all-met request changed in one header or
  query parameter at a time (a covering design, not the full cross product), so the count
  grows with the conditions of one Service port, never with the mesh.

Regions of regular languages are computed exactly with finite automata. Literal conditions
(exact, string prefix, segment prefix) and plain sequences of characters and classes
(``/orders/[0-9]+``) get their DFA directly; other regexes through ``interegular`` (a
Python-``re``-syntax regex → DFA library). The shortest string of a
region (A∩B, A∖B, within the domain of paths or values) is found by a breadth-first search
over *product* states built on demand, one transition per class of characters that every
automaton treats alike, the most preferred character of each class first (:func:`_rank`):
so the answer depends on the languages only, never on how a library numbered its states or
keys, nor on the hash seed. Literal conditions are handled first by cheap textual variants;
a pair needs a region only when those variants do not already cover all three, and most
such regions (disjoint or nested conditions) are settled empty by literal heads without
automata (:func:`_decided`). Regions are cached across Services. Regexes the library cannot
parse (lookbehind, ``\\b``, RE2-only classes) fall back to the textual variants.
"""

from __future__ import annotations

import re
import sys
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache, partial
from itertools import compress
from operator import attrgetter, itemgetter, methodcaller
from typing import Any, NamedTuple

import interegular
from interegular.fsm import anything_else

from meshmigrate.semantics.atoms import Atoms, HeaderAtom, PathAtom, QueryAtom, split_global_flags
from meshmigrate.semantics.outcome import Request, ServiceKey

__all__ = ["NOMATCH_PATH", "disagreeing", "path_sample_masks", "path_samples", "value_samples",
           "witnesses"]

# Paths start with "/" and hold no query, fragment or whitespace.
_PATH_DOMAIN = r"/[^?#\s]*"
# Header and query values: printable ASCII, no leading or trailing blanks (RFC 9110 §5.5).
_VALUE_DOMAIN = r"[!-~](?:[ -~]*[!-~])?"
NOMATCH_PATH = "/meshmigrate-witness-nomatch"
# Candidates for "a method no condition names", in order of preference: the common ones,
# then the rest of Gateway API's HTTPMethod enum, then an extension method (RFC 9110 §9.1:
# the set is open), so a negated method set always meets a method outside it.
_UNNAMED_METHODS = ("GET", "PATCH", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "TRACE",
                    "CONNECT", "PURGE")
_GRPC_CONTENT_TYPE = ("content-type", "application/grpc")
_FILLER = "xzqk0_~-9ZXQ"  # preferred characters for "any other character" transitions
_MAX_REGEX = 512  # longer patterns are sampled textually only


# --------------------------------------------------------------------------- conditions


class _Cond(NamedTuple):
    """A condition as a full-match regex over one string (path or value); a tuple, as it
    keys the region cache (hashed in C, not by a generated ``__hash__``)."""

    regex: str
    ignore_case: bool = False

    def test(self, text: str) -> bool:
        return _fullmatch(self.regex, self.ignore_case)(text) is not None


def _never(_text: str) -> None:
    return None


@lru_cache(maxsize=8192)
def _fullmatch(regex: str, ignore_case: bool) -> Callable[[str], re.Match[str] | None]:
    """The compiled full-match test of a condition (an invalid regex matches nothing)."""
    try:
        return re.compile(regex, re.IGNORECASE if ignore_case else 0).fullmatch
    except re.error:
        return _never


#: Work budget (automaton transitions explored) for building one regex's DFA and for one
#: region search. RE2-style regexes such as ``(a|b)*a(a|b){20}`` match in linear time but
#: have a DFA of 2^20 states; past the budget the operation gives up (deterministically)
#: and the textual samples stand in for the exact regions.
AUTOMATON_BUDGET = 200_000


class _OverBudget(Exception):
    pass


_spent = [0]
_real_crawl = interegular.fsm.crawl


def _budgeted_crawl(alphabet: Any, initial: Any, final: Any, follow: Any) -> Any:
    def counted(state: Any, transition: Any) -> Any:
        # a determinized state is a set of sub-states: following it costs its size
        _spent[0] += 1 + (len(state) if isinstance(state, frozenset | set | tuple) else 0)
        if _spent[0] > AUTOMATON_BUDGET:
            raise _OverBudget
        return follow(state, transition)

    return _real_crawl(alphabet, initial, final, counted)  # type: ignore[no-untyped-call]


interegular.fsm.crawl = _budgeted_crawl  # every FSM construction goes through crawl()


def _within_budget(build: Any) -> Any:
    """Run one automaton operation with a fresh budget; None when it runs out."""
    _spent[0] = 0
    try:
        return build()
    except _OverBudget:
        return None


def _fsm(regex: str, ignore_case: bool) -> Any:
    """The DFA of a full-match regex, or None if ``interegular`` cannot build it (cached
    by :func:`_dfa`)."""
    if len(regex) > _MAX_REGEX:
        return None
    flags, body = split_global_flags(regex)
    body = _strip_anchors(body)
    flags += "i" if ignore_case and "i" not in flags else ""
    pattern = f"(?{flags}){body}" if flags else body
    try:
        return _within_budget(lambda: interegular.parse_pattern(pattern).to_fsm())
    except MemoryError:
        raise
    except Exception:  # the library raises several types (Unsupported, InvalidSyntax, ...)
        return None


def _strip_anchors(body: str) -> str:
    """``^`` and ``$`` at the ends are no-ops under full-match semantics; the automaton
    library does not accept them."""
    if body.startswith("^"):
        body = body[1:]
    if body.endswith("$") and not body.endswith("\\$"):
        body = body[:-1]
    return body


class _Dfa:
    """One DFA in the shape the product search wants: plain dicts, live states known.
    ``keys`` maps the characters the automaton names to transition keys; every other
    character has key ``other`` (None: no transition)."""

    __slots__ = ("finals", "initial", "keys", "live", "map", "other")

    def __init__(self, keys: dict[str, int], other: int | None,
                 transitions: dict[Any, dict[int, Any]], initial: Any,
                 finals: frozenset[Any]) -> None:
        self.keys, self.other, self.map = keys, other, transitions
        self.initial, self.finals = initial, finals
        self.live = _live_states(transitions, finals)

    @classmethod
    def of(cls, fsm: Any) -> _Dfa:
        """The DFA of an ``interegular`` FSM."""
        alphabet = fsm.alphabet
        keys = {c: alphabet[c] for c in alphabet if c is not anything_else}
        return cls(keys, alphabet.get(anything_else), fsm.map, fsm.initial,
                   frozenset(fsm.finals))

    def key(self, char: str) -> int | None:
        """The transition key of ``char``."""
        return self.keys.get(char, self.other)

    def accepts(self, text: str) -> bool:
        """Whether the automaton accepts ``text`` (for tests)."""
        state = self.initial
        for char in text:
            state = self.map.get(state, {}).get(self.key(char))  # type: ignore[arg-type]
            if state is None:
                return False
        return state in self.finals


def _live_states(transitions: dict[Any, dict[int, Any]], finals: frozenset[Any]) -> frozenset[Any]:
    """The states from which some final state can be reached."""
    back: dict[Any, set[Any]] = {}
    for state, moves in transitions.items():
        for target in moves.values():
            back.setdefault(target, set()).add(state)
    live, todo = set(finals), list(finals)
    while todo:
        for prior in back.get(todo.pop(), ()):
            if prior not in live:
                live.add(prior)
                todo.append(prior)
    return frozenset(live)


@lru_cache(maxsize=4096)
def _dfa(regex: str, ignore_case: bool) -> _Dfa | None:
    """The DFA of a full-match condition: built directly for the literal shapes the atoms
    produce (exact, string prefix, segment prefix), else through ``interegular``; None when
    neither can."""
    literal = _literal(regex)
    built = None if literal is None else _literal_dfa(*literal, ignore_case)
    if built is None and not ignore_case:
        built = _simple_dfa(regex)
    if built is not None:
        return built
    fsm = _fsm(regex, ignore_case)
    return None if fsm is None else _Dfa.of(fsm)


# A regex that is a plain sequence of single characters, ``.`` and character classes, each
# at most once quantified with ``*``, ``+`` or ``?`` (``/orders/[0-9]+``,
# ``/v[0-9]/items/.*``, ``/x/[a-z0-9-]+/details``: most path regexes meshes use) gets its
# DFA by subset construction over the positions between its items, a few times cheaper than
# through ``interegular``. Anything else (groups, alternation, ``{m,n}``, escapes of
# letters, flags, large automata) is left to ``interegular``.

#: Bounds on what :func:`_simple_dfa` builds: items, explicit characters, states.
_SIMPLE_ITEMS, _SIMPLE_CHARS, _SIMPLE_STATES = 48, 128, 64


class _Item(NamedTuple):
    """One item of a simple regex: the characters it names, whether it takes every other
    character instead (``.`` names the line break; ``[^...]``), and its quantifier."""

    chars: frozenset[str]
    negated: bool
    quantifier: str  # "", "*", "+" or "?"


def _simple_items(regex: str) -> list[_Item] | None:
    """The items of a simple regex (see above), or None."""
    body = _strip_anchors(regex)
    items: list[_Item] = []
    i = 0
    while i < len(body):
        parsed = _simple_atom(body, i)
        if parsed is None:
            return None
        chars, negated, i = parsed
        quantifier = body[i] if i < len(body) and body[i] in "*+?" else ""
        i += len(quantifier)
        if quantifier and i < len(body) and body[i] in "*+?{":  # lazy, possessive, nested
            return None
        items.append(_Item(chars, negated, quantifier))
    return items if len(items) <= _SIMPLE_ITEMS else None


def _escaped(body: str, i: int) -> str | None:
    """The character ``\\x`` at ``i`` stands for, when ``x`` is ASCII punctuation (a
    letter or digit escape is a class, an anchor or a back reference)."""
    nxt = body[i + 1] if i + 1 < len(body) else ""
    return nxt if nxt.isascii() and nxt and not nxt.isalnum() else None


def _simple_atom(body: str, i: int) -> tuple[frozenset[str], bool, int] | None:
    """The item that starts at ``i``: its characters, whether negated, where it ends."""
    char = body[i]
    if char == "\\":
        escaped = _escaped(body, i)
        return None if escaped is None else (frozenset(escaped), False, i + 2)
    if char == ".":
        return frozenset("\n"), True, i + 1
    if char == "[":
        return _simple_class(body, i)
    if char in _SPECIAL or char in "#\n" or char.isspace():
        return None
    return frozenset(char), False, i + 1


def _simple_class(body: str, start: int) -> tuple[frozenset[str], bool, int] | None:
    """A character class without escapes of letters, nested sets or set operations."""
    i = start + 1
    negated = body.startswith("^", i)
    i += negated
    chars: set[str] = set()
    while i < len(body) and body[i] != "]":  # a leading "]" (a member) ends it: empty
        if body.startswith(("--", "&&", "~~", "||"), i):  # set operations to come
            return None
        low, i = _class_char(body, i)
        if low is None:
            return None
        if body.startswith("-", i) and i + 1 < len(body) and body[i + 1] != "]":
            high, i = _class_char(body, i + 1)
            if high is None or high < low or ord(high) - ord(low) >= _SIMPLE_CHARS:
                return None
            chars.update(map(chr, range(ord(low), ord(high) + 1)))
        else:
            chars.add(low)
        if len(chars) > _SIMPLE_CHARS:
            return None
    if i >= len(body) or not chars:
        return None
    return frozenset(chars), negated, i + 1


def _class_char(body: str, i: int) -> tuple[str | None, int]:
    """One character of a class at ``i`` and the index after it."""
    if body[i] == "\\":
        return _escaped(body, i), i + 2
    if body[i] in "[]":
        return None, i + 1
    return body[i], i + 1


def _simple_dfa(regex: str) -> _Dfa | None:
    """The DFA of a simple regex (see above), case-sensitive; None for any other regex.
    Characters named by the same items share a transition key, as in ``interegular``."""
    items = _simple_items(regex)
    if items is None:
        return None
    explicit = sorted(frozenset().union(*(item.chars for item in items)))
    if len(explicit) > _SIMPLE_CHARS:
        return None
    groups: dict[tuple[bool, ...], int] = {}
    keys = {char: groups.setdefault(tuple(char in item.chars for item in items), len(groups))
            for char in explicit}
    other = len(groups)
    columns = {key: next(c for c in explicit if keys[c] == key) for key in groups.values()}
    return _subset_dfa(items, keys, other, columns)


def _subset_dfa(items: Sequence[_Item], keys: dict[str, int], other: int,
                columns: dict[int, str]) -> _Dfa | None:
    """Subset construction over the positions between items (position ``len(items)``:
    the whole regex matched); a state is a sorted tuple of positions."""
    start = _closure(items, {0})
    transitions: dict[Any, dict[int, Any]] = {}
    todo = [start]
    while todo:
        state = todo.pop()
        if state in transitions:
            continue
        if len(transitions) >= _SIMPLE_STATES:
            return None
        moves: dict[int, Any] = {}
        for key in [*columns, other]:
            char = columns.get(key)
            target = _closure(items, {nxt for position in state if position < len(items)
                                      for nxt in _advance(items[position], position, char)})
            if target:
                moves[key] = target
                todo.append(target)
        transitions[state] = moves
    finals = frozenset(state for state in transitions if len(items) in state)
    return _Dfa(keys, other, transitions, start, finals)


def _advance(item: _Item, position: int, char: str | None) -> tuple[int, ...]:
    """Positions after ``item`` reads ``char`` (None: a character no item names)."""
    if (char is not None and char in item.chars) == item.negated:
        return ()
    return (position, position + 1) if item.quantifier in ("*", "+") else (position + 1,)


def _closure(items: Sequence[_Item], positions: set[int]) -> tuple[int, ...]:
    """``positions`` plus those reached by skipping optional items (``*``, ``?``)."""
    out = set(positions)
    for position in range(min(positions, default=len(items)), len(items)):
        if position in out and items[position].quantifier in ("*", "?"):
            out.add(position + 1)
    return tuple(sorted(out))


#: Tails of the literal condition shapes: exact, ``lit.*`` and ``lit(?:/.*)?``
#: (:meth:`PathAtom.regex`, :func:`~meshmigrate.semantics.atoms._value_regex`), the same
#: segment prefix as the converter writes it as a regex (``lit(/.*)?``), and its regex for
#: a string prefix that is not a segment prefix (``lit[^/].*``).
_TAILS = (("segment", "(?:/.*)?"), ("segment", "(/.*)?"), ("noslash", "[^/].*"), ("any", ".*"),
          ("", ""))


@lru_cache(maxsize=16384)
def _literal(regex: str) -> tuple[str, str] | None:
    """``(text, tail)`` when ``regex`` is an escaped literal followed by one of
    :data:`_TAILS`; None for anything else."""
    for tail, suffix in _TAILS:
        if regex.endswith(suffix):
            text = _unescaped(regex[:len(regex) - len(suffix)])
            if text is not None:
                return text, tail
    return None


def _unescaped(body: str) -> str | None:
    """The text ``body`` matches when it is exactly ``re.escape(text)``, else None."""
    out: list[str] = []
    chars = iter(body)
    for char in chars:
        out.append(next(chars, "") if char == "\\" else char)
    text = "".join(out)
    return text if re.escape(text) == body else None


def _case_variants(char: str, ignore_case: bool) -> str | None:
    """The characters one literal character matches; None for a non-ASCII character under
    ``ignore_case`` (left to ``interegular``). Like ``interegular``, and unlike ``re``, the
    case-insensitive match of an ASCII letter is its two ASCII cases only (``re`` also takes
    ``K`` for ``k``): automata built here and there must agree with each other."""
    if not ignore_case:
        return char
    if not char.isascii():
        return None
    return char.lower() + char.upper() if char.isalpha() else char


def _literal_keys(chars: Iterable[str], ignore_case: bool) -> dict[str, int] | None:
    """Transition keys for the characters of a literal: one per character, shared by the
    case variants of a letter under ``ignore_case``."""
    keys: dict[str, int] = {}
    groups = 0
    for char in chars:
        if char not in keys:
            variants = _case_variants(char, ignore_case)
            if variants is None:
                return None
            keys.update(dict.fromkeys(variants, groups))
            groups += 1
    return keys


def _literal_dfa(text: str, tail: str, ignore_case: bool) -> _Dfa | None:
    """The DFA of ``text`` followed by ``tail`` (see :data:`_TAILS`); ``.`` matches every
    character but a newline, as in Python's ``re``."""
    keys = _literal_keys(text + ("/\n" if tail else ""), ignore_case)
    if keys is None:
        return None
    size = len(text)
    transitions: dict[Any, dict[int, Any]] = {i: {keys[c]: i + 1} for i, c in enumerate(text)}
    if not tail:
        return _Dfa(keys, None, transitions, 0, frozenset({size}))
    other = max(keys.values()) + 1
    anything = [k for k in {*keys.values(), other} if k != keys["\n"]]
    if tail == "any":
        transitions[size] = dict.fromkeys(anything, size)
        return _Dfa(keys, other, transitions, 0, frozenset({size}))
    if tail == "noslash":  # [^/] takes a newline too
        transitions[size] = dict.fromkeys((k for k in {*keys.values(), other} if k != keys["/"]),
                                          size + 1)
        transitions[size + 1] = dict.fromkeys(anything, size + 1)
        return _Dfa(keys, other, transitions, 0, frozenset({size + 1}))
    transitions[size] = {keys["/"]: size + 1}
    transitions[size + 1] = dict.fromkeys(anything, size + 1)
    return _Dfa(keys, other, transitions, 0, frozenset({size, size + 1}))


def _rank(char: str) -> tuple[int, int]:
    """Preference order for witness characters: the filler characters, then printable
    non-blank characters by code point, then the rest."""
    if char in _FILLER:
        return 0, _FILLER.index(char)
    return (1 if char.isprintable() and not char.isspace() else 2), ord(char)


def _preferred_other(explicit: set[str]) -> str | None:
    """The most preferred character that no automaton names explicitly."""
    for char in _FILLER:
        if char not in explicit:
            return char
    for code in range(33, 0x3000):
        char = chr(code)
        if char not in explicit and char.isprintable() and not char.isspace():
            return char
    return None


def _classes(dfas: Sequence[_Dfa]) -> list[tuple[str, tuple[int | None, ...]]]:
    """Characters that behave alike in every automaton, one (the most preferred) per class,
    with its transition key in each automaton; in preference order."""
    explicit = {char for dfa in dfas for char in dfa.keys}
    other = _preferred_other(explicit)
    best: dict[tuple[int | None, ...], str] = {}
    for char in sorted([*explicit, *([other] if other else [])], key=_rank):
        best.setdefault(tuple(dfa.key(char) for dfa in dfas), char)
    return [(char, keys) for keys, char in best.items()]


_State = tuple[Any, ...]


def _search(positive: Sequence[_Dfa], negative: Sequence[_Dfa]) -> str | None:
    """The shortest string accepted by every ``positive`` automaton and by no ``negative``
    one, ties broken by :func:`_rank` character by character (so the answer depends on the
    languages only, not on how the automata number their states or keys). A breadth-first
    search over product states built on demand: states from which a positive automaton
    cannot accept any more are pruned, and a negative automaton that cannot accept any more
    drops out (None). None when the region is empty; raises :class:`_OverBudget` past
    ``AUTOMATON_BUDGET`` transitions."""
    dfas, npos = (*positive, *negative), len(positive)
    classes = _classes(dfas)
    start = _product_start(dfas, npos)
    if start is None:
        return None
    seen: dict[_State, str] = {start: ""}
    queue, spent = deque([start]), 0
    while queue:
        state = queue.popleft()
        if _accepting(dfas, npos, state):
            return seen[state]
        spent += len(classes)
        if spent > AUTOMATON_BUDGET:
            raise _OverBudget
        for char, keys in classes:
            target = _step(dfas, npos, state, keys)
            if target is not None and target not in seen:
                seen[target] = seen[state] + char
                queue.append(target)
    return None


def _product_start(dfas: Sequence[_Dfa], npos: int) -> _State | None:
    states = [dfa.initial if dfa.initial in dfa.live else None for dfa in dfas]
    return None if None in states[:npos] else tuple(states)


def _accepting(dfas: Sequence[_Dfa], npos: int, state: _State) -> bool:
    return all(dfa.finals.__contains__(s) == (i < npos)
               for i, (dfa, s) in enumerate(zip(dfas, state, strict=True)))


def _step(dfas: Sequence[_Dfa], npos: int, state: _State,
          keys: tuple[int | None, ...]) -> _State | None:
    """The product state after one character (its key per automaton); None when some
    positive automaton can no longer accept."""
    out: list[Any] = []
    for i, (dfa, current, key) in enumerate(zip(dfas, state, keys, strict=True)):
        moves = dfa.map.get(current) if current is not None else None
        target = moves.get(key) if moves is not None and key is not None else None
        if target is not None and target not in dfa.live:
            target = None
        if target is None and i < npos:
            return None
        out.append(target)
    return tuple(out)


# Most pairs of conditions a Service tests are disjoint (``/auth`` and ``/login``) or nested
# (``/api`` inside ``/``), and by the time the cover asks for such a region every sample
# already agrees with that: the question is only whether the region is empty. Literal heads
# answer it without automata.

_QUANTIFIERS = "*?{"  # make the character before them optional (``+`` does not)
_SPECIAL = set(".^$*+?{}[]()|\\")


@lru_cache(maxsize=16384)
def _head(regex: str) -> str:
    """Literal text every full match of ``regex`` starts with ('' when unknown). Global
    inline flags (``(?i)``) and top-level alternations give ''."""
    literal = _literal(regex)
    if literal is not None:
        return literal[0]
    if regex.startswith("(?") or _has_top_level_bar(regex):
        return ""
    out: list[str] = []
    i = 1 if regex.startswith("^") else 0
    while i < len(regex):
        char = regex[i]
        if char == "\\" and i + 1 < len(regex) and not regex[i + 1].isalnum():
            out.append(regex[i + 1])
            i += 2
        elif char in _SPECIAL:
            if char in _QUANTIFIERS and out:
                out.pop()
            break
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _has_top_level_bar(regex: str) -> bool:
    """Whether ``regex`` has an alternation outside every group (its branches need not
    share a head)."""
    depth, i = 0, 0
    while i < len(regex):
        char = regex[i]
        if char == "[":
            i = _class_end(regex, i)
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return True
        i += 2 if char == "\\" else 1
    return False


def _class_end(regex: str, start: int) -> int:
    """The index after the ``]`` closing the character class that opens at ``start``."""
    i = start + 1
    i += regex.startswith("^", i)
    i += regex.startswith("]", i)  # a leading "]" is a member
    while i < len(regex) and regex[i] != "]":
        i += 2 if regex[i] == "\\" else 1
    return i + 1


def _prefix_related(x: str, y: str) -> bool:
    return x.startswith(y) or y.startswith(x)


class _Facts(NamedTuple):
    """What string reasoning knows of one condition (:func:`_facts`)."""

    head: str  # literal text every accepted string starts with (:func:`_head`)
    folded: str | None  # the head lower-cased, when it is ASCII (None: unknown folding)
    ignore_case: bool
    exact: bool  # case-sensitive and accepts one string only (:func:`_exact`)
    within: str | None  # a case-sensitive string or segment prefix: what its strings start with
    segment: tuple[str, bool] | None  # (text, whether "/" may follow) of a case-sensitive
    # segment prefix ``text(?:/.*)?`` (True) or prefix-but-not-segment ``text[^/].*`` (False)


@lru_cache(maxsize=16384)
def _facts(cond: _Cond) -> _Facts:
    head = _head(cond.regex)
    literal = None if cond.ignore_case else _literal(cond.regex)
    within = segment = None
    if literal is not None and literal[1] in ("any", "segment") and "\n" not in literal[0]:
        within = literal[0] if literal[1] == "any" else literal[0] + "/"
    if literal is not None and literal[1] in ("segment", "noslash"):
        segment = literal[0], literal[1] == "segment"
    return _Facts(head, head.lower() if head.isascii() else None, cond.ignore_case,
                  literal is not None and not literal[1], within, segment)


def _compatible(a: _Cond, b: _Cond) -> bool:
    """False only when no string can satisfy both: their literal heads diverge, or one is
    the segment prefix ``t(?:/.*)?`` and the other ``t[^/].*`` (the converter's regex for a
    string prefix that is not a segment prefix) with the same ``t``."""
    return _heads_related(_facts(a), _facts(b))


def _heads_related(a: _Facts, b: _Facts) -> bool:
    """:func:`_compatible` on the facts of two conditions."""
    if a.ignore_case or b.ignore_case:
        if a.folded is None or b.folded is None:
            return True
        return _prefix_related(a.folded, b.folded)
    if not (a.head.startswith(b.head) or b.head.startswith(a.head)):
        return False
    # t(?:/.*)? and t[^/].* have the same head t
    return a.segment is None or b.segment is None or a.segment != (b.segment[0], not b.segment[1])


def _inside(a: _Cond, b: _Cond, domain: str) -> bool:
    """True only when every string of A in the domain satisfies B: B is a case-sensitive
    string prefix (``.*``) or segment prefix (``(?:/.*)?``) that the head of A (or of the
    domain) already extends. (``.`` stops at a newline; the domains have none.)"""
    return _nested(_facts(a), _facts(b), _head(domain))


def _nested(a: _Facts, b: _Facts, domain_head: str) -> bool:
    """:func:`_inside` on the facts of two conditions and the head of the domain."""
    needed = b.within
    return needed is not None and not a.ignore_case and (
        a.head.startswith(needed) or domain_head.startswith(needed))


def _exact(cond: _Cond) -> str | None:
    """The one string an exact, case-sensitive condition accepts."""
    literal = None if cond.ignore_case else _literal(cond.regex)
    return literal[0] if literal is not None and not literal[1] else None


def _decided(a: _Cond, b: _Cond, mode: str, domain: str) -> tuple[str | None] | None:
    """The region's shortest string (or None when empty), as a 1-tuple, when string
    reasoning settles it; None when the automata must."""
    if mode == "diff" and a == b:
        return (None,)
    whole = _Cond(domain)
    for one, other in ((a, b), (b, a)) if mode == "both" else ((a, b),):
        text = _exact(one)
        if text is not None:  # the region is {text} or empty
            keep = whole.test(text) and other.test(text) == (mode == "both")
            return (text if keep else None,)
    if not _compatible(a, whole):
        return (None,)
    if mode == "both" and not (_compatible(b, whole) and _compatible(a, b)):
        return (None,)
    if mode == "diff" and _inside(a, b, domain):
        return (None,)
    return None


@lru_cache(maxsize=65536)
def _region(a: _Cond, b: _Cond | None, mode: str, domain: str) -> str | None:
    """Shortest string in A∖B (``mode="diff"``), A∩B (``"both"``), or A / domain∖A when
    ``b`` is None (``"both"`` / ``"diff"``); all within ``domain``, ties broken by
    :func:`_rank`. None when the region is empty, or when a regex cannot be turned into an
    automaton or the search runs out of budget (the textual samples then stand in).
    Depends on its arguments only, so it is cached across Services (meshes repeat their
    path literals and regexes; the bound keeps memory flat on large ones)."""
    decided = None if b is None else _decided(a, b, mode, domain)
    return decided[0] if decided is not None else _automaton_region(a, b, mode, domain)


@lru_cache(maxsize=8192)
def _automaton_region(a: _Cond, b: _Cond | None, mode: str, domain: str) -> str | None:
    """:func:`_region` by product search alone (cached on its own: the few regions that need
    a search stay when the many settled by strings come and go)."""
    da, dom = _dfa(a.regex, a.ignore_case), _dfa(domain, False)
    db = None if b is None else _dfa(b.regex, b.ignore_case)
    if da is None or dom is None or (b is not None and db is None):
        return None
    positive: tuple[_Dfa, ...]
    negative: tuple[_Dfa, ...]
    if db is None:
        positive, negative = ((da, dom), ()) if mode == "both" else ((dom,), (da,))
    else:
        positive, negative = ((da, db, dom), ()) if mode == "both" else ((da, dom), (db,))
    try:
        return _search(positive, negative)
    except _OverBudget:
        return None


# --------------------------------------------------------------------------- covering


@lru_cache(maxsize=8192)
def _sample_test(regex: str, ignore_case: bool) -> Callable[[str], object]:
    """A test equivalent to the full-match condition on strings without a line break (the
    domains hold none: ``.`` matches every other character): the escaped-literal shapes of
    :data:`_TAILS` by string comparison, which is several times cheaper than the regex
    engine on the hundreds of samples a Service port tests; any other condition by its
    compiled regex. Truthy when the condition holds."""
    literal = None if ignore_case else _literal(regex)
    if literal is None:
        return _fullmatch(regex, ignore_case)
    text, tail = literal
    return _literal_test(text, tail)



def _literal_test(text: str, tail: str) -> Callable[[str], object]:
    """The case-sensitive test of ``text`` followed by ``tail`` (see :data:`_TAILS`) on a
    string without a line break."""
    if not tail:
        return text.__eq__
    if tail == "any":
        return methodcaller("startswith", text)
    size = len(text)
    if tail == "noslash":
        return lambda sample: sample[size:size + 1] not in ("", "/") and sample.startswith(text)
    below = text + "/"
    return lambda sample: sample == text or sample.startswith(below)


def _span(samples: Sequence[str], text: str) -> tuple[int, int]:
    """The index range of the (sorted) samples that start with ``text``: one contiguous run."""
    if not text:
        return 0, len(samples)
    low = bisect_left(samples, text)
    if ord(text[-1]) < sys.maxunicode:  # the first string past the run
        return low, bisect_left(samples, text[:-1] + chr(ord(text[-1]) + 1), low)
    high = low
    while high < len(samples) and samples[high].startswith(text):
        high += 1
    return low, high


def _run(samples: Sequence[str], text: str) -> int:
    """Bitmask of the (sorted) samples that start with ``text``."""
    low, high = _span(samples, text)
    return (1 << high) - (1 << low)


def _literal_mask(text: str, tail: str, samples: Sequence[str]) -> int:
    """Bitmask of the (sorted) samples, none with a line break, that ``text`` followed by
    ``tail`` accepts (see :data:`_TAILS`; case-sensitive)."""
    if tail == "any":
        return _run(samples, text)
    at = bisect_left(samples, text)
    exact = 1 << at if at < len(samples) and samples[at] == text else 0
    if not tail:
        return exact
    below = _run(samples, text + "/")
    if tail == "segment":
        return exact | below
    return _run(samples, text) & ~exact & ~below  # noslash: one more character, not "/"


class _CondInfo(NamedTuple):
    """What the cover needs of one condition, computed once per condition (they recur
    across Services: ``/``, ``/.*``, ``/login``, ``/healthz``)."""

    test: Callable[[str], object]  # :func:`_sample_test`
    mask: Callable[[Sequence[str]], int]  # its bitmask over sorted samples (:func:`_masker`)
    facts: _Facts
    family: str | None  # see :func:`_family`


#: Length of the head prefix that names a condition's family (:func:`_family`).
_FAMILY = 3


@lru_cache(maxsize=16384)
def _cond_info(cond: _Cond) -> _CondInfo:
    facts = _facts(cond)
    return _CondInfo(_sample_test(cond.regex, cond.ignore_case), _masker(cond, facts), facts,
                     _family(facts))


def _family(facts: _Facts) -> str | None:
    """The first characters of the condition's lower-cased head, when it has that many:
    two conditions of different families have heads that are not prefixes of each other,
    case-folded or not, so :func:`_heads_related` says they are disjoint. None (a family of
    its own, related to every other) for a short or non-ASCII head."""
    folded = facts.folded
    return folded[:_FAMILY] if folded is not None and len(folded) >= _FAMILY else None


def _masker(cond: _Cond, facts: _Facts) -> Callable[[Sequence[str]], int]:
    """The bitmask of the (sorted) samples, none with a line break, that a condition
    accepts: a case-sensitive literal condition's by bisection (:func:`_literal_masker`),
    any other's by its test on the run of samples that start with its literal head
    (:func:`_head`: no other sample can match)."""
    literal = None if cond.ignore_case else _literal(cond.regex)
    if literal is not None:
        return _literal_masker(*literal)
    return partial(_scan, _sample_test(cond.regex, cond.ignore_case),
                   "" if cond.ignore_case else facts.head)


def _scan(test: Callable[[str], object], head: str, samples: Sequence[str]) -> int:
    """Bitmask of the (sorted) samples that start with ``head`` and pass ``test``."""
    low, high = _span(samples, head)
    hits = compress(range(low, high), map(test, samples[low:high]))
    return sum(map((1).__lshift__, hits))


def _literal_masker(text: str, tail: str) -> Callable[[Sequence[str]], int]:
    """:func:`_literal_mask` for one literal condition, its bisection keys computed once:
    ``text``, the first string past the strings that start with it (``end``), and the same
    two for ``text + "/"`` (the first string past those is ``text + "0"``)."""
    if not text or ord(text[-1]) == sys.maxunicode:
        return partial(_literal_mask, text, tail)
    end, below, past = text[:-1] + chr(ord(text[-1]) + 1), text + "/", text + "0"

    def exact(samples: Sequence[str]) -> int:
        at = bisect_left(samples, text)
        return 1 << at if at < len(samples) and samples[at] == text else 0

    def any_tail(samples: Sequence[str]) -> int:
        return (1 << bisect_left(samples, end)) - (1 << bisect_left(samples, text))

    def segment(samples: Sequence[str]) -> int:
        at = bisect_left(samples, text)
        low = bisect_left(samples, below, at)
        below_mask = (1 << bisect_left(samples, past, low)) - (1 << low)
        return below_mask | (1 << at if at < low and samples[at] == text else 0)

    def noslash(samples: Sequence[str]) -> int:
        at = bisect_left(samples, text)
        low = bisect_left(samples, below, at)
        high = bisect_left(samples, past, low)
        run = (1 << bisect_left(samples, end, high)) - (1 << at)
        exact = 1 << at if at < low and samples[at] == text else 0
        return run & ~exact & ~((1 << high) - (1 << low))

    return {"": exact, "any": any_tail, "segment": segment, "noslash": noslash}[tail]


class _Cover:
    """Samples, kept sorted, plus per condition a bitmask of the samples it accepts (bit
    ``i``: the ``i``-th sample in sorted order)."""

    def __init__(self, conds: Sequence[_Cond], domain: str,
                 infos: Sequence[_CondInfo] | None = None) -> None:
        self.conds = conds
        self.domain = domain
        self.samples: list[str] = []
        self.known: set[str] = set()
        self.masks = [0] * len(conds)
        self.infos = [_cond_info(cond) for cond in conds] if infos is None else infos
        self.in_domain = _fullmatch(domain, False)

    def add(self, sample: str | None) -> None:
        """Add one sample in the domain: a bit inserted at its place in every mask."""
        if sample is None or sample in self.known or self.in_domain(sample) is None:
            return
        at = bisect_left(self.samples, sample)
        self.samples.insert(at, sample)
        self.known.add(sample)
        bit = 1 << at
        masks = self.masks
        for i, info in enumerate(self.infos):
            mask = masks[i]
            masks[i] = (mask & (bit - 1)) | ((mask >> at) << (at + 1)) \
                | (bit if info.test(sample) else 0)

    def add_all(self, samples: Iterable[str], in_domain: bool = False,
                unknown: bool = False) -> None:
        """:meth:`add` each new sample in the domain (``in_domain``: the caller checked
        they are; ``unknown``: that none is a sample yet); the masks are computed afresh
        over all samples."""
        fresh = set(samples) if unknown else {*samples}.difference(self.known)
        if not in_domain:
            fresh = set(filter(self.in_domain, fresh))
        if not fresh:
            return
        self.known |= fresh
        self.samples += fresh
        self.samples.sort()
        self.masks[:] = [info.mask(self.samples) for info in self.infos]

    def full(self) -> int:
        return (1 << len(self.samples)) - 1

    def ensure_each(self) -> None:
        """Every condition gets an accepted and (if one exists) a rejected sample."""
        masks, domain = self.masks, self.domain
        for i, cond in enumerate(self.conds):
            if not masks[i]:
                self.add(_region(cond, None, "both", domain))
            if not self.full() & ~masks[i]:
                self.add(_region(cond, None, "diff", domain))

    def ensure_pairs(self) -> None:
        """Every pair gets a sample in each non-empty region (A∖B, B∖A, A∩B), pairs in
        order, each region asked for only while no sample is in it yet.

        Most regions asked for are empty (disjoint or nested conditions) or hold one string
        that is a sample already (an exact condition's): those are settled here by the same
        string reasoning as :func:`_decided`, without a call that would give None or a
        sample already there. Cheap tests on the masks skip first the pairs with a sample
        in each region, or settled as nested by :func:`_nested` with a condition that holds
        the whole domain, and the pairs of conditions of different families
        (:func:`_family`), each with a sample, none shared (A∩B is then empty by
        :func:`_heads_related`)."""
        masks, conds, domain = self.masks, self.conds, self.domain
        facts, domain_head = [info.facts for info in self.infos], _head(domain)
        families = [info.family for info in self.infos]
        # inside[i]: A∖B is empty for every condition B by _nested when B covers the domain
        # (covers[j]: B's strings are all those that start with a prefix of the domain's head)
        inside = [not f.ignore_case for f in facts]
        covers = [f.within is not None and domain_head.startswith(f.within) for f in facts]
        for i, fi in enumerate(facts):
            family = families[i]
            for j in range(i + 1, len(conds)):
                mi, mj = masks[i], masks[j]
                if mi & mj:
                    if (mi & ~mj or (covers[j] and inside[i])) \
                            and (mj & ~mi or (covers[i] and inside[j])):
                        continue
                elif mi and mj and family is not None and families[j] not in (None, family):
                    continue
                fj = facts[j]
                if not masks[i] & ~masks[j] and not self._settled(i, fi, fj, domain_head):
                    self.add(_region(conds[i], conds[j], "diff", domain))
                if not masks[j] & ~masks[i] and not self._settled(j, fj, fi, domain_head):
                    self.add(_region(conds[j], conds[i], "diff", domain))
                if not masks[i] & masks[j] and not self._apart(i, j, fi, fj):
                    self.add(_region(conds[i], conds[j], "both", domain))

    def _settled(self, i: int, fi: _Facts, other: _Facts, domain_head: str) -> bool:
        """Whether A∖B (A the ``i``-th condition, with facts ``fi``; B with facts ``other``)
        is known to be empty or to be A's one string, a sample already."""
        return bool(fi.exact and self.masks[i]) or _nested(fi, other, domain_head)

    def _apart(self, i: int, j: int, fi: _Facts, fj: _Facts) -> bool:
        """Whether A∩B is known to be empty or to be an exact condition's one string, a
        sample already."""
        return bool((fi.exact and self.masks[i]) or (fj.exact and self.masks[j])) \
            or not _heads_related(fi, fj)

    def sorted_masks(self) -> tuple[tuple[str, ...], list[int]]:
        """The samples (sorted), and each condition's mask over them."""
        return tuple(self.samples), list(self.masks)


def _covered(conds: Sequence[_Cond], seeds: Iterable[str], domain: str) -> _Cover:
    cover = _Cover(conds, domain)
    cover.add_all(seeds)
    cover.ensure_each()
    cover.ensure_pairs()
    return cover


# --------------------------------------------------------------------------- paths


def _path_variants(atom: PathAtom) -> list[str]:
    """Textual neighbours of a literal path condition."""
    value = atom.value
    stem = value.rstrip("/") or "/"
    out = [value, value + "/", stem, value + "x", stem + "x", value + "/x", value + "/x/y",
           value.upper(), value.lower(), value.swapcase()]
    if len(value) > 1:
        out.append(value[:-1])
    return out


def _regex_variants(sample: str) -> list[str]:
    """Near misses around a string a regex accepts."""
    out = [sample, sample + "x", sample + "/", sample + "/x", sample.upper(), sample.lower()]
    if len(sample) > 1:
        out.append(sample[:-1])
    return out


def _grpc_variants(value: str) -> list[str]:
    """For ``/pkg.Svc/Method``: another method of the service, the method on another service."""
    parts = value.split("/")
    if len(parts) != 3 or not parts[1] or not parts[2]:
        return []
    return [f"/{parts[1]}/Xother", f"/x.Other/{parts[2]}", f"/{parts[1]}/"]


#: Regexes that accept every path (paths start with ``/`` and hold no line break): they
#: have no boundary for near misses to probe, and their variants of every sample would
#: multiply the samples by seven (the compiler's catch-all ``/.*`` is on most Services).
_EVERY_PATH = frozenset({".*", "/.*", ".+", "(?:/.*)", "(?:.*)"})


def _accepts_every_path(atom: PathAtom) -> bool:
    _, body = split_global_flags(atom.value)
    return (atom.anchored == "start" and body == "") or _strip_anchors(body) in _EVERY_PATH


def path_samples(atoms: Atoms) -> list[str]:
    """Paths that exercise every path condition and every pair of them (sorted)."""
    return list(path_sample_masks(atoms)[0])


#: Path atoms in their dataclass order (field by field), without the generated ``__lt__``.
_ATOM_ORDER = attrgetter("kind", "value", "ignore_case", "anchored")


class _PathInfo(NamedTuple):
    """What :func:`path_sample_masks` needs of one path condition, computed once per
    condition (they recur across Services)."""

    cond: _Cond
    info: _CondInfo  # :func:`_cond_info` of ``cond``
    seeds: tuple[str, ...]  # its textual variants in the path domain (literal kinds)
    #: for a regex whose samples get near misses (:func:`_near_misses`), its test
    #: (:func:`_sample_test`: near misses hold no line break, see there)
    probe: Callable[[str], object] | None


#: :func:`_path_info` by the fields of the atom (:data:`_ATOM_ORDER`), one table per
#: ``grpc``: tuples of strings hash in C, the atom's dataclass ``__hash__`` in Python.
_PATH_INFOS: tuple[dict[tuple[Any, ...], _PathInfo], dict[tuple[Any, ...], _PathInfo]] = ({}, {})
_PATH_INFOS_KEPT = 16384  # a table is emptied past this many entries (bounded memory)


def _path_info(atom: PathAtom, grpc: bool) -> _PathInfo:
    """The :class:`_PathInfo` of a path condition (cached in :data:`_PATH_INFOS`)."""
    table = _PATH_INFOS[grpc]
    key = _ATOM_ORDER(atom)
    info = table.get(key)
    if info is None:
        if len(table) >= _PATH_INFOS_KEPT:
            table.clear()
        info = table[key] = _new_path_info(atom, grpc)
    return info


def _new_path_info(atom: PathAtom, grpc: bool) -> _PathInfo:
    seeds: list[str] = []
    if atom.kind != "regex":
        seeds += _path_variants(atom)
        seeds += _grpc_variants(atom.value) if grpc else []
    cond = _Cond(atom.regex(), atom.ignore_case)
    info = _cond_info(cond)
    probed = atom.kind == "regex" and not _accepts_every_path(atom)
    seeds = list(filter(_fullmatch(_PATH_DOMAIN, False), seeds))
    return _PathInfo(cond, info, tuple(dict.fromkeys(seeds)), info.test if probed else None)


@lru_cache(maxsize=1024)
def path_sample_masks(atoms: Atoms) -> tuple[tuple[str, ...], Mapping[PathAtom, int]]:
    """:func:`path_samples`, and for each path condition of ``atoms`` the bitmask of the
    samples it accepts (bit ``i``: the ``i``-th sample), as :meth:`PathAtom.matches` says.

    The masks are the cover's: each condition tested by bisection or on the run of samples
    its literal head allows. Cached (a bounded number of condition sets); the mapping is
    shared, do not change it."""
    grpc = atoms.grpc
    # sorted by their fields (read once: no two atoms of a set have the same fields)
    keyed = sorted(zip(map(_ATOM_ORDER, atoms.paths), atoms.paths, strict=True))
    table = _PATH_INFOS[grpc]
    infos = [table.get(key) or _path_info(atom, grpc) for key, atom in keyed]
    cover = _Cover([info.cond for info in infos], _PATH_DOMAIN, [info.info for info in infos])
    cover.add_all({"/", NOMATCH_PATH}.union(*(info.seeds for info in infos)), in_domain=True)
    cover.ensure_each()
    cover.ensure_pairs()
    extra, in_domain = _near_misses(infos, cover)
    cover.add_all(extra, in_domain=in_domain, unknown=True)
    return tuple(cover.samples), dict(zip(map(itemgetter(1), keyed), cover.masks, strict=True))


@lru_cache(maxsize=65536)
def _sample_near_misses(sample: str) -> tuple[tuple[str, ...], bool]:
    """:func:`_regex_variants` (cached: samples recur across Services), and whether all
    are in the path domain."""
    variants = tuple(_regex_variants(sample))
    return variants, all(map(_fullmatch(_PATH_DOMAIN, False), variants))


def _near_misses(infos: Sequence[_PathInfo], cover: _Cover) -> tuple[set[str], bool]:
    """The variants (:func:`_regex_variants`) of every sample a regex condition accepts,
    the condition's own variants included, that are not covering samples; and whether all
    are in the domain (some may lie outside).

    A condition is tested by :func:`_sample_test`, exact on strings without a line break:
    the samples have none (the domain holds none) and neither do their variants (no
    character's upper or lower case holds one: tested over all of Unicode)."""
    covered, known = cover.samples, cover.known  # a sample's bit in cover.masks is its index
    extra: set[str] = set()
    inside = True
    for info, mask in zip(infos, cover.masks, strict=True):
        if info.probe is not None:
            # the variants of every sample it accepts, so far
            hits = _members(covered, mask)
            hits += filter(info.probe, extra)
            for variants, all_inside in map(_sample_near_misses, hits):
                extra.update(variants)
                inside = inside and all_inside
            extra -= known
    return extra, inside


def _members(samples: Sequence[str], mask: int) -> list[str]:
    """The samples whose bits are set in ``mask``."""
    if not mask:
        return []
    low = (mask & -mask).bit_length() - 1
    return list(compress(samples[low:], map(int, bin(mask >> low)[:1:-1])))


# --------------------------------------------------------------------------- values


def _value_seeds(atom: HeaderAtom | QueryAtom) -> list[str]:
    value = atom.value
    if atom.kind == "exact":
        return [value, value.upper(), value.lower(), value + "x"]
    if atom.kind == "prefix":
        return [value, value + "x", "x" + value]
    if atom.kind == "suffix":
        return [value, "x" + value, value + "x"]
    return ["x"]


def value_samples(atoms: Iterable[HeaderAtom | QueryAtom]) -> list[str]:
    """Values for one header (or query parameter) name: each condition met and missed, and
    every pair of conditions told apart (sorted; "absent" is added by the caller)."""
    ordered = sorted(atoms, key=lambda a: (a.name, a.kind, a.value))
    conds = [_Cond(a.regex()) for a in ordered]
    seeds = [seed for atom in ordered for seed in _value_seeds(atom)]
    return sorted(_covered(conds, seeds, _VALUE_DOMAIN).samples)


def _by_name(atoms: Iterable[HeaderAtom] | Iterable[QueryAtom]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for atom in atoms:
        grouped.setdefault(atom.name, []).append(atom)
    return {name: grouped[name] for name in sorted(grouped)}


def _satisfying(atoms: list[Any], values: list[str]) -> list[str]:
    """For each condition on one name, the first sample that satisfies it."""
    out: dict[str, None] = {}
    for atom in sorted(atoms):
        hit = next((v for v in values if atom.matches(v)), None)
        if hit is not None:
            out[hit] = None
    return list(out)


# --------------------------------------------------------------------------- requests

_Pairs = tuple[tuple[str, str], ...]


class _Shape(NamedTuple):
    """A request without its Service and client namespace (a tuple: cheap to build, hash
    and sort, which matters at a thousand shapes per Service)."""

    path: str
    method: str
    headers: _Pairs = ()
    query: _Pairs = ()


def _methods(atoms: Atoms) -> tuple[list[str], str]:
    """Each named method plus one that no condition names; and the default method."""
    if atoms.grpc:
        return ["POST"], "POST"
    named = sorted(atoms.methods)
    unnamed = next((m for m in _UNNAMED_METHODS if m not in named), "MESHMIGRATE-OTHER")
    return [*named, unnamed], "GET"


def _all_at_once(options: dict[str, list[str]], satisfying: dict[str, list[str]]) -> list[_Pairs]:
    """Combinations with every name present: first with each name's first satisfying value,
    then, per name, once with each of its other satisfying values."""
    base = {name: vals[0] for name, vals in satisfying.items() if vals}
    if not base:
        return []
    combos = [tuple(sorted(base.items()))]
    for name, vals in satisfying.items():
        combos += [tuple(sorted({**base, name: v}.items())) for v in vals[1:]]
    return combos


def _shapes(paths: list[str], atoms: Atoms) -> set[_Shape]:
    methods, default = _methods(atoms)
    header_atoms, query_atoms = _by_name(atoms.headers), _by_name(atoms.queries)
    headers = {n: value_samples(a) for n, a in header_atoms.items()}
    queries = {n: value_samples(a) for n, a in query_atoms.items()}
    full_h = _all_at_once(headers, {n: _satisfying(header_atoms[n], v) for n, v in headers.items()})
    full_q = _all_at_once(queries, {n: _satisfying(query_atoms[n], v) for n, v in queries.items()})
    hosts = [(("host", h),) for h in sorted(atoms.hosts)]
    shapes: set[_Shape] = set()
    for path in paths:
        shapes.update(_Shape(path, m) for m in methods)
        shapes.update(_Shape(path, default, ((n, v),)) for n, vs in headers.items() for v in vs)
        shapes.update(_Shape(path, default, (), ((n, v),)) for n, vs in queries.items() for v in vs)
        shapes.update(_Shape(path, m, h, q) for m in methods
                      for h in full_h[:1] or [()] for q in full_q[:1] or [()])
        shapes.update(_Shape(path, default, h, full_q[0] if full_q else ()) for h in full_h[1:])
        shapes.update(_Shape(path, default, full_h[0] if full_h else (), q) for q in full_q[1:])
        shapes.update(_Shape(path, default, h) for h in hosts)
        shapes.update(_one_at_a_time(path, default, headers, queries, full_h, full_q))
    return shapes


def _one_at_a_time(path: str, method: str, headers: dict[str, list[str]],
                   queries: dict[str, list[str]], full_h: list[_Pairs],
                   full_q: list[_Pairs]) -> list[_Shape]:
    """From the request meeting every condition at once, each header and query parameter in
    turn with each of its other values and absent: a block of several conditions is then
    met but for one, whichever it is (the single variants above carry one name alone)."""
    base_h = dict(full_h[0]) if full_h else {}
    base_q = dict(full_q[0]) if full_q else {}
    out: list[_Shape] = []
    for name, values in headers.items():
        rest = {k: v for k, v in base_h.items() if k != name}
        query = tuple(sorted(base_q.items()))
        out.append(_Shape(path, method, tuple(sorted(rest.items())), query))
        out += [_Shape(path, method, tuple(sorted({**rest, name: v}.items())), query)
                for v in values]
    for name, values in queries.items():
        rest = {k: v for k, v in base_q.items() if k != name}
        pairs = tuple(sorted(base_h.items()))
        out.append(_Shape(path, method, pairs, tuple(sorted(rest.items()))))
        out += [_Shape(path, method, pairs, tuple(sorted({**rest, name: v}.items())))
                for v in values]
    return out


def _request(service: ServiceKey, shape: _Shape, namespace: str, grpc: bool) -> Request:
    headers = shape.headers
    if grpc and not any(name == "content-type" for name, _ in headers):
        headers = (*headers, _GRPC_CONTENT_TYPE)
    return Request(service=service, path=shape.path, method=shape.method, query=shape.query,
                   headers=headers, client_namespace=namespace,
                   protocol="grpc" if grpc else "http")


def _request_key(request: Request) -> tuple[Any, ...]:
    return (request.client_namespace, request.path, request.method, request.headers,
            request.query, request.protocol)


def witnesses(service: ServiceKey, atoms: Atoms,
              client_namespaces: Iterable[str]) -> list[Request]:
    """Requests to ``service`` that can tell apart any two rule sets built from ``atoms``
    (see the module docstring), once per client namespace (``service.namespace`` when none
    is given). Deterministic: sorted, no randomness."""
    namespaces = sorted(set(client_namespaces)) or [service.namespace]
    shapes = sorted(_shapes(path_samples(atoms), atoms))
    requests = [_request(service, shape, ns, atoms.grpc) for ns in namespaces for shape in shapes]
    # Without gRPC the requests are already in key order (namespaces outside, shapes inside);
    # the gRPC content-type header can reorder shapes that differ in their headers only.
    return sorted(requests, key=_request_key) if atoms.grpc else requests


def disagreeing(requests: Iterable[Request],
                left: Callable[[Request], bool], right: Callable[[Request], bool]) -> list[Request]:
    """The requests on which two predicates disagree (a helper for tests and diagnostics)."""
    return [r for r in requests if left(r) != right(r)]
