"""Witness requests: pairs of conditions that can disagree must get a request that shows it."""

from __future__ import annotations

import sys
from itertools import product
from typing import Any

import pytest

from meshmigrate.semantics import witness
from meshmigrate.semantics.atoms import Atoms, HeaderAtom, PathAtom, QueryAtom
from meshmigrate.semantics.gateway import GatewayEvaluator
from meshmigrate.semantics.outcome import Request, ServiceKey
from meshmigrate.semantics.witness import (
    NOMATCH_PATH,
    disagreeing,
    path_sample_masks,
    path_samples,
    value_samples,
    witnesses,
)

SVC = ServiceKey("shop", "cart", 8080)


def paths_of(*atoms: PathAtom) -> list[Request]:
    return witnesses(SVC, Atoms(paths=frozenset(atoms)), ["shop"])


def path_disagreements(a: PathAtom, b: PathAtom) -> list[str]:
    found = disagreeing(paths_of(a, b), lambda r: a.matches(r.path), lambda r: b.matches(r.path))
    return sorted({r.path for r in found})


# --------------------------------------------------------------------------- named pairs


def test_string_prefix_vs_segment_prefix() -> None:
    string, segment = PathAtom("prefix", "/api"), PathAtom("segment_prefix", "/api")
    diff = path_disagreements(string, segment)
    assert diff and all(string.matches(p) and not segment.matches(p) for p in diff)
    assert "/apix" in diff


def test_trailing_slash_string_prefix_vs_segment_prefix() -> None:
    # Istio prefix "/api/" does not match "/api"; Gateway API PathPrefix "/api" does.
    string, segment = PathAtom("prefix", "/api/"), PathAtom("segment_prefix", "/api")
    assert "/api" in path_disagreements(string, segment)


def test_segment_prefix_with_and_without_trailing_slash_are_the_same() -> None:
    a, b = PathAtom("segment_prefix", "/api/"), PathAtom("segment_prefix", "/api")
    assert path_disagreements(a, b) == []
    assert {"/api", "/api/", "/api/x"} <= {r.path for r in paths_of(a, b)}


def test_exact_with_and_without_trailing_slash() -> None:
    assert path_disagreements(PathAtom("exact", "/api/"), PathAtom("exact", "/api")) == [
        "/api", "/api/"]


def test_regex_vs_exact() -> None:
    regex, exact = PathAtom("regex", "/api/v[0-9]+"), PathAtom("exact", "/api/v1")
    diff = path_disagreements(regex, exact)
    assert any(regex.matches(p) and not exact.matches(p) for p in diff)


def test_regex_vs_segment_prefix_both_directions() -> None:
    regex, segment = PathAtom("regex", "/api/.*"), PathAtom("segment_prefix", "/api")
    diff = path_disagreements(regex, segment)
    assert "/api" in diff  # PathPrefix matches it, the regex does not
    assert all(segment.matches(p) for p in diff)


def test_start_anchored_regex_vs_full_match() -> None:
    start, full = PathAtom("regex", "/v[0-9]", anchored="start"), PathAtom("regex", "/v[0-9]")
    diff = path_disagreements(start, full)
    assert diff and all(start.matches(p) and not full.matches(p) for p in diff)


def test_case_insensitive_vs_sensitive_prefix() -> None:
    ci, cs = PathAtom("prefix", "/Api", ignore_case=True), PathAtom("prefix", "/Api")
    diff = path_disagreements(ci, cs)
    assert diff and all(ci.matches(p) and not cs.matches(p) for p in diff)


def test_regex_with_inline_case_flag_vs_exact() -> None:
    regex, exact = PathAtom("regex", "(?i)/login"), PathAtom("exact", "/login")
    assert any(p != "/login" and regex.matches(p) for p in path_disagreements(regex, exact))


