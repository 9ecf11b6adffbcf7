"""YAML parser events -> line-tracking mappings and sequences, within :class:`Limits`.

libyaml (PyYAML's ``CParser``) turns the text into events; this module builds the objects
from them directly, with the YAML 1.1 types of PyYAML's ``SafeLoader`` (``yes`` is a
boolean, ``0x1F`` an integer, ``2024-01-01`` a date, ``<<`` merges a mapping). Skipping
PyYAML's node graph makes loading faster, and it makes every limit a counter on the way:

- nesting: an explicit stack whose height is checked at each mapping/sequence start
  (PyYAML's C composer recurses on the C stack and kills the interpreter with a
  segmentation fault at ~30 000 levels);
- aliases: each ``*name`` adds the size of the text it repeats to a per-file total, so a
  "billion laughs" file stops after a few lines instead of expanding to gigabytes; an alias
  to an enclosing node (a recursive structure) is refused;
- scalars: checked against the size limit before they are converted (a 4 300-digit integer
  or a 100 000-part sexagesimal number would otherwise raise or take minutes).

Unlike PyYAML, a key repeated in one mapping is an error (as for kubectl and the API
server), not "the last one wins", and only the standard scalar and collection tags are
accepted.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from meshmigrate.errors import InputError
from meshmigrate.limits import Limits

_Parser: Any
_Parser_module: Any
try:
    import yaml._yaml as _Parser_module
    from yaml._yaml import CParser as _Parser
except ImportError:  # PyYAML built without libyaml: its pure-Python parser (slower)
    _Parser, _Parser_module = yaml.SafeLoader, None

_T = "tag:yaml.org,2002:"
_STR, _MERGE_TAG, _VALUE_TAG = f"{_T}str", f"{_T}merge", f"{_T}value"
_NUMBERS = (f"{_T}int", f"{_T}float")
_SCALARS: dict[str, Callable[[SafeConstructor, ScalarNode], Any]] = {
    f"{_T}int": SafeConstructor.construct_yaml_int,
    f"{_T}float": SafeConstructor.construct_yaml_float,
    f"{_T}bool": SafeConstructor.construct_yaml_bool,
    f"{_T}null": SafeConstructor.construct_yaml_null,
    f"{_T}timestamp": SafeConstructor.construct_yaml_timestamp,
    f"{_T}binary": SafeConstructor.construct_yaml_binary,
}
_MAP_TAG, _SEQ_TAG = f"{_T}map", f"{_T}seq"
#: A number longer than this is refused: Python will not convert integers of more than
#: 4 300 digits, and sexagesimal ones (``1:20:30``) take quadratic time.
MAX_NUMBER_CHARS = 1000
_CACHE_SIZE = 100_000

_NOKEY: Any = object()  # no key read yet in the current mapping
_MERGE: Any = object()  # the ``<<`` merge key
_MISSING: Any = object()


class LineDict(dict[str, Any]):
    """A dict that remembers the 1-based line of each key (``lines``) and of itself.

    The key lines are kept compactly, as ``deltas``: per key, in key order, its line minus
    the mapping's own line (a list while the mapping is read, then a tuple shared by every
    collection with the same deltas; a dict of lines cost a table and a number object per
    key). ``lines`` builds the ``key -> line`` dict."""

    __slots__ = ("deltas", "line")

    line: int
    deltas: list[int] | tuple[int, ...]

    @property
    def lines(self) -> dict[str, int]:
        line = self.line
        return {key: line + delta for key, delta in zip(self, self.deltas, strict=False)}

    @lines.setter
    def lines(self, lines: dict[str, int]) -> None:
        """Set from ``key -> line`` (``line`` must be set first; a key missing from
        ``lines`` is on that line)."""
        line = self.line
        self.deltas = [lines.get(key, line) - line for key in self]

    def line_of(self, key: str, default: int) -> int:
        """The line of ``key`` (``default`` when it is not a key)."""
        for index, name in enumerate(self):
            if name == key:
                deltas = self.deltas
                return self.line + deltas[index] if index < len(deltas) else default
        return default


class LineList(list[Any]):
    """A list that remembers the 1-based line of each item (``lines``) and of itself;
    ``deltas`` as for :class:`LineDict`."""

    __slots__ = ("deltas", "line")

    line: int
    deltas: list[int] | tuple[int, ...]

    @property
    def lines(self) -> list[int]:
        line = self.line
        return [line + delta for delta in self.deltas]

    @lines.setter
    def lines(self, lines: list[int]) -> None:
        line = self.line
        self.deltas = [item - line for item in lines]


class _Open:
    """A mapping or sequence still being built that needs work at its end: an anchor to
    register, merge keys to apply."""

    __slots__ = ("anchor", "extra", "merges", "start")

    def __init__(self) -> None:
        self.anchor: str | None = None
        self.start = self.extra = 0
        self.merges: list[tuple[Any, int]] = []


class Builder:
    """Builds the documents of one stream. ``documents`` is the hot loop; everything rare
    (anchors, aliases, tags, merge keys, errors) is a method of its own."""

    def __init__(self, source: Any, name: str, limits: Limits,
                 dict_type: type[dict[str, Any]], list_type: type[list[Any]]) -> None:
        self.parser = _Parser(source)
        self.name, self.limits = name, limits
        self.dict_type, self.list_type = dict_type, list_type
        self.cache: dict[str, Any] = {}
        self.resolver: Any = Resolver()
        self.constructor = SafeConstructor()
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.pending: dict[int, _Open] = {}
        #: Key/item line deltas seen (a mesh has a few hundred shapes): each finished
        #: collection keeps a shared tuple rather than a list of its own.
        self.shapes: dict[tuple[int, ...], tuple[int, ...]] = {}
        self.extra = 0  # characters repeated by aliases so far (this file)

    def documents(self) -> Iterator[Any]:
        """The root object of each document (None for an empty one), as soon as it ends."""
        get: Callable[[], Any] = self.parser.get_event
        cache, resolve = self.cache, self.resolve
        max_scalar, max_depth = self.limits.max_scalar_bytes, self.limits.max_depth
        new_dict, new_list, pending = self.dict_type, self.list_type, self.pending
        shapes = self.shapes
        stack: list[tuple[Any, Any, int, bool]] = []
        node: Any = None
        deltas: Any = None
        v: Any = None
        is_map, key, key_line, base, root = False, _NOKEY, 0, 0, None
        while True:
            ev = get()
            cls = ev.__class__
            if cls is ScalarEvent:
                value = ev.value
                if not ev.style and ev.tag is None:
                    v = cache.get(value, _MISSING)
                    if v is _MISSING:
                        v = resolve(value, ev.start_mark, is_map and key is _NOKEY)
                elif ev.tag is not None or len(value) > max_scalar:
                    v = self.tagged(ev.tag, value, ev.start_mark)
                else:
                    v = value
                if ev.anchor is not None:
                    self.anchors[ev.anchor] = (v, max(1, ev.end_mark.index - ev.start_mark.index))
            elif cls is MappingStartEvent or cls is SequenceStartEvent:
                if len(stack) >= max_depth or ev.tag is not None:
                    self.check_collection(ev.tag, cls is MappingStartEvent, ev.start_mark,
                                          len(stack))
                v = new_dict() if cls is MappingStartEvent else new_list()
                v.line, v.deltas = ev.start_mark.line + 1, []
                if ev.anchor is not None:
                    self.open_anchor(ev.anchor, ev.start_mark, v)
            elif cls is MappingEndEvent or cls is SequenceEndEvent:
                if pending and id(node) in pending:
                    self.close(node, ev.end_mark)
                else:
                    shape = tuple(deltas)
                    node.deltas = shapes.setdefault(shape, shape)
                node, deltas, base, is_map = stack.pop()
                key = _NOKEY
                continue
            elif cls is AliasEvent:
                v = self.alias(ev.anchor, ev.start_mark)
            elif cls is DocumentEndEvent or cls is DocumentStartEvent:
                if cls is DocumentEndEvent:
                    yield root
                root = None
                self.anchors.clear()
                continue
            elif cls is StreamEndEvent:
                return
            else:
                continue
            if is_map:
                if key is _NOKEY:
                    key = v if v.__class__ is str else self.key(v, ev.start_mark)
                    key_line = ev.start_mark.line + 1
                    continue
                if key is _MERGE:
                    self.merge(node, v, ev.start_mark)
                elif key in node:
                    raise self.duplicate(node, key, key_line)
                else:
                    node[key] = v
                    deltas.append(key_line - base)
                key = _NOKEY
            elif node is not None:
                node.append(v)
                deltas.append(ev.start_mark.line + 1 - base)
            else:
                root = v
            if cls is MappingStartEvent or cls is SequenceStartEvent:
                stack.append((node, deltas, base, is_map))
                node, deltas, base, is_map = v, v.deltas, v.line, cls is MappingStartEvent

    # -- scalars (``mark``: where the scalar starts) ---------------------------------------
    def resolve(self, value: str, mark: Any, as_key: bool) -> Any:
        """A plain scalar's value, by YAML 1.1 implicit typing (cached by text)."""
        self.check_size(value, mark)
        tag = self.resolver.resolve(ScalarNode, value, (True, False))
        if tag == _MERGE_TAG:
            return _MERGE if as_key else value
        result = value if tag in (_STR, _VALUE_TAG) or tag not in _SCALARS else \
            self.construct(tag, value, mark)
        if len(self.cache) < _CACHE_SIZE:
            self.cache[value] = result
        return result

    def tagged(self, tag: str | None, value: str, mark: Any) -> Any:
        """A scalar with an explicit tag (``!!int "3"``), or a long quoted one."""
        self.check_size(value, mark)
        if tag is None or tag in ("!", _STR):
            return value
        if tag not in _SCALARS:
            raise self.error(f"unsupported tag {tag!r} (only the standard YAML types are "
                             "read)", mark)
        return self.construct(tag, value, mark)

    def construct(self, tag: str, value: str, mark: Any) -> Any:
        kind = tag.rpartition(":")[2]
        if tag in _NUMBERS and len(value) > MAX_NUMBER_CHARS:
            raise self.error(f"a number ({kind}) of {len(value)} characters is too long "
                             f"(at most {MAX_NUMBER_CHARS})", mark)
        try:
            return _SCALARS[tag](self.constructor, ScalarNode(tag, value))
        except Exception as exc:  # PyYAML's scalar constructors fail in many ways on junk
            problem = getattr(exc, "problem", None) or (str(exc).splitlines() or [""])[0] \
                or type(exc).__name__
            raise self.error(f"invalid {kind} {value[:40]!r}: {problem}", mark) from None

    def check_size(self, value: str, mark: Any) -> None:
        if len(value) > self.limits.max_scalar_bytes:
            raise self.error(f"a scalar of {len(value)} characters is larger than "
                             f"{self.limits.describe('max_scalar_bytes')}", mark)

    # -- collections, anchors, aliases, merge keys --------------------------------------
    def check_collection(self, tag: str | None, is_map: bool, mark: Any, depth: int) -> None:
        if depth >= self.limits.max_depth:
            raise self.error(f"nested more than {self.limits.describe('max_depth')} levels "
                             "deep", mark)
        if tag not in ("!", _MAP_TAG if is_map else _SEQ_TAG):
            raise self.error(f"unsupported tag {tag!r} (only the standard YAML types are "
                             "read)", mark)

    def open_anchor(self, anchor: str, mark: Any, node: Any) -> None:
        """Remember where an anchored collection starts; it is registered at its end, so an
        alias inside it (a recursive structure) finds no anchor."""
        state = self.pending.setdefault(id(node), _Open())
        state.anchor, state.start, state.extra = anchor, mark.index, self.extra

    def close(self, node: Any, end_mark: Any) -> None:
        state = self.pending.pop(id(node))
        if state.merges:
            apply_merges(node, state.merges, self)
        if state.anchor is not None:
            size = end_mark.index - state.start + self.extra - state.extra
            self.anchors[state.anchor] = (node, max(1, size))

    def alias(self, anchor: str, mark: Any) -> Any:
        found = self.anchors.get(anchor)
        if found is None:
            inside = any(s.anchor == anchor for s in self.pending.values())
            raise self.error(f"alias *{anchor} " + ("refers to a node that contains it "
                             "(recursive structures are not supported)" if inside
                             else "names no anchor (&name) defined before it"), mark)
        self.extra += found[1]
        if self.extra > self.limits.max_alias_bytes:
            raise self.error("aliases repeat more text than "
                             f"{self.limits.describe('max_alias_bytes')} (an alias bomb?)",
                             mark)
        return found[0]

    def key(self, value: Any, mark: Any) -> Any:
        if value is _MERGE or isinstance(value, str):
            return value
        if isinstance(value, bool | int | float) and value is not None:
            return str(value)
        what = "a mapping or a list" if isinstance(value, dict | list) else \
            "null" if value is None else type(value).__name__
        raise self.error(f"a mapping key must be a string or a number, not {what}", mark)

    def merge(self, node: Any, value: Any, mark: Any) -> None:
        """A ``<<`` value: applied when the mapping ends (its own keys win)."""
        self.pending.setdefault(id(node), _Open()).merges.append((value, mark.line + 1))

    def duplicate(self, node: Any, key: str, line: int) -> InputError:
        return InputError(f"duplicate key {key!r} (first on line {node.lines[key]}); "
                          "kubectl refuses this too", file=self.name, line=line)

    def error(self, message: str, mark: Any) -> InputError:
        return InputError(message, file=self.name, line=mark.line + 1)


