"""Faults against the real kube-apiserver: the tool killed mid-apply (SIGKILL, SIGTERM), the
apiserver killed mid-apply, field-manager conflicts (409), RBAC that forbids the writes,
Gateway API CRDs missing, an object the apiserver rejects (CEL). Nothing is lost in any."""

from __future__ import annotations

import io
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from meshmigrate.errors import ClusterError
from meshmigrate.kube.apply import ApplyOptions, execute, prepare
from meshmigrate.kube.journal import ClusterStore, Journal, LocalStore
from meshmigrate.progress import Progress
from tests.test_kube_support import (
    admin,
    cli,
    records_in_cluster,
    seed,
    snapshot,
    spawn,
    wait_for_line,
)

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
HOOK = "meshmigrate: test hook: paused after"
GATEWAY = "gateway.networking.k8s.io"


@pytest.fixture
def ns(kube_cluster: Any) -> str:
    name: str = kube_cluster.create_namespace("mmf")
    return name


def _migration_id(state_dir: Path) -> str:
    (path,) = [p for p in state_dir.glob("*.json") if not p.name.startswith(".")]
    return path.name[:-5]


def test_tool_killed_with_sigkill_then_rollback_from_the_cluster_copy(
        kube_cluster: Any, ns: str, tmp_path: Path) -> None:
    seed(kube_cluster, ns)
    kube = admin(kube_cluster)
    before = snapshot(kube, ns, exact=True)
    proc = spawn(kube_cluster, "apply", "--from-cluster", "-n", ns, "--cutover", "--yes",
                 state_dir=tmp_path / "a", env={"MESHMIGRATE_TEST_PAUSE_AFTER": "3"})
    wait_for_line(proc, HOOK)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert snapshot(kube, ns, exact=True) != before  # three objects were applied
    migration = _migration_id(tmp_path / "a")
    # another machine: no local record, only the copy in meshmigrate-system
    code, _, err = cli(kube_cluster, "rollback", migration, state_dir=tmp_path / "b")
    assert code == 0, err
    assert snapshot(kube, ns, exact=True) == before


def test_tool_killed_with_sigkill_then_rollback_from_the_local_journal(
        kube_cluster: Any, ns: str, tmp_path: Path) -> None:
    seed(kube_cluster, ns)
    kube = admin(kube_cluster)
    before = snapshot(kube, ns, exact=True)
    proc = spawn(kube_cluster, "apply", "--from-cluster", "-n", ns, "--cutover", "--yes",
                 state_dir=tmp_path, env={"MESHMIGRATE_TEST_PAUSE_AFTER": "5"})
    wait_for_line(proc, HOOK)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    code, _, err = cli(kube_cluster, "rollback", _migration_id(tmp_path), state_dir=tmp_path)
    assert code == 0, err
    assert snapshot(kube, ns, exact=True) == before


def test_tool_terminated_with_sigterm_rolls_back_itself(kube_cluster: Any, ns: str,
                                                        tmp_path: Path) -> None:
    seed(kube_cluster, ns)
    kube = admin(kube_cluster)
    before = snapshot(kube, ns, exact=True)
    proc = spawn(kube_cluster, "apply", "--from-cluster", "-n", ns, "--cutover", "--yes",
                 state_dir=tmp_path, env={"MESHMIGRATE_TEST_PAUSE_AFTER": "2"})
    wait_for_line(proc, HOOK)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    assert "terminated (SIGTERM)" in err and "rolled back migration" in err
    assert snapshot(kube, ns, exact=True) == before
    code, _, err = cli(kube_cluster, "rollback", state_dir=tmp_path)
    assert code == 0 and "already rolled back" in err


def test_apiserver_killed_mid_apply_then_rollback_after_restart(kube_cluster: Any, ns: str,
                                                                tmp_path: Path) -> None:
    seed(kube_cluster, ns)
    kube = admin(kube_cluster)
    before = snapshot(kube, ns, exact=True)
    proc = spawn(kube_cluster, "apply", "--from-cluster", "-n", ns, "--cutover", "--yes",
                 state_dir=tmp_path, env={"MESHMIGRATE_TEST_PAUSE_AFTER": "2",
                                          "MESHMIGRATE_TEST_PAUSE_SECONDS": "1",
                                          "MESHMIGRATE_RETRY_SECONDS": "2"})
    try:
        wait_for_line(proc, HOOK)
        kube_cluster.kill_apiserver()
        _, err = proc.communicate(timeout=120)
    finally:
        if not kube_cluster.running("kube-apiserver"):
            kube_cluster.start_apiserver()
    assert proc.returncode == 3, err
    assert "did not answer" in err and "meshmigrate rollback" in err
    code, _, err = cli(kube_cluster, "rollback", _migration_id(tmp_path), state_dir=tmp_path)
    assert code == 0, err
    assert snapshot(admin(kube_cluster), ns, exact=True) == before


def _existing_route(ns: str) -> dict[str, Any]:
    return {"apiVersion": f"{GATEWAY}/v1", "kind": "HTTPRoute",
            "metadata": {"name": "reviews", "namespace": ns,
                         "labels": {"app.kubernetes.io/managed-by": "helm"}},
            "spec": {"parentRefs": [{"group": "", "kind": "Service", "name": "reviews",
                                     "port": 9080}],
                     "rules": [{"backendRefs": [{"name": "reviews", "port": 9080}]}]}}


