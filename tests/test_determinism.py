"""The same input gives byte-identical output, across processes with different hash seeds
(set and dict iteration order of strings changes with PYTHONHASHSEED)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.golden import ROOT, cases


def _write_inputs(tmp: Path) -> Path:
    for i, path in enumerate(cases()):
        case = yaml.safe_load(path.read_text())
        if not case.get("args") and case["expected"]["exit"] in (0, 1):
            (tmp / f"{path.parent.name}-{i:03d}.yaml").write_text(case["input"])
    return tmp


def _convert(directory: Path, seed: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONHASHSEED=seed)
    return subprocess.run([sys.executable, "-m", "meshmigrate", "convert", "-f",
                           str(directory), "--no-validate", *args],
                          capture_output=True, text=True, env=env, cwd=ROOT)


def test_output_and_findings_do_not_depend_on_hash_seed(tmp_path: Path) -> None:
    inputs = _write_inputs(tmp_path)
    for fmt in (("-o", "yaml", "--report", "text"), ("-o", "json", "--report", "json")):
        first, second = _convert(inputs, "1", *fmt), _convert(inputs, "4242", *fmt)
        assert first.returncode in (0, 1), first.stderr[-2000:]
        assert first.stdout and first.stdout == second.stdout
        assert first.stderr == second.stderr
