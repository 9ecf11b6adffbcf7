"""Fuzzing the loader (issue 8): whatever the bytes, ``parse_stream`` gives objects or an
:class:`InputError` — never another exception, never a hang — and for valid YAML it gives
what PyYAML's ``SafeLoader`` gives, with a line for every key and item.

Hypothesis runs derandomized with a bounded number of examples, so CI is deterministic and
quick; ``fuzz/fuzz_load.py`` (atheris) is for longer runs. Inputs that ever broke the loader
are kept in ``testdata/fuzz-corpus/`` and replayed by ``test_corpus``.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshmigrate import yamlevents
from meshmigrate.errors import InputError
from meshmigrate.limits import Limits
from meshmigrate.sources import LineDict, LineList, parse_stream

CORPUS = Path(__file__).resolve().parent.parent / "testdata" / "fuzz-corpus"
SMALL = Limits(max_file_bytes=1 << 20, max_scalar_bytes=4096, max_depth=20,
               max_alias_bytes=1 << 16)
FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

#: Pieces of YAML syntax, so random inputs reach the parser's and the builder's corners.
TOKENS = ["\n", "\n  ", "\n    ", " ", "- ", "-", ": ", ":", "? ", "[", "]", "{", "}", ",",
          "&a ", "&b ", "*a", "*b", "<<: ", "!!str ", "!!int ", "!!map ", "!!seq ", "!foo ",
          "! ", "'", '"', "|", ">", "#", "---", "...", "%YAML 1.1\n", "%TAG ! tag:x:\n",
          "a", "b", "key", "0x1f", "1_000", "1:30", "2024-01-02", "~", "null", "yes", ".inf",
          "=", "\t", "\\", "\x00", "\x85", "\ufeff", "é", "\udc80"]


def outcome(data: str | bytes) -> list[Any]:
    """The objects, or [] when refused: any other exception fails the test."""
    try:
        return [doc.obj for doc in parse_stream(data, "fuzz.yaml", SMALL)]
    except InputError as exc:
        assert exc.file == "fuzz.yaml"
        assert "\n" not in exc.one_line()
        return []


@FUZZ
@given(data=st.binary(max_size=2000))
def test_random_bytes(data: bytes) -> None:
    outcome(data)


@FUZZ
@given(parts=st.lists(st.sampled_from(TOKENS), max_size=80))
def test_random_yaml_tokens(parts: list[str]) -> None:
    outcome("".join(parts))


@FUZZ
@given(parts=st.lists(st.sampled_from(TOKENS), max_size=60))
def test_random_yaml_tokens_as_a_stream(parts: list[str]) -> None:
    """The same through a text stream read in chunks (as stdin is)."""
    with contextlib.suppress(InputError):
        list(parse_stream(io.StringIO("".join(parts)), "fuzz.yaml", SMALL))


def both_paths(text: str) -> tuple[Any, Any]:
    """What the loader's two ways of reading events give (objects with their lines, or the
    error): libyaml's events as calls (the fast path) and as event objects (the fallback)."""
    def read(fast: bool) -> Any:
        try:
            builder = yamlevents.Builder(text, "fuzz.yaml", SMALL, LineDict, LineList)
            found = list(yamlevents.callback_documents(builder) if fast
                         else builder.documents())
        except InputError as exc:
            return ("error", exc.one_line())
        except (yaml.YAMLError, UnicodeError) as exc:
            return (type(exc).__name__, str(exc))
        return [yamlevents._snapshot(doc) for doc in found]

    return read(True), read(False)


@FUZZ
@given(parts=st.lists(st.sampled_from(TOKENS), max_size=80))
def test_event_calls_read_as_event_objects(parts: list[str]) -> None:
    fast, slow = both_paths("".join(parts))
    assert fast == slow


def test_event_calls_are_used_and_undone() -> None:
    import yaml._yaml as cyaml

    assert yamlevents.callbacks_work()
    before = [getattr(cyaml, name) for name in yamlevents._EVENT_NAMES]
    with contextlib.suppress(InputError):
        list(parse_stream("a: 1\na: 2\n", "dup.yaml"))  # an error inside a handler
    docs = parse_stream("a: [1]\n---\nb: 2\n", "two.yaml")
    next(docs)  # between two documents PyYAML is as it was
    assert [getattr(cyaml, name) for name in yamlevents._EVENT_NAMES] == before
    assert yaml.safe_load("c: [3]") == {"c": [3]}
    assert [d.obj for d in docs] == [{"b": 2}]
    assert [getattr(cyaml, name) for name in yamlevents._EVENT_NAMES] == before


# -- agreement with PyYAML on valid YAML ---------------------------------------------------
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False), st.text(max_size=20),
    st.sampled_from(["yes", "No", "0x1f", "1:30", "2024-01-02", "~", "", "<<", "=", "-", "#",
                     "a: b", "- x", "'q'", "\n", " lead", "trail ", "é\u2028"]),
    st.dates(), st.datetimes(timezones=st.just(datetime.UTC)))
keys = st.one_of(st.text(max_size=12), st.sampled_from(["apiVersion", "kind", "<<x", "1"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)), max_leaves=20)
documents = st.dictionaries(keys, values, min_size=1, max_size=5)


@FUZZ
@given(docs=st.lists(documents, min_size=1, max_size=3),
       style=st.sampled_from([None, True, False]), width=st.sampled_from([20, 80, 10_000]))
def test_agrees_with_pyyaml(docs: list[dict[str, Any]], style: bool | None, width: int) -> None:
    text = yaml.safe_dump_all(docs, default_flow_style=style, width=width, allow_unicode=True)
    got = [doc.obj for doc in parse_stream(text, "same.yaml")]
    want = list(yaml.safe_load_all(text))
    assert same(got, want), text
    breaks = sum(text.count(c) for c in "\n\r\x85\u2028\u2029")  # libyaml's line breaks
    for obj in got:
        check_lines(obj, breaks + 1)


def same(a: Any, b: Any) -> bool:
    """Equal values of equal types (``1 == True`` and ``1 == 1.0`` do not count)."""
    if type(a) is not type(b) and not (isinstance(a, dict) and isinstance(b, dict)) and not (
            isinstance(a, list) and isinstance(b, list)):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def check_lines(node: Any, last: int) -> None:
    if isinstance(node, LineDict):
        assert set(node.lines) == set(node) and 1 <= node.line <= last
        assert all(1 <= line <= last for line in node.lines.values())
        for value in node.values():
            check_lines(value, last)
    elif isinstance(node, LineList):
        assert len(node.lines) == len(node) and 1 <= node.line <= last
        for value in node:
            check_lines(value, last)


# -- the crash corpus ----------------------------------------------------------------------
def corpus() -> list[Path]:
    return sorted(p for p in CORPUS.glob("loader-*") if p.is_file())


@pytest.mark.parametrize("path", corpus(), ids=lambda p: p.name)
def test_corpus(path: Path) -> None:
    """Inputs that once broke the loader: now objects or an InputError."""
    outcome(path.read_bytes())
