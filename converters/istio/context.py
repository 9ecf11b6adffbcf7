"""What converting one Istio object needs, bundled so the transforms stay short."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from converters.istio.subsets import SubsetIndex
from meshmigrate.fields import View
from meshmigrate.findings import Findings
from meshmigrate.model import RoutingModel, ServiceInfo, ServiceRef, SubsetService
from meshmigrate.sources import Document, FieldPath


@dataclass
class Env:
    """One source object being converted.

    Findings go to a per-object collector: a VirtualService that turns out to be ignored
    (another one for the same host is older) keeps only the finding that says so.
    ``subset_services`` collects the per-subset Services its destinations refer to; only
    those of tables that end up in effect are added to the model.
    """

    doc: Document
    model: RoutingModel
    subsets: SubsetIndex
    findings: Findings = field(default_factory=Findings)
    subset_services: dict[ServiceRef, SubsetService] = field(default_factory=dict)
    #: (parent, subset name) -> the Service chosen for it (the choice is made once).
    subset_refs: dict[tuple[ServiceRef, str], ServiceRef] = field(default_factory=dict)
    #: The object's namespace (every short host name resolves in it).
    namespace: str = field(init=False)

    def __post_init__(self) -> None:
        self.namespace = self.doc.namespace()

    def service(self, ref: ServiceRef) -> ServiceInfo | None:
        return self.model.services.get(ref)

    def report(self, code: str, where: View | FieldPath, message: str) -> None:
        path = where.path if isinstance(where, View) else where
        self.findings.add(code, self.doc, path, message)


def mappings(view: View, key: str) -> Iterator[View]:
    """Items of the list ``key``, each checked to be a mapping (typed getters on a non-mapping
    would silently read nothing)."""
    for item in view.list(key):
        if not isinstance(item.node, dict):
            raise item.error(f"expected a mapping, got {_kind(item.node)}")
        yield item


def map_entries(view: View, key: str) -> Iterator[tuple[str, View | None]]:
    """``name -> mapping`` entries of the map ``key`` (a null value gives None)."""
    parent = view.map(key)
    if parent is None:
        return
    for name in parent.node:
        yield str(name), parent.map(str(name))


def _kind(value: Any) -> str:
    return {str: "a string", int: "an integer", bool: "a boolean", list: "a list",
            float: "a number"}.get(type(value), type(value).__name__)
