"""Shared helpers for the validate tests (no tests here): the Gateway API CRDs from the Go
module ``sigs.k8s.io/gateway-api`` (the same source as the test cluster, never the network
beyond the Go module proxy) and the corpus in ``testdata/validate/``."""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
import gomod  # noqa: E402  (scripts/ is not a package)

from meshmigrate.crds import CrdSet, load_dir  # noqa: E402

CORPUS = REPO / "testdata" / "validate"
OLDEST = "v1.2.1"  # the oldest Gateway API release meshmigrate targets
CLUSTER = "v1.4.0"  # what tests/cluster_fixture.py installs (experimental channel)
CHANNELS = ("standard", "experimental")
_RELEASE = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")


def _go(*args: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, GOFLAGS="-mod=mod", GO111MODULE="on")
        return subprocess.run(["go", *args], cwd=tmp, env=env, capture_output=True,
                              text=True, check=False).stdout


@functools.cache
def newest_version() -> str:
    """The newest published (non pre-release) ``sigs.k8s.io/gateway-api`` version."""
    listed = _go("list", "-m", "-versions", gomod.GATEWAY_API_MODULE).split()[1:]
    releases = [v for v in listed if _RELEASE.match(v)]
    assert releases, f"go list -m -versions {gomod.GATEWAY_API_MODULE} found no release"
    return max(releases, key=lambda v: tuple(int(x) for x in _RELEASE.match(v).groups()))  # type: ignore[union-attr]


def _crd_dir_from_zip(version: str, channel: str) -> Path:
    """The CRDs unpacked from the module zip. Needed when the module's ``go`` directive is
    newer than the local Go toolchain: ``go mod download`` then still downloads and verifies
    the zip but refuses to unpack it (e.g. v1.7.0 requires go >= 1.27)."""
    info = json.loads(_go("mod", "download", "-json", f"{gomod.GATEWAY_API_MODULE}@{version}"))
    assert info.get("Zip"), f"go mod download {version}: {info.get('Error')}"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    target = Path(cache) / "meshmigrate" / "test-gateway-api" / version
    prefix = f"{gomod.GATEWAY_API_MODULE}@{version}/config/crd/"
    if not (target / channel).is_dir():
        with zipfile.ZipFile(info["Zip"]) as archive:
            for name in archive.namelist():
                if name.startswith(prefix) and name.endswith(".yaml"):
                    out = target / name[len(prefix):]
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_bytes(archive.read(name))
    return target / channel


@functools.cache
def crd_dir(version: str, channel: str) -> Path:
    try:
        return gomod.gateway_api_crd_dir(version, channel)
    except subprocess.CalledProcessError:
        return _crd_dir_from_zip(version, channel)


@functools.cache
def crd_set(version: str, channel: str) -> CrdSet:
    return load_dir(crd_dir(version, channel))


def target_sets() -> list[tuple[str, str]]:
    """The CRD sets every output must validate against: v1.2 and the newest release, both
    channels; plus the test cluster's set."""
    sets = [(v, c) for v in (OLDEST, newest_version()) for c in CHANNELS]
    return [*sets, (CLUSTER, "experimental")]


def served(obj: dict[str, Any], crds: CrdSet) -> dict[str, Any] | None:
    """``obj`` with an apiVersion the CRD set serves (the object's own if served, else the
    CRD's storage version); None when the set has no CRD for the kind."""
    group, _, version = str(obj["apiVersion"]).rpartition("/")
    crd = crds.find(group, str(obj["kind"]))
    if crd is None:
        return None
    versions = crd["spec"]["versions"]
    if any(v["name"] == version and v.get("served") for v in versions):
        return obj
    storage = next(v["name"] for v in versions if v.get("storage"))
    return {**obj, "apiVersion": f"{group}/{storage}"}


def corpus(kind: str) -> list[tuple[str, dict[str, Any]]]:
    """``(file name, object)`` for ``testdata/validate/<kind>/*.yaml`` (kind: valid|invalid)."""
    out = []
    for path in sorted((CORPUS / kind).glob("*.yaml")):
        out += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return out


@functools.cache
def expected() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CORPUS / "expected.yaml").read_text())
    return loaded


def messages(case: dict[str, Any]) -> list[str]:
    message = case["message"]
    return message if isinstance(message, list) else [message]


def field_matches(found: str, wanted: str) -> bool:
    """``found`` is ``wanted`` or a field below it."""
    return found == wanted or found.startswith((wanted + ".", wanted + "["))
