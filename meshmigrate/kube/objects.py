"""Object references and content helpers shared by plan, apply and rollback (pure)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]
FIELD_MANAGER = "meshmigrate"

#: metadata the server owns; dropped when an object is re-created from a journal copy.
SERVER_METADATA = ("resourceVersion", "uid", "creationTimestamp", "generation",
                   "managedFields", "selfLink", "deletionTimestamp",
                   "deletionGracePeriodSeconds")


@dataclass(frozen=True, slots=True, order=True)
class ObjRef:
    """Which object: ``apiVersion``, ``kind``, namespace ("" if cluster-scoped), name."""

    api_version: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: Obj, default_namespace: str = "default") -> ObjRef:
        meta = obj.get("metadata") or {}
        return cls(str(obj.get("apiVersion", "")), str(obj.get("kind", "")),
                   str(meta.get("namespace") or default_namespace), str(meta.get("name", "")))

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else (
            f"{self.kind}/{self.name}")

    def to_json(self) -> dict[str, str]:
        return {"apiVersion": self.api_version, "kind": self.kind,
                "namespace": self.namespace, "name": self.name}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ObjRef:
        return cls(data["apiVersion"], data["kind"], data.get("namespace", ""), data["name"])


def content(obj: Obj) -> Obj:
    """What a person means by "the object": everything but status and server metadata
    (labels and annotations kept). A mesh controller writing ``status`` changes the
    resourceVersion but not the content, so it never counts as an edit."""
    meta = obj.get("metadata") or {}
    body = {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion")}
    body["labels"] = meta.get("labels") or {}
    body["annotations"] = meta.get("annotations") or {}
    return body


def fingerprint(obj: Obj | None) -> str | None:
    """A stable hash of :func:`content` (None for an absent object)."""
    if obj is None:
        return None
    text = json.dumps(content(obj), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def strip_for_create(obj: Obj) -> Obj:
    """A copy that can be POSTed again: no status, no server-owned metadata."""
    out = {k: v for k, v in obj.items() if k != "status"}
    out["metadata"] = {k: v for k, v in (obj.get("metadata") or {}).items()
                       if k not in SERVER_METADATA}
    return out


def without_managed_fields(obj: Obj) -> Obj:
    out = dict(obj)
    out["metadata"] = {k: v for k, v in (obj.get("metadata") or {}).items()
                       if k != "managedFields"}
    return out


def is_subset(want: Any, have: Any) -> bool:
    """True when every field of ``want`` has the same value in ``have``: applying ``want``
    would change nothing (lists must have the same length; server defaults may add fields)."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(
            is_subset(v, have.get(k)) for k, v in want.items())
    if isinstance(want, list):
        return (isinstance(have, list) and len(want) == len(have)
                and all(is_subset(w, h) for w, h in zip(want, have, strict=True)))
    return bool(want == have)


def resource_version(obj: Obj | None) -> str | None:
    if obj is None:
        return None
    rv = (obj.get("metadata") or {}).get("resourceVersion")
    return str(rv) if rv else None


def last_writers(obj: Obj) -> list[tuple[str, str]]:
    """``(time, manager)`` of each write to the object's content (status writes left out),
    newest first, from ``metadata.managedFields``. Times have one-second resolution: within
    the same second another manager counts as later than ``meshmigrate`` (the cautious
    reading when deciding whether someone else edited an object)."""
    entries = (obj.get("metadata") or {}).get("managedFields") or []
    out = [(str(e.get("time", "")), str(e.get("manager", ""))) for e in entries
           if isinstance(e, dict) and e.get("subresource", "") != "status"]
    return sorted(out, key=lambda w: (w[0], w[1] != FIELD_MANAGER), reverse=True)
