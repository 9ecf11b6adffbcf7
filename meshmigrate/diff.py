"""``diff``: what would change if the conversion output replaced the objects in a directory
(or in the cluster), structurally and semantically.

* **Structural**: objects matched by kind, namespace and name; each is *added* (only in the
  conversion output), *removed* (only in the directory) or *changed*. A change carries the
  RFC 6902 JSON Patch that turns the directory's object into the output's (jsonpatch) and a
  human account of it (deepdiff).
* **Semantic**: the requests whose outcome under the directory's objects differs from the
  source configuration's own semantics (:func:`meshmigrate.verify.verify_model`).

Only objects meshmigrate manages are compared on the directory side: Gateway API kinds and
objects labelled ``app.kubernetes.io/managed-by: meshmigrate`` (per-subset Services). Fields
the API server fills in (``status``, ``metadata.uid``…) are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonpatch  # type: ignore[import-untyped,unused-ignore]
from deepdiff import DeepDiff  # type: ignore[import-untyped,unused-ignore]

from meshmigrate.model import RoutingModel
from meshmigrate.sources import Document, display_name
from meshmigrate.targets import Profile
from meshmigrate.trace import plain
from meshmigrate.verify import VerifyReport, rule_origin, verify_model

MANAGED_LABEL = ("app.kubernetes.io/managed-by", "meshmigrate")
GATEWAY_GROUPS = ("gateway.networking.k8s.io", "gateway.networking.x-k8s.io")
_SERVER_FIELDS = ("uid", "resourceVersion", "generation", "creationTimestamp",
                  "managedFields", "selfLink")

Key = tuple[str, str, str]  # (kind, namespace, name)


@dataclass(frozen=True, slots=True)
class ObjectChange:
    """One object that differs. ``file``/``line`` locate the directory's copy."""

    kind: str
    namespace: str
    name: str
    status: str  # "added" | "removed" | "changed"
    patch: tuple[dict[str, Any], ...] = ()
    details: tuple[str, ...] = ()
    file: str | None = None
    line: int | None = None
    after: dict[str, Any] | None = field(default=None, compare=False)

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "namespace": self.namespace,
                               "name": self.name, "file": self.file, "line": self.line}
        if self.status == "changed":
            out["patch"] = list(self.patch)
        elif self.status == "added":
            out["object"] = self.after
        return out


@dataclass
class DiffReport:
    changes: list[ObjectChange]
    unchanged: int
    semantic: VerifyReport
    #: where each semantic difference's source rule is written: (file, line) or None
    locations: list[tuple[str, int] | None] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.changes and self.semantic.equivalent

    def by_status(self, status: str) -> list[ObjectChange]:
        return [c for c in self.changes if c.status == status]


# --- structural -------------------------------------------------------------------------

def is_managed(obj: dict[str, Any]) -> bool:
    """A Gateway API object, or one labelled as made by meshmigrate."""
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    labels = meta.get("labels") if isinstance(meta, dict) else None
    managed = isinstance(labels, dict) and labels.get(MANAGED_LABEL[0]) == MANAGED_LABEL[1]
    return group in GATEWAY_GROUPS or managed


def normalize(obj: dict[str, Any]) -> dict[str, Any]:
    """A plain copy without the fields the API server fills in."""
    out: dict[str, Any] = plain(obj)
    out.pop("status", None)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        for name in _SERVER_FIELDS:
            meta.pop(name, None)
        annotations = meta.get("annotations")
        if isinstance(annotations, dict):
            annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
            if not annotations:
                meta.pop("annotations")
    return out


def object_key(obj: dict[str, Any]) -> Key:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    assert isinstance(meta, dict)
    return (str(obj.get("kind", "")), str(meta.get("namespace") or "default"),
            str(meta.get("name", "")))


