"""apply / cutover / rollback / history against the real kube-apiserver (``kube_cluster``)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshmigrate.findings import Findings
from meshmigrate.kube.objects import ObjRef
from meshmigrate.kube.read import read_sources
from tests.test_kube_support import admin, cli, records_in_cluster, seed, snapshot

pytestmark = pytest.mark.cluster


@pytest.fixture
def ns(kube_cluster: Any) -> str:
    name: str = kube_cluster.create_namespace("mm")
    return name


def test_read_sources_from_cluster(kube_cluster: Any, ns: str) -> None:
    seed(kube_cluster, ns)
    findings = Findings()
    docs = read_sources(admin(kube_cluster), [ns], findings)
    refs = sorted(d.ref() for d in docs)
    assert refs == sorted([f"Service/{ns}/reviews", f"Service/{ns}/ratings",
                           f"Service/{ns}/books", f"DestinationRule/{ns}/reviews",
                           f"VirtualService/{ns}/reviews", f"VirtualService/{ns}/ratings",
                           f"ServiceProfile/{ns}/books.{ns}.svc.cluster.local"])
    vs = next(d for d in docs if d.ref() == f"VirtualService/{ns}/reviews")
    assert vs.file == f"cluster:VirtualService/{ns}/reviews"
    assert "managedFields" not in vs.obj["metadata"] and "status" not in vs.obj
    assert vs.obj["metadata"]["creationTimestamp"]
    # kinds whose CRDs the test cluster lacks are skipped with an info finding
    assert "SOURCE_KIND_NOT_INSTALLED" in findings.codes()


def test_list_is_paginated(kube_cluster: Any, ns: str) -> None:
    kube = admin(kube_cluster)
    for i in range(7):
        kube.create({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": f"cm-{i}", "namespace": ns}})
    res = kube.resource("v1", "ConfigMap")
    assert res is not None
    names = {o["metadata"]["name"] for o in kube.list_all(res, ns, limit=2)}
    assert {f"cm-{i}" for i in range(7)} <= names


def test_dry_run_server_leaves_cluster_unchanged(kube_cluster: Any, ns: str,
                                                  tmp_path: Path) -> None:
    seed(kube_cluster, ns)
    kube = admin(kube_cluster)
    before, records = snapshot(kube, ns, exact=True), records_in_cluster(kube)
    code, out, err = cli(kube_cluster, "apply", "--from-cluster", "-n", ns, "--cutover",
                         "--dry-run", "server", state_dir=tmp_path)
    assert code == 0, err
    assert "+ create    HTTPRoute/" in out and f"- delete    VirtualService/{ns}/reviews" in out
    assert "the apiserver accepted all" in err
    assert snapshot(kube, ns, exact=True) == before
    assert records_in_cluster(kube) == records
    assert not list(tmp_path.glob("*.json"))


def test_apply_cutover_rollback_restores_every_source_exactly(kube_cluster: Any, ns: str,
                                                                tmp_path: Path) -> None:
    seed(kube_cluster, ns)
    kube = admin(kube_cluster)
    before = snapshot(kube, ns, exact=True)
    code, _out, err = cli(kube_cluster, "apply", "--from-cluster", "-n", ns, "--cutover",
                         "--yes", state_dir=tmp_path)
    assert code == 0, err
    during = snapshot(kube, ns)
    assert "VirtualService/reviews" not in during and "ServiceProfile/" + (
        f"books.{ns}.svc.cluster.local") not in during
    assert "DestinationRule/reviews" in during  # kept: its traffic policy still applies
    assert {"HTTPRoute/reviews", "HTTPRoute/ratings", "Service/reviews-v1"} <= set(during)
    migration = err.split("migration ")[1].split(":")[0]
    code, _, err = cli(kube_cluster, "rollback", migration, state_dir=tmp_path)
    assert code == 0, err
    assert snapshot(kube, ns, exact=True) == before
    code, _, err = cli(kube_cluster, "rollback", migration, state_dir=tmp_path)
    assert code == 0 and "already rolled back" in err


def test_rollback_refuses_after_a_concurrent_edit(kube_cluster: Any, ns: str,
                                                  tmp_path: Path) -> None:
    seed(kube_cluster, ns)
    kube = admin(kube_cluster)
    before = snapshot(kube, ns)
    code, _, err = cli(kube_cluster, "apply", "--from-cluster", "-n", ns, "--yes",
                       state_dir=tmp_path)
    assert code == 0, err
    kube.request("PATCH", f"/apis/gateway.networking.k8s.io/v1/namespaces/{ns}/httproutes/"
                 "reviews", [("fieldManager", "kubectl-edit")],
                 {"metadata": {"labels": {"edited": "by-hand"}}}, "application/merge-patch+json")
    code, _, err = cli(kube_cluster, "rollback", state_dir=tmp_path)
    assert code == 3
    assert f"HTTPRoute/{ns}/reviews: changed since the migration (last written by " \
           "kubectl-edit" in err and "--force" in err
    assert kube.get(ObjRef("gateway.networking.k8s.io/v1", "HTTPRoute", ns, "reviews"))
    code, _, err = cli(kube_cluster, "rollback", "--force", state_dir=tmp_path)
    assert code == 0, err
    assert snapshot(kube, ns) == before


def test_history_lists_migrations_as_json(kube_cluster: Any, ns: str, tmp_path: Path) -> None:
    seed(kube_cluster, ns)
    code, _, err = cli(kube_cluster, "apply", "--from-cluster", "-n", ns, "--yes",
                       state_dir=tmp_path)
    assert code == 0, err
    code, out, _ = cli(kube_cluster, "history", "-o", "json", state_dir=tmp_path)
    assert code == 0
    entries = json.loads(out)
    mine = [e for e in entries if e["namespaces"] == [ns]]
    assert len(mine) == 1 and mine[0]["state"] == "done"
    assert {"id", "time", "namespaces", "objects", "state"} <= set(mine[0])
    assert {o["action"] for o in mine[0]["objects"]} == {"create"}
    # the cluster copy alone (another machine: empty local state) knows it too
    code, out, _ = cli(kube_cluster, "history", "-o", "json", state_dir=tmp_path / "other")
    assert mine[0]["id"] in {e["id"] for e in json.loads(out)}
    code, out, _ = cli(kube_cluster, "history", state_dir=tmp_path)
    assert mine[0]["id"] in out and "done" in out


def test_confirmation_is_required(kube_cluster: Any, ns: str, tmp_path: Path) -> None:
    seed(kube_cluster, ns)
    kube = admin(kube_cluster)
    before = snapshot(kube, ns)
    code, _, err = cli(kube_cluster, "apply", "--from-cluster", "-n", ns, state_dir=tmp_path)
    assert code == 2 and "--yes" in err
    code, _, err = cli(kube_cluster, "apply", "--from-cluster", "-n", ns, state_dir=tmp_path,
                       stdin="n\n")
    assert code == 130
    assert snapshot(kube, ns) == before
    code, _, err = cli(kube_cluster, "apply", "--from-cluster", "-n", ns, state_dir=tmp_path,
                       stdin="y\n")
    assert code == 0, err


def test_wait_without_a_mesh_controller_fails_and_rolls_back(kube_cluster: Any, ns: str,
                                                            tmp_path: Path) -> None:
    seed(kube_cluster, ns)
    kube = admin(kube_cluster)
    before = snapshot(kube, ns)
    code, _, err = cli(kube_cluster, "apply", "--from-cluster", "-n", ns, "--yes", "--cutover",
                       "--wait", "2s", state_dir=tmp_path)
    assert code == 3
    assert "no mesh controller answered for HTTPRoute/" in err
    assert "is the mesh's Gateway API support enabled?" in err and "rolled back" in err
    assert snapshot(kube, ns) == before


def _fake_controller(kube_cluster: Any, ns: str, stop: threading.Event) -> None:
    """Accept every HTTPRoute in ``ns`` as a mesh controller would (status subresource)."""
    kube = admin(kube_cluster)
    res = kube.resource("gateway.networking.k8s.io/v1", "HTTPRoute")
    assert res is not None
    while not stop.is_set():
        for route in kube.list_all(res, ns):
            if route.get("status", {}).get("parents"):
                continue
            parents = [{"parentRef": ref, "controllerName": "example.com/mesh",
                        "conditions": [{"type": "Accepted", "status": "True",
                                        "reason": "Accepted", "message": "",
                                        "observedGeneration": route["metadata"]["generation"],
                                        "lastTransitionTime": "2026-01-01T00:00:00Z"}]}
                       for ref in route["spec"]["parentRefs"]]
            kube.request("PATCH", res.path(ns, route["metadata"]["name"]) + "/status", [],
                         {"status": {"parents": parents}}, "application/merge-patch+json")
        time.sleep(0.2)


def test_wait_for_accepted_then_cutover(kube_cluster: Any, ns: str, tmp_path: Path) -> None:
    seed(kube_cluster, ns)
    stop = threading.Event()
    thread = threading.Thread(target=_fake_controller, args=(kube_cluster, ns, stop))
    thread.start()
    try:
        code, _, err = cli(kube_cluster, "apply", "--from-cluster", "-n", ns, "--yes",
                           "--cutover", "--wait", "30s", state_dir=tmp_path)
    finally:
        stop.set()
        thread.join()
    assert code == 0, err
    assert "VirtualService/reviews" not in snapshot(admin(kube_cluster), ns)


def test_reapply_is_unchanged(kube_cluster: Any, ns: str, tmp_path: Path) -> None:
    seed(kube_cluster, ns)
    code, _, err = cli(kube_cluster, "apply", "--from-cluster", "-n", ns, "--yes",
                       state_dir=tmp_path)
    assert code == 0, err
    code, out, err = cli(kube_cluster, "apply", "--from-cluster", "-n", ns, "--yes",
                         state_dir=tmp_path)
    assert code == 0 and "0 to create, 0 to change" in out and "nothing to do" in err


FAULTY = """
apiVersion: v1
kind: Service
metadata: {name: web, namespace: NS}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: NS}
spec:
  hosts: [web]
  http:
  - fault: {abort: {httpStatus: 503, percentage: {value: 10}}}
    route: [{destination: {host: web}}]
