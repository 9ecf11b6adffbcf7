"""Reading input: files, directories and stdin into :class:`Document` objects.

Every mapping and sequence is loaded as :class:`LineDict` / :class:`LineList`, which remember
the line of each key or item, so a finding or an error can name the exact line of the field
it is about. ``kind: List`` objects are flattened into their items.

The YAML is read by libyaml's C parser (through PyYAML's ``CParser``) and the objects are
built here, straight from the parser's events, without an intermediate node graph. That is
both faster than PyYAML's composer + constructor and safe against hostile input
(docs/bad-input.md): the nesting is tracked on an explicit stack (PyYAML's C composer
recurses on the C stack and crashes the interpreter on ~30 000 nested ``[``), aliases are
counted as they are met, and every limit in :class:`Limits` is checked with a counter,
never with a second pass over the objects.
"""

from __future__ import annotations

import functools
import io
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from meshmigrate.errors import InputError
from meshmigrate.limits import Limits
from meshmigrate.yamlevents import LineDict, LineList, build_documents

__all__ = [
    "INPUT_SUFFIXES",
    "Document",
    "FieldPath",
    "Limits",
    "LineDict",
    "LineList",
    "display_name",
    "expand_paths",
    "format_path",
    "load",
    "parse_stream",
]

INPUT_SUFFIXES = (".yaml", ".yml", ".json")
FieldPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Document:
    """One Kubernetes object read from the input, with where it came from."""

    obj: LineDict
    file: str
    line: int
    index: int = 0
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    #: ``ref()`` in the default namespace, once asked (every finding about the object asks).
    _ref: str | None = field(default=None, init=False, compare=False, repr=False)

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
        if default_ns != "default":
            return f"{self.kind}/{self.namespace(default_ns)}/{self.name}"
        ref = self._ref
        if ref is None:
            ref = f"{self.kind}/{self.namespace()}/{self.name}"
            object.__setattr__(self, "_ref", ref)
        return ref

    def line_of(self, path: FieldPath) -> int:
        """Line of the deepest part of ``path`` that exists in the object."""
        node: Any = self.obj
        line = self.line
        for part in path:
            if isinstance(node, LineDict) and isinstance(part, str) and part in node:
                line, node = node.line_of(part, line), node[part]
            elif isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node):
                line, node = node.line + node.deltas[part], node[part]
            else:
                break
        return line