def structural_diff(output: Sequence[dict[str, Any]],
                    existing: Sequence[Document]) -> tuple[list[ObjectChange], int]:
    """Changes from ``existing`` (directory or cluster) to ``output``, sorted by kind,
    namespace and name; and the number of identical objects."""
    after = {object_key(o): normalize(o) for o in output}
    before_docs = {object_key(d.obj): d for d in existing if is_managed(d.obj)}
    changes: list[ObjectChange] = []
    unchanged = 0
    for key in sorted(set(after) | set(before_docs)):
        doc = before_docs.get(key)
        change = _compare_one(key, normalize(doc.obj) if doc else None, after.get(key), doc)
        if change is None:
            unchanged += 1
        else:
            changes.append(change)
    return changes, unchanged


def _compare_one(key: Key, before: dict[str, Any] | None, after: dict[str, Any] | None,
                 doc: Document | None) -> ObjectChange | None:
    where = {"file": display_name(doc.file), "line": doc.line} if doc else {}
    if before is None:
        return ObjectChange(*key, status="added", after=after)
    if after is None:
        return ObjectChange(*key, status="removed", **where)  # type: ignore[arg-type]
    patch = jsonpatch.make_patch(before, after).patch
    if not patch:
        return None
    return ObjectChange(*key, status="changed", patch=tuple(patch),
                        details=tuple(describe_changes(before, after)),
                        **where)  # type: ignore[arg-type]


def describe_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Human sentences for the differences (deepdiff's verbose account)."""
    text = DeepDiff(before, after, verbose_level=2).pretty()
    return [line for line in str(text).splitlines() if line.strip()]


# --- the whole diff ---------------------------------------------------------------------

def diff_against(model: RoutingModel, output: Sequence[dict[str, Any]],
                 existing: Sequence[Document], profile: Profile | None = None) -> DiffReport:
    """Structural diff of ``output`` against ``existing`` plus the semantic diff of the
    source configuration (``model``) against ``existing``."""
    changes, unchanged = structural_diff(output, existing)
    semantic = verify_model(model, [plain(d.obj) for d in existing], profile=profile)
    locations = [_location(rule_origin(model, d)) for d in semantic.differences]
    return DiffReport(changes, unchanged, semantic, locations)


def _location(origin: Any) -> tuple[str, int] | None:
    if origin is None:
        return None
    return display_name(origin.doc.file), origin.doc.line_of(origin.path)


# --- the live cluster -------------------------------------------------------------------

#: Route kinds read from the cluster (the preferred served version of each), then the
#: Services meshmigrate created.
ROUTE_KINDS = ("HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute")
_ROUTE_VERSIONS = ("v1", "v1beta1", "v1alpha3", "v1alpha2")


def read_cluster_targets(kube: Any, namespaces: Sequence[str] | None) -> list[Document]:
    """Mesh routes (a Service parent) and meshmigrate-made Services in ``namespaces``
    (None: all namespaces), as Documents; kinds the cluster does not serve are skipped."""
    from meshmigrate.kube.read import pick_resource, to_document

    found: list[Any] = []
    scopes: list[str | None] = [None] if namespaces is None else list(dict.fromkeys(namespaces))
    for kind in ROUTE_KINDS:
        res = pick_resource(kube, GATEWAY_GROUPS[0], kind, _ROUTE_VERSIONS)
        if res is not None:
            found += [o for ns in scopes for o in kube.list_all(res, ns) if _mesh_route(o)]
    services = kube.resource("v1", "Service")
    selector = f"{MANAGED_LABEL[0]}={MANAGED_LABEL[1]}"
    if services is not None:
        found += [o for ns in scopes for o in kube.list_all(services, ns, selector=selector)]
    return [to_document(obj, i) for i, obj in enumerate(found)]


def _mesh_route(obj: dict[str, Any]) -> bool:
    refs = (obj.get("spec") or {}).get("parentRefs") or []
    return any(isinstance(r, dict) and r.get("kind") == "Service" for r in refs)
