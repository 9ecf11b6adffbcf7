"""Run every golden transcript (see tests/golden.py) and compare all of it: exit code,
finding codes and the exact objects."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.golden import ROOT, cases, run_case, write_expected

CASES = cases()


@pytest.mark.parametrize("path", CASES, ids=[str(p.relative_to(ROOT / "testdata")) for p in CASES])
def test_golden(path: Path, update_golden: bool) -> None:
    case = yaml.safe_load(path.read_text())
    got = run_case(case)
    if update_golden:
        write_expected(path, case, got)
        return
    if "expected" not in case:
        pytest.fail(f"{path}: no expected block; run pytest --update-golden and review it")
    expected = case["expected"]
    assert got.exit == expected["exit"], got.stderr
    assert got.findings == expected["findings"]
    assert got.output == expected["output"]
    if "stderr" in expected:
        assert got.stderr.strip() == expected["stderr"]


def test_there_are_golden_cases() -> None:
    assert len(CASES) >= 10


def test_output_is_deterministic() -> None:
    case = yaml.safe_load(CASES[0].read_text())
    assert run_case(case).output == run_case(case).output