@functools.lru_cache(maxsize=1 << 16)
def format_path(path: FieldPath) -> str:
    """``("spec", "http", 2, "match")`` -> ``spec.http[2].match`` (cached: findings about
    the same field of many objects ask for the same text)."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


class _Budget:
    """What the inputs of one ``load`` may still use (bytes, objects): shared by every file."""

    __slots__ = ("bytes_left", "limits", "objects_left")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.bytes_left = limits.max_total_bytes
        self.objects_left = limits.max_objects


class _Reader:
    """The stream libyaml reads from (in chunks of 16 KiB): stops it at the size limits."""

    __slots__ = ("budget", "name", "size", "stream")

    def __init__(self, stream: IO[Any], name: str, budget: _Budget) -> None:
        self.stream, self.name, self.budget, self.size = stream, name, budget, 0

    def read(self, size: int) -> str | bytes:
        try:
            chunk: str | bytes = self.stream.read(size)
        except UnicodeDecodeError as exc:
            raise InputError(f"not UTF-8 text ({exc.reason})", file=self.name) from None
        self.account(len(chunk))
        return chunk

    def account(self, size: int) -> None:
        self.size += size
        self.budget.bytes_left -= size
        limits = self.budget.limits
        if self.size > limits.max_file_bytes:
            raise InputError(f"larger than {limits.describe('max_file_bytes')}",
                             file=self.name)
        if self.budget.bytes_left < 0:
            raise InputError("the input files together are larger than "
                             f"{limits.describe('max_total_bytes')}", file=self.name)


def parse_stream(stream: IO[str] | IO[bytes] | str | bytes, name: str,
                 limits: Limits | None = None) -> Iterator[Document]:
    """Parse a multi-document YAML/JSON stream; flatten ``kind: List``."""
    return _parse(stream, name, _Budget(limits or Limits.from_env()))


def _parse(stream: IO[str] | IO[bytes] | str | bytes, name: str,
           budget: _Budget) -> Iterator[Document]:
    source = _source(stream, name, budget)
    index = 0
    line_at = _line_finder(stream)
    for obj in build_documents(source, name, budget.limits, LineDict, LineList, line_at):
        if obj is None:
            continue
        if not isinstance(obj, LineDict):
            raise InputError("expected a Kubernetes object (a mapping)", file=name,
                             line=getattr(obj, "line", None))
        for item in _flatten(obj, name):
            budget.objects_left -= 1
            if budget.objects_left < 0:
                raise InputError(f"more than {budget.limits.max_objects} objects in the "
                                 "input (MESHMIGRATE_MAX_OBJECTS)", file=name, line=item.line)
            yield Document(item, name, item.line, index)
            index += 1


def _source(stream: IO[str] | IO[bytes] | str | bytes, name: str,
            budget: _Budget) -> str | bytes | _Reader:
    """What libyaml reads: a whole string (checked against the limits here) or a reader that
    checks them chunk by chunk."""
    if isinstance(stream, str | bytes):
        _Reader(io.BytesIO(), name, budget).account(len(stream))
        return stream
    return _Reader(stream, name, budget)


def _line_finder(stream: Any) -> Callable[[int], int | None] | None:
    """For an error at a byte offset: the line, counted in the file (only on error)."""
    path = getattr(stream, "name", None)
    if not isinstance(path, str) or not os.path.isfile(path):
        return None

    def line_at(offset: int) -> int | None:
        with open(path, "rb") as fh:
            return fh.read(offset).count(b"\n") + 1

    return line_at


def _flatten(obj: LineDict, name: str) -> Iterator[LineDict]:
    if obj.get("kind") == "List" or (str(obj.get("kind", "")).endswith("List")
                                     and "items" in obj):
        items = obj.get("items")
        if items is None:
            return
        if not isinstance(items, LineList):
            raise InputError("expected a list", file=name, line=obj.lines.get("items"),
                             field="items")
        for index, item in enumerate(items):
            if not isinstance(item, LineDict):
                raise InputError("expected a Kubernetes object (a mapping)", file=name,
                                 line=items.lines[index], field=f"items[{index}]")
            yield from _flatten(item, name)
    else:
        yield obj


def expand_paths(paths: Iterable[str], limits: Limits | None = None) -> Iterator[str]:
    """Expand ``-f`` arguments: ``-`` is stdin, a directory is every YAML/JSON file below it
    (sorted, so the order never depends on the file system)."""
    limits = limits or Limits.from_env()
    for raw in paths:
        if raw == "-":
            yield raw
            continue
        path = Path(raw)
        if path.is_dir():
            yield from _directory(path, limits)
        elif path.exists():
            yield raw
        else:
            raise InputError("no such file or directory", file=raw)


def _directory(path: Path, limits: Limits) -> list[str]:
    """Every ``*.yaml|*.yml|*.json`` file below ``path``, sorted (symlinked directories are
    not followed, so a link loop cannot make the walk endless)."""
    found: list[str] = []
    for root, dirs, files in os.walk(path, onerror=_walk_error):
        dirs.sort()
        found += (os.path.join(root, f) for f in files if f.endswith(INPUT_SUFFIXES))
        if len(found) > limits.max_files:
            raise InputError(f"more than {limits.max_files} YAML/JSON files below this "
                             "directory (MESHMIGRATE_MAX_FILES)", file=str(path))
    return sorted(p for p in found if os.path.isfile(p))


def _walk_error(exc: OSError) -> None:
    raise InputError(_os_reason(exc), file=exc.filename)


def load(paths: Iterable[str], stdin: IO[str] | None = None,
         limits: Limits | None = None) -> list[Document]:
    """Load every object from ``paths`` (``-f`` arguments), in input order."""
    budget = _Budget(limits or Limits.from_env())
    docs: list[Document] = []
    for name in expand_paths(paths, budget.limits):
        if name == "-":
            stream = stdin or sys.stdin
            docs.extend(_parse(getattr(stream, "buffer", stream), "<stdin>", budget))
            continue
        try:
            with open(name, "rb") as fh:
                docs.extend(_parse(fh, name, budget))
        except OSError as exc:
            raise InputError(_os_reason(exc), file=name) from None
    return docs


def _os_reason(exc: OSError) -> str:
    return (exc.strerror or "cannot read").lower() if exc.strerror else "cannot read"


@functools.lru_cache(maxsize=1024)
def display_name(path: str) -> str:
    """A path as shown in messages: relative to the working directory when below it
    (cached: every finding of a file asks)."""
    try:
        return os.path.relpath(path) if not path.startswith("<") else path
    except ValueError:
        return path