def apply_merges(node: Any, merges: list[tuple[Any, int]], builder: Builder) -> None:
    """PyYAML's ``flatten_mapping``: merged keys first (in a list, earlier mappings win),
    then the mapping's own keys, which win over merged ones."""
    sources: list[Any] = []
    for value, line in merges:
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(item, dict) for item in items):
            raise InputError("<< (merge key) expects a mapping or a list of mappings",
                             file=builder.name, line=line)
        sources += reversed(items)
    own, own_lines = list(node.items()), node.lines
    lines: dict[str, int] = {}
    node.clear()
    for source in sources:
        source_lines = source.lines
        for key, value in source.items():
            node[key], lines[key] = value, source_lines[key]
    for key, value in own:
        node[key], lines[key] = value, own_lines[key]
    node.lines = lines


_LIBYAML_MAX_DEPTH = 1000  # libyaml's nesting guard, as bundled with PyYAML 6.0.4


def build_documents(source: Any, name: str, limits: Limits,
                    dict_type: type[dict[str, Any]], list_type: type[list[Any]],
                    line_at: Callable[[int], int | None] | None = None) -> Iterator[Any]:
    """The root object of each YAML document in ``source`` (a string, bytes or a stream
    with ``read``). Malformed YAML and broken limits raise :class:`InputError`."""
    try:
        builder = Builder(source, name, limits, dict_type, list_type)
        yield from (callback_documents(builder) if callbacks_work() else builder.documents())
    except yaml.YAMLError as exc:
        if "maximum nesting depth" in str(getattr(exc, "problem", "")):
            # libyaml's own guard (PyYAML >= 6.0.4) can fire first: its scanner reads
            # flow collections ahead of the events this builder counts depth on
            # (at 1,000 levels); where that is below our own limit, say so
            ours = limits.max_depth < _LIBYAML_MAX_DEPTH
            bound = limits.describe("max_depth") if ours else \
                f"{_LIBYAML_MAX_DEPTH} (the YAML parser's own limit)"
            raise InputError(f"nested more than {bound} levels deep", file=name,
                             line=yaml_error(exc, name, line_at).line) from None
        raise yaml_error(exc, name, line_at) from None
    except UnicodeError as exc:  # a str holding lone surrogates cannot be UTF-8 encoded
        raise InputError(f"not UTF-8 text ({getattr(exc, 'reason', exc)})",
                         file=name) from None