def test_field_manager_conflict_is_reported_and_rolled_back(kube_cluster: Any, ns: str,
                                                            tmp_path: Path) -> None:
    seed(kube_cluster, ns)
    kube_cluster.apply(_existing_route(ns),
                       f"/apis/{GATEWAY}/v1/namespaces/{ns}/httproutes/reviews")
    kube = admin(kube_cluster)
    before = snapshot(kube, ns, exact=True)
    code, _out, err = cli(kube_cluster, "apply", "--from-cluster", "-n", ns, "--yes",
                         state_dir=tmp_path)
    assert code == 3
    assert f"HTTPRoute/{ns}/reviews: conflicts with another field manager" in err
    assert "--force-conflicts" in err and "rolled back" in err
    assert snapshot(kube, ns, exact=True) == before
    code, _, err = cli(kube_cluster, "apply", "--from-cluster", "-n", ns, "--yes",
                       "--force-conflicts", state_dir=tmp_path)
    assert code == 0, err
    route = snapshot(kube, ns)["HTTPRoute/reviews"]
    assert route["labels"]["app.kubernetes.io/managed-by"] == "meshmigrate"
    code, _, err = cli(kube_cluster, "rollback", state_dir=tmp_path)
    assert code == 0, err
    assert snapshot(kube, ns, exact=True) == before  # the owner's route, owners included


def _grant_read_only(kube_cluster: Any, ns: str) -> None:
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    kube_cluster.request("POST", f"{rbac}/namespaces/{ns}/roles", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "read", "namespace": ns},
        "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]}]})
    kube_cluster.request("POST", f"{rbac}/namespaces/{ns}/rolebindings", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "read", "namespace": ns},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read"},
        "subjects": [{"kind": "User", "name": "meshmigrate-tester",
                      "apiGroup": "rbac.authorization.k8s.io"}]})


def test_rbac_forbids_the_writes(kube_cluster: Any, ns: str, tmp_path: Path) -> None:
    seed(kube_cluster, ns)
    _grant_read_only(kube_cluster, ns)
    kube = admin(kube_cluster)
    before, records = snapshot(kube, ns, exact=True), records_in_cluster(kube)
    code, _, err = cli(kube_cluster, "apply", "--from-cluster", "-n", ns, "--yes", "--cutover",
                       state_dir=tmp_path, kubeconfig=kube_cluster.unprivileged_kubeconfig)
    assert code == 3
    assert "error: forbidden: your credentials may not create/patch/delete services in " \
           f"namespace {ns}; create/patch/delete httproutes.{GATEWAY} in namespace {ns}" in err
    assert "delete/create/update virtualservices.networking.istio.io" in err
    assert "nothing was changed" in err
    assert snapshot(kube, ns, exact=True) == before
    assert records_in_cluster(kube) == records


def _crd_served(kube_cluster: Any, served: bool) -> None:
    deadline = time.monotonic() + 60
    while (admin(kube_cluster).resource(f"{GATEWAY}/v1", "HTTPRoute") is not None) != served:
        assert time.monotonic() < deadline, "HTTPRoute CRD did not change state"
        time.sleep(0.5)


def test_gateway_api_crds_missing(kube_cluster: Any, ns: str, tmp_path: Path) -> None:
    seed(kube_cluster, ns)
    kube = admin(kube_cluster)
    kube_cluster.request("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                         f"httproutes.{GATEWAY}")
    try:
        _crd_served(kube_cluster, False)
        before = snapshot(kube, ns, exact=True)
        code, _, err = cli(kube_cluster, "apply", "--from-cluster", "-n", ns, "--yes",
                           state_dir=tmp_path)
        assert code == 3
        assert f"HTTPRoute ({GATEWAY}/v1) is not served by the cluster" in err
        assert "install the Gateway API CRDs" in err
        assert snapshot(kube, ns, exact=True) == before
        assert not list(tmp_path.glob("*.json"))
    finally:
        kube_cluster.install_crds()
        _crd_served(kube_cluster, True)


def test_object_rejected_by_cel_rolls_back(kube_cluster: Any, ns: str, tmp_path: Path) -> None:
    kube = admin(kube_cluster)
    good = {"apiVersion": f"{GATEWAY}/v1", "kind": "HTTPRoute",
            "metadata": {"name": "a-good", "namespace": ns},
            "spec": {"parentRefs": [{"group": "", "kind": "Service", "name": "x"}],
                     "rules": [{"backendRefs": [{"name": "x", "port": 80}]}]}}
    bad = {**good, "metadata": {"name": "z-bad", "namespace": ns},
           "spec": {"parentRefs": good["spec"]["parentRefs"], "rules": [{
               "filters": [{"type": "RequestHeaderModifier",
                            "requestRedirect": {"statusCode": 301}}]}]}}
    services = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x",
                 "namespace": ns}, "spec": {"ports": [{"port": 80}]}}]
    options = ApplyOptions(concurrency=1)
    plan = prepare(kube, [*services, good, bad], [], options)
    journal = Journal(LocalStore(tmp_path), ClusterStore(kube))
    with pytest.raises(ClusterError) as info:
        execute(kube, journal, plan, options,
                lambda total, label: Progress(io.StringIO(), total, label))
    message = info.value.one_line()
    assert f"HTTPRoute/{ns}/z-bad: rejected by the apiserver" in message
    assert "requestRedirect" in message and "rolled back migration" in message
    assert snapshot(kube, ns) == {}
