"""Reading input: files, directories and stdin into :class:`Document` objects.

Every mapping and sequence is loaded as :class:`LineDict` / :class:`LineList`, which remember
the line of each key or item, so a finding or an error can name the exact line of the field
it is about. ``kind: List`` objects are flattened into their items.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml

from meshmigrate.errors import InputError

INPUT_SUFFIXES = (".yaml", ".yml", ".json")
FieldPath = tuple[str | int, ...]

_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LineDict(dict[str, Any]):
    """A dict that remembers the 1-based line of each key (``lines``) and of itself."""

    __slots__ = ("line", "lines")

    line: int
    lines: dict[str, int]


class LineList(list[Any]):
    """A list that remembers the 1-based line of each item."""

    __slots__ = ("line", "lines")

    line: int
    lines: list[int]


class _TrackingLoader(_Loader):  # type: ignore[misc]
    """SafeLoader (C parser when available) that builds LineDict/LineList."""


def _construct_mapping(loader: Any, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    out = LineDict()
    out.line = node.start_mark.line + 1
    out.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool) or key is None:
            raise yaml.constructor.ConstructorError(
                None, None, "mapping keys must be scalars", key_node.start_mark)
        key = str(key) if not isinstance(key, str) else key
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = key_node.start_mark.line + 1
    return out


def _construct_sequence(loader: Any, node: yaml.SequenceNode) -> LineList:
    out = LineList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.lines = [child.start_mark.line + 1 for child in node.value]
    return out


_TrackingLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_TrackingLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG,
                                _construct_sequence)


@dataclass(frozen=True, slots=True)
class Document:
    """One Kubernetes object read from the input, with where it came from."""

    obj: LineDict
    file: str
    line: int
    index: int = 0
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def api_version(self) -> str:
        return str(self.obj.get("apiVersion", ""))

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def name(self) -> str:
        meta = self.obj.get("metadata")
        return str(meta.get("name", "")) if isinstance(meta, dict) else ""

    def namespace(self, default: str = "default") -> str:
        meta = self.obj.get("metadata")
        ns = meta.get("namespace") if isinstance(meta, dict) else None
        return str(ns) if ns else default

    def ref(self, default_ns: str = "default") -> str:
        """``Kind/namespace/name`` as used in findings and source annotations."""
        return f"{self.kind}/{self.namespace(default_ns)}/{self.name}"

    def line_of(self, path: FieldPath) -> int:
        """Line of the deepest part of ``path`` that exists in the object."""
        node: Any = self.obj
        line = self.line
        for part in path:
            if isinstance(node, LineDict) and isinstance(part, str) and part in node:
                line, node = node.lines.get(part, line), node[part]
            elif isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node):
                line, node = node.lines[part], node[part]
            else:
                break
        return line


def format_path(path: FieldPath) -> str:
    """``("spec", "http", 2, "match")`` -> ``spec.http[2].match``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _yaml_error(exc: yaml.YAMLError, name: str) -> InputError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return InputError(f"malformed YAML: {problem}", file=name, line=line)


def parse_stream(stream: IO[str] | str, name: str) -> Iterator[Document]:
    """Parse a multi-document YAML/JSON stream; flatten ``kind: List``."""
    index = 0
    try:
        for obj in yaml.load_all(stream, Loader=_TrackingLoader):
            if obj is None:
                continue
            if not isinstance(obj, LineDict):
                raise InputError("expected a Kubernetes object (a mapping)", file=name,
                                 line=getattr(obj, "line", None))
            for item in _flatten(obj, name):
                yield Document(item, name, item.line, index)
                index += 1
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, name) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason})", file=name) from None


def _flatten(obj: LineDict, name: str) -> Iterator[LineDict]:
    if obj.get("kind") == "List" or (obj.get("kind", "").endswith("List") and "items" in obj):
        items = obj.get("items") or []
        if not isinstance(items, list):
            raise InputError("expected a list", file=name, line=obj.line, field="items")
        for item in items:
            if not isinstance(item, LineDict):
                raise InputError("expected a Kubernetes object", file=name,
                                 line=obj.line, field="items")
            yield from _flatten(item, name)
    else:
        yield obj


def expand_paths(paths: Iterable[str]) -> Iterator[str]:
    """Expand ``-f`` arguments: ``-`` is stdin, a directory is every YAML/JSON file below it
    (sorted, so the order never depends on the file system)."""
    for raw in paths:
        if raw == "-":
            yield raw
            continue
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.suffix in INPUT_SUFFIXES and p.is_file())
            yield from (str(p) for p in found)
        elif path.exists():
            yield raw
        else:
            raise InputError("no such file or directory", file=raw)


def load(paths: Iterable[str], stdin: IO[str] | None = None) -> list[Document]:
    """Load every object from ``paths`` (``-f`` arguments), in input order."""
    docs: list[Document] = []
    for name in expand_paths(paths):
        if name == "-":
            docs.extend(parse_stream(stdin or sys.stdin, "<stdin>"))
            continue
        try:
            with open(name, encoding="utf-8") as fh:
                docs.extend(parse_stream(fh, name))
        except OSError as exc:
            raise InputError(exc.strerror or "cannot read", file=name) from None
    return docs


def display_name(path: str) -> str:
    """A path as shown in messages: relative to the working directory when below it."""
    try:
        return os.path.relpath(path) if not path.startswith("<") else path
    except ValueError:
        return path