def yaml_error(exc: yaml.YAMLError, name: str,
               line_at: Callable[[int], int | None] | None = None) -> InputError:
    """One line for a parser error: the problem and its line."""
    if isinstance(exc, yaml.reader.ReaderError):
        return _reader_error(exc, name, line_at)
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return InputError(f"malformed YAML: {problem}", file=name, line=line)


def _reader_error(exc: yaml.reader.ReaderError, name: str,
                  line_at: Callable[[int], int | None] | None) -> InputError:
    """Binary content or text in another encoding (libyaml reads UTF-8, or UTF-16 with a
    byte-order mark)."""
    where = f"at byte {exc.position}"
    line = line_at(exc.position) if line_at is not None else None
    reason = str(exc.reason)
    if "control character" in reason:
        return InputError(f"binary content, not YAML text (control character "
                          f"{exc.character:#04x} {where})", file=name, line=line)
    if "octet" in reason or "UTF" in reason.upper():
        return InputError(f"not UTF-8 text ({reason} {where})", file=name, line=line)
    return InputError(f"unreadable text ({reason} {where})", file=name, line=line)


# --- the fast path: libyaml's events as calls, without event objects -----------------------
#
# PyYAML's C parser makes each event by calling the event class its module names
# (``yaml._yaml.ScalarEvent(anchor, tag, implicit, value, start_mark, end_mark, style)``...):
# pure-Python classes, so every event is a Python object built and then taken apart again,
# about a third of the reading time. While a document is read, those module names are
# pointed at functions that build the objects directly (the events of the document's
# structure keep their classes). The swap is undone before each document is handed on, so
# code running between documents sees PyYAML unchanged, and a lock keeps two readers from
# swapping at once. Only the event API of the C parser is affected (the C composer behind
# ``yaml.load(..., Loader=CSafeLoader)`` makes nodes, not events). :func:`callbacks_work`
# checks once, on a sample, that the installed PyYAML builds its events this way and that
# both paths agree; if not, :meth:`Builder.documents` reads the events as objects.

