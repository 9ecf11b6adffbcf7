"""meshmigrate.crds: CRDs from a directory, a cluster and the local cache (pull is tested
with a stand-in for the download: these tests never use the network)."""

from __future__ import annotations

import json
import shutil
import urllib.error
from pathlib import Path
from typing import Any

import pytest

from meshmigrate import crds
from meshmigrate.errors import ClusterError
from tests.test_validate_support import OLDEST, crd_dir, newest_version


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "meshmigrate" / "crds"


def _install_yaml(version: str, channel: str) -> str:
    """A release's ``<channel>-install.yaml``: every CRD file of the channel, concatenated."""
    files = sorted(crd_dir(version, channel).glob("*.yaml"))
    return "\n---\n".join(f.read_text() for f in files)


def test_load_dir_indexes_crds_by_group_and_kind() -> None:
    found = crds.load_dir(crd_dir(OLDEST, "experimental"))
    assert found.find("gateway.networking.k8s.io", "HTTPRoute") is not None
    assert found.find("gateway.networking.k8s.io", "TCPRoute") is not None
    assert found.find("gateway.networking.k8s.io", "VirtualService") is None
    assert "gateway.networking.k8s.io" in found.groups


def test_newest_release_ships_non_crd_documents_which_are_skipped() -> None:
    found = crds.load_dir(crd_dir(newest_version(), "standard"))
    assert all(c["kind"] == "CustomResourceDefinition" for c in found.by_kind.values())
    assert found.find("gateway.networking.k8s.io", "GRPCRoute") is not None


def test_load_dir_reads_a_single_install_file_and_lists(tmp_path: Path) -> None:
    install = tmp_path / "standard-install.yaml"
    install.write_text(_install_yaml(OLDEST, "standard") + "\n---\napiVersion: v1\n"
                       "kind: Namespace\nmetadata: {name: gateway-system}\n")
    assert len(crds.load_dir(install).by_kind) == 5
    listed = tmp_path / "list.json"
    crd = crds.load_dir(install).find("gateway.networking.k8s.io", "HTTPRoute")
    listed.write_text(json.dumps({"kind": "CustomResourceDefinitionList", "items": [crd]}))
    assert list(crds.load_dir(listed).by_kind) == [("gateway.networking.k8s.io", "HTTPRoute")]


def test_a_directory_without_crds_is_a_clear_input_error(tmp_path: Path) -> None:
    (tmp_path / "svc.yaml").write_text("apiVersion: v1\nkind: Service\n")
    with pytest.raises(crds.CrdSourceError, match="no CustomResourceDefinition found") as err:
        crds.load_dir(tmp_path)
    assert err.value.exit_code == 2
    (tmp_path / "bad.yaml").write_text("a: [")
    with pytest.raises(crds.CrdSourceError, match="malformed YAML"):
        crds.load_dir(tmp_path)


def test_no_source_at_all_names_every_way_to_get_crds(cache: Path) -> None:
    with pytest.raises(crds.CrdSourceError) as err:
        crds.resolve()
    message = err.value.one_line()
    assert "--crds DIR" in message and "--from-cluster" in message
    assert "meshmigrate crds pull" in message and str(cache) in message


def _fake_fetch(assets: dict[str, str], calls: list[str]) -> crds.Fetch:
    def fetch(url: str) -> bytes:
        calls.append(url)
        if url not in assets:
            raise urllib.error.URLError("Temporary failure in name resolution")
        return assets[url].encode()
    return fetch


def test_pull_fills_the_cache_which_resolve_then_uses(cache: Path) -> None:
    url = crds.RELEASE_ASSET.format(version=OLDEST, channel="experimental")
    calls: list[str] = []
    path = crds.pull(OLDEST, "experimental", _fake_fetch({url: _install_yaml(
        OLDEST, "experimental")}, calls))
    assert calls == [url]
    assert path == cache / OLDEST / "experimental" / "experimental-install.yaml"
    assert crds.cached() == [(OLDEST, "experimental")]
    found = crds.resolve()
    assert found.origin == f"cache {OLDEST}/experimental"
    assert found.find("gateway.networking.k8s.io", "TLSRoute") is not None


def test_pull_of_a_minor_version_picks_its_newest_patch(cache: Path) -> None:
    releases = [{"tag_name": "v1.2.0"}, {"tag_name": "v1.2.1"}, {"tag_name": "v1.3.0"},
                {"tag_name": "v1.2.2-rc.1", "prerelease": True}]
    url = crds.RELEASE_ASSET.format(version="v1.2.1", channel="standard")
    calls: list[str] = []
    fetch = _fake_fetch({crds.RELEASES_API: json.dumps(releases),
                         url: _install_yaml(OLDEST, "standard")}, calls)
    assert crds.pull("v1.2", "standard", fetch).parent.parent.name == "v1.2.1"
    assert calls == [crds.RELEASES_API, url]


def test_pull_offline_is_a_one_line_error(cache: Path) -> None:
    with pytest.raises(crds.CrdSourceError) as err:
        crds.pull("v1.2.1", "standard", _fake_fetch({}, []))
    assert err.value.one_line() == ("cannot download Gateway API v1.2.1 standard CRDs: "
                                    "Temporary failure in name resolution")
    assert not cache.exists()
    with pytest.raises(crds.CrdSourceError, match="is not a Gateway API version"):
        crds.pull("latest")


def test_cache_picks_version_and_channel(cache: Path) -> None:
    for version in ("v1.2.0", "v1.2.1", "v1.10.0"):
        for channel in crds.CHANNELS:
            target = cache / version / channel
            target.mkdir(parents=True)
            shutil.copy(crd_dir(OLDEST, channel) / "gateway.networking.k8s.io_httproutes.yaml",
                        target / f"{channel}-install.yaml")
    assert crds.cached()[0] == ("v1.10.0", "standard")  # numeric, not string, order
    assert crds.resolve().origin == "cache v1.10.0/standard"
    assert crds.resolve(version="v1.2").origin == "cache v1.2.1/standard"
    assert crds.resolve(version="v1.2.0", channel="experimental").origin == (
        "cache v1.2.0/experimental")
    assert crds.find_cached("v1.3") is None


class _FakeApiextensions:
    def __init__(self, items: list[Any] | Exception) -> None:
        self.items = items

    def list_custom_resource_definition(self, _preload_content: bool) -> Any:
        assert _preload_content is False  # raw JSON: no client-model round trip
        if isinstance(self.items, Exception):
            raise self.items

        class Response:
            data = json.dumps({"items": self.items}).encode()
        return Response()


def test_load_cluster_reads_the_raw_crds() -> None:
    crd = crds.load_dir(crd_dir(OLDEST, "standard")).find("gateway.networking.k8s.io",
                                                          "HTTPRoute")
    found = crds.load_cluster(_FakeApiextensions([crd]))
    assert found.origin == "cluster" and list(found.by_kind) == [
        ("gateway.networking.k8s.io", "HTTPRoute")]
    assert crds.resolve(apiextensions=lambda: _FakeApiextensions([crd])).origin == "cluster"


def test_load_cluster_failures_are_cluster_errors() -> None:
    with pytest.raises(ClusterError, match="cannot list the cluster's CRDs: refused") as err:
        crds.load_cluster(_FakeApiextensions(ConnectionRefusedError("refused")))
    assert err.value.exit_code == 3
    with pytest.raises(crds.CrdSourceError, match="no CustomResourceDefinitions"):
        crds.load_cluster(_FakeApiextensions([]))
