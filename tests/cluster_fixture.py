"""The ``kube_cluster`` fixture: one real kube-apiserver + etcd per test session.

Tests that use it are marked ``@pytest.mark.cluster``. The first run on a machine builds
etcd and kube-apiserver from their Go modules (see docs/test-cluster.md); later runs start
from the cached binaries in a few seconds.

The fixture never skips: a machine without Go fails these tests loudly, because a skipped
test must never stand in for a feature.

Set ``MESHMIGRATE_TEST_CLUSTER_DIR`` to the state dir of a cluster started with
``scripts/test-cluster up --dir DIR`` to reuse it (it is then left running afterwards).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import testcluster  # scripts/ is not a package: imported from its folder

Cluster = testcluster.Cluster
ApiError = testcluster.ApiError

__all__ = ["ApiError", "Cluster", "kube_cluster"]


def _reused_cluster() -> Cluster | None:
    state_dir = os.environ.get("MESHMIGRATE_TEST_CLUSTER_DIR")
    if not state_dir:
        return None
    cluster = Cluster.load(Path(state_dir).resolve())
    if cluster is None or not cluster.is_up():
        pytest.fail(f"MESHMIGRATE_TEST_CLUSTER_DIR={state_dir} holds no running cluster",
                    pytrace=False)
    return cluster


@pytest.fixture(scope="session")
def kube_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A running cluster: ``.kubeconfig``, ``.unprivileged_kubeconfig``, ``.server``,
    ``.admin_token``, ``.unprivileged_token``, ``.ca_file``, ``.create_namespace()``,
    ``.request()``, ``.stop_apiserver()``, ``.start_apiserver()``, ``.kill_apiserver()``."""
    reused = _reused_cluster()
    if reused is not None:
        yield reused
        return
    if shutil.which("go") is None:
        pytest.fail("the cluster tests need Go on PATH to build etcd and kube-apiserver "
                    "(see docs/test-cluster.md)", pytrace=False)
    cluster = testcluster.up(tmp_path_factory.mktemp("kube-cluster"))
    try:
        yield cluster
    finally:
        cluster.down()
