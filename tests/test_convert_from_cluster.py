"""``convert --from-cluster`` reads the sources from the real kube-apiserver."""

from __future__ import annotations

import io
from typing import Any

import pytest
import yaml

from meshmigrate.cli import run
from meshmigrate.cliutil import AppContext
from tests.test_kube_support import seed

pytestmark = pytest.mark.cluster


def _convert(kube_cluster: Any, *args: str) -> tuple[int, str, str]:
    ctx = AppContext(stdin=io.StringIO(), stdout=io.StringIO(), stderr=io.StringIO())
    code = run(["convert", *args, "--kubeconfig", str(kube_cluster.kubeconfig),
                "--no-validate"], ctx)
    return code, ctx.stdout.getvalue(), ctx.stderr.getvalue()


def test_convert_from_cluster_matches_convert_from_files(kube_cluster: Any) -> None:
    ns = kube_cluster.create_namespace("mmc")
    seed(kube_cluster, ns)
    code, out, err = _convert(kube_cluster, "--from-cluster", "-n", ns)
    assert code in (0, 1), err
    objects = [o for o in yaml.safe_load_all(out) if o]
    routes = {o["metadata"]["name"] for o in objects if o["kind"] == "HTTPRoute"}
    assert "reviews" in routes
    reviews = next(o for o in objects if o["metadata"]["name"] == "reviews"
                   and o["kind"] == "HTTPRoute")
    assert reviews["metadata"]["namespace"] == ns
    assert reviews["metadata"]["annotations"]["meshmigrate.io/source"] == \
        f"VirtualService/{ns}/reviews"
    assert reviews["spec"]["parentRefs"][0]["kind"] == "Service"


def test_from_cluster_and_files_are_exclusive(kube_cluster: Any, tmp_path: Any) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("kind: ConfigMap\n")
    code, _, err = _convert(kube_cluster, "--from-cluster", "-f", str(path))
    assert code == 2 and "either -f or --from-cluster" in err


def test_namespace_without_from_cluster_is_a_usage_error(kube_cluster: Any) -> None:
    code, _, err = _convert(kube_cluster, "-n", "default", "-f", "-")
    assert code == 2, err