def test_header_present_vs_exact() -> None:
    present, exact = HeaderAtom("x-user", "present"), HeaderAtom("x-user", "exact", "admin")
    reqs = witnesses(SVC, Atoms(headers=frozenset({present, exact})), ["shop"])
    diff = disagreeing(reqs, lambda r: present.matches(r.header("x-user")),
                       lambda r: exact.matches(r.header("x-user")))
    assert diff and all(r.header("x-user") not in (None, "admin") for r in diff)
    assert any(r.header("x-user") is None for r in reqs)  # absent is tried too


def test_header_prefix_vs_regex_values() -> None:
    a, b = HeaderAtom("x-v", "prefix", "v1"), HeaderAtom("x-v", "regex", "v1|v2")
    values = value_samples([a, b])
    assert any(a.matches(v) and not b.matches(v) for v in values)
    assert any(b.matches(v) and not a.matches(v) for v in values)
    assert any(a.matches(v) and b.matches(v) for v in values)


def test_query_exact_vs_regex() -> None:
    a, b = QueryAtom("page", "exact", "1"), QueryAtom("page", "regex", "[0-9]+")
    reqs = witnesses(SVC, Atoms(queries=frozenset({a, b})), [])
    assert disagreeing(reqs, lambda r: a.matches(r.query_param("page")),
                       lambda r: b.matches(r.query_param("page")))
    assert any(r.query_param("page") is None for r in reqs)


# --------------------------------------------------------------------------- exhaustive pairs

ATOMS = [
    PathAtom("exact", "/api"),
    PathAtom("exact", "/api/"),
    PathAtom("prefix", "/api"),
    PathAtom("prefix", "/api/"),
    PathAtom("prefix", "/API", ignore_case=True),
    PathAtom("segment_prefix", "/api"),
    PathAtom("segment_prefix", "/api/v1"),
    PathAtom("segment_prefix", "/"),
    PathAtom("regex", "/api/v[0-9]+(/.*)?"),
    PathAtom("regex", "/ap.*"),
    PathAtom("regex", "/api/v1", anchored="start"),
]
SEGMENTS = ["", "api", "API", "apix", "ap", "v1", "v12", "v1x", "x"]
POOL = sorted({"/" + "/".join(p) + tail for n in range(1, 4)
               for p in product(SEGMENTS, repeat=n) for tail in ("", "/")})


@pytest.mark.parametrize(("a", "b"), [(a, b) for i, a in enumerate(ATOMS) for b in ATOMS[i + 1:]],
                         ids=lambda atom: f"{atom.kind}:{atom.value}")
def test_every_region_of_every_pair_has_a_witness(a: PathAtom, b: PathAtom) -> None:
    samples = path_samples(Atoms(paths=frozenset(ATOMS)))
    for region in (lambda p: a.matches(p) and not b.matches(p),
                   lambda p: b.matches(p) and not a.matches(p),
                   lambda p: a.matches(p) and b.matches(p)):
        if any(region(p) for p in POOL):
            assert any(region(p) for p in samples)


# --------------------------------------------------------------------------- request shapes


def test_methods_named_and_one_unnamed() -> None:
    reqs = witnesses(SVC, Atoms(methods=frozenset({"GET", "POST"})), ["shop"])
    assert {r.method for r in reqs} == {"GET", "POST", "PATCH"}


def test_every_path_sample_with_each_method() -> None:
    reqs = witnesses(SVC, Atoms(paths=frozenset({PathAtom("exact", "/a")}),
                                methods=frozenset({"DELETE"})), [])
    by_path: dict[str, set[str]] = {}
    for r in reqs:
        by_path.setdefault(r.path, set()).add(r.method)
    assert all(methods == {"DELETE", "GET"} for methods in by_path.values())


def test_root_and_nomatch_paths_always_present() -> None:
    paths = {r.path for r in paths_of(PathAtom("exact", "/a"))}
    assert {"/", NOMATCH_PATH, "/a", "/a/", "/ax", "/A"} <= paths


