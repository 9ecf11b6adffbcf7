"""Converter plugins, found through the ``meshmigrate.converters`` entry-point group.

Built-in converters register exactly as third-party ones do (pyproject.toml); core code
never imports a converter module directly (DESIGN §1).
"""

from __future__ import annotations

import abc
import importlib
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from typing import ClassVar

from meshmigrate.errors import InputError, UsageError
from meshmigrate.fields import View, unconsumed
from meshmigrate.findings import Findings
from meshmigrate.model import RoutingModel
from meshmigrate.schema import Spec
from meshmigrate.sources import Document, format_path

ENTRY_POINT_GROUP = "meshmigrate.converters"


@dataclass
class ConvertContext:
    """What a converter fills in: the shared model and the findings."""

    model: RoutingModel
    findings: Findings = field(default_factory=Findings)

    def view(self, doc: Document) -> View:
        return View(doc)

    def report_unconsumed(self, view: View, roots: tuple[str, ...] = ("spec",)) -> None:
        """Report every non-empty field of ``view.doc`` that was not read (FIELD_IGNORED)."""
        for path in unconsumed(view.doc, view.consumed, roots):
            self.findings.add("FIELD_IGNORED", view.doc, path,
                              f"field {format_path(path)} is not converted")


class Converter(abc.ABC):
    """A source format. ``kinds`` maps (API group, kind) to the versions it reads."""

    name: str = ""
    description: str = ""
    kinds: ClassVar[dict[tuple[str, str], tuple[str, ...]]] = {}
    #: (API group, kind) -> its description (:mod:`meshmigrate.schema`), checked by the
    #: pipeline before ``convert``. None: the ``SCHEMAS`` of the plugin package's
    #: ``schema`` module (``converters/<mesh>/schema.py``), when there is one.
    schemas: ClassVar[dict[tuple[str, str], Spec] | None] = None

    def schema_for(self, doc: Document) -> Spec | None:
        """The description ``doc`` is checked against (None: not checked)."""
        found = self.schemas if self.schemas is not None else package_schemas(type(self))
        return found.get((doc.group, doc.kind))

    def claims(self, doc: Document) -> bool:
        """True when this converter reads ``doc`` (by API group and kind)."""
        return (doc.group, doc.kind) in self.kinds

    def check_version(self, doc: Document) -> None:
        version = doc.api_version.rpartition("/")[2]
        known = self.kinds[(doc.group, doc.kind)]
        if version not in known:
            raise InputError(
                f"unknown apiVersion {doc.api_version!r} for {doc.kind} "
                f"(supported: {', '.join(f'{doc.group}/{v}' for v in known)})",
                file=doc.file, line=doc.line_of(("apiVersion",)), field="apiVersion")

    @abc.abstractmethod
    def convert(self, docs: list[Document], ctx: ConvertContext) -> None:
        """Add route tables (and subset Services) for ``docs`` to ``ctx.model``."""


@cache
def package_schemas(cls: type[Converter]) -> dict[tuple[str, str], Spec]:
    """``SCHEMAS`` of the ``schema`` module next to the converter class (in its package)."""
    module = sys.modules[cls.__module__]
    package = cls.__module__ if hasattr(module, "__path__") else cls.__module__.rpartition(".")[0]
    try:
        found = importlib.import_module(f"{package}.schema")
    except ModuleNotFoundError as exc:
        if exc.name != f"{package}.schema":
            raise
        return {}
    return dict(getattr(found, "SCHEMAS", {}))


@cache
def converters() -> dict[str, Converter]:
    """Every installed converter, by name, sorted."""
    found: dict[str, Converter] = {}
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        obj = ep.load()
        conv = obj() if isinstance(obj, type) else obj
        if not isinstance(conv, Converter):
            raise TypeError(f"entry point {ep.name} is not a meshmigrate Converter")
        found[ep.name] = conv
    return found


def select(source: str) -> list[Converter]:
    """Converters for ``--source`` (``auto`` = all installed)."""
    installed = converters()
    if source == "auto":
        return list(installed.values())
    if source not in installed:
        raise UsageError(
            f"unknown --source {source!r} (installed: {', '.join(installed) or 'none'})")
    return [installed[source]]


def dispatch(docs: Iterable[Document], chosen: list[Converter]) -> dict[str, list[Document]]:
    """Group the documents by the converter that claims them (unclaimed ones are dropped:
    kinds no converter knows are ignored quietly)."""
    groups: dict[str, list[Document]] = {c.name: [] for c in chosen}
    for doc in docs:
        for conv in chosen:
            if conv.claims(doc):
                conv.check_version(doc)
                groups[conv.name].append(doc)
                break
    return groups
