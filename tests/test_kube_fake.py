"""apply / rollback / the cluster journal over an in-memory stand-in for the apiserver.

A supplement to the real-cluster tests (tests/test_kube_cluster.py, test_kube_faults.py):
fast, and able to fail any single request on purpose."""

from __future__ import annotations

import copy
import io
from pathlib import Path
from typing import Any

import pytest

from meshmigrate.errors import ClusterError
from meshmigrate.kube import journal as journal_mod
from meshmigrate.kube.apply import ApplyOptions, execute, prepare
from meshmigrate.kube.client import KubeError, Resource
from meshmigrate.kube.journal import ClusterStore, Journal, LocalStore, State
from meshmigrate.kube.objects import Obj, ObjRef
from meshmigrate.kube.rollback import RollbackRefused, run_rollback
from meshmigrate.progress import Progress

GW = "gateway.networking.k8s.io/v1"
KINDS = {("v1", "Service"): "services", ("v1", "ConfigMap"): "configmaps",
         ("v1", "Namespace"): "namespaces", (GW, "HTTPRoute"): "httproutes",
         ("networking.istio.io/v1", "VirtualService"): "virtualservices"}


class FakeKube:
    """Objects in a dict; resourceVersions, preconditions, field owners (coarsely)."""

    server, context, namespace = "https://fake", "fake", "default"

    def __init__(self) -> None:
        self.store: dict[ObjRef, Obj] = {}
        self.rv = 100
        self.fail: dict[str, KubeError] = {}  # "verb Kind/ns/name" -> error to raise

    def resource(self, api_version: str, kind: str) -> Resource | None:
        plural = KINDS.get((api_version, kind))
        group, _, version = api_version.rpartition("/")
        return Resource(group, version, kind, plural, kind != "Namespace") if plural else None

    def require(self, ref: ObjRef) -> Resource:
        res = self.resource(ref.api_version, ref.kind)
        if res is None:
            raise ClusterError(f"{ref.kind} not served")
        return res

    def can(self, *_args: str) -> bool:
        return True

    def _check(self, verb: str, ref: ObjRef) -> None:
        if f"{verb} {ref}" in self.fail:
            raise self.fail.pop(f"{verb} {ref}")

    def _write(self, ref: ObjRef, obj: Obj, manager: str = "meshmigrate") -> Obj:
        self.rv += 1
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        meta["resourceVersion"] = str(self.rv)
        meta.setdefault("uid", f"uid-{self.rv}")
        when = f"2026-01-01T00:{self.rv % 60:02d}:00Z"
        meta["managedFields"] = meta.get("managedFields") or [
            {"manager": manager, "operation": "Apply", "time": when}]
        if meta["managedFields"] == [{}]:
            meta.pop("managedFields")
        self.store[ref] = obj
        return copy.deepcopy(obj)

    def get(self, ref: ObjRef) -> Obj | None:
        return copy.deepcopy(self.store.get(ref))

    def list_all(self, res: Resource, namespace: str | None, limit: int = 500,
                 selector: str = "") -> list[Obj]:
        key, _, value = selector.partition("=")
        return [copy.deepcopy(o) for r, o in sorted(self.store.items())
                if r.kind == res.kind and (namespace is None or r.namespace == namespace)
                and (not key or (o["metadata"].get("labels") or {}).get(key) == value)]

    def apply(self, obj: Obj, *, force: bool = False, dry_run: bool = False) -> Obj:
        ref = ObjRef.of(obj)
        self._check("apply", ref)
        current = self.store.get(ref)
        want_rv = obj["metadata"].get("resourceVersion")
        if current is not None and want_rv and want_rv != current["metadata"]["resourceVersion"]:
            raise KubeError(409, f"apply {ref}", {"message": "the object has been modified"})
        merged = copy.deepcopy(current or {})
        merged.update({k: v for k, v in obj.items() if k != "metadata"})
        meta = merged.setdefault("metadata", {})
        meta.update({k: v for k, v in obj["metadata"].items() if k != "resourceVersion"})
        meta.pop("managedFields", None)
        return merged if dry_run else self._write(ref, merged)

    def create(self, obj: Obj, *, dry_run: bool = False) -> Obj:
        ref = ObjRef.of(obj, "")
        self._check("create", ref)
        if ref in self.store:
            raise KubeError(409, f"create {ref}", {"message": "already exists"})
        body = copy.deepcopy(obj)
        body["metadata"].pop("managedFields", None)
        return obj if dry_run else self._write(ref, body, "meshmigrate-update")

    def replace(self, obj: Obj) -> Obj:
        ref = ObjRef.of(obj)
        self._check("replace", ref)
        current = self.store.get(ref)
        if current is None or obj["metadata"].get("resourceVersion") != current[
                "metadata"]["resourceVersion"]:
            raise KubeError(409, f"replace {ref}", {"message": "conflict"})
        return self._write(ref, obj)

    def delete(self, ref: ObjRef, *, resource_version: str | None = None,
               dry_run: bool = False) -> bool:
        self._check("delete", ref)
        current = self.store.get(ref)
        if current is None:
            return False
        if resource_version and resource_version != current["metadata"]["resourceVersion"]:
            raise KubeError(409, f"delete {ref}", {"message": "precondition failed"})
        if not dry_run:
            del self.store[ref]
        return True


