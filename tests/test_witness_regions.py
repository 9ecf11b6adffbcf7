"""Witness regions: the lazy product search, its shortcuts and the samples they produce.

The oracle is ``interegular``'s own full product construction (``&``, ``-``, ``empty()``),
which the witness module no longer uses for regions, and Python's ``re`` for membership.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from itertools import product
from typing import Any

import interegular
import pytest

from meshmigrate.semantics import witness
from meshmigrate.semantics.atoms import Atoms, HeaderAtom, PathAtom, split_global_flags
from meshmigrate.semantics.witness import path_samples, value_samples

PATH_DOMAIN = r"/[^?#\s]*"
VALUE_DOMAIN = r"[!-~](?:[ -~]*[!-~])?"

TRICKY_PATHS = [
    PathAtom("prefix", "/api"),
    PathAtom("prefix", "/api/"),
    PathAtom("segment_prefix", "/api"),
    PathAtom("segment_prefix", "/api/v1"),
    PathAtom("exact", "/api"),
    PathAtom("exact", "/api/v1/"),
    PathAtom("prefix", "/Api", ignore_case=True),
    PathAtom("segment_prefix", "/API/V1", ignore_case=True),
    PathAtom("regex", "/api/v[0-9]+"),
    PathAtom("regex", "(?i)/login"),
    PathAtom("exact", "/login"),
    PathAtom("regex", "/[^/]+"),
    PathAtom("regex", r"/\w+/.*"),
    PathAtom("regex", "/[a-z0-9-]+/details"),
    PathAtom("regex", "/api[^/].*"),
    PathAtom("regex", "/.*"),
    PathAtom("regex", "/api/v1", anchored="start"),
    PathAtom("regex", "/(a|b)*c"),
    PathAtom("regex", "/x|/api/x"),
]


@pytest.fixture(autouse=True)
def _unbudgeted_oracle(monkeypatch: pytest.MonkeyPatch) -> None:
    """The witness module counts every ``interegular`` construction against its budget;
    the oracle's full products must not be."""
    monkeypatch.setattr(interegular.fsm, "crawl", witness._real_crawl)


def _oracle_fsm(regex: str, ignore_case: bool, domain: str) -> Any:
    flags, body = split_global_flags(regex)
    flags += "i" if ignore_case and "i" not in flags else ""
    fsm = interegular.parse_pattern(f"(?{flags}){body}" if flags else body).to_fsm()
    return fsm & interegular.parse_pattern(domain).to_fsm()


def _nonempty(fsm: Any) -> bool:
    return not fsm.empty()


def _regions(a: PathAtom, b: PathAtom) -> list[tuple[str, Any, Callable[[str], bool]]]:
    fa = _oracle_fsm(a.regex(), a.ignore_case, PATH_DOMAIN)
    fb = _oracle_fsm(b.regex(), b.ignore_case, PATH_DOMAIN)
    return [("A-B", fa - fb, lambda p: a.matches(p) and not b.matches(p)),
            ("B-A", fb - fa, lambda p: b.matches(p) and not a.matches(p)),
            ("AB", fa & fb, lambda p: a.matches(p) and b.matches(p))]


PAIRS = [(a, b) for i, a in enumerate(TRICKY_PATHS) for b in TRICKY_PATHS[i + 1:]]


@pytest.mark.parametrize(("a", "b"), PAIRS, ids=lambda atom: f"{atom.kind}:{atom.value}")
def test_each_nonempty_region_of_a_pair_has_a_sample(a: PathAtom, b: PathAtom) -> None:
    alone = path_samples(Atoms(paths=frozenset({a, b})))
    together = path_samples(Atoms(paths=frozenset(TRICKY_PATHS)))
    for name, region, member in _regions(a, b):
        if _nonempty(region):
            assert any(member(p) for p in alone), (name, alone)
            assert any(member(p) for p in together), name


VALUE_ATOMS = [
    HeaderAtom("x", "prefix", "v1"),
    HeaderAtom("x", "regex", "v1|v2"),
    HeaderAtom("x", "suffix", "-x"),
    HeaderAtom("x", "exact", "a-x"),
    HeaderAtom("x", "present"),
    HeaderAtom("x", "regex", "[0-9]+"),
    HeaderAtom("x", "regex", r"\d{3}"),
    HeaderAtom("x", "prefix", "1"),
]


