"""Every converter's output validates against the real Gateway API CRDs.

Two checks:

- the stored golden transcripts (``testdata/<converter>/*.yaml``, tests/golden.py): each
  expected output validates against every target CRD set that can hold it (the version it
  was converted for, ``--gateway-api``, default v1.4, or newer; its ``--channel``, or the
  experimental channel, a superset);
- every golden input converted again *for* each target set (``--gateway-api`` and
  ``--channel`` of v1.2 and of the newest release) validates against exactly that set.
"""

from __future__ import annotations

import copy
import io
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshmigrate.validate import Validator
from tests.test_validate_support import REPO, crd_set, served, target_sets

SETS = target_sets()
SET_IDS = [f"{v}-{c}" for v, c in SETS]
GATEWAY_GROUPS = ("gateway.networking.k8s.io/", "gateway.networking.x-k8s.io/")


@cache
def golden_cases() -> tuple[tuple[Path, dict[str, Any]], ...]:
    from tests import golden

    return tuple((path, yaml.safe_load(path.read_text(encoding="utf-8")))
                 for path in golden.cases())


def gateway_objects(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if isinstance(doc, dict)
            and str(doc.get("apiVersion", "")).startswith(GATEWAY_GROUPS)]


def _option(args: list[str], name: str, default: str) -> str:
    return args[args.index(name) + 1] if name in args else default


def can_hold(version: str, channel: str, args: list[str]) -> bool:
    """Whether the CRD set ``version``/``channel`` can hold output converted with ``args``."""
    from meshmigrate.targets import DEFAULT_VERSION, parse_version

    wanted = parse_version(_option(args, "--gateway-api", DEFAULT_VERSION))
    wanted_channel = _option(args, "--channel", "standard")
    return parse_version(version) >= wanted and channel in (wanted_channel, "experimental")


def _validate(objects: list[dict[str, Any]], version: str, channel: str) -> list[str]:
    crds = crd_set(version, channel)
    validator = Validator(crds)
    errors = []
    for obj in objects:
        adapted = served(copy.deepcopy(obj), crds)
        if adapted is not None:  # e.g. TCPRoute is not in the v1.2 standard channel
            errors += [str(e) for e in validator.validate(adapted)]
    return errors


def test_there_are_golden_cases_of_several_converters() -> None:
    converters = {path.parent.name for path, _ in golden_cases()}
    assert len(converters) >= 3, converters


@pytest.mark.parametrize(("version", "channel"), SETS, ids=SET_IDS)
def test_every_stored_golden_output_validates(version: str, channel: str) -> None:
    failures, checked = [], 0
    for path, case in golden_cases():
        if not can_hold(version, channel, case.get("args") or []):
            continue
        objects = gateway_objects(case["expected"]["output"])
        checked += len(objects)
        failures += [f"{path.relative_to(REPO)}: {e}" for e in _validate(objects, version,
                                                                          channel)]
    assert failures == []
    assert checked > 0 or version == "v1.2.1"


def _convert(case: dict[str, Any], version: str, channel: str) -> tuple[int, str]:
    from meshmigrate.cli import run
    from meshmigrate.cliutil import AppContext

    args = list(case.get("args") or [])
    for option in ("--gateway-api", "--channel"):
        if option in args:
            del args[args.index(option):args.index(option) + 2]
    minor = ".".join(version.split(".")[:2])
    stdout = io.StringIO()
    ctx = AppContext(stdin=io.StringIO(case["input"]), stdout=stdout, stderr=io.StringIO())
    code = run(["convert", "-f", "-", "--no-verify", "--gateway-api", minor,
                "--channel", channel, *args], ctx)
    return code, stdout.getvalue()


@pytest.mark.parametrize(("version", "channel"), SETS[:4], ids=SET_IDS[:4])
def test_every_golden_input_converted_for_a_version_validates_against_it(
        version: str, channel: str) -> None:
    failures, checked = [], 0
    for path, case in golden_cases():
        code, output = _convert(case, version, channel)
        if code not in (0, 1):
            continue  # an input error case: no output
        objects = gateway_objects(output)
        checked += len(objects)
        failures += [f"{path.relative_to(REPO)}: {e}" for e in _validate(objects, version,
                                                                          channel)]
    assert failures == []
    assert checked > 0
