"""A fast, deterministic YAML writer for meshmigrate's output objects.

It writes exactly what ``yaml.dump_all(docs, Dumper=yaml.CSafeDumper, sort_keys=False,
default_flow_style=False, allow_unicode=True, width=100)`` writes (libyaml's emitter), for
the shapes our output has: mappings with string keys, lists, and ``str``/``int``/``bool``/
``float``/``None`` scalars. PyYAML's representer is pure Python and dominates the cost of
writing large outputs; this module renders the same text about ten times faster.

Scalar styles follow libyaml (``yaml_emitter_analyze_scalar`` / ``select_scalar_style``):
a string is written plain unless plain text would read back as something else or not
parse: empty; YAML 1.1 booleans, nulls, numbers and timestamps (``yes``, ``~``, ``1``,
``0x1f``, ``1_000``, ``2024-01-01``; decided by PyYAML's own resolver); leading or trailing
spaces; ``---``/``...``; a leading indicator (``#,[]{}&*!|>'"%@` ``, or ``-?:`` followed by a
space or the end); ``: `` or a trailing ``:`` anywhere; `` #``. Those are single-quoted
(``'`` doubled). Block collections are indented by two; a list that is a mapping's value is
not indented (PyYAML's and libyaml's default).

Whatever the fast path does not handle exactly is written by PyYAML itself, one document at
a time, so the output is always identical to the C dumper's: strings needing double quotes
(control and non-printable characters, line breaks, a BOM), a string with spaces on a line
longer than the width (libyaml folds those), keys longer than 128 bytes (not simple keys),
non-string keys, containers that appear twice in one document (PyYAML writes anchors), and
any type other than the ones above.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import IO, Any

import yaml

__all__ = ["WIDTH", "dump_all", "write_all"]

WIDTH = 100  # libyaml folds plain and quoted scalars at spaces beyond this column
_MAX_SIMPLE_KEY = 128  # libyaml: longer keys are written as "? key" (bytes, UTF-8)
_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

#: Characters the fast path writes as they are: printable (libyaml ``IS_PRINTABLE``) and not
#: a line break (U+2028, U+2029) or a BOM (U+FEFF). Anything else needs double quotes.
_UNSAFE = re.compile("[^\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd]")
_FIRST_INDICATORS = frozenset("#,[]{}&*!|>'\"%@`")
_RESOLVERS: dict[Any, list[tuple[str, re.Pattern[str]]]] = yaml.resolver.Resolver.\
    yaml_implicit_resolvers
_STR_TAG = "tag:yaml.org,2002:str"
_FLOAT_TAG = "tag:yaml.org,2002:float"


class _Fallback(Exception):
    """This document has something the fast path does not write exactly."""


# --- scalars -----------------------------------------------------------------------------
def _plain_is_str(text: str) -> bool:
    """True when PyYAML's resolver reads ``text`` written plain back as a string."""
    for tag, regexp in _RESOLVERS.get(text[0] if text else "", []):
        if regexp.match(text):
            return tag == _STR_TAG
    return True


def _indicators(text: str) -> bool:
    """libyaml ``block_indicators`` (for a string without breaks, tabs or controls) or a
    leading/trailing space: then plain style is not allowed in block context."""
    first, last = text[0], text[-1]
    if first == " " or last == " " or first in _FIRST_INDICATORS:
        return True
    if first in "-?:" and (len(text) == 1 or text[1] == " "):
        return True
    if text.startswith(("---", "...")):
        return True
    return (len(text) > 1 and last == ":") or ": " in text or " #" in text


def _string(text: str) -> str:
    """The text of a string scalar (plain or single-quoted), or raise :class:`_Fallback`."""
    if _UNSAFE.search(text):
        raise _Fallback
    if text and not _indicators(text) and _plain_is_str(text):
        return text
    return "'" + text.replace("'", "''") + "'"


def _float(value: float) -> str:
    """SafeRepresenter.represent_float."""
    if value != value:
        return ".nan"
    if value in (float("inf"), float("-inf")):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value).lower()
    if "." not in text and "e" in text:
        text = text.replace("e", ".0e", 1)
    if not any(tag == _FLOAT_TAG and rx.match(text) for tag, rx in _RESOLVERS.get(text[0], [])):
        raise _Fallback  # PyYAML would add an explicit tag
    return text


