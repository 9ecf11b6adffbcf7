"""Typed, tracked access to a source object's fields.

Converters read source objects only through :class:`View`. Each read checks the field's
type (a wrong type is an :class:`InputError` naming file, line and field) and records the
field as *consumed*. After conversion, :func:`unconsumed` lists every non-empty field that no
converter read: those are reported automatically (an allow-list by construction, DESIGN §2),
so a field nobody thought about can never be dropped silently.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from typing import Any

from meshmigrate.errors import InputError
from meshmigrate.sources import Document, FieldPath, format_path

_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    bool: "a boolean",
    dict: "a mapping",
    list: "a list",
    float: "a number",
}


class View:
    """A position (``path``) inside a source document, with typed getters."""

    __slots__ = ("consumed", "doc", "node", "path")

    def __init__(
        self,
        doc: Document,
        node: Any = None,
        path: FieldPath = (),
        consumed: set[FieldPath] | None = None,
    ) -> None:
        self.doc = doc
        self.node = doc.obj if node is None and not path else node
        self.path = path
        self.consumed = consumed if consumed is not None else set()

    # -- navigation ---------------------------------------------------------------------
    def __contains__(self, key: builtins.str) -> builtins.bool:
        """True when the field is set: not absent, null, ``""``, ``[]`` or ``{}``."""
        node = self.node
        if not isinstance(node, dict):
            return False
        value = node.get(key)
        if value is None:
            return False
        return not isinstance(value, str | list | dict) or len(value) > 0

    def at(self, key: builtins.str | builtins.int) -> View:
        """Child view (the child may be missing: its node is then None)."""
        node = self.node
        if isinstance(node, dict):
            child = node.get(key) if isinstance(key, str) else None
        elif isinstance(node, list) and isinstance(key, int):
            child = node[key]
        else:
            child = None
        return View(self.doc, child, (*self.path, key), self.consumed)

    @property
    def line(self) -> builtins.int:
        return self.doc.line_of(self.path)

    @property
    def field(self) -> builtins.str:
        return format_path(self.path)

    def error(
        self, message: builtins.str, key: builtins.str | builtins.int | None = None
    ) -> InputError:
        path = self.path if key is None else (*self.path, key)
        return InputError(
            message, file=self.doc.file, line=self.doc.line_of(path), field=format_path(path)
        )

    def use(self, key: builtins.str | builtins.int | None = None) -> None:
        """Mark this field (or a child) as consumed without reading it."""
        self.consumed.add(self.path if key is None else (*self.path, key))

    # -- typed getters ------------------------------------------------------------------
    def _typed(self, key: builtins.str, typ: type, default: Any) -> Any:
        if not isinstance(self.node, dict):
            return default
        value = self.node.get(key)
        if value is None:
            return default
        ok = isinstance(value, typ) and not (typ is int and isinstance(value, bool))
        if typ is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            raise self.error(f"expected {_TYPE_NAMES[typ]}, got {_describe(value)}", key)
        self.consumed.add((*self.path, key))
        return value

    def str(self, key: builtins.str, default: builtins.str | None = None) -> builtins.str | None:
        # The most frequent read, so :meth:`_typed` is inlined for it.
        node = self.node
        if not isinstance(node, dict):
            return default
        value = node.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self.error(f"expected a string, got {_describe(value)}", key)
        self.consumed.add((*self.path, key))
        return value

    def req_str(self, key: builtins.str) -> builtins.str:
        value = self.str(key)
        if not value:
            raise self.error("required field is missing", key)
        return value

    def int(self, key: builtins.str, default: builtins.int | None = None) -> builtins.int | None:
        return self._typed(key, int, default)  # type: ignore[no-any-return]

    def num(
        self, key: builtins.str, default: builtins.float | None = None
    ) -> builtins.float | None:
        return self._typed(key, float, default)  # type: ignore[no-any-return]

    def bool(self, key: builtins.str, default: builtins.bool | None = None) -> builtins.bool | None:
        return self._typed(key, bool, default)  # type: ignore[no-any-return]

    def scalar(self, key: builtins.str) -> builtins.str | builtins.int | builtins.float | None:
        """A string or a number (e.g. quantities, int-or-string)."""
        value = self.node.get(key) if isinstance(self.node, dict) else None
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.error(f"expected a string or a number, got {_describe(value)}", key)
        self.consumed.add((*self.path, key))
        return value

    def map(self, key: builtins.str) -> View | None:
        """Child mapping view, or None when absent (type-checked; not marked consumed:
        consumption is recorded on the leaves that are read)."""
        node = self.node
        if not isinstance(node, dict):
            return None
        value = node.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.error(f"expected a mapping, got {_describe(value)}", key)
        return View(self.doc, value, (*self.path, key), self.consumed)

    def list(self, key: builtins.str) -> Iterator[View]:
        """Views of each item of a child list (absent -> empty)."""
        items = self._peek(key, list)
        if items:
            doc, consumed, path = self.doc, self.consumed, (*self.path, key)
            for i, item in enumerate(items):
                yield View(doc, item, (*path, i), consumed)

    def str_list(self, key: builtins.str) -> builtins.list[builtins.str]:
        items = self._peek(key, list) or []
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise self.at(key).error(f"expected a string, got {_describe(item)}", i)
        self.consumed.add((*self.path, key))
        return list(items)

    def str_map(self, key: builtins.str) -> builtins.dict[builtins.str, builtins.str]:
        """A mapping of strings to strings (labels, header sets)."""
        items = self._peek(key, dict) or {}
        for name, value in items.items():
            if not isinstance(value, str | int | float) or isinstance(value, bool):
                raise self.at(key).error(f"expected a string, got {_describe(value)}", name)
        self.consumed.add((*self.path, key))
        return {str(k): str(v) for k, v in items.items()}

    def raw(self, key: builtins.str) -> Any:
        """The raw child value, marked consumed as a whole."""
        if isinstance(self.node, dict) and key in self.node:
            self.consumed.add((*self.path, key))
            return self.node[key]
        return None

    def _peek(self, key: builtins.str, typ: type) -> Any:
        if not isinstance(self.node, dict):
            return None
        value = self.node.get(key)
        if value is None:
            return None
        if not isinstance(value, typ):
            raise self.error(f"expected {_TYPE_NAMES[typ]}, got {_describe(value)}", key)
        return value


def _describe(value: Any) -> str:
    for typ, name in (*_TYPE_NAMES.items(),):
        if isinstance(value, bool):
            return f"a boolean ({str(value).lower()})"
        if isinstance(value, typ):
            shown = repr(value) if isinstance(value, str | int | float) else ""
            return f"{name} {shown[:40]}".rstrip()
    return type(value).__name__


def unconsumed(
    doc: Document, consumed: set[FieldPath], roots: tuple[str, ...] = ("spec",)
) -> list[FieldPath]:
    """Every non-empty leaf under ``roots`` that is not (below) a consumed path, sorted by
    position in the document."""
    out: list[FieldPath] = []
    for root in roots:
        if root in doc.obj:
            _walk(doc.obj[root], (root,), consumed, out)
    return out


def _walk(node: Any, path: FieldPath, consumed: set[FieldPath], out: list[FieldPath]) -> None:
    if path in consumed:
        return
    if isinstance(node, dict):
        for key, value in node.items():
            _walk(value, (*path, key), consumed, out)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _walk(value, (*path, i), consumed, out)
    elif node not in (None, "", False):
        out.append(path)
