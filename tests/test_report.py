"""The findings report renderers (meshmigrate.report)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from meshmigrate.findings import CATALOGUE, Findings
from meshmigrate.report import render_json, summary
from meshmigrate.sources import Document, LineDict


def _doc(name: str) -> Document:
    obj = LineDict({"apiVersion": "v1", "kind": "Service",
                    "metadata": LineDict({"name": name, "namespace": "ns"})})
    obj.line, obj.lines = 1, {"apiVersion": 1, "kind": 2, "metadata": 3}
    obj["metadata"].line, obj["metadata"].lines = 4, {"name": 4, "namespace": 5}
    return Document(obj, "in.yaml", 1)


def _expected(findings: Findings, counts: dict[str, int]) -> str:
    doc = {"findings": [f.to_json() for f in findings], "summary": counts}
    return json.dumps(doc, indent=2) + "\n"


def test_json_matches_json_dumps_when_empty() -> None:
    findings = Findings()
    counts = summary(findings, 0, 0)
    assert render_json(findings, counts) == _expected(findings, counts)


@given(st.lists(st.tuples(st.sampled_from(sorted(CATALOGUE)), st.text(max_size=20),
                          st.text(max_size=40), st.booleans()), max_size=6))
def test_json_matches_json_dumps(items: list[tuple[str, str, str, bool]]) -> None:
    findings = Findings()
    for code, name, message, with_doc in items:
        path = ("metadata", "name") if with_doc else ()
        findings.add(code, _doc(name) if with_doc else None, path, message)
    counts = summary(findings, 3, 7)
    assert render_json(findings, counts) == _expected(findings, counts)
