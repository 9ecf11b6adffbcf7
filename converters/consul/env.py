"""What converting a set of Consul config entries needs: the entries by service, the shared
model and the findings."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from meshmigrate.fields import View
from meshmigrate.model import ServiceRef
from meshmigrate.registry import ConvertContext
from meshmigrate.sources import Document, FieldPath

ROUTER, SPLITTER, RESOLVER = "ServiceRouter", "ServiceSplitter", "ServiceResolver"
KINDS = (ROUTER, SPLITTER, RESOLVER)


@dataclass
class Entry:
    """One config entry document and the root view its fields are read through (one view per
    document, so unread fields are reported once, after everything was converted)."""

    doc: Document
    root: View

    @property
    def ref(self) -> ServiceRef:
        """The entry's name is the Consul service name; its namespace maps 1:1."""
        return ServiceRef(self.doc.namespace(), self.doc.name)

    @property
    def spec(self) -> View:
        return self.root.map("spec") or self.root.at("spec")


@dataclass
class Env:
    ctx: ConvertContext

    def report(self, code: str, doc: Document, where: View | FieldPath, message: str) -> None:
        path = where.path if isinstance(where, View) else where
        self.ctx.findings.add(code, doc, path, message)

    def known(self, ref: ServiceRef) -> bool:
        return ref in self.ctx.model.services


def mappings(view: View, key: str) -> Iterator[View]:
    """Items of the list ``key``, each checked to be a mapping."""
    for item in view.list(key):
        if not isinstance(item.node, dict):
            raise item.error(f"expected a mapping, got {_kind(item.node)}")
        yield item


def _kind(value: Any) -> str:
    return {str: "a string", int: "an integer", bool: "a boolean", list: "a list",
            float: "a number"}.get(type(value), type(value).__name__)
