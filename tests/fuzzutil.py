"""Shared pieces of the fuzz tests: seed inputs, mutations of parsed objects, and the one
property every input must satisfy ("objects, an InputError or findings; nothing else")."""

from __future__ import annotations

import copy
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from meshmigrate.errors import MeshMigrateError
from meshmigrate.pipeline import ConvertOptions, ConvertResult, convert_documents
from meshmigrate.sources import parse_stream

ROOT = Path(__file__).resolve().parent.parent
CONVERTERS = ("istio", "linkerd", "smi", "consul", "appmesh")
CORPUS = ROOT / "testdata" / "fuzz-corpus"

#: Values a mutation puts somewhere: wrong types, edge numbers, odd strings.
ODD_VALUES: list[Any] = [
    None, "", "x", "*", "/", "//", "/a/../b", "(", ")", ".*", "[", "\\", "a|b", "^$", "(?i)A",
    "10s", "0", "-1s", "1.5ms", "0.5s", "99999h", "GET", "é", "a" * 300, " ", "\t", "null",
    -1, 0, 1, 2, 99, 100, 101, 65535, 65536, 2**31, 2**63, -2**63, 1.5, 0.0001, 1e308,
    float("inf"), True, False, [], {}, ["a"], [1, 2], {"a": 1}, {"exact": "x"},
    [{"name": "a"}], [None], {"": ""},
]


def seeds(converter: str) -> list[str]:
    """The ``input`` of every golden case of ``converter``."""
    out = []
    for path in sorted((ROOT / "testdata" / converter).glob("*.yaml")):
        case = yaml.safe_load(path.read_text())
        if isinstance(case, dict) and isinstance(case.get("input"), str):
            out.append(case["input"])
    return out


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path in a parsed object (keys and list indexes), parents first."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from paths(value, (*prefix, index))


def _parent(root: Any, path: tuple[Any, ...]) -> Any:
    node = root
    for part in path[:-1]:
        node = node[part]
    return node


@st.composite
def mutated(draw: st.DrawFn, texts: list[str]) -> str:
    """One of ``texts`` with 1-3 random mutations, as YAML."""
    docs = [d for d in yaml.safe_load_all(draw(st.sampled_from(texts))) if d is not None]
    docs = copy.deepcopy(docs)
    for _ in range(draw(st.integers(1, 3))):
        index = draw(st.integers(0, len(docs) - 1))
        targets = [p for p in paths(docs[index]) if p]
        if not targets:
            continue
        path = draw(st.sampled_from(targets))
        docs[index] = _mutate(draw, docs[index], path)
    return yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True)


def _mutate(draw: st.DrawFn, root: Any, path: tuple[Any, ...]) -> Any:
    parent, key = _parent(root, path), path[-1]
    action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "duplicate",
                                   "extra"]))
    if action == "replace":
        parent[key] = copy.deepcopy(draw(st.sampled_from(ODD_VALUES)))
    elif action == "delete":
        del parent[key]
    elif action == "duplicate" and isinstance(parent, list):
        parent.insert(key, copy.deepcopy(parent[key]))
    elif action == "extra" and isinstance(parent[key], dict):
        parent[key][draw(st.sampled_from(["x", "name", "port", "weight", "match"]))] = \
            copy.deepcopy(draw(st.sampled_from(ODD_VALUES)))
    return root


def convert_text(text: str, verify: bool = True, **options: Any) -> ConvertResult | None:
    """Convert ``text``; None when it is refused as bad input. Any other exception is a
    crash and propagates."""
    try:
        docs = list(parse_stream(io.StringIO(text), "fuzz.yaml"))
        return convert_documents(docs, ConvertOptions(verify=verify, **options))
    except MeshMigrateError:
        return None
