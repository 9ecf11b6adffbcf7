"""The schema language (:mod:`meshmigrate.schema`) and the per-kind descriptions in
``converters/<mesh>/schema.py``: what each construct accepts and refuses, the one-line
messages, and that every kind a converter claims is described and every golden input passes."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshmigrate.errors import InputError
from meshmigrate.pipeline import check_input
from meshmigrate.registry import converters, dispatch, select
from meshmigrate.schema import (
    SERVICE,
    AnyValue,
    Bool,
    ByVersion,
    Check,
    Duration,
    Either,
    Int,
    MapOf,
    Num,
    Obj,
    Quantity,
    Regex,
    Seq,
    Spec,
    Str,
    StrMap,
    check_documents,
    describe,
    regex_problem,
)
from meshmigrate.sources import parse_stream

ROOT = Path(__file__).resolve().parent.parent


def problems(spec: Spec, value: Any) -> list[str]:
    out = Check()
    spec.check(value, ("f",), out)
    return [v.message for v in out.found]


@pytest.mark.parametrize(("spec", "good", "bad", "message"), [
    (Str(), "x", 3, "expected a string, got an integer 3"),
    (Str(enum=("a", "b")), "a", "c", "expected one of a, b, got a string 'c'"),
    (Str(pattern=r"/.*", label="a path"), "/x", "x", "expected a path, got a string 'x'"),
    (Str(numbers=True), 8080, True, "expected a string or a number, got a boolean (true)"),
    (Int(), 3, True, "expected an integer, got a boolean (true)"),
    (Int(), -3, 1.5, "expected an integer, got a number 1.5"),
    (Int(1, 65535), 80, 0, "expected an integer from 1 to 65535, got 0"),
    (Int(0), 0, -1, "expected an integer of 0 or more, got -1"),
    (Num(0, 100), 12.5, 100.5, "expected a number from 0 to 100, got 100.5"),
    (Num(), 1, float("nan"), "expected a number, got a number nan"),
    (Bool(), False, "yes", "expected a boolean, got a string 'yes'"),
    (Seq(Int()), [1], {"a": 1}, "expected a list, got a mapping"),
    (Seq(Int()), [], [None], "expected an integer, got null"),
    (MapOf(Int()), {"a": 1}, {"a": "x"}, "expected an integer, got a string 'x'"),
    (StrMap(), {"a": "x", "b": 2}, {"a": [1]}, "expected a string or a number, got a list"),
    (Regex("re2"), "/a/.*", "/a/(?=b)", "RE2 does not support"),
    (Regex("go"), "[[:alpha:]]+", "a**", "multiple repeat"),
    (Regex("rust"), r"\pL+(?<n>x)", "(unclosed", "missing ), unterminated subpattern"),
    (Duration("go"), "1m30s", "90", "invalid duration '90'"),
    (Duration("go"), "0", "-1s", "negative duration '-1s'"),
    (Duration("go-signed"), "-1s", "1 minute", "invalid duration"),
    (Duration("protobuf"), "1.5s", "1.5ms", "not a whole number of milliseconds"),
    (Quantity(), "500m", "-1", "expected a Kubernetes quantity"),
    (Quantity(), 2, "half", "expected a Kubernetes quantity"),
    (Either((Int(), Str())), "http", 1.5, "expected an integer or a string, got a number 1.5"),
    (AnyValue(), {"any": [1]}, None, None),
])
def test_constructs(spec: Spec, good: Any, bad: Any, message: str | None) -> None:
    assert problems(spec, good) == []
    if message is None:
        return
    found = problems(spec, bad)
    assert len(found) == 1 and message in found[0], found


def test_obj_required_exclusive_one_of() -> None:
    spec = Obj({"a": Str(), "b": Str(), "c": Int()}, required=("a",), exclusive=(("b", "c"),),
               one_of=(("b", "c"),))
    assert problems(spec, {"a": "x", "b": "y"}) == []
    assert problems(spec, {"a": "", "c": 1}) == [
        "required field is missing (expected a string)"]
    assert problems(spec, {"a": "x", "b": "y", "c": 2}) == ["set only one of b, c"]
    assert problems(spec, {"a": "x"}) == ["one of b, c is required"]
    assert problems(spec, {"a": "x", "b": None, "c": 3, "unknown": [1]}) == []


def test_unique_names() -> None:
    spec = Seq(Obj({"name": Str()}), unique="name")
    out = Check()
    spec.check([{"name": "a"}, {"name": "b"}, {"name": "a"}], ("subsets",), out)
    assert [(v.path, v.message) for v in out.found] == [
        (("subsets", 2, "name"), "duplicate name 'a' (also in item 0)")]


def test_by_version() -> None:
    spec = ByVersion({"v1": Obj({"w": Int()})}, default=Obj({"w": Str()}))
    assert problems(spec, {"apiVersion": "x/v1", "w": 1}) == []
    assert problems(spec, {"apiVersion": "x/v2", "w": "1"}) == []
    assert problems(spec, {"apiVersion": "x/v2", "w": 1}) == [
        "expected a string, got an integer 1"]


def test_recursive_description() -> None:
    fields: dict[str, Spec] = {"m": Str()}
    cond = Obj(fields)
    fields["not"] = cond
    assert problems(cond, {"not": {"not": {"m": 1}}}) == ["expected a string, got an integer 1"]


@pytest.mark.parametrize(("pattern", "dialect", "ok"), [
    ("(?i)/api/v[0-9]+/.*", "re2", True), (r"\d+\.\d+", "re2", True),
    ("(?P<v>a)", "go", True), ("(?<v>a)", "rust", True), (r"\Qa.b\E", "re2", True),
    ("(?U)a*", "re2", True), ("[*+]+", "re2", True), (r"\\1", "re2", True),
    (r"(a)\1", "re2", False), ("(?<=a)b", "rust", False), ("(?>a)", "go", False),
    ("a++", "re2", False), (r"a\Z", "re2", False), ("a{1001}", "re2", False),
    ("a{1001}", "rust", True), ("x" * 5000, "re2", False),
])
def test_regex_dialects(pattern: str, dialect: str, ok: bool) -> None:
    assert (regex_problem(pattern, dialect) is None) is ok


def test_describe() -> None:
    assert [describe(v) for v in (None, True, "x", 3, 1.5, {}, [], b"x")] == [
        "null", "a boolean (true)", "a string 'x'", "an integer 3", "a number 1.5",
        "a mapping", "a list", "bytes"]


def test_error_names_file_line_field_and_counts_the_rest() -> None:
    text = ("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports:\n"
            "  - port: 0\n  - port: http\n")
    docs = list(parse_stream(text, "svc.yaml"))
    with pytest.raises(InputError) as err:
        check_documents(docs, lambda doc: SERVICE)
    assert str(err.value) == ("svc.yaml:6: spec.ports[0].port: expected an integer from 1 to "
                              "65535, got 0 (and 1 more problem in the input)")
    assert (err.value.file, err.value.line, err.value.field) == (
        "svc.yaml", 6, "spec.ports[0].port")


def test_every_claimed_kind_is_described() -> None:
    for name, conv in converters().items():
        for group, kind in conv.kinds:
            doc = next(parse_stream(f"apiVersion: {group}/v1\nkind: {kind}\n", "k.yaml"))
            assert conv.schema_for(doc) is not None, f"{name}: {group} {kind}"


def golden_inputs() -> list[tuple[str, str]]:
    out = []
    for path in sorted((ROOT / "testdata").glob("*/*.yaml")):
        if path.parent.name in ("istio", "linkerd", "smi", "consul", "appmesh"):
            case = yaml.safe_load(path.read_text())
            if case.get("expected", {}).get("exit") != 2:
                out.append((f"{path.parent.name}/{path.name}", case["input"]))
    for path in sorted((ROOT / "examples").rglob("*.yaml")):
        out.append((str(path.relative_to(ROOT)), path.read_text()))
    return out


@pytest.mark.parametrize(("name", "text"), golden_inputs(), ids=[n for n, _ in golden_inputs()])
def test_valid_inputs_pass(name: str, text: str) -> None:
    """Every golden input that converts, and every example, passes the schema check: the
    descriptions are never stricter than the meshes themselves."""
    docs = list(parse_stream(io.StringIO(text), name))
    check_input(docs, dispatch(docs, select("auto")), converters())
