"""Roll a migration back to the exact prior state of every object it touched.

For each journal entry, in reverse order (so the source objects come back before the
routes go away): an object the migration created is deleted; one it changed is replaced by
its prior copy (spec, labels, annotations and ``managedFields``, so field ownership is as
before); one it deleted (cutover) is re-created from its prior copy (new uid and
creationTimestamp: the apiserver assigns those).

Concurrent edits: an entry whose object is neither in its prior state nor in the state the
migration left it in (content fingerprint recorded after each step; when the tool died
before recording it, the last writer in ``managedFields`` must be ``meshmigrate``) was
changed by someone else. Rollback then refuses, naming every such object, unless
``force``. It is idempotent: an object already in its prior state is left alone, so a
rollback interrupted by a crash is simply run again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from meshmigrate.errors import ClusterError
from meshmigrate.kube.client import FIELD_MANAGER, Kube
from meshmigrate.kube.journal import Entry, Journal, Record, State
from meshmigrate.kube.live import read_live
from meshmigrate.kube.objects import (
    Obj,
    fingerprint,
    last_writers,
    resource_version,
    strip_for_create,
)

NOTHING, DELETE, RESTORE, RECREATE = "nothing", "delete", "restore", "recreate"


class RollbackRefused(ClusterError):
    """Someone else changed objects since the migration; ``--force`` overrides."""


@dataclass
class Decision:
    index: int
    entry: Entry
    current: Obj | None
    todo: str
    drift: str | None = None


def assess(index: int, entry: Entry, current: Obj | None) -> Decision:
    """What to do for one entry, and whether someone else changed the object."""
    if fingerprint(current) == fingerprint(entry.prior):
        return Decision(index, entry, current, NOTHING)
    todo = DELETE if entry.prior is None else (RECREATE if current is None else RESTORE)
    return Decision(index, entry, current, todo, drift_of(entry, current))


def drift_of(entry: Entry, current: Obj | None) -> str | None:
    """Why the object is not as the migration left it, or None when it is."""
    if entry.after is not None:
        expected = entry.after.get("fingerprint")
        if fingerprint(current) == expected:
            return None
        if current is None:
            return "deleted since the migration"
        return "re-created since the cutover" if expected is None else _changed_by(current)
    if current is None:  # the step may have run without being recorded
        return None if entry.action == "delete" else "deleted since the migration"
    writers = last_writers(current)
    if writers and writers[0][1] == FIELD_MANAGER:
        return None
    return _changed_by(current)


def _changed_by(current: Obj) -> str:
    writers = last_writers(current)
    who = f" (last written by {writers[0][1]} at {writers[0][0]})" if writers else ""
    return f"changed since the migration{who}"


def assess_all(kube: Kube, record: Record) -> list[Decision]:
    live = read_live(kube, (e.ref for e in record.entries))
    return [assess(i, e, live.get(e.ref)) for i, e in enumerate(record.entries)]


def refusal(drifted: list[Decision], record: Record) -> RollbackRefused:
    lines = "; ".join(f"{d.entry.ref}: {d.drift}" for d in drifted)
    return RollbackRefused(f"not rolling back migration {record.id}: {len(drifted)} object(s) "
                           f"changed by someone else since: {lines}. Re-run with --force to "
                           "overwrite their changes with the prior state")


def perform(kube: Kube, decision: Decision) -> None:
    """Bring one object back to its prior state."""
    entry, current = decision.entry, decision.current
    if decision.todo == DELETE:
        kube.delete(entry.ref, resource_version=resource_version(current))
    elif decision.todo == RECREATE and entry.prior is not None:
        restore_owners(kube, entry.prior, kube.create(strip_for_create(entry.prior)))
    elif decision.todo == RESTORE and entry.prior is not None and current is not None:
        restore_owners(kube, entry.prior, kube.replace(restore_body(entry.prior, current)))


def restore_body(prior: Obj, current: Obj) -> Obj:
    """The prior object written over the current one (same uid, the current resourceVersion
    as the optimistic lock)."""
    body = {k: v for k, v in prior.items() if k != "status"}
    meta = {k: v for k, v in (prior.get("metadata") or {}).items() if k != "managedFields"}
    cur_meta = current.get("metadata") or {}
    meta.update(resourceVersion=cur_meta.get("resourceVersion"), uid=cur_meta.get("uid"))
    body["metadata"] = meta
    return body


def restore_owners(kube: Kube, prior: Obj, written: Obj) -> None:
    """Give the fields back to their prior managers.

    The write that restored the content made ``meshmigrate`` own every field it changed
    (the apiserver's field manager takes changed fields away from their owners). A second
    write that changes no field but carries the prior ``managedFields`` is taken as-is
    (``ObjectMeta.managedFields``: a request may set them), so later server-side applies by
    the original owners behave exactly as before the migration.
    """
    fields = (prior.get("metadata") or {}).get("managedFields")
    body = {k: v for k, v in written.items() if k != "status"}
    # One empty entry resets the field (API reference, ObjectMeta.managedFields).
    body["metadata"] = {**written["metadata"], "managedFields": list(fields) if fields else [{}]}
    kube.replace(body)


Tick = Callable[[int], None]


def run_rollback(kube: Kube, journal: Journal, record: Record, force: bool = False,
                 tick: Tick | None = None) -> int:
    """Roll ``record`` back; the number of objects changed. Raises RollbackRefused when
    someone else changed an object (unless ``force``), ClusterError on failure."""
    decisions = assess_all(kube, record)
    drifted = [d for d in decisions if d.drift]
    if drifted and not force:
        raise refusal(drifted, record)
    if record.state is not State.ROLLING_BACK:
        journal.set_state(record, State.ROLLING_BACK, "forced" if force and drifted else "")
    changed = 0
    for decision in reversed(decisions):
        if decision.todo != NOTHING:
            perform(kube, decision)
            changed += 1
        journal.step_restored(record, decision.index)
        if tick:
            tick(1)
    journal.set_state(record, State.ROLLED_BACK)
    return changed