@pytest.mark.parametrize(("a", "b"), [(a, b) for i, a in enumerate(VALUE_ATOMS)
                                      for b in VALUE_ATOMS[i + 1:]],
                         ids=lambda atom: f"{atom.kind}:{atom.value}")
def test_each_nonempty_value_region_has_a_sample(a: HeaderAtom, b: HeaderAtom) -> None:
    samples = value_samples([a, b])
    fa = _oracle_fsm(a.regex(), False, VALUE_DOMAIN)
    fb = _oracle_fsm(b.regex(), False, VALUE_DOMAIN)
    regions: list[tuple[Any, Callable[[str], bool]]] = [
        (fa - fb, lambda v: a.matches(v) and not b.matches(v)),
        (fb - fa, lambda v: b.matches(v) and not a.matches(v)),
        (fa & fb, lambda v: a.matches(v) and b.matches(v))]
    for region, member in regions:
        if _nonempty(region):
            assert any(member(v) for v in samples)


# --------------------------------------------------------------------------- _region itself

CONDS = [witness._Cond(a.regex(), a.ignore_case) for a in TRICKY_PATHS]


def _shorter_than(n: int) -> Any:
    return interegular.parse_pattern(f".{{0,{n - 1}}}").to_fsm() if n else None


@pytest.mark.parametrize("mode", ["both", "diff"])
def test_region_is_the_shortest_member_or_none_when_empty(mode: str) -> None:
    for a, b in product(CONDS, CONDS):
        got = witness._region(a, b, mode, PATH_DOMAIN)
        fa = _oracle_fsm(a.regex, a.ignore_case, PATH_DOMAIN)
        fb = _oracle_fsm(b.regex, b.ignore_case, PATH_DOMAIN)
        region = fa & fb if mode == "both" else fa - fb
        if got is None:
            assert region.empty(), (a, b, mode)
            continue
        assert region.accepts(got), (a, b, mode, got)
        shorter = _shorter_than(len(got))
        assert shorter is None or (region & shorter).empty(), (a, b, mode, got)


def test_string_shortcuts_agree_with_the_automata() -> None:
    decided = 0
    for a, b, mode in product(CONDS, CONDS, ("both", "diff")):
        answer = witness._decided(a, b, mode, PATH_DOMAIN)
        if answer is not None:
            decided += 1
            assert answer[0] == witness._automaton_region(a, b, mode, PATH_DOMAIN), (a, b, mode)
    assert decided > len(CONDS)  # the shortcuts do apply


def test_ties_go_to_the_preferred_characters() -> None:
    cond = witness._Cond("/[a-z0-9-]+/details")
    assert witness._region(cond, None, "both", PATH_DOMAIN) == "/x/details"
    seg, pre = witness._Cond("/api(?:/.*)?"), witness._Cond("/api.*")
    assert witness._region(pre, seg, "diff", PATH_DOMAIN) == "/apix"


def test_search_gives_up_past_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = witness._Cond("/[a-z]+/x/[0-9]+"), witness._Cond("/[a-y]+/x/.*")
    search = witness._automaton_region.__wrapped__  # not the cached answer
    assert search(a, b, "both", PATH_DOMAIN) == "/x/x/0"
    monkeypatch.setattr(witness, "AUTOMATON_BUDGET", 10)
    assert search(a, b, "both", PATH_DOMAIN) is None


@pytest.mark.parametrize("regex", [re.escape(v) + tail
                                   for v in ("/", "/api", "/a.b", "/k-s", "/a\\b", "")
                                   for tail in ("", ".*", "(?:/.*)?", "(/.*)?", "[^/].*")])
@pytest.mark.parametrize("ignore_case", [False, True])
def test_literal_automata_match_like_the_general_ones(regex: str, ignore_case: bool) -> None:
    """Built directly, they accept what ``re`` does on ASCII text and what the
    ``interegular`` automaton does on any text (for ``re`` also ``K`` is ``k``)."""
    assert witness._literal(regex) is not None
    dfa = witness._dfa(regex, ignore_case)
    general = witness._Dfa.of(witness._fsm(regex, ignore_case))
    assert dfa is not None
    cond = witness._Cond(regex, ignore_case)
    chars = ["a", "A", "k", "s", "/", ".", "\\", "\n", "-", "b", "\u212a", "\u0130", "\u00e9"]
    for n in range(5):
        for text in map("".join, product(chars, repeat=n)):
            assert dfa.accepts(text) == general.accepts(text), (regex, ignore_case, text)
            if text.isascii():
                assert dfa.accepts(text) == cond.test(text), (regex, ignore_case, text)


