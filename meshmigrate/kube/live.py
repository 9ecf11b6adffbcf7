"""Read the live state of many objects at once: one paginated list per kind and namespace
when several objects share them, else one GET each."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from meshmigrate.kube.client import Kube
from meshmigrate.kube.objects import Obj, ObjRef

LIST_THRESHOLD = 4


def read_live(kube: Kube, refs: Iterable[ObjRef]) -> dict[ObjRef, Obj]:
    """The objects among ``refs`` that exist, by reference."""
    groups: dict[tuple[str, str, str], list[ObjRef]] = defaultdict(list)
    for ref in dict.fromkeys(refs):
        groups[(ref.api_version, ref.kind, ref.namespace)].append(ref)
    found: dict[ObjRef, Obj] = {}
    for (api_version, kind, namespace), members in sorted(groups.items()):
        if len(members) < LIST_THRESHOLD:
            found.update((r, o) for r in members if (o := kube.get(r)) is not None)
            continue
        res = kube.require(members[0])
        wanted = set(members)
        for obj in kube.list_all(res, namespace if res.namespaced else None):
            ref = ObjRef(api_version, kind, namespace, obj["metadata"]["name"])
            if ref in wanted:
                found[ref] = obj
    return found
