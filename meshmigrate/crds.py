"""Where the Gateway API CustomResourceDefinitions come from: a directory, a cluster or a cache.

:mod:`meshmigrate.validate` checks objects against these CRDs' own schemas and CEL rules, so
the result is only as good as the CRDs: we always read the real ones, never a copy of our own.

- ``--crds DIR``: the CRD YAML files (a release's ``*-install.yaml`` or ``config/crd/<channel>``).
- ``--from-cluster``: the cluster's CustomResourceDefinitions, read raw (no client models, so
  no field of the schema can be lost in a model round trip).
- the local cache ``${XDG_CACHE_HOME:-~/.cache}/meshmigrate/crds/<version>/<channel>/``, filled
  by ``meshmigrate crds pull vX.Y.Z`` from the Gateway API release assets when online.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from meshmigrate.errors import ClusterError, UsageError

CHANNELS = ("standard", "experimental")
CRD_SUFFIXES = (".yaml", ".yml", ".json")
RELEASE_ASSET = ("https://github.com/kubernetes-sigs/gateway-api/releases/download/"
                 "{version}/{channel}-install.yaml")
RELEASES_API = "https://api.github.com/repos/kubernetes-sigs/gateway-api/releases?per_page=100"
_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?$")

Crd = Mapping[str, Any]
Fetch = Callable[[str], bytes]


class CrdSourceError(UsageError):
    """No CRDs could be had from the requested source (exit 2: an input problem)."""


@dataclass(frozen=True, slots=True, eq=False)
class CrdSet:
    """The CRDs to validate against, indexed by ``(group, kind)``; ``origin`` says where from."""

    origin: str
    by_kind: Mapping[tuple[str, str], Crd]

    @classmethod
    def of(cls, origin: str, crds: Iterable[Crd]) -> CrdSet:
        index = {(c["spec"]["group"], c["spec"]["names"]["kind"]): c for c in crds}
        return cls(origin, index)

    @property
    def groups(self) -> frozenset[str]:
        return frozenset(group for group, _ in self.by_kind)

    def find(self, group: str, kind: str) -> Crd | None:
        return self.by_kind.get((group, kind))


def crd_documents(text: str, name: str) -> list[Crd]:
    """The CustomResourceDefinitions in a YAML/JSON stream (other kinds, e.g. the
    ValidatingAdmissionPolicy shipped with newer releases, are skipped)."""
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise CrdSourceError(f"{name}: malformed YAML: {str(exc).splitlines()[0]}") from None
    return [crd for doc in docs for crd in _crds_in(doc)]


def _crds_in(doc: Any) -> list[Crd]:
    if not isinstance(doc, dict):
        return []
    if doc.get("kind") == "CustomResourceDefinition" and isinstance(doc.get("spec"), dict):
        return [doc]
    items = doc.get("items") if str(doc.get("kind", "")).endswith("List") else None
    return [crd for item in items or [] for crd in _crds_in(item)]


def load_dir(path: Path) -> CrdSet:
    """Every CRD in the YAML/JSON files below ``path`` (or in the file ``path``)."""
    files = [path] if path.is_file() else sorted(
        p for p in path.rglob("*") if p.suffix in CRD_SUFFIXES and p.is_file())
    crds: list[Crd] = []
    for file in files:
        try:
            crds += crd_documents(file.read_text(encoding="utf-8"), str(file))
        except (OSError, UnicodeDecodeError) as exc:
            raise CrdSourceError(f"{file}: cannot read CRDs: {exc}") from None
    if not crds:
        raise CrdSourceError(f"{path}: no CustomResourceDefinition found")
    return CrdSet.of(str(path), crds)


def load_cluster(apiextensions: Any) -> CrdSet:
    """The cluster's CRDs. ``apiextensions`` is a ``kubernetes.client.ApiextensionsV1Api``."""
    try:
        response = apiextensions.list_custom_resource_definition(_preload_content=False)
        crds = json.loads(response.data).get("items") or []
    except Exception as exc:  # ApiException, urllib3 and socket errors: all "cluster failed"
        raise ClusterError(f"cannot list the cluster's CRDs: {exc}") from None
    if not crds:
        raise CrdSourceError("the cluster has no CustomResourceDefinitions")
    return CrdSet.of("cluster", crds)


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "meshmigrate" / "crds"