class _Writer:
    """Renders documents into ``out``; caches the text of every string and key seen.

    ``mapping`` and ``sequence`` inline the common cases (string keys and values) rather than
    calling a helper per node: this loop writes every line of the output."""

    __slots__ = ("keys", "out", "scalars", "seen")

    def __init__(self) -> None:
        self.out: list[str] = []
        self.scalars: dict[str, str] = {}  # string -> its text as a value
        self.keys: dict[Any, str] = {}  # string usable as a simple key -> its text
        self.seen: set[int] = set()  # ids of the containers of the current document

    def string(self, value: str) -> str:
        text = self.scalars.get(value)
        if text is None:
            text = self.scalars[value] = _string(value)
        return text

    def scalar(self, value: Any, column: int) -> str:
        """The text of a scalar starting at ``column`` (for the line-width rule)."""
        kind = type(value)
        if kind is str:
            text = self.string(value)
            if column + len(text) > WIDTH and " " in value:
                raise _Fallback  # libyaml would fold it at a space
            return text
        if kind is bool:
            return "true" if value else "false"
        if kind is int:
            return str(value)
        if value is None:
            return "null"
        if kind is float:
            return _float(value)
        raise _Fallback

    def key(self, key: Any) -> str:
        if type(key) is not str:
            raise _Fallback
        if len(key) > _MAX_SIMPLE_KEY // 4 and len(key.encode()) > _MAX_SIMPLE_KEY:
            raise _Fallback
        text = self.keys[key] = self.string(key)
        return text

    # --- collections ---------------------------------------------------------------------
    def container(self, node: Any) -> None:
        """Shared containers become anchors and aliases in PyYAML: not ours to write."""
        ident = id(node)
        if ident in self.seen:
            raise _Fallback
        self.seen.add(ident)

    def mapping(self, node: dict[Any, Any], indent: int, first: str) -> None:
        """A non-empty block mapping, keys at column ``indent``; ``first`` is what precedes
        the first key on its line (the indentation, or ``"- "`` of a list item)."""
        seen, ident = self.seen, id(node)  # container(), inlined
        if ident in seen:
            raise _Fallback
        seen.add(ident)
        pad, lead, out, keys, scalars = " " * indent, first, self.out, self.keys, self.scalars
        for key, value in node.items():
            name = keys.get(key) or self.key(key)
            kind = value.__class__
            if kind is str:
                text = scalars.get(value) or self.string(value)
                if len(lead) + len(name) + len(text) >= WIDTH - 1 and " " in value:
                    raise _Fallback  # libyaml would fold it at a space
                out.append(f"{lead}{name}: {text}\n")
            elif kind is dict and value:
                out.append(f"{lead}{name}:\n")
                self.mapping(value, indent + 2, " " * (indent + 2))
            elif kind is list and value:
                out.append(f"{lead}{name}:\n")
                self.sequence(value, indent, pad)  # a mapping's list is not indented
            elif kind is int:
                out.append(f"{lead}{name}: {value}\n")
            else:
                head = f"{lead}{name}:"
                out.append(f"{head} {self.leaf(value, len(head) + 1)}\n")
            lead = pad

    def sequence(self, node: list[Any], indent: int, first: str) -> None:
        """A non-empty block sequence, dashes at column ``indent``."""
        seen, ident = self.seen, id(node)  # container(), inlined
        if ident in seen:
            raise _Fallback
        seen.add(ident)
        pad, lead, out, scalars = " " * indent, first, self.out, self.scalars
        for item in node:
            kind = item.__class__
            if kind is dict and item:
                self.mapping(item, indent + 2, lead + "- ")
            elif kind is str:
                text = scalars.get(item) or self.string(item)
                if len(lead) + 2 + len(text) > WIDTH and " " in item:
                    raise _Fallback  # libyaml would fold it at a space
                out.append(f"{lead}- {text}\n")
            elif kind is list and item:
                self.sequence(item, indent + 2, lead + "- ")
            else:
                head = lead + "- "
                out.append(head + self.leaf(item, len(head)) + "\n")
            lead = pad

    def leaf(self, value: Any, column: int) -> str:
        """A scalar, or an empty collection (written in flow style)."""
        kind = type(value)
        if kind is dict or kind is list:
            self.container(value)
            return "{}" if kind is dict else "[]"
        return self.scalar(value, column)

    def document(self, doc: Any, first: bool) -> None:
        self.seen.clear()
        if type(doc) is not dict:
            raise _Fallback
        start = len(self.out)
        try:
            if not doc:
                self.out.append("{}\n" if first else "--- {}\n")
            else:
                self.out.append("" if first else "---\n")
                self.mapping(doc, 0, "")
        except _Fallback:
            del self.out[start:]
            raise


def _pyyaml(doc: Any, first: bool) -> str:
    return yaml.dump(doc, Dumper=_Dumper, explicit_start=not first, sort_keys=False,
                     default_flow_style=False, allow_unicode=True, width=WIDTH)


def _chunks(docs: Iterable[Any]) -> Iterable[str]:
    """The text of each document, in order."""
    writer = _Writer()
    for index, doc in enumerate(docs):
        try:
            writer.document(doc, index == 0)
        except _Fallback:
            writer.out.append(_pyyaml(doc, index == 0))
        yield "".join(writer.out)
        writer.out.clear()


def dump_all(docs: Iterable[Any]) -> str:
    """YAML documents joined by ``---`` (the first without), key order as given; the same
    text as PyYAML's C dumper with ``sort_keys=False, default_flow_style=False,
    allow_unicode=True, width=100``."""
    return "".join(_chunks(docs))


def write_all(docs: Iterable[Any], stream: IO[str]) -> None:
    """:func:`dump_all` written to ``stream`` document by document (no whole-output
    string in memory)."""
    for chunk in _chunks(docs):
        stream.write(chunk)
