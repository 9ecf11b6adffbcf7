"""Pure parts of meshmigrate.kube: plan, objects, journal, rollback decisions, wait, cutover
order, progress (no cluster needed)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from meshmigrate.errors import UsageError
from meshmigrate.kube.cutover import cutover_order, kept_reason
from meshmigrate.kube.journal import Entry, LocalStore, Record, State, merge, new_id
from meshmigrate.kube.objects import ObjRef, fingerprint, is_subset, last_writers, strip_for_create
from meshmigrate.kube.plan import Action, make_plan, render_plan
from meshmigrate.kube.read import line_tree, to_document
from meshmigrate.kube.rollback import DELETE, NOTHING, RECREATE, RESTORE, assess
from meshmigrate.kube.wait import ACCEPTED, PENDING, REJECTED, SILENT, parse_wait, route_state
from meshmigrate.progress import Progress

GW = "gateway.networking.k8s.io/v1"


def route(name: str, ns: str = "ns", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": GW, "kind": "HTTPRoute", "metadata": {"name": name, "namespace": ns},
            "spec": {"parentRefs": [{"kind": "Service", "name": name}], **spec}}


def live(obj: dict[str, Any], rv: str = "7", **meta: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(obj))
    out["metadata"].update(resourceVersion=rv, uid="u-1", creationTimestamp="2026-01-01T00:00:00Z",
                           **meta)
    return out


VS = ObjRef("networking.istio.io/v1", "VirtualService", "ns", "reviews")
DR = ObjRef("networking.istio.io/v1", "DestinationRule", "ns", "reviews")
SP = ObjRef("linkerd.io/v1alpha2", "ServiceProfile", "ns", "books.ns.svc.cluster.local")


# ---- objects ---------------------------------------------------------------------------
def test_fingerprint_ignores_status_and_server_metadata() -> None:
    a = route("r")
    b = live(a, managedFields=[{"manager": "x"}]) | {"status": {"parents": [{}]}}
    assert fingerprint(a) == fingerprint(b)
    c = json.loads(json.dumps(a))
    c["metadata"]["labels"] = {"x": "y"}
    assert fingerprint(c) != fingerprint(a)
    assert fingerprint(None) is None


def test_is_subset_allows_server_defaults_only() -> None:
    want = {"spec": {"rules": [{"backendRefs": [{"name": "a", "port": 80}]}]}}
    have = {"spec": {"rules": [{"backendRefs": [{"name": "a", "port": 80, "weight": 1,
                                                  "group": "", "kind": "Service"}]}]}}
    assert is_subset(want, have)
    assert not is_subset({"spec": {"rules": [{}, {}]}}, have)
    assert not is_subset({"spec": {"x": 1}}, {"spec": {"x": 2}})


def test_strip_for_create_drops_server_fields() -> None:
    obj = live(route("r"), managedFields=[{}]) | {"status": {}}
    clean = strip_for_create(obj)
    assert set(clean["metadata"]) == {"name", "namespace"} and "status" not in clean


def test_last_writers_newest_first_and_cautious_on_ties() -> None:
    obj = {"metadata": {"managedFields": [
        {"manager": "meshmigrate", "time": "2026-01-01T00:00:05Z"},
        {"manager": "kubectl", "time": "2026-01-01T00:00:05Z"},
        {"manager": "old", "time": "2026-01-01T00:00:01Z"},
        {"manager": "ctrl", "time": "2026-01-01T00:00:09Z", "subresource": "status"}]}}
    assert [m for _, m in last_writers(obj)] == ["kubectl", "meshmigrate", "old"]


# ---- plan ------------------------------------------------------------------------------
def test_plan_actions_and_cutover_order() -> None:
    existing = live(route("same"))
    changed = live(route("changed", rules=[{"backendRefs": [{"name": "old", "port": 1}]}]))
    targets = [route("new"), route("same"),
               route("changed", rules=[{"backendRefs": [{"name": "new", "port": 1}]}])]
    refs = {ObjRef.of(existing): existing, ObjRef.of(changed): changed,
            VS: {"metadata": {}}, SP: {"metadata": {}}, DR: {"metadata": {}}}
    plan = make_plan(targets, [VS, DR, SP, VS], refs, cutover=True)
    assert [(s.ref.name, s.action) for s in plan.steps] == [
        ("new", Action.CREATE), ("same", Action.UNCHANGED), ("changed", Action.CHANGE),
        (SP.name, Action.DELETE), ("reviews", Action.DELETE)]
    assert plan.kept == [(DR, kept_reason(DR))]
    text = render_plan(plan)
    assert "1 to create, 1 to change, 2 to delete, 1 unchanged" in text
    assert "~ change    HTTPRoute/ns/changed  (spec.rules)" in text
    assert "! keep      DestinationRule/ns/reviews" in text


def test_plan_without_cutover_deletes_nothing_and_lists_absent_sources() -> None:
    assert make_plan([route("a")], [VS], {}, cutover=False).phase is not None
    plan = make_plan([route("a")], [VS], {}, cutover=True)
    assert [s.action for s in plan.steps] == [Action.CREATE] and plan.absent == [VS]
    assert not make_plan([], [VS], {}, cutover=False).steps


def test_cutover_order_linkerd_first_referenced_last() -> None:
    split = ObjRef("split.smi-spec.io/v1alpha4", "TrafficSplit", "ns", "s")
    group = ObjRef("specs.smi-spec.io/v1alpha4", "HTTPRouteGroup", "ns", "g")
    other = ObjRef("consul.hashicorp.com/v1alpha1", "ServiceRouter", "ns", "r")
    assert cutover_order([group, other, split, VS, DR, SP]) == [SP, VS, split, other, group]


# ---- journal ---------------------------------------------------------------------------
def _record(entries: list[Entry] | None = None) -> Record:
    return Record(new_id(), "2026-01-01T00:00:00Z", "https://k", ["ns"], entries or [
        Entry(ObjRef.of(route("a")), "create", "apply", None, route("a")),
        Entry(VS, "delete", "cutover", {"metadata": {"name": "reviews"}})])


def test_ids_are_time_sortable() -> None:
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{6}", new_id())


def test_local_store_round_trip_with_step_log(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    record = _record()
    store.save(record)
    store.log(record.id, {"i": 0, "after": {"resourceVersion": "9", "fingerprint": "f"}})
    store.log(record.id, {"i": 1, "restored": True})
    with open(tmp_path / f"{record.id}.steps.jsonl", "a") as fh:
        fh.write('{"i": 1, "aft')  # cut short by a crash
    loaded = store.load(record.id)
    assert loaded is not None and loaded.entries[0].after == {"resourceVersion": "9",
                                                              "fingerprint": "f"}
    assert loaded.entries[1].restored and loaded.state is State.PLANNED
    assert store.ids() == [record.id] and store.load("nope") is None
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_unreadable_local_record_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("{")
    with pytest.raises(UsageError):
        LocalStore(tmp_path).load("x")


def test_merge_keeps_the_newer_state_and_every_finished_step() -> None:
    a, b = _record(), _record()
    b.id = a.id
    a.updated, b.updated = "2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z"
    a.entries[0].after = {"fingerprint": "f"}
    b.state = State.ROLLING_BACK
    merged = merge(a, b)
    assert merged.state is State.ROLLING_BACK and merged.entries[0].after == {"fingerprint": "f"}


def test_record_json_round_trip_and_summary() -> None:
    record = _record()
    again = Record.from_json(json.loads(json.dumps(record.to_json())))
    assert again.to_json() == record.to_json()
    summary = record.summary()
    assert {"id", "time", "namespaces", "objects", "state"} <= set(summary)
    assert summary["objects"][1]["kind"] == "VirtualService"


# ---- rollback decisions ------------------------------------------------------------------
def _mm(obj: dict[str, Any], manager: str = "meshmigrate") -> dict[str, Any]:
    return live(obj, managedFields=[{"manager": manager, "time": "2026-01-01T00:00:05Z"}])


def test_assess_created_object() -> None:
    desired = route("a")
    entry = Entry(ObjRef.of(desired), "create", "apply", None, desired,
                  {"fingerprint": fingerprint(desired)})
    assert assess(0, entry, None).todo == NOTHING
    assert (assess(0, entry, _mm(desired)).todo, assess(0, entry, _mm(desired)).drift) == (
        DELETE, None)
    edited = _mm(route("a", rules=[{}]), "kubectl")
    assert "changed since the migration (last written by kubectl" in str(
        assess(0, entry, edited).drift)


def test_assess_unknown_after_uses_the_last_writer() -> None:
    desired = route("a")
    entry = Entry(ObjRef.of(desired), "create", "apply", None, desired)
    assert assess(0, entry, _mm(desired)).drift is None
    assert assess(0, entry, _mm(desired, "helm")).drift is not None


def test_assess_changed_and_deleted_objects() -> None:
    prior = live(route("a", rules=[{"backendRefs": [{"name": "x", "port": 1}]}]))
    changed = Entry(ObjRef.of(prior), "change", "apply", prior, route("a"),
                    {"fingerprint": fingerprint(route("a"))})
    assert assess(0, changed, _mm(route("a"))).todo == RESTORE
    assert assess(0, changed, prior).todo == NOTHING  # already restored: idempotent
    assert assess(0, changed, None).drift == "deleted since the migration"
    source = Entry(VS, "delete", "cutover", prior, None, {"fingerprint": None})
    assert (assess(0, source, None).todo, assess(0, source, None).drift) == (RECREATE, None)
    assert assess(0, source, _mm(route("a"), "kubectl")).drift == "re-created since the cutover"
    unrecorded = Entry(VS, "delete", "cutover", prior)
    assert assess(0, unrecorded, None).drift is None


# ---- wait ----------------------------------------------------------------------------------
def _status(status: str, generation: int = 1, seen: int = 1) -> dict[str, Any]:
    obj = route("a")
    obj["metadata"]["generation"] = generation
    obj["status"] = {"parents": [{"parentRef": {"kind": "Service", "name": "a"},
                                  "controllerName": "mesh", "conditions": [
                                      {"type": "Accepted", "status": status, "reason": "R",
                                       "message": "m", "observedGeneration": seen}]}]}
    return obj


def test_route_state() -> None:
    assert route_state(route("a"))[0] == SILENT
    assert route_state(_status("True"))[0] == ACCEPTED
    assert route_state(_status("False")) == (REJECTED, "mesh: R: m")
    assert route_state(_status("True", generation=2, seen=1))[0] == PENDING  # stale


def test_parse_wait() -> None:
    assert parse_wait("0s") == 0 and parse_wait("1m30s") == 90 and parse_wait("500ms") == 0.5
    with pytest.raises(UsageError):
        parse_wait("soon")


# ---- read and progress -------------------------------------------------------------------
def test_to_document_from_a_live_object() -> None:
    doc = to_document(live(route("r"), managedFields=[{}]) | {"status": {"x": 1}}, 3)
    assert doc.file == "cluster:HTTPRoute/ns/r" and doc.line == 0 and doc.index == 3
    assert "managedFields" not in doc.obj["metadata"] and "status" not in doc.obj
    assert doc.obj["metadata"]["creationTimestamp"] and doc.line_of(("spec", "parentRefs", 0)) == 0
    assert line_tree([1, {"a": []}])[1].lines == {"a": 0}


def test_progress_plain_lines_and_bar() -> None:
    plain = io.StringIO()
    with Progress(plain, 20, "apply", tty=False) as bar:
        for _ in range(20):
            bar.advance()
    assert plain.getvalue().splitlines() == [f"apply: {n}/20" for n in range(2, 21, 2)]
    tty = io.StringIO()
    with Progress(tty, 4, "apply", tty=True) as bar:
        bar.advance(4)
    assert "[##############################] 4/4" in tty.getvalue() and tty.getvalue()[-1] == "\n"
    silent = io.StringIO()
    Progress(silent, 5, "x", enabled=False).advance()
    assert silent.getvalue() == ""


def test_latest_migration_is_the_newest_even_within_one_second(tmp_path: Path) -> None:
    from dataclasses import replace

    from meshmigrate.kube.journal import Journal

    store = LocalStore(tmp_path)
    first = replace(_record(), id="20260101T000000Z-ffffff", time="2026-01-01T00:00:00.100000Z")
    second = replace(_record(), id="20260101T000000Z-000000",
                     time="2026-01-01T00:00:00.900000Z")
    store.save(first)
    store.save(second)
    assert [r.id for r in Journal(store, None).records("https://k")] == [second.id, first.id]
