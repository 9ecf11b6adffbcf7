"""``--from-cluster``: read every source kind the installed converters claim, plus the v1
Services they resolve hosts against, as :class:`~meshmigrate.sources.Document` objects.

Lists are paginated (``limit``/``continue``). A kind the cluster does not serve (its CRD is
not installed) is skipped with a ``SOURCE_KIND_NOT_INSTALLED`` info finding. ``status`` and
``managedFields`` are dropped; ``creationTimestamp`` is kept (the Istio converter orders
VirtualServices by age, as Istio does).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from meshmigrate.findings import Findings
from meshmigrate.kube.client import Kube, Resource
from meshmigrate.kube.objects import Obj
from meshmigrate.registry import converters
from meshmigrate.sources import Document, LineDict, LineList

SERVICES = ("", "Service", ("v1",))


def source_kinds() -> list[tuple[str, str, tuple[str, ...]]]:
    """(group, kind, versions) of every kind an installed converter reads, then Services."""
    kinds = {(g, k): v for conv in converters().values() for (g, k), v in conv.kinds.items()}
    return [(g, k, kinds[(g, k)]) for (g, k) in sorted(kinds)] + [SERVICES]


def read_sources(kube: Kube, namespaces: Sequence[str] | None,
                 findings: Findings | None = None) -> list[Document]:
    """Every source object in ``namespaces`` (None: all namespaces), sorted per kind by
    age then namespace and name."""
    docs: list[Document] = []
    for group, kind, versions in source_kinds():
        res = pick_resource(kube, group, kind, versions)
        if res is None:
            _not_installed(findings, group, kind, versions)
            continue
        objects = [obj for ns in _scopes(namespaces) for obj in kube.list_all(res, ns)]
        docs.extend(to_document(obj, len(docs) + i) for i, obj in enumerate(_by_age(objects)))
    return docs


def pick_resource(kube: Kube, group: str, kind: str,
                  versions: tuple[str, ...]) -> Resource | None:
    """The served version to read: the group's preferred one when the converter reads it,
    else the first the converter lists that the cluster serves."""
    served = kube.served_versions(group)
    if served is None:
        return None
    preferred, available = served
    ordered = ([preferred] if preferred in versions else []) + [
        v for v in versions if v in available and v != preferred]
    for version in ordered:
        res = kube.resource(f"{group}/{version}" if group else version, kind)
        if res is not None:
            return res
    return None


def _scopes(namespaces: Sequence[str] | None) -> Iterable[str | None]:
    return [None] if namespaces is None else list(dict.fromkeys(namespaces))


def _by_age(objects: list[Obj]) -> list[Obj]:
    def key(obj: Obj) -> tuple[str, str, str]:
        meta = obj.get("metadata") or {}
        return (str(meta.get("creationTimestamp", "")), str(meta.get("namespace", "")),
                str(meta.get("name", "")))
    return sorted(objects, key=key)


def _not_installed(findings: Findings | None, group: str, kind: str,
                   versions: tuple[str, ...]) -> None:
    if findings is not None:
        findings.add("SOURCE_KIND_NOT_INSTALLED", None, (),
                     f"{kind}.{group} ({', '.join(versions)}) is not served by the cluster; "
                     "skipped")


def to_document(obj: Obj, index: int = 0) -> Document:
    """A live object as a Document: ``file`` is ``cluster:<kind>/<ns>/<name>``, line 0."""
    meta = dict(obj.get("metadata") or {})
    meta.pop("managedFields", None)
    clean = {k: v for k, v in obj.items() if k != "status"} | {"metadata": meta}
    where = f"cluster:{obj.get('kind')}/{meta.get('namespace', '')}/{meta.get('name', '')}"
    tree = line_tree(clean)
    assert isinstance(tree, LineDict)
    return Document(tree, where, 0, index, extra={"live": True})


def line_tree(node: Any) -> Any:
    """Plain JSON -> LineDict/LineList with every line 0 (there is no file to point at)."""
    if isinstance(node, dict):
        out = LineDict((str(k), line_tree(v)) for k, v in node.items())
        out.line, out.lines = 0, dict.fromkeys(out, 0)
        return out
    if isinstance(node, list):
        items = LineList(line_tree(v) for v in node)
        items.line, items.lines = 0, [0] * len(items)
        return items
    return node
