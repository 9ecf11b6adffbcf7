"""The migration record (journal): everything needed to undo a migration, written before
anything changes and stored twice, locally and in the cluster.

- Locally: ``${XDG_STATE_HOME:-~/.local/state}/meshmigrate/migrations/<id>.json`` (or
  ``--state-dir``), replaced atomically (write a temporary file, fsync, rename, fsync the
  directory), plus ``<id>.steps.jsonl``, an append-only log of finished steps (one JSON line
  per object applied, deleted or restored, flushed to the kernel before the next request, so
  it survives the tool being killed).
- In the cluster: ConfigMap(s) ``mm-<id>`` in namespace ``meshmigrate-system`` holding the
  gzipped record (split over several ConfigMaps past 900 kB), so a rollback works from any
  machine. If it cannot be written, the migration stops before touching anything.

The record holds, for every object the plan touches, its full prior state (or None), what
was sent, and after each step the object's resourceVersion and content fingerprint.
"""

from __future__ import annotations

import base64
import enum
import gzip
import json
import os
import secrets
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from meshmigrate import __version__
from meshmigrate.errors import ClusterError, UsageError
from meshmigrate.kube.client import Kube, KubeError
from meshmigrate.kube.objects import Obj, ObjRef

SYSTEM_NAMESPACE = "meshmigrate-system"
PART_BYTES = 900_000
LABEL = "meshmigrate.io/migration"


