"""meshmigrate.yamlout: round trip through yaml.safe_load, byte-identical with PyYAML's C
dumper (the text the golden transcripts hold), deterministic."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshmigrate import yamlout

_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

#: Characters that decide scalar styles, plus ones that need double quotes or fold.
_TRICKY = [
    *"ab:-?#,'\" 01.~!&*|>%@`[]{}=<yesnoONtruefalsNul_/xe+",
    "\t", "\n", "\r", "\x85", "\x7f", "\x00", "\u00e9", "\u00a0", "\u2028", "\ufeff",
    "\U0001f600"]
_SPECIAL = ["", "yes", "No", "ON", "off", "y", "~", "null", "NULL", "1", "-1", "+1", "0x1F",
            "0o17", "017", "1_000", "0b101", "1:20", "190:20:30", "2020-01-01",
            "2001-12-14t21:59:43.10-05:00", "1.5", "1e5", "1.0e+5", ".5", "-.inf", ".NaN",
            "<<", "=", "---", "...", "--- a", "- a", "-a", "a: b", "a:b", "x:", ":x", ": x",
            "? x", "?x", "a #b", "a#b", " lead", "trail ", "it's", "'quoted'", '"dq"',
            "%TAG", "@at", "`tick", "|", ">", "*ref", "&anchor", "!tag", "[x]", "{x}",
            "a,b", "/api/v1/", "^/users/[0-9]+$", "(?i)/api.*", "reviews-v2", "v1alpha2",
            "k" * 200, "word " * 30, "x" * 120, "gateway.networking.k8s.io/v1"]

_text = st.one_of(st.text(st.sampled_from(_TRICKY), max_size=14), st.sampled_from(_SPECIAL),
                  st.text(max_size=8))
_scalars = st.one_of(_text, st.integers(), st.booleans(), st.none(),
                     st.floats(allow_nan=False), st.sampled_from([float("inf"), 1e17, -0.0]))
_nodes = st.recursive(
    _scalars,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(_text, children, max_size=4)),
    max_leaves=30)
_docs = st.lists(st.dictionaries(_text, _nodes, max_size=6), max_size=4)


def _pyyaml(docs: list[Any]) -> str:
    return yaml.dump_all(docs, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                         allow_unicode=True, width=100)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(_docs)
def test_round_trip(docs: list[dict[str, Any]]) -> None:
    assert list(yaml.safe_load_all(yamlout.dump_all(docs))) == docs


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(_docs)
def test_identical_to_pyyaml_c_dumper(docs: list[dict[str, Any]]) -> None:
    assert yamlout.dump_all(docs) == _pyyaml(docs)


@pytest.mark.parametrize(("value", "text"), [
    ("", "''"), ("1", "'1'"), ("yes", "'yes'"), ("off", "'off'"), ("True", "'True'"),
    ("null", "'null'"), ("~", "'~'"), (" a", "' a'"), ("a ", "'a '"), ("a: b", "'a: b'"),
    ("a #b", "'a #b'"), ("a#b", "a#b"), ("-x", "-x"), ("- x", "'- x'"), ("?", "'?'"),
    ("::1", "::1"), ("x:", "'x:'"), ("1.5", "'1.5'"), ("1_0", "'1_0'"), ("0x1f", "'0x1f'"),
    ("2024-01-02", "'2024-01-02'"), ("it's", "it's"), ("'q'", "'''q'''"), ("*a", "'*a'"),
    ("%x", "'%x'"), ("@x", "'@x'"), ("`x", "'`x'"), ("[a]", "'[a]'"), ("a,b", "a,b"),
    ("---", "'---'"), ("a\nb", "'a\n\n  b'"), ("\t", '"\\t"'), ("é", "é"),
    ("/api/v1", "/api/v1"), ("^/x/[0-9]+$", "^/x/[0-9]+$"), ("<<", "'<<'"), ("=", "'='"),
])
def test_string_styles(value: str, text: str) -> None:
    assert yamlout.dump_all([{"k": value}]) == f"k: {text}\n"
    assert yaml.safe_load(yamlout.dump_all([{"k": value}])) == {"k": value}


def test_layout() -> None:
    doc = {"a": [1, [2, 3], {"b": {}, "c": [], "d": [{"e": None}]}], "f": {"g": 1.5}}
    assert yamlout.dump_all([doc, {}, {"h": True}]) == (
        "a:\n- 1\n- - 2\n  - 3\n- b: {}\n  c: []\n  d:\n  - e: null\nf:\n  g: 1.5\n"
        "--- {}\n---\nh: true\n")
    assert yamlout.dump_all([]) == ""


def test_shared_containers_and_odd_types_are_written_like_pyyaml() -> None:
    shared = [1]
    docs: list[Any] = [{"a": shared, "b": shared}, {"k" * 130: 1}, {1: "int key"},
                       {"long": "word " * 40}]
    assert yamlout.dump_all(docs) == _pyyaml(docs)


def test_deterministic_and_streamed() -> None:
    import io

    docs = [{"name": f"r{i}", "rules": [{"path": "/x", "n": i}]} for i in range(50)]
    out = io.StringIO()
    yamlout.write_all(docs, out)
    assert out.getvalue() == yamlout.dump_all(docs) == yamlout.dump_all(docs)