def route(name: str, backend: str = "b") -> Obj:
    return {"apiVersion": GW, "kind": "HTTPRoute", "metadata": {"name": name, "namespace": "ns"},
            "spec": {"parentRefs": [{"kind": "Service", "name": name}],
                     "rules": [{"backendRefs": [{"name": backend, "port": 80}]}]}}


VS = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
      "metadata": {"name": "a", "namespace": "ns", "labels": {"team": "x"}},
      "spec": {"hosts": ["a"]}}


def content(kube: FakeKube) -> dict[str, Any]:
    return {str(r): {k: v for k, v in o.items() if k != "metadata"} | {
        "labels": o["metadata"].get("labels")} for r, o in kube.store.items()
        if r.kind != "ConfigMap" and r.kind != "Namespace"}


def setup(tmp_path: Path) -> tuple[FakeKube, Journal]:
    kube = FakeKube()
    kube._write(ObjRef.of(VS), VS, "kubectl")
    kube._write(ObjRef.of(route("old")), route("old", "x"), "helm")
    return kube, Journal(LocalStore(tmp_path), ClusterStore(kube))  # type: ignore[arg-type]


def run(kube: FakeKube, journal: Journal, cutover: bool = True) -> Any:
    options = ApplyOptions(cutover=cutover, concurrency=2)
    plan = prepare(kube, [route("a"), route("b"), route("old")],  # type: ignore[arg-type]
                   [ObjRef.of(VS)], options)
    return execute(kube, journal, plan, options,  # type: ignore[arg-type]
                   lambda n, label: Progress(io.StringIO(), n, label))


def test_apply_cutover_then_rollback(tmp_path: Path) -> None:
    kube, journal = setup(tmp_path)
    before = content(kube)
    record = run(kube, journal)
    assert record.state is State.DONE
    assert [e.action for e in record.entries] == ["create", "create", "change", "delete"]
    assert all(e.after is not None for e in record.entries)
    assert "VirtualService/ns/a" not in content(kube)
    assert run_rollback(kube, journal, journal.load(record.id)) == 4  # type: ignore[arg-type]
    assert content(kube) == before


@pytest.mark.parametrize("failing", ["apply HTTPRoute/ns/b", "apply HTTPRoute/ns/old",
                                     "delete VirtualService/ns/a"])
def test_any_failure_rolls_back(tmp_path: Path, failing: str) -> None:
    kube, journal = setup(tmp_path)
    before = content(kube)
    kube.fail[failing] = KubeError(422, failing, {"message": "invalid: CEL says no"})
    with pytest.raises(ClusterError, match=r"rejected by the apiserver: invalid: CEL says no.*"
                                           r"rolled back migration"):
        run(kube, journal)
    assert content(kube) == before
    (rid,) = LocalStore(tmp_path).ids()
    assert journal.load(rid).state is State.ROLLED_BACK  # type: ignore[union-attr]


def test_failing_rollback_is_finished_by_running_it_again(tmp_path: Path) -> None:
    kube, journal = setup(tmp_path)
    before = content(kube)
    kube.fail["delete VirtualService/ns/a"] = KubeError(500, "x", {"message": "boom"})
    kube.fail["delete HTTPRoute/ns/a"] = KubeError(500, "y", {"message": "boom again"})
    with pytest.raises(ClusterError, match="automatic rollback did not finish"):
        run(kube, journal)
    (rid,) = LocalStore(tmp_path).ids()
    record = journal.load(rid)
    assert record is not None and record.state is State.FAILED
    run_rollback(kube, journal, record)  # type: ignore[arg-type]
    assert content(kube) == before


def test_rollback_refuses_a_concurrent_edit_unless_forced(tmp_path: Path) -> None:
    kube, journal = setup(tmp_path)
    before = content(kube)
    record = run(kube, journal, cutover=False)
    edited = kube.get(ObjRef.of(route("a")))
    assert edited is not None
    edited["spec"]["rules"] = []
    edited["metadata"]["managedFields"] = [{"manager": "kubectl-edit", "time": "2099"}]
    kube._write(ObjRef.of(edited), edited, "kubectl-edit")
    with pytest.raises(RollbackRefused, match="HTTPRoute/ns/a: changed since the migration "
                                              r"\(last written by kubectl-edit"):
        run_rollback(kube, journal, record)  # type: ignore[arg-type]
    run_rollback(kube, journal, record, force=True)  # type: ignore[arg-type]
    assert content(kube) == before


def test_cluster_record_split_over_several_configmaps(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal_mod, "PART_BYTES", 200)
    kube, journal = setup(tmp_path)
    record = run(kube, journal)
    names = [r.name for r in kube.store if r.kind == "ConfigMap"]
    assert len(names) > 1 and ClusterStore.name(record.id) in names
    remote = ClusterStore(kube).load(record.id)  # type: ignore[arg-type]
    assert remote is not None and remote.to_json()["objects"] == record.to_json()["objects"]
    assert [r.id for r in ClusterStore(kube).records()] == [record.id]  # type: ignore[arg-type]