def test_all_header_conditions_at_once_and_singly() -> None:
    a, b = HeaderAtom("x-a", "exact", "1"), HeaderAtom("x-b", "exact", "2")
    reqs = witnesses(SVC, Atoms(headers=frozenset({a, b})), [])
    both = [r for r in reqs if a.matches(r.header("x-a")) and b.matches(r.header("x-b"))]
    only_a = [r for r in reqs if a.matches(r.header("x-a")) and r.header("x-b") is None]
    assert both and only_a


def test_host_atoms_become_host_headers() -> None:
    reqs = witnesses(SVC, Atoms(hosts=frozenset({"cart.shop.svc.cluster.local"})), [])
    assert any(r.host == "cart.shop.svc.cluster.local" for r in reqs)
    assert any(r.host == "cart" for r in reqs)


def test_grpc_requests() -> None:
    reqs = witnesses(SVC, Atoms(paths=frozenset({PathAtom("exact", "/pkg.Svc/Get")}),
                                grpc=True), ["shop"])
    assert all(r.protocol == "grpc" and r.method == "POST" for r in reqs)
    assert all(r.header("content-type") == "application/grpc" for r in reqs)
    assert {"/pkg.Svc/Get", "/pkg.Svc/Xother", "/x.Other/Get"} <= {r.path for r in reqs}


def test_each_client_namespace_gets_the_same_requests() -> None:
    atoms = Atoms(paths=frozenset({PathAtom("exact", "/a")}))
    reqs = witnesses(SVC, atoms, ["b", "a", "a"])
    per_ns = {ns: [r.path for r in reqs if r.client_namespace == ns] for ns in ("a", "b")}
    assert per_ns["a"] == per_ns["b"] and per_ns["a"]
    assert {r.client_namespace for r in witnesses(SVC, atoms, [])} == {"shop"}


def test_deterministic_and_sorted() -> None:
    atoms = Atoms(paths=frozenset(ATOMS), headers=frozenset({HeaderAtom("x", "regex", "a+")}))
    first, second = witnesses(SVC, atoms, ["shop"]), witnesses(SVC, atoms, ["shop"])
    assert first == second
    assert len(first) == len(set(first))


def test_unsupported_regex_falls_back_without_error() -> None:
    atom = PathAtom("regex", r"/(?<=/)api\b")
    assert NOMATCH_PATH in {r.path for r in paths_of(atom)}


def test_size_grows_with_conditions_not_their_product() -> None:
    paths = frozenset(PathAtom("segment_prefix", f"/p{i}") for i in range(10))
    headers = frozenset(HeaderAtom(f"x-{i}", "exact", "1") for i in range(8))
    reqs = witnesses(SVC, Atoms(paths=paths, headers=headers, methods=frozenset({"GET"})), [])
    full_cross = len({r.path for r in reqs}) * 3 ** len(headers) * 2
    assert len(reqs) < full_cross / 50


# --------------------------------------------------------------------------- with the evaluator


def _route(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "r", "namespace": "shop"},
            "spec": {"parentRefs": [{"group": "", "kind": "Service", "name": "cart",
                                     "port": 8080}],
                     "rules": [{**r, "backendRefs": [{"name": f"b{i}", "port": 8080}]}
                               for i, r in enumerate(rules)]}}


def test_witnesses_reach_every_reachable_rule() -> None:
    ev = GatewayEvaluator([_route(
        {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}]},
        {"matches": [{"path": {"type": "PathPrefix", "value": "/api"}}]},
        {"matches": [{"path": {"type": "Exact", "value": "/api/v1"}}]},
        {"matches": [{"path": {"type": "PathPrefix", "value": "/api"}, "method": "POST"}]},
        {"matches": [{"path": {"type": "PathPrefix", "value": "/api"},
                      "headers": [{"name": "x-canary", "value": "yes"}]}]},
        {"matches": [{"path": {"type": "PathPrefix", "value": "/api"},
                      "queryParams": [{"name": "debug", "value": "1"}]}]},
    )])
    atoms = ev.atoms(SVC)
    hit = {ev.evaluate(r).rule for r in witnesses(SVC, atoms, ["shop"])}
    assert hit == {f"shop/r#{i}" for i in range(6)}