@pytest.mark.parametrize(("regex", "head"), [
    ("/api/v[0-9]+", "/api/v"), ("/ab?c", "/a"), ("/a+b", "/a"), ("/ab*", "/a"),
    ("/a{2}", "/"), ("/x|/y", ""), ("/(x|y)", "/"), ("/[|]x", "/"), (r"/a\|b", "/a|b"),
    (r"/a\\|b", ""), ("/[]|]", "/"), ("^/api$", "/api"), ("(?i)/api", ""),
    (r"/a\.b\d", "/a.b"), ("/login[^/].*", "/login"),
])
def test_literal_heads(regex: str, head: str) -> None:
    assert witness._head(regex) == head


def test_samples_do_not_depend_on_the_hash_seed() -> None:
    code = ("from meshmigrate.semantics.atoms import Atoms, PathAtom\n"
            "from meshmigrate.semantics.witness import path_samples\n"
            "print(path_samples(Atoms(paths=frozenset({"
            "PathAtom('regex', '/feeds/[a-z0-9-]+/details'), PathAtom('prefix', '/feeds/c'),"
            "PathAtom('segment_prefix', '/feeds')}))))\n")
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True, env={"PYTHONHASHSEED": seed}).stdout
               for seed in ("0", "1", "2", "3")}
    assert len(outputs) == 1


SIMPLE_REGEXES = ["/sessions/[0-9]+", "/v[0-9]/tokens/.*", "/a/[a-z0-9-]+/details", "/x/[^/]+",
                  "/a/b?c*", r"/a\.b", "/a[^/]*x", "/[ab]*a[ab]", "/a+b+", "/a?", "/[-a]",
                  "/[a-]x", r"/[\]]", r"/[\--/]", "/a.b", "/.*x.*", "/[^a-c]?[a-c]+",
                  "^/api$", "/[!-~]+", "/\u00e9[\u00e9-\u00eb]", "/a*a*a*", "/[0-9]?[0-9]?",
                  "x", "/[a-c][b-d][c-e]", r"/\$", r"/\/+", "/[.]", "/[*+?]+", "/[a^]"]


@pytest.mark.parametrize("regex", SIMPLE_REGEXES)
def test_simple_automata_are_the_general_ones(regex: str, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    """Built by subset construction, they accept what the ``interegular`` automaton accepts
    and name the same characters, grouped under transition keys the same way (so region
    searches see the same classes of characters and give the same answers)."""
    simple = witness._simple_dfa(regex)
    general = witness._Dfa.of(witness._fsm(regex, False))
    assert simple is not None
    with monkeypatch.context() as patch:  # the library is not asked
        patch.setattr(witness, "_fsm", None)
        assert witness._dfa.__wrapped__(regex, False) is not None

    def groups(dfa: Any) -> list[list[str]]:
        return sorted(sorted(c for c in dfa.keys if dfa.keys[c] == k)
                      for k in set(dfa.keys.values()))

    assert groups(simple) == groups(general)
    chars = sorted({*general.keys, "x", "\n", "Z"})[:10]
    for n in range(5):
        for text in map("".join, product(chars, repeat=n)):
            assert simple.accepts(text) == general.accepts(text), (regex, text)
            if "\n" not in text:
                assert simple.accepts(text) == (re.fullmatch(regex, text) is not None), text


@pytest.mark.parametrize("regex", ["/(a|b)", "/a|b", "/a{2}", r"/\d+", "/a*?", "/a++", "(?i)/a",
                                   "/[[a]", "/[a--b]", "/[a&&b]", "/[]a]", "/[b-a]", "/[a",
                                   r"/a\b", "/a b", "/a#", "/a\n", "/[a-\U0001f600]",
                                   "/" + "a" * 60])
def test_other_regexes_are_left_to_the_library(regex: str) -> None:
    assert witness._simple_dfa(regex) is None


def test_a_large_simple_automaton_is_left_to_the_library() -> None:
    """Past the state bound the subset construction gives up (``interegular`` and its
    budget decide)."""
    assert witness._simple_dfa("/[ab]*a" + "[ab]" * 8) is None
    assert witness._simple_dfa("/[ab]*a" + "[ab]" * 3) is not None
