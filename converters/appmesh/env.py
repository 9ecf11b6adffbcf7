"""Shared plumbing: the objects being converted, findings, typed list access."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from meshmigrate.fields import View
from meshmigrate.model import ServiceRef
from meshmigrate.registry import ConvertContext
from meshmigrate.sources import Document, FieldPath

GROUP = "appmesh.k8s.aws"
VIRTUAL_SERVICE, VIRTUAL_ROUTER, VIRTUAL_NODE = "VirtualService", "VirtualRouter", "VirtualNode"
GATEWAY_KINDS = ("VirtualGateway", "GatewayRoute")


@dataclass
class Obj:
    """One App Mesh object and the root view its fields are read through (one per
    document, so unread fields are reported once, at the end)."""

    doc: Document
    root: View

    @property
    def key(self) -> tuple[str, str]:
        return (self.doc.namespace(), self.doc.name)

    @property
    def spec(self) -> View:
        return self.root.map("spec") or self.root.at("spec")


@dataclass
class Env:
    ctx: ConvertContext

    def report(self, code: str, obj: Obj, where: View | FieldPath, message: str) -> None:
        path = where.path if isinstance(where, View) else where
        self.ctx.findings.add(code, obj.doc, path, message)

    def known(self, ref: ServiceRef) -> bool:
        return ref in self.ctx.model.services


def mappings(view: View, key: str) -> Iterator[View]:
    """Items of the list ``key``, each checked to be a mapping."""
    for item in view.list(key):
        if not isinstance(item.node, dict):
            raise item.error(f"expected a mapping, got {_kind(item.node)}")
        yield item


def object_ref(view: View | None, default_ns: str) -> tuple[str, str] | None:
    """A ``{namespace, name}`` reference (namespace defaults to the referrer's)."""
    if view is None:
        return None
    return (view.str("namespace") or default_ns, str(view.req_str("name")))


def _kind(value: Any) -> str:
    return {str: "a string", int: "an integer", bool: "a boolean", list: "a list",
            float: "a number"}.get(type(value), type(value).__name__)
