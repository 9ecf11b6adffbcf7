"""``requestHeaders`` / ``responseHeaders`` (Consul ``HTTPHeaderModifiers``: ``add``, ``set``,
``remove``). Consul's xDS generator turns ``add`` into Envoy APPEND_IF_EXISTS_OR_ADD and
``set`` into OVERWRITE_IF_EXISTS_OR_ADD, the model's ``add`` and ``set``."""

from __future__ import annotations

from meshmigrate.fields import View
from meshmigrate.model import HeaderOps


def header_ops(parent: View, key: str) -> HeaderOps:
    view = parent.map(key)
    if view is None:
        return HeaderOps()
    return HeaderOps(set=tuple(view.str_map("set").items()),
                     add=tuple(view.str_map("add").items()),
                     remove=tuple(view.str_list("remove")))


def merged(outer: HeaderOps, inner: HeaderOps) -> HeaderOps:
    """Operations of a split nested in another split (Consul ``ServiceSplit.MergeParent``):
    both apply, the inner one last."""
    return HeaderOps(set=outer.set + inner.set, add=outer.add + inner.add,
                     remove=outer.remove + inner.remove)