@pytest.mark.parametrize("catch_all", ["/.*", ".*", "^/.*$", "(?i).*"])
def test_a_regex_accepting_every_path_adds_no_near_misses(catch_all: str) -> None:
    """Near misses probe a regex's boundary; one that accepts every path has none, and
    varying every sample it accepts would multiply the samples by seven."""
    literals = {PathAtom("exact", "/a"), PathAtom("prefix", "/b/"), PathAtom("regex", "/c/[0-9]+")}
    alone = path_samples(Atoms(paths=frozenset(literals)))
    both = path_samples(Atoms(paths=frozenset({*literals, PathAtom("regex", catch_all)})))
    assert set(alone) <= set(both) and len(both) <= len(alone) + 2
    narrower = path_samples(Atoms(paths=frozenset({*literals, PathAtom("regex", "/.+")})))
    assert len(narrower) > len(both)  # "/" is outside "/.+": its boundary is probed


# --------------------------------------------------------------------------- masks

MASK_ATOMS = [
    PathAtom("exact", "/a"), PathAtom("prefix", "/a"), PathAtom("prefix", "/"),
    PathAtom("prefix", ""), PathAtom("segment_prefix", "/a"), PathAtom("segment_prefix", "/a/"),
    PathAtom("segment_prefix", "/"), PathAtom("exact", "/A", ignore_case=True),
    PathAtom("regex", "/a/[0-9]+"), PathAtom("regex", "/a", anchored="start"),
    PathAtom("regex", "(unclosed"), PathAtom("regex", "/a[^/].*"), PathAtom("regex", "/a(/.*)?"),
    PathAtom("regex", "/a"), PathAtom("prefix", "/a\U0010ffff"),
    PathAtom("segment_prefix", "/a\U0010ffff"), PathAtom("regex", "/a\U0010ffff[^/].*"),
    PathAtom("prefix", "/A", ignore_case=True), PathAtom("regex", "(?i)/a.*")]
MASK_SAMPLES = ["/", "/a", "/a/", "/ab", "/a/1", "/A", "/b", "/a/b/c", "//a", "/a1", "/a0",
                "/a\u017f", "/a/\U0010ffff", "/a\U0010ffffb", "/a\U0010ffff", "/a\U0010ffff/",
                "/a\U0010ffff/x", "/aa", "/a.", "/a/\u212a"]


@pytest.mark.parametrize("atom", MASK_ATOMS)
def test_cover_masks_agree_with_the_atom(atom: PathAtom) -> None:
    """Literal conditions are tested by bisection (a batch) or string comparison (one
    sample), never by the regex engine: both agree with :meth:`PathAtom.matches`."""
    cond = witness._Cond(atom.regex(), atom.ignore_case)
    batch, single = (witness._Cover([cond], witness._PATH_DOMAIN) for _ in range(2))
    batch.add_all(reversed(MASK_SAMPLES))
    for sample in MASK_SAMPLES:
        single.add(sample)
    for cover in (batch, single):
        samples, (mask,) = cover.sorted_masks()
        assert list(samples) == sorted(MASK_SAMPLES)
        for i, path in enumerate(samples):
            assert bool(mask >> i & 1) == atom.matches(path), path


@pytest.mark.parametrize("size", [2, 3, 5])
def test_sample_masks_are_the_samples_and_what_each_atom_accepts(size: int) -> None:
    for start in range(0, len(MASK_ATOMS), size):
        atoms = Atoms(paths=frozenset(MASK_ATOMS[start:start + size]), grpc=start % 2 == 1)
        samples, masks = path_sample_masks(atoms)
        assert list(samples) == path_samples(atoms) == sorted(set(samples))
        assert set(masks) == atoms.paths
        for atom, mask in masks.items():
            assert mask == sum(1 << i for i, p in enumerate(samples) if atom.matches(p)), atom


