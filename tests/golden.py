"""Golden transcripts: one YAML file per case under ``testdata/<converter>/``.

A case holds ``description``, ``args`` (extra ``convert`` arguments), ``input`` (the source
YAML) and ``expected``: ``exit`` (exit code), ``findings`` (sorted ``severity CODE`` lines,
one per finding) and ``output`` (the exact objects on stdout). ``pytest --update-golden``
rewrites ``expected`` from the current behaviour; review the diff before committing.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from meshmigrate.cli import run
from meshmigrate.cliutil import AppContext

ROOT = Path(__file__).resolve().parent.parent
CONVERTER_DIRS = ("istio", "linkerd", "smi", "consul", "appmesh")


class _Literal(str):
    pass


def _literal(dumper: yaml.SafeDumper, data: _Literal) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")


yaml.SafeDumper.add_representer(_Literal, _literal)


@dataclass
class Transcript:
    exit: int
    findings: list[str]
    output: str
    stderr: str


def cases() -> list[Path]:
    return sorted(p for d in CONVERTER_DIRS for p in (ROOT / "testdata" / d).glob("*.yaml"))


def run_case(case: dict[str, Any]) -> Transcript:
    stdout, stderr = io.StringIO(), io.StringIO()
    ctx = AppContext(stdin=io.StringIO(case["input"]), stdout=stdout, stderr=stderr)
    # CRD validation of every golden output is tested on its own (tests/test_validate*.py)
    code = run(["convert", "-f", "-", "--report", "json", "--no-validate",
                *case.get("args", [])], ctx)
    findings: list[str] = []
    err = stderr.getvalue()
    if code in (0, 1) and err.strip():
        report = json.loads(err)
        findings = sorted(f"{f['severity']} {f['code']}" for f in report["findings"])
    return Transcript(code, findings, stdout.getvalue(), err)


def write_expected(path: Path, case: dict[str, Any], got: Transcript) -> None:
    case = dict(case)
    case["input"] = _Literal(case["input"])
    case["expected"] = {"exit": got.exit, "findings": got.findings,
                        "output": _Literal(got.output)}
    if got.exit not in (0, 1):
        case["expected"]["stderr"] = got.stderr.strip()
    path.write_text(yaml.safe_dump(case, sort_keys=False, width=100, allow_unicode=True))