"""


def test_findings_over_fail_on_block_apply_from_files(kube_cluster: Any, ns: str,
                                                      tmp_path: Path) -> None:
    seed(kube_cluster, ns, FAULTY)
    source = tmp_path / "web.yaml"
    source.write_text(FAULTY.replace("NS", ns))
    kube = admin(kube_cluster)
    before = snapshot(kube, ns)
    code, _, err = cli(kube_cluster, "apply", "-f", str(source), "--yes", "--cutover",
                       state_dir=tmp_path)
    assert code == 1 and "FAULT_INJECTION_DROPPED" in err and "not applying" in err
    assert snapshot(kube, ns) == before
    code, out, err = cli(kube_cluster, "apply", "-f", str(source), "--yes", "--cutover",
                         "--fail-on", "never", state_dir=tmp_path)
    assert code == 0, err
    assert f"- delete    VirtualService/{ns}/web" in out
    assert "VirtualService/web" not in snapshot(kube, ns) and "HTTPRoute/web" in snapshot(
        kube, ns)


def test_read_sources_in_all_namespaces(kube_cluster: Any, ns: str) -> None:
    other = kube_cluster.create_namespace("mm")
    seed(kube_cluster, ns)
    seed(kube_cluster, other)
    refs = {d.ref() for d in read_sources(admin(kube_cluster), None)}
    assert {f"VirtualService/{ns}/reviews", f"VirtualService/{other}/reviews"} <= refs


def test_apply_reads_the_contexts_namespace_by_default(kube_cluster: Any, ns: str,
                                                       tmp_path: Path) -> None:
    seed(kube_cluster, ns)
    config = yaml.safe_load(Path(kube_cluster.kubeconfig).read_text())
    config["contexts"][0]["context"]["namespace"] = ns
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    code, out, err = cli(kube_cluster, "apply", "--from-cluster", "--dry-run", "server",
                         state_dir=tmp_path, kubeconfig=kubeconfig)
    assert code == 0, err
    assert f"+ create    HTTPRoute/{ns}/reviews" in out