_EVENT_NAMES = ("ScalarEvent", "MappingStartEvent", "SequenceStartEvent", "MappingEndEvent",
                "SequenceEndEvent", "AliasEvent")
_SWAP = threading.Lock()
_SAMPLE = ("a: &x {b: [1, 'c', yes, ~, 1.5, 0x1f]}\nd: *x\ne:\n  <<: *x\n  f: !!str 3\n"
           "---\n- [g, {h: i}]\n- ''\n--- plain\n")


@contextlib.contextmanager
def _events_as_calls(handlers: tuple[Callable[..., None], ...]) -> Iterator[None]:
    module: Any = _Parser_module
    with _SWAP:
        saved = [getattr(module, name) for name in _EVENT_NAMES]
        for name, handler in zip(_EVENT_NAMES, handlers, strict=True):
            setattr(module, name, handler)
        try:
            yield
        finally:
            for name, original in zip(_EVENT_NAMES, saved, strict=True):
                setattr(module, name, original)


@functools.cache
def callbacks_work() -> bool:
    """True when the C parser makes its events through the module's names (so
    :func:`callback_documents` can be used) and reads the sample as the event loop does."""
    if _Parser_module is None or not all(hasattr(_Parser_module, n) for n in _EVENT_NAMES):
        return False
    limits = Limits()

    def read(fast: bool) -> list[Any]:
        builder = Builder(_SAMPLE, "<sample>", limits, LineDict, LineList)
        return list(callback_documents(builder) if fast else builder.documents())

    try:
        return bool(_snapshot(read(True)) == _snapshot(read(False)))
    except Exception:  # any surprise means: read the event objects
        return False


