"""Witness requests: a small, deterministic set of requests that can tell two configs apart.

Given the union of the match conditions (:class:`~meshmigrate.semantics.atoms.Atoms`) that the
source and the target use for one Service port, :func:`witnesses` builds requests such that:

- for every condition there is a request that satisfies it and, where possible, one that does
  not (a path, a header/query value present with another value, the header/query absent);
- for every **pair** of conditions on the same thing (two path conditions, two conditions on
  the same header or query parameter) there is a request in each non-empty region of the pair:
  A and not B, B and not A, A and B. So any two conditions that can disagree get a witness
  on which they do (e.g. string prefix ``/api`` vs segment prefix ``/api`` → ``/apix``);
- paths are crossed with methods, with each single header/query variant, and with all
  conditions satisfied at once (a covering design, not the full cross product), so the
  count grows with the conditions of one Service port, never with the mesh.

Regions of regular languages are computed exactly with finite automata from ``interegular``
(a Python-``re``-syntax regex → DFA library with intersection, difference and complement),
and the shortest string of a region is found by a breadth-first search over DFA *states*
(``interegular``'s own ``strings()`` enumerates every string and explodes on wide classes).
Literal conditions are handled first by cheap textual variants; a pair needs automata only
when those variants do not already cover all three regions. Regexes the library cannot parse
(lookbehind, ``\\b``, RE2-only classes) fall back to the textual variants.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations
from typing import Any

import interegular
from interegular.fsm import anything_else

from meshmigrate.semantics.atoms import Atoms, HeaderAtom, PathAtom, QueryAtom, split_global_flags
from meshmigrate.semantics.outcome import Request, ServiceKey

__all__ = ["NOMATCH_PATH", "disagreeing", "path_samples", "value_samples", "witnesses"]

# Paths start with "/" and hold no query, fragment or whitespace.
_PATH_DOMAIN = r"/[^?#\s]*"
# Header and query values: printable ASCII, no leading or trailing blanks (RFC 9110 §5.5).
_VALUE_DOMAIN = r"[!-~](?:[ -~]*[!-~])?"
NOMATCH_PATH = "/meshmigrate-witness-nomatch"
_UNNAMED_METHODS = ("GET", "PATCH", "POST", "PUT", "DELETE", "HEAD", "OPTIONS")
_GRPC_CONTENT_TYPE = ("content-type", "application/grpc")
_FILLER = "xzqk0_~-9ZXQ"  # preferred characters for "any other character" transitions
_MAX_REGEX = 512  # longer patterns are sampled textually only


# --------------------------------------------------------------------------- conditions


@dataclass(frozen=True, slots=True)
class _Cond:
    """A condition as a full-match regex over one string (path or value)."""

    regex: str
    ignore_case: bool = False

    def test(self, text: str) -> bool:
        compiled = _compiled(self.regex, self.ignore_case)
        return compiled is not None and compiled.fullmatch(text) is not None


@lru_cache(maxsize=4096)
def _compiled(regex: str, ignore_case: bool) -> re.Pattern[str] | None:
    try:
        return re.compile(regex, re.IGNORECASE if ignore_case else 0)
    except re.error:
        return None


#: Work budget (automaton transitions explored) for one automaton operation. RE2-style
#: regexes such as ``(a|b)*a(a|b){20}`` match in linear time but have a DFA of 2^20
#: states; past the budget the operation gives up (deterministically) and the textual
#: samples stand in for the exact regions.
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


@lru_cache(maxsize=2048)
def _fsm(regex: str, ignore_case: bool) -> Any:
    """The DFA of a full-match regex, or None if ``interegular`` cannot build it."""
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


@lru_cache(maxsize=2048)
def _in_domain(regex: str, ignore_case: bool, domain: str) -> Any:
    fsm, dom = _fsm(regex, ignore_case), _fsm(domain, False)
    return None if fsm is None or dom is None else _within_budget(lambda: fsm & dom)


def _shortest(fsm: Any) -> str | None:
    """The shortest accepted string (BFS over states, one character per transition)."""
    alphabet = fsm.alphabet
    explicit = {c for c in alphabet if c is not anything_else}
    seen: dict[Any, str] = {fsm.initial: ""}
    queue = deque([fsm.initial])
    chars: dict[Any, str | None] = {}  # transition key -> its representative character
    while queue:
        state = queue.popleft()
        if state in fsm.finals:
            return seen[state]
        for key, target in sorted(fsm.map.get(state, {}).items()):
            if target in seen:
                continue
            if key not in chars:
                chars[key] = _representative(alphabet.by_transition[key], explicit)
            char = chars[key]
            if char is not None:
                seen[target] = seen[state] + char
                queue.append(target)
    return None


def _representative(symbols: Sequence[Any], explicit: set[str]) -> str | None:
    """A readable character for one DFA transition."""
    chars: list[str] = sorted(str(c) for c in symbols if c is not anything_else)
    for char in _FILLER:
        if char in chars:
            return char
    printable = [c for c in chars if c.isprintable() and not c.isspace()]
    if printable or chars:
        return (printable or chars)[0]
    others = [c for c in _FILLER + "".join(map(chr, range(33, 127))) if c not in explicit]
    return others[0] if others else None


def _region(a: _Cond, b: _Cond | None, mode: str, domain: str) -> str | None:
    """Shortest string in A∖B (``mode="diff"``), A∩B (``"both"``), or A / domain∖A when
    ``b`` is None (``"both"`` / ``"diff"``)."""
    fa = _in_domain(a.regex, a.ignore_case, domain)
    if fa is None:
        return None
    if b is None:
        whole = _fsm(domain, False)
        region = fa if mode == "both" else _within_budget(lambda: whole - fa)
        return None if region is None else _shortest(region)
    fb = _in_domain(b.regex, b.ignore_case, domain)
    if fb is None:
        return None
    region = _within_budget(lambda: fa & fb if mode == "both" else fa - fb)
    return None if region is None else _shortest(region)


# --------------------------------------------------------------------------- covering


class _Cover:
    """Samples plus, per condition, a bitmask of the samples it accepts."""

    def __init__(self, conds: Sequence[_Cond], domain: str) -> None:
        self.conds = conds
        self.domain = domain
        self.samples: dict[str, None] = {}
        self.masks = [0] * len(conds)

    def add(self, sample: str | None) -> None:
        if sample is None or sample in self.samples:
            return
        if not _Cond(self.domain).test(sample):
            return
        bit = 1 << len(self.samples)
        self.samples[sample] = None
        for i, cond in enumerate(self.conds):
            if cond.test(sample):
                self.masks[i] |= bit

    def full(self) -> int:
        return (1 << len(self.samples)) - 1

    def ensure_each(self) -> None:
        """Every condition gets an accepted and (if one exists) a rejected sample."""
        for i, cond in enumerate(self.conds):
            if not self.masks[i]:
                self.add(_region(cond, None, "both", self.domain))
            if not self.full() & ~self.masks[i]:
                self.add(_region(cond, None, "diff", self.domain))

    def ensure_pairs(self) -> None:
        """Every pair gets a sample in each non-empty region (A∖B, B∖A, A∩B)."""
        for i, j in combinations(range(len(self.conds)), 2):
            a, b = self.conds[i], self.conds[j]
            if not self.masks[i] & ~self.masks[j]:
                self.add(_region(a, b, "diff", self.domain))
            if not self.masks[j] & ~self.masks[i]:
                self.add(_region(b, a, "diff", self.domain))
            if not self.masks[i] & self.masks[j]:
                self.add(_region(a, b, "both", self.domain))


def _covered(conds: Sequence[_Cond], seeds: Iterable[str], domain: str) -> list[str]:
    cover = _Cover(conds, domain)
    for seed in seeds:
        cover.add(seed)
    cover.ensure_each()
    cover.ensure_pairs()
    return list(cover.samples)


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


def path_samples(atoms: Atoms) -> list[str]:
    """Paths that exercise every path condition and every pair of them (sorted)."""
    ordered = sorted(atoms.paths)
    conds = [_Cond(a.regex(), a.ignore_case) for a in ordered]
    seeds: list[str] = ["/", NOMATCH_PATH]
    for atom in ordered:
        if atom.kind != "regex":
            seeds += _path_variants(atom)
            seeds += _grpc_variants(atom.value) if atoms.grpc else []
    samples = _covered(conds, seeds, _PATH_DOMAIN)
    for atom, cond in zip(ordered, conds, strict=True):
        if atom.kind == "regex":
            samples += [v for s in samples if cond.test(s) for v in _regex_variants(s)]
    return sorted({s for s in samples if _Cond(_PATH_DOMAIN).test(s)})


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
    return sorted(_covered(conds, seeds, _VALUE_DOMAIN))


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


@dataclass(frozen=True, slots=True, order=True)
class _Shape:
    path: str
    method: str
    headers: _Pairs = ()
    query: _Pairs = ()


def _methods(atoms: Atoms) -> tuple[list[str], str]:
    """Each named method plus one that no condition names; and the default method."""
    if atoms.grpc:
        return ["POST"], "POST"
    named = sorted(atoms.methods)
    unnamed = next((m for m in _UNNAMED_METHODS if m not in named), "GET")
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
    return shapes


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
    return sorted(requests, key=_request_key)


def disagreeing(requests: Iterable[Request],
                left: Callable[[Request], bool], right: Callable[[Request], bool]) -> list[Request]:
    """The requests on which two predicates disagree (a helper for tests and diagnostics)."""
    return [r for r in requests if left(r) != right(r)]
