"""Intersections of Gateway API match conditions, as the compiler's order fix-up uses them."""

from __future__ import annotations

from meshmigrate.gmatch import (
    EXACT,
    PREFIX,
    REGEX,
    UNKNOWN,
    GPath,
    intersect_path,
    literal_head,
    regex_for_string_prefix,
)


def test_string_prefix_regex_against_prefixes() -> None:
    rest = regex_for_string_prefix("/api", "nonslash")  # /api[^/].*
    assert intersect_path(GPath(PREFIX, "/apiary"), rest) == GPath(PREFIX, "/apiary")
    assert intersect_path(GPath(PREFIX, "/api/v1"), rest) is None
    assert intersect_path(GPath(EXACT, "/apix"), rest) == GPath(EXACT, "/apix")
    assert intersect_path(GPath(PREFIX, "/"), rest) == rest


def test_trailing_slash_prefix_never_matches_its_exact_path() -> None:
    slash = GPath(PREFIX, "/a/", excl="/a")
    assert intersect_path(GPath(EXACT, "/a"), slash) is None
    assert intersect_path(GPath(PREFIX, "/a"), slash) == GPath(PREFIX, "/a/", excl="/a")
    assert intersect_path(GPath(EXACT, "/a/b"), slash) == GPath(EXACT, "/a/b")


def test_alternations_have_no_literal_head() -> None:
    assert literal_head("/a.*|/b.*") == ""
    assert literal_head(r"/books/[^/]*\.json") == "/books/"
    both = intersect_path(GPath(REGEX, "/a.*|/b.*"), GPath(REGEX, "/b/x.*"))
    assert both is UNKNOWN  # /b/x matches both: never "disjoint"
    assert intersect_path(GPath(REGEX, r"/books\.json"),
                          GPath(REGEX, r"/books/[^/]*\.json")) is None