def _snapshot(node: Any) -> Any:
    """A node with its lines, comparable (for :func:`callbacks_work`)."""
    if isinstance(node, dict | list):
        items = node.items() if isinstance(node, dict) else enumerate(node)
        return (type(node).__name__, getattr(node, "line", None),
                repr(getattr(node, "lines", None)), [(k, _snapshot(v)) for k, v in items])
    return (type(node).__name__, node)


def callback_documents(b: Builder) -> Iterator[Any]:
    """:meth:`Builder.documents` with the events delivered as calls (see above). The
    handlers share the builder's state through closure variables; everything rare goes
    through the builder's methods, as in the event loop."""
    get: Callable[[], Any] = b.parser.get_event
    cache, resolve, anchors, pending, shapes = b.cache, b.resolve, b.anchors, b.pending, b.shapes
    max_scalar, max_depth = b.limits.max_scalar_bytes, b.limits.max_depth
    new_dict, new_list = b.dict_type, b.list_type
    stack: list[tuple[Any, Any, int, bool]] = []
    node: Any = None
    deltas: Any = None
    is_map, key, key_line, base, root = False, _NOKEY, 0, 0, None

    def place(v: Any, mark: Any) -> None:
        """Put a finished value where the document is (a key, a value, an item, the root)."""
        nonlocal key, key_line, root
        if is_map:
            if key is _NOKEY:
                key = v if v.__class__ is str else b.key(v, mark)
                key_line = mark.line + 1
                return
            if key is _MERGE:
                b.merge(node, v, mark)
            elif key in node:
                raise b.duplicate(node, key, key_line)
            else:
                node[key] = v
                deltas.append(key_line - base)
            key = _NOKEY
        elif node is not None:
            node.append(v)
            deltas.append(mark.line + 1 - base)
        else:
            root = v

    def scalar(anchor: str | None, tag: str | None, implicit: Any, value: str, start: Any,
               end: Any, style: str | None) -> None:
        nonlocal key, key_line
        if not style and tag is None:
            v = cache.get(value, _MISSING)
            if v is _MISSING:
                v = resolve(value, start, is_map and key is _NOKEY)
        elif tag is not None or len(value) > max_scalar:
            v = b.tagged(tag, value, start)
        else:
            v = value
        if anchor is not None:
            anchors[anchor] = (v, max(1, end.index - start.index))
        if is_map and v.__class__ is str:  # the hot path of place()
            if key is _NOKEY:
                key, key_line = v, start.line + 1
                return
            if key is not _MERGE and key not in node:
                node[key] = v
                deltas.append(key_line - base)
                key = _NOKEY
                return
        place(v, start)

    def open_collection(v: Any, is_mapping: bool, anchor: str | None, tag: str | None,
                        start: Any) -> None:
        nonlocal node, deltas, base, is_map
        if len(stack) >= max_depth or tag is not None:
            b.check_collection(tag, is_mapping, start, len(stack))
        v.line, v.deltas = start.line + 1, []
        if anchor is not None:
            b.open_anchor(anchor, start, v)
        place(v, start)
        stack.append((node, deltas, base, is_map))
        node, deltas, base, is_map = v, v.deltas, v.line, is_mapping

    def mapping_start(anchor: str | None, tag: str | None, implicit: Any, start: Any,
                      end: Any, flow_style: Any) -> None:
        open_collection(new_dict(), True, anchor, tag, start)

    def sequence_start(anchor: str | None, tag: str | None, implicit: Any, start: Any,
                       end: Any, flow_style: Any) -> None:
        open_collection(new_list(), False, anchor, tag, start)

    def collection_end(start: Any, end: Any) -> None:
        nonlocal node, deltas, base, is_map, key
        if pending and id(node) in pending:
            b.close(node, end)
        else:
            shape = tuple(deltas)
            node.deltas = shapes.setdefault(shape, shape)
        node, deltas, base, is_map = stack.pop()
        key = _NOKEY

    def alias(anchor: str, start: Any, end: Any) -> None:
        place(b.alias(anchor, start), start)

    handlers = (scalar, mapping_start, sequence_start, collection_end, collection_end, alias)
    while True:
        with _events_as_calls(handlers):
            while True:
                ev = get()
                if ev is None:
                    continue
                cls = ev.__class__
                if cls is DocumentEndEvent or cls is DocumentStartEvent:
                    anchors.clear()
                    if cls is DocumentEndEvent:
                        break
                    root = None
                elif cls is StreamEndEvent:
                    return
        done, root = root, None
        yield done