class State(enum.Enum):
    PLANNED = "planned"
    APPLYING = "applying"
    APPLIED = "applied"
    CUTOVER = "cutover"
    DONE = "done"
    ROLLING_BACK = "rolling-back"
    ROLLED_BACK = "rolled-back"
    FAILED = "failed"


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_id(when: datetime | None = None) -> str:
    """Time-sortable: ``20261126T051500Z-1a2b3c``."""
    stamp = (when or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


@dataclass
class Entry:
    """One object the migration touches. ``after``: ``{"resourceVersion", "fingerprint"}``
    once the step is done (fingerprint None: deleted); None while not known to be done."""

    ref: ObjRef
    action: str
    phase: str
    prior: Obj | None
    desired: Obj | None = None
    after: dict[str, Any] | None = None
    restored: bool = False

    def to_json(self) -> dict[str, Any]:
        return {**self.ref.to_json(), "action": self.action, "phase": self.phase,
                "prior": self.prior, "desired": self.desired, "after": self.after,
                "restored": self.restored}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        return cls(ObjRef.from_json(data), data["action"], data["phase"], data.get("prior"),
                   data.get("desired"), data.get("after"), bool(data.get("restored")))


@dataclass
class Record:
    id: str
    time: str
    server: str
    namespaces: list[str]
    entries: list[Entry]
    state: State = State.PLANNED
    context: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    updated: str = field(default_factory=now)
    events: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "time": self.time, "updated": self.updated,
                "state": self.state.value, "server": self.server, "context": self.context,
                "namespaces": self.namespaces, "options": self.options, "error": self.error,
                "tool": f"meshmigrate {__version__}", "events": self.events,
                "objects": [e.to_json() for e in self.entries]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        return cls(data["id"], data["time"], data.get("server", ""),
                   list(data.get("namespaces") or []),
                   [Entry.from_json(e) for e in data.get("objects") or []],
                   State(data["state"]), data.get("context"), dict(data.get("options") or {}),
                   data.get("error"), data.get("updated", data["time"]),
                   list(data.get("events") or []))

    def summary(self) -> dict[str, Any]:
        """What ``history -o json`` shows for one migration."""
        objects = [{**e.ref.to_json(), "action": e.action, "phase": e.phase}
                   for e in self.entries]
        return {"id": self.id, "time": self.time, "state": self.state.value,
                "namespaces": self.namespaces, "server": self.server,
                "context": self.context, "objects": objects, "error": self.error}


# ---- local store -----------------------------------------------------------------------
def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(base) / "meshmigrate" / "migrations"


class LocalStore:
    def __init__(self, directory: Path | None = None) -> None:
        self.dir = directory or default_state_dir()
        self._lock = threading.Lock()

    def path(self, migration_id: str) -> Path:
        return self.dir / f"{migration_id}.json"

    def save(self, record: Record) -> None:
        """Replace ``<id>.json`` atomically and durably."""
        self.dir.mkdir(parents=True, exist_ok=True)
        data = json.dumps(record.to_json(), indent=1).encode()
        fd, tmp = tempfile.mkstemp(prefix=f".{record.id}.", dir=self.dir)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path(record.id))
        _fsync_dir(self.dir)

    def log(self, migration_id: str, event: dict[str, Any]) -> None:
        """Append one finished step to ``<id>.steps.jsonl`` (flushed before returning)."""
        line = json.dumps(event, separators=(",", ":")) + "\n"
        with self._lock, open(self.dir / f"{migration_id}.steps.jsonl", "a",
                              encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()

    def load(self, migration_id: str) -> Record | None:
        try:
            record = Record.from_json(json.loads(self.path(migration_id).read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError) as exc:
            raise UsageError(f"{self.path(migration_id)}: unreadable record: {exc}") from None
        apply_events(record, self._events(migration_id))
        return record

    def _events(self, migration_id: str) -> list[dict[str, Any]]:
        path = self.dir / f"{migration_id}.steps.jsonl"
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a line cut short by a crash: that step is treated as not done
        return out

    def ids(self) -> list[str]:
        if not self.dir.is_dir():
            return []
        return sorted(p.name[:-5] for p in self.dir.glob("*.json") if not p.name.startswith("."))


def apply_events(record: Record, events: list[dict[str, Any]]) -> None:
    """Fold step-log lines into the record's entries."""
    for event in events:
        index = event.get("i")
        if not isinstance(index, int) or not 0 <= index < len(record.entries):
            continue
        entry = record.entries[index]
        if "after" in event:
            entry.after = event["after"]
        if "prior" in event:
            entry.prior = event["prior"]
        if event.get("restored"):
            entry.restored = True


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---- cluster store ---------------------------------------------------------------------
class ClusterStore:
    """Records as ConfigMaps in ``meshmigrate-system`` (binaryData ``record.json.gz``)."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube

    @staticmethod
    def name(migration_id: str, part: int = 0) -> str:
        base = f"mm-{migration_id.lower()}"
        return base if part == 0 else f"{base}-p{part}"

    def ensure_namespace(self) -> None:
        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SYSTEM_NAMESPACE}}
        try:
            self.kube.create(ns)
        except KubeError as exc:
            if exc.status not in (409, 403):  # exists, or we may not create but may write
                raise

    def save(self, record: Record) -> None:
        blob = gzip.compress(json.dumps(record.to_json()).encode(), mtime=0)
        parts = [blob[i:i + PART_BYTES] for i in range(0, len(blob), PART_BYTES)] or [b""]
        for index in range(len(parts) - 1, -1, -1):  # the head (part 0) last
            self.kube.apply(self._configmap(record, index, parts[index], len(parts)),
                            force=True)

    def _configmap(self, record: Record, part: int, data: bytes, parts: int) -> Obj:
        notes = {"meshmigrate.io/id": record.id, "meshmigrate.io/state": record.state.value,
                 "meshmigrate.io/parts": str(parts), "meshmigrate.io/part": str(part)}
        return {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": self.name(record.id, part), "namespace": SYSTEM_NAMESPACE,
                             "labels": {"app.kubernetes.io/managed-by": "meshmigrate",
                                        LABEL: record.id.lower(),
                                        "meshmigrate.io/part": str(part)},
                             "annotations": notes},
                "binaryData": {"record.json.gz": base64.b64encode(data).decode()}}

    def load(self, migration_id: str) -> Record | None:
        head = self._get(self.name(migration_id))
        if head is None:
            return None
        return self._decode(head)

    def _get(self, name: str) -> Obj | None:
        return self.kube.get(ObjRef("v1", "ConfigMap", SYSTEM_NAMESPACE, name))

    def _decode(self, head: Obj) -> Record:
        notes = (head.get("metadata") or {}).get("annotations") or {}
        migration_id, parts = notes.get("meshmigrate.io/id", ""), int(
            notes.get("meshmigrate.io/parts", "1"))
        chunks = [head] + [self._get(self.name(migration_id, i)) for i in range(1, parts)]
        if any(c is None for c in chunks):
            raise ClusterError(f"migration record {migration_id} in the cluster is incomplete")
        blob = b"".join(base64.b64decode((c or {})["binaryData"]["record.json.gz"])
                        for c in chunks)
        return Record.from_json(json.loads(gzip.decompress(blob)))

    def records(self) -> list[Record]:
        res = self.kube.require(ObjRef("v1", "ConfigMap", SYSTEM_NAMESPACE, ""))
        try:
            heads = self.kube.list_all(res, SYSTEM_NAMESPACE, selector="meshmigrate.io/part=0")
        except KubeError as exc:
            if exc.status in (403, 404):
                return []
            raise
        return [self._decode(h) for h in heads]


# ---- both ------------------------------------------------------------------------------
Warn = Callable[[str], None]


class Journal:
    """The two stores together. The local copy is written first and always; the cluster copy
    must be written at the start (else nothing is changed) and is updated at each change of
    state (a failure there is reported, not fatal: the local copy and the step log hold the
    truth, and the next successful write catches up)."""

    def __init__(self, local: LocalStore, cluster: ClusterStore | None,
                 warn: Warn | None = None) -> None:
        self.local, self.cluster = local, cluster
        self.warn = warn or (lambda _msg: None)

    def begin(self, record: Record) -> None:
        self.local.save(record)
        if self.cluster is None:
            return
        try:
            self.cluster.ensure_namespace()
            self.cluster.save(record)
        except ClusterError as exc:
            record.state, record.error = State.FAILED, f"journal not written: {exc.one_line()}"
            self.local.save(record)
            raise ClusterError(f"cannot write the migration record to namespace "
                               f"{SYSTEM_NAMESPACE}: {exc.one_line()}; nothing was changed"
                               ) from None

    def set_state(self, record: Record, state: State, note: str = "") -> None:
        record.state, record.updated = state, now()
        record.events.append({"time": record.updated, "state": state.value, "note": note})
        self.local.save(record)
        self.sync(record)

    def sync(self, record: Record) -> None:
        if self.cluster is None:
            return
        try:
            self.cluster.save(record)
        except ClusterError as exc:
            self.warn(f"warning: the cluster copy of migration {record.id} was not updated "
                      f"({exc.one_line()}); the local copy is current")

    def step_done(self, record: Record, index: int, after: dict[str, Any]) -> None:
        record.entries[index].after = after
        self.local.log(record.id, {"i": index, "after": after, "t": now()})

    def step_restored(self, record: Record, index: int) -> None:
        record.entries[index].restored = True
        self.local.log(record.id, {"i": index, "restored": True, "t": now()})

    def load(self, migration_id: str) -> Record | None:
        local = self.local.load(migration_id)
        remote = self._remote(migration_id)
        if local is None or remote is None:
            return local or remote
        return merge(local, remote)

    def _remote(self, migration_id: str) -> Record | None:
        if self.cluster is None:
            return None
        try:
            return self.cluster.load(migration_id)
        except ClusterError as exc:
            self.warn(f"warning: cannot read the cluster copy of {migration_id}: "
                      f"{exc.one_line()}")
            return None

    def records(self, server: str | None) -> list[Record]:
        """Every record for ``server`` (local and cluster), newest first."""
        found = {r.id: r for r in self._cluster_records()}
        for migration_id in self.local.ids():
            local = self.local.load(migration_id)
            if local is None or (server and local.server != server):
                continue
            found[migration_id] = merge(local, found[migration_id]) if (
                migration_id in found) else local
        # newest first by the record's microsecond time: IDs are only second-precise, and
        # two migrations within one second would otherwise sort by their random suffix
        return sorted(found.values(), key=lambda r: (r.time, r.id), reverse=True)

    def _cluster_records(self) -> list[Record]:
        if self.cluster is None:
            return []
        try:
            return self.cluster.records()
        except ClusterError as exc:
            self.warn(f"warning: cannot list the migrations in the cluster: {exc.one_line()}")
            return []


def merge(a: Record, b: Record) -> Record:
    """The more recently updated copy, with every finished step either copy knows."""
    newer, older = (a, b) if a.updated >= b.updated else (b, a)
    for mine, theirs in zip(newer.entries, older.entries, strict=False):
        mine.after = mine.after or theirs.after
        mine.restored = mine.restored or theirs.restored
    return newer