def _every_pair(cover: Any) -> None:
    """:meth:`_Cover.ensure_pairs` without its shortcuts: every unmet region asked for."""
    conds, masks, domain = cover.conds, cover.masks, cover.domain
    for i in range(len(conds)):
        for j in range(i + 1, len(conds)):
            a, b = conds[i], conds[j]
            if not masks[i] & ~masks[j]:
                cover.add(witness._region(a, b, "diff", domain))
            if not masks[j] & ~masks[i]:
                cover.add(witness._region(b, a, "diff", domain))
            if not masks[i] & masks[j]:
                cover.add(witness._region(a, b, "both", domain))


PAIR_ATOMS = [*MASK_ATOMS[:14], PathAtom("exact", "/b"), PathAtom("exact", "/a/1"),
              PathAtom("segment_prefix", "/b"), PathAtom("regex", "/b[^/].*"),
              PathAtom("prefix", "/b"), PathAtom("regex", "/.*"), PathAtom("exact", "/a b"),
              PathAtom("regex", "/[a-z]+/[0-9]+"), PathAtom("regex", "(?i)/B(/.*)?")]


def test_pair_shortcuts_change_no_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    """The regions ensure_pairs settles by string reasoning would add nothing."""
    sets = [frozenset(PAIR_ATOMS[i::k]) for k in (1, 2, 3, 5) for i in range(k)]
    fast = [path_samples(Atoms(paths=paths)) for paths in sets]
    values = [value_samples(list(HEADER_SETS)[:k]) for k in range(1, len(HEADER_SETS) + 1)]
    witness.path_sample_masks.cache_clear()
    monkeypatch.setattr(witness._Cover, "ensure_pairs", _every_pair)
    assert fast == [path_samples(Atoms(paths=paths)) for paths in sets]
    assert values == [value_samples(list(HEADER_SETS)[:k])
                      for k in range(1, len(HEADER_SETS) + 1)]
    witness.path_sample_masks.cache_clear()


HEADER_SETS = [HeaderAtom("x", "exact", "a"), HeaderAtom("x", "prefix", "a"),
               HeaderAtom("x", "exact", "ab"), HeaderAtom("x", "suffix", "b"),
               HeaderAtom("x", "regex", "a[0-9]"), HeaderAtom("x", "present"),
               HeaderAtom("x", "exact", "b")]


# Conditions with heads of three or more characters fall in families (witness._family):
# pairs across families are skipped by ensure_pairs once each has a sample and none is shared.
FAMILY_ATOMS = [PathAtom("prefix", "/api"), PathAtom("segment_prefix", "/api"),
                PathAtom("regex", "/api[^/].*"), PathAtom("exact", "/apib"),
                PathAtom("regex", "/api/[0-9]+"), PathAtom("prefix", "/apx"),
                PathAtom("prefix", "/AUTH", ignore_case=True), PathAtom("exact", "/auth"),
                PathAtom("regex", "/au(th)?"), PathAtom("regex", "(unclosed"),
                PathAtom("regex", "/.*"), PathAtom("segment_prefix", "/"),
                PathAtom("exact", "/b"), PathAtom("regex", "/b.*/x"),
                PathAtom("segment_prefix", "/bcd/"), PathAtom("regex", "/bc[^/].*"),
                PathAtom("exact", "/\u00e9t\u00e9"), PathAtom("prefix", "/\u00e9t")]


