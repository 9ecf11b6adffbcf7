"""The project's own checks (``make check``) are part of the suite: ruff over the code and
mypy strict over the product packages."""

from __future__ import annotations

import subprocess
import sys

from tests.golden import ROOT


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True)


def test_ruff_is_clean() -> None:
    result = _run("ruff", "check", "meshmigrate", "converters", "tests", "scripts", "bench")
    assert result.returncode == 0, result.stdout[-4000:]


def test_mypy_strict_is_clean() -> None:
    result = _run("mypy")
    assert result.returncode == 0, result.stdout[-4000:]
