"""Fuzzing every converter (issue 8): each golden input of each converter, mutated (wrong
types, odd values, deleted and duplicated fields, unknown keys), goes through the whole
pipeline — schema check, converter, compiler, emitter and the semantic self-check. The only
acceptable outcomes are Gateway API objects with findings, or an InputError; anything else
is a crash. Derandomized and bounded for CI; inputs that once crashed are kept in
``testdata/fuzz-corpus/`` and replayed through the CLI (never exit 4).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from meshmigrate.cli import run
from meshmigrate.cliutil import AppContext
from tests.fuzzutil import CONVERTERS, CORPUS, convert_text, mutated, seeds

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])


def fuzz(converter: str, verify: bool) -> None:
    texts = seeds(converter)
    assert texts, f"no golden inputs for {converter}"

    @FUZZ
    @given(text=mutated(texts))
    def check(text: str) -> None:
        convert_text(text, verify=verify)

    check()


@pytest.mark.parametrize("converter", CONVERTERS)
def test_mutated_inputs_never_crash(converter: str) -> None:
    fuzz(converter, verify=True)


@pytest.mark.parametrize("converter", CONVERTERS)
@pytest.mark.parametrize("target", ["istio", "linkerd"])
def test_mutated_inputs_never_crash_for_other_targets(converter: str, target: str) -> None:
    texts = seeds(converter)

    @FUZZ
    @given(text=mutated(texts))
    def check(text: str) -> None:
        convert_text(text, verify=False, target=target)

    check()


def corpus() -> list[Path]:
    return sorted(p for p in CORPUS.glob("*") if p.is_file())


@pytest.mark.parametrize("path", corpus(), ids=lambda p: p.name)
def test_corpus(path: Path) -> None:
    """Inputs that once crashed the loader or a converter: now exit 0, 1 or 2 through the
    CLI, with no traceback."""
    out, err = io.StringIO(), io.StringIO()
    code = run(["convert", "-f", str(path)], AppContext(stdin=io.StringIO(""), stdout=out,
                                                        stderr=err))
    assert code in (0, 1, 2), err.getvalue()
    assert "Traceback" not in err.getvalue()