def test_family_and_mask_shortcuts_change_no_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skipping pairs by family or by their masks gives what visiting every pair gives."""
    sets = [frozenset(FAMILY_ATOMS[i::k]) for k in (1, 2, 3, 4, 7) for i in range(k)]
    sets += [frozenset(FAMILY_ATOMS[:k]) for k in range(2, len(FAMILY_ATOMS))]
    fast = [path_sample_masks(Atoms(paths=paths)) for paths in sets]
    witness.path_sample_masks.cache_clear()
    monkeypatch.setattr(witness._Cover, "ensure_pairs", _every_pair)
    assert fast == [path_sample_masks(Atoms(paths=paths)) for paths in sets]
    witness.path_sample_masks.cache_clear()


def test_different_families_are_disjoint_by_their_heads() -> None:
    conds = [witness._Cond(a.regex(), a.ignore_case) for a in [*FAMILY_ATOMS, *PAIR_ATOMS]]
    infos = [witness._cond_info(cond) for cond in conds]
    for a, b in product(infos, infos):
        if a.family is not None and b.family is not None and a.family != b.family:
            assert not witness._heads_related(a.facts, b.facts), (a.facts, b.facts)


LITERAL_SAMPLES = sorted({"/", "/a", "/a/", "/a0", "/a/b", "/ab", "/a.", "/b", "/a\U0010ffff",
                          "/a\U0010ffff/", "/a\U0010ffffx", "/a\U0010ffff0", "//", "/a/\U0010ffff",
                          "/a-", "/a~", "/aa/b", "/A", "/a\u00e9", "/a\u00e9/x"})


@pytest.mark.parametrize("text", ["/a", "/a/", "", "/", "/a\U0010ffff", "/a\u00e9", "/zz"])
@pytest.mark.parametrize("tail", ["", "any", "segment", "noslash"])
def test_literal_masker_is_the_literal_mask(text: str, tail: str) -> None:
    """A condition's precomputed bisection keys give :func:`_literal_mask`'s answer, on
    every subset of samples in a sliding window."""
    masker = witness._literal_masker(text, tail)
    for start in range(len(LITERAL_SAMPLES)):
        for stop in range(start, len(LITERAL_SAMPLES) + 1):
            samples = LITERAL_SAMPLES[start:stop]
            assert masker(samples) == witness._literal_mask(text, tail, samples), samples


def test_no_case_mapping_holds_a_line_break() -> None:
    """Near misses (upper and lower case of samples) of strings without a line break have
    none either, so the cover's string tests stand for the regex there."""
    assert [c for c in map(chr, range(sys.maxunicode + 1))
            if "\n" in c.upper() or "\n" in c.lower()] == ["\n"]


def _regex_near_misses(infos: Any, cover: Any) -> set[str]:
    """:func:`witness._near_misses` as it was written first: each regex by its full match."""
    extra: set[str] = set()
    for info, mask in zip(infos, cover.masks, strict=True):
        if info.probe is not None:
            test = witness._fullmatch(info.cond.regex, info.cond.ignore_case)
            hits = [s for i, s in enumerate(cover.samples) if mask >> i & 1]
            hits += [s for s in extra if test(s)]
            for hit in hits:
                extra.update(witness._regex_variants(hit))
            extra -= cover.known
    return extra


def test_near_misses_are_those_of_the_full_match() -> None:
    """Near misses tested by the cover's string tests, and the domain flag, agree with
    testing every one by its regex and by the domain."""
    atoms = [*PAIR_ATOMS, *FAMILY_ATOMS, PathAtom("regex", "/x/[a-z]+/d"),
             PathAtom("regex", "(?i)/\u017fx.*"), PathAtom("regex", "/k[^/].*", ignore_case=True)]
    for k in (1, 2, 3, 5):
        for start in range(k):
            paths = sorted(atoms[start::k], key=witness._ATOM_ORDER)
            infos = [witness._path_info(atom, False) for atom in paths]
            cover = witness._Cover([info.cond for info in infos], witness._PATH_DOMAIN)
            cover.add_all({"/", "/K", "/\u017fx", *(s for info in infos for s in info.seeds)})
            extra, inside = witness._near_misses(infos, cover)
            assert extra == _regex_near_misses(infos, cover)
            assert inside == all(witness._fullmatch(witness._PATH_DOMAIN, False)(s)
                                 for s in extra)


def test_path_infos_by_fields_are_the_atoms() -> None:
    """The table of per-condition records is keyed by an atom's fields: equal atoms share
    a record, and a gRPC port's record has its own seeds."""
    atom = PathAtom("exact", "/pkg.Svc/Method")
    assert witness._path_info(atom, True) is witness._path_info(
        PathAtom("exact", "/pkg.Svc/Method"), True)
    assert set(witness._path_info(atom, True).seeds) > set(witness._path_info(atom, False).seeds)