def _version_key(version: str) -> tuple[int, ...]:
    match = _VERSION.match(version)
    return tuple(int(part or 0) for part in match.groups()) if match else (-1,)


def cached() -> list[tuple[str, str]]:
    """``(version, channel)`` pairs in the cache, newest version first."""
    root = cache_root()
    found = [(d.parent.name, d.name) for d in root.glob("v*/*")
             if d.name in CHANNELS and any(d.glob("*.yaml"))]
    return sorted(found, key=lambda vc: (_version_key(vc[0]), vc[1]), reverse=True)


def find_cached(version: str | None = None, channel: str | None = None) -> CrdSet | None:
    """The cached CRDs for ``version`` (``vX.Y`` picks the newest cached patch; None: the
    newest cached version) and ``channel`` (None: standard if cached, else experimental)."""
    wanted = [(v, c) for v, c in cached()
              if (version is None or _same_release(v, version))
              and (channel is None or c == channel)]
    if not wanted:
        return None
    best_version = wanted[0][0]
    channels = {c for v, c in wanted if v == best_version}
    chosen = channel or ("standard" if "standard" in channels else "experimental")
    crd_set = load_dir(cache_root() / best_version / chosen)
    return CrdSet(f"cache {best_version}/{chosen}", crd_set.by_kind)


def _same_release(cached_version: str, wanted: str) -> bool:
    have, want = _version_key(cached_version), _version_key(wanted)
    exact = _VERSION.match(wanted) is not None and wanted.count(".") == 2
    return have == want if exact else have[:2] == want[:2]


def resolve(crds_dir: Path | None = None, apiextensions: Callable[[], Any] | None = None,
            version: str | None = None, channel: str | None = None) -> CrdSet:
    """The CRDs from ``--crds``, else from the cluster, else from the cache; a clear error if
    none is available."""
    if crds_dir is not None:
        return load_dir(crds_dir)
    if apiextensions is not None:
        return load_cluster(apiextensions())
    found = find_cached(version, channel)
    if found is None:
        wanted = " ".join(x for x in (version, channel) if x) or "any version"
        raise CrdSourceError(
            f"no Gateway API CRDs available ({wanted} not in {cache_root()}): pass --crds DIR "
            "or --from-cluster, or run 'meshmigrate crds pull vX.Y.Z' while online")
    return found


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        data: bytes = response.read()
        return data


def latest_patch(version: str, fetch: Fetch | None = None) -> str:
    """``vX.Y`` -> the newest published ``vX.Y.Z`` release (from the releases API)."""
    releases = json.loads((fetch or _fetch)(RELEASES_API))
    tags = [r["tag_name"] for r in releases if not r.get("prerelease")
            and _VERSION.match(r["tag_name"]) and _same_release(r["tag_name"], version)]
    if not tags:
        raise CrdSourceError(f"no Gateway API release {version}.x found")
    return str(max(tags, key=_version_key))


def pull(version: str, channel: str = "standard", fetch: Fetch | None = None) -> Path:
    """Download a release's ``<channel>-install.yaml`` into the cache; return its path.
    ``fetch`` (default: an HTTPS GET) is only replaced by tests."""
    fetch = fetch or _fetch
    if not _VERSION.match(version):
        raise CrdSourceError(f"{version!r} is not a Gateway API version like v1.2.1")
    try:
        if version.count(".") == 1:
            version = latest_patch(version, fetch)
        version = "v" + version.lstrip("v")
        text = fetch(RELEASE_ASSET.format(version=version, channel=channel)).decode("utf-8")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise CrdSourceError(f"cannot download Gateway API {version} {channel} CRDs: "
                             f"{getattr(exc, 'reason', exc)}") from None
    if not crd_documents(text, version):
        raise CrdSourceError(f"Gateway API {version} {channel}: the download holds no CRDs")
    target = cache_root() / version / channel / f"{channel}-install.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target
