"""A small declarative schema language for source objects, checked before conversion.

Each converter describes the kinds it reads in ``converters/<mesh>/schema.py`` (``SCHEMAS``:
``(API group, kind) -> Spec``), and the pipeline checks every source object against its
description before the converter sees it (:func:`check_documents`). A violation is an
:class:`~meshmigrate.errors.InputError` of one line: ``file:line: field.path: expected …,
got …``. The language says what the converters need to be able to trust:

- types: :class:`Str`, :class:`Int`, :class:`Num`, :class:`Bool`, :class:`Obj` (known
  fields), :class:`Seq`, :class:`MapOf`, :class:`Either`;
- required fields (:attr:`Obj.required`), mutually exclusive ones (:attr:`Obj.exclusive`),
  enumerations (:attr:`Str.enum`), ranges (:attr:`Int.min`/``max``);
- values with a syntax of their own: :class:`Regex` per dialect (RE2 for Envoy-based meshes,
  Go ``regexp``, Rust ``regex``), :class:`Duration` per dialect, :class:`Quantity`;
- unique names in a list (:attr:`Seq.unique`).

Fields a description leaves out are not checked here (the converter's unconsumed-field
report covers them); ``null`` is the same as an absent field, as in Kubernetes.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from meshmigrate.errors import InputError
from meshmigrate.sources import Document, FieldPath, format_path

__all__ = [
    "SERVICE", "Bool", "Check", "Duration", "Either", "Int", "MapOf", "Num", "Obj",
    "Quantity", "Regex", "Seq", "Spec", "Str", "StrMap", "Violation", "check_document",
    "check_documents", "describe",
]


@dataclass(frozen=True, slots=True)
class Violation:
    path: FieldPath
    message: str


class Check:
    """Collects the violations found in one object (the first few are enough)."""

    __slots__ = ("found",)

    def __init__(self) -> None:
        self.found: list[Violation] = []

    def add(self, path: FieldPath, message: str) -> None:
        self.found.append(Violation(path, message))


class Spec:
    """What one field may hold. ``what`` names it in messages ("an integer 0-100")."""

    what = "a value"
    #: The Python types a value of this spec has (:class:`Either` picks an option by it).
    types: tuple[type, ...] = (object,)

    def check(self, value: Any, path: FieldPath, out: Check) -> None:
        raise NotImplementedError

    def fits(self, value: Any) -> bool:
        return isinstance(value, self.types) and not (
            isinstance(value, bool) and bool not in self.types)

    def expected(self, value: Any, path: FieldPath, out: Check) -> None:
        out.add(path, f"expected {self.what}, got {describe(value)}")


@dataclass(frozen=True)
class Str(Spec):
    """A string, optionally one of ``enum`` or matching ``pattern`` (full match)."""

    types = (str,)
    enum: tuple[str, ...] = ()
    pattern: str | None = None
    label: str = ""
    numbers: bool = False  # also accept an int or float (Kubernetes int-or-string)

    @property
    def what(self) -> str:  # type: ignore[override]
        if self.enum:
            return "one of " + ", ".join(self.enum)
        return self.label or ("a string or a number" if self.numbers else "a string")

    def check(self, value: Any, path: FieldPath, out: Check) -> None:
        if not isinstance(value, str):
            if not (self.numbers and isinstance(value, int | float)
                    and not isinstance(value, bool)):
                self.expected(value, path, out)
            return
        if (self.enum and value not in self.enum) or (
                self.pattern is not None and re.fullmatch(self.pattern, value) is None):
            self.expected(value, path, out)


@dataclass(frozen=True)
class Int(Spec):
    """An integer (not a boolean) within ``[min, max]``."""

    types = (int,)
    min: int | None = None
    max: int | None = None
    what = "an integer"

    def check(self, value: Any, path: FieldPath, out: Check) -> None:
        if value.__class__ is not int and (not isinstance(value, int)
                                           or isinstance(value, bool)):
            self.expected(value, path, out)
        elif (self.min is not None and value < self.min) or (
                self.max is not None and value > self.max):
            out.add(path, f"expected {self.what}{_range(self.min, self.max)}, got {value}")


@dataclass(frozen=True)
class Num(Spec):
    """A number (integer or float, not a boolean, not NaN) within ``[min, max]``."""

    types = (int, float)
    min: float | None = None
    max: float | None = None
    what = "a number"

    def check(self, value: Any, path: FieldPath, out: Check) -> None:
        if not isinstance(value, int | float) or isinstance(value, bool) or value != value:
            self.expected(value, path, out)
        elif (self.min is not None and value < self.min) or (
                self.max is not None and value > self.max):
            out.add(path, f"expected {self.what}{_range(self.min, self.max)}, got {value:g}")


@dataclass(frozen=True)
class Bool(Spec):

    types = (bool,)
    what = "a boolean"

    def check(self, value: Any, path: FieldPath, out: Check) -> None:
        if not isinstance(value, bool):
            self.expected(value, path, out)


@dataclass(frozen=True)
class AnyValue(Spec):
    """Anything (the converter reads it whole, e.g. a fault-injection block it reports)."""

    def check(self, value: Any, path: FieldPath, out: Check) -> None:
        return None


@dataclass(frozen=True)
class Obj(Spec):
    """A mapping with known ``fields``. ``required`` fields must be set (not null, not
    ""); of each group in ``exclusive`` at most one may be set, and of each group in
    ``one_of`` exactly one."""

    types = (dict,)
    fields: Mapping[str, Spec] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    exclusive: tuple[tuple[str, ...], ...] = ()
    one_of: tuple[tuple[str, ...], ...] = ()
    what = "a mapping"

    def check(self, value: Any, path: FieldPath, out: Check) -> None:
        if not isinstance(value, dict):
            self.expected(value, path, out)
            return
        plan = _PLANS.get(id(self)) or self._plan()
        for key, item in value.items():
            step = plan.get(key)
            # a plain str/int/bool field holding that type needs no call (the hot path)
            if step is not None and item is not None and item.__class__ is not step[0]:
                step[1].check(item, (*path, key), out)
        if self.required or self.exclusive or self.one_of:
            self._presence(value, path, out)

    def _plan(self) -> dict[str, tuple[type, Spec]]:
        """Per field: the one type that is valid without further checks, and the spec."""
        plan = {key: (_plain_type(spec), spec) for key, spec in self.fields.items()
                if not isinstance(spec, AnyValue)}
        _PLANS[id(self)] = plan
        _KEEP.append(self)  # the id stays this object's while the plan is cached
        return plan

    def _presence(self, value: dict[str, Any], path: FieldPath, out: Check) -> None:
        for key in self.required:
            if value.get(key) in (None, ""):
                what = self.fields[key].what if key in self.fields else "a value"
                out.add((*path, key), f"required field is missing (expected {what})")
        keys = value.keys()
        for group in self.exclusive:  # the cheap key test first: most objects pass it
            if group not in self.one_of and len(keys & set(group)) > 1:
                self._count(value, group, path, out, needed=False)
        for group in self.one_of:
            if len(keys & set(group)) != 1:
                self._count(value, group, path, out, needed=True)

    def _count(self, value: dict[str, Any], group: tuple[str, ...], path: FieldPath,
               out: Check, needed: bool) -> None:
        present = [key for key in group if value.get(key) not in (None, "")]
        if len(present) > 1:
            out.add((*path, present[1]), f"set only one of {', '.join(group)}")
        elif not present and needed:
            out.add(path, f"one of {', '.join(group)} is required")


_PLANS: dict[int, dict[str, tuple[type, Spec]]] = {}
_KEEP: list[Obj] = []


class _Never:
    """A type no value has: the field always goes through its spec."""


def _plain_type(spec: Spec) -> type:
    if isinstance(spec, Str) and not (spec.enum or spec.pattern):
        return str
    if isinstance(spec, Int) and spec.min is None and spec.max is None:
        return int
    return bool if isinstance(spec, Bool) else _Never


@dataclass(frozen=True)
class Seq(Spec):
    """A list of ``item``; with ``unique``, that field of the items must not repeat."""

    types = (list,)
    item: Spec = field(default_factory=AnyValue)
    unique: str | None = None
    what = "a list"

    def check(self, value: Any, path: FieldPath, out: Check) -> None:
        if not isinstance(value, list):
            self.expected(value, path, out)
            return
        item = self.item
        for index, child in enumerate(value):
            if child is None:
                out.add((*path, index), f"expected {item.what}, got null")
            else:
                item.check(child, (*path, index), out)
        if self.unique is not None:
            _unique(value, self.unique, path, out)


def _unique(value: list[Any], key: str, path: FieldPath, out: Check) -> None:
    seen: dict[Any, int] = {}
    for index, child in enumerate(value):
        name = child.get(key) if isinstance(child, dict) else None
        if name is None or not isinstance(name, str | int):
            continue
        if name in seen:
            out.add((*path, index, key), f"duplicate {key} {name!r} (also in item {seen[name]})")
        seen.setdefault(name, index)


@dataclass(frozen=True)
class MapOf(Spec):
    """A mapping with any keys whose values are ``value`` (``key`` checks the keys)."""

    types = (dict,)
    value: Spec = field(default_factory=AnyValue)
    key: Str | None = None
    what = "a mapping"

    def check(self, value: Any, path: FieldPath, out: Check) -> None:
        if not isinstance(value, dict):
            self.expected(value, path, out)
            return
        for key, item in value.items():
            if self.key is not None:
                self.key.check(key, (*path, key), out)
            if item is not None:
                self.value.check(item, (*path, key), out)


def StrMap() -> MapOf:
    """Labels, selectors, header values: strings (numbers are read as strings)."""
    return MapOf(Str(numbers=True))


@dataclass(frozen=True)
class Either(Spec):
    """The first of ``options`` whose type fits (e.g. a header map or a list of maps)."""

    options: tuple[Spec, ...] = ()

    @property
    def what(self) -> str:  # type: ignore[override]
        return " or ".join(o.what for o in self.options)

    def check(self, value: Any, path: FieldPath, out: Check) -> None:
        for option in self.options:
            if option.fits(value):
                option.check(value, path, out)
                return
        self.expected(value, path, out)


@dataclass(frozen=True)
class ByVersion(Spec):
    """A whole object whose description depends on its ``apiVersion`` (``version`` is the
    part after the slash); ``default`` for the versions not listed."""

    types = (dict,)
    versions: Mapping[str, Spec] = field(default_factory=dict)
    default: Spec = field(default_factory=AnyValue)
    what = "a mapping"

    def check(self, value: Any, path: FieldPath, out: Check) -> None:
        version = str(value.get("apiVersion", "")) if isinstance(value, dict) else ""
        self.versions.get(version.rpartition("/")[2], self.default).check(value, path, out)


# -- values with a syntax of their own --------------------------------------------------
REGEX_DIALECTS = {"re2": "RE2", "go": "Go regexp", "rust": "Rust regex"}
#: RE2 and Go refuse repetition counts above 1000 ("invalid repeat count").
MAX_REPEAT = 1000
#: Longer patterns are refused: no route regex comes near, and regex engines (and the
#: semantic self-check, which builds automata from them) slow down with their size.
MAX_REGEX_CHARS = 4096
_NOT_SUPPORTED = re.compile(
    r"\(\?<?[=!]"            # look-ahead / look-behind
    r"|\(\?>"                # atomic group
    r"|\(\?\("              # conditional
    r"|\(\?P="               # named back-reference
    r"|\(\?#"                # comment group
    r"|(?<!\\)(?:\\\\)*\\(?:[1-9]|Z)")  # back-reference; \Z (RE2/Go/Rust spell it \z)
_REPEAT = re.compile(r"(?<!\\)\{(\d+)(?:,(\d*))?\}")
_UNICODE_CLASS = re.compile(r"\\[pP](?:\{[^}]*\}|[A-Za-z])")
_QUOTED = re.compile(r"\\Q(.*?)(?:\\E|$)", re.S)


@dataclass(frozen=True)
class Regex(Spec):
    """A regular expression that the source's engine accepts (``dialect``: ``re2``, ``go``
    or ``rust``). Python's ``re`` stands in for them after the syntax only they have
    (``\\pL``, ``(?<name>``, ``\\Q…\\E``, ``\\z``) is rewritten, and the syntax only Python
    has (look-around, back-references, atomic groups, possessive quantifiers) is refused."""

    types = (str,)
    dialect: str = "re2"

    @property
    def what(self) -> str:  # type: ignore[override]
        return f"a regular expression ({REGEX_DIALECTS[self.dialect]})"

    def check(self, value: Any, path: FieldPath, out: Check) -> None:
        if not isinstance(value, str):
            self.expected(value, path, out)
            return
        problem = regex_problem(value, self.dialect)
        if problem is not None:
            out.add(path, f"invalid regular expression {_short(value)}: {problem}")


@functools.lru_cache(maxsize=4096)
def regex_problem(pattern: str, dialect: str) -> str | None:
    """Why ``pattern`` is not a valid ``dialect`` regex, or None."""
    engine = REGEX_DIALECTS[dialect]
    if len(pattern) > MAX_REGEX_CHARS:
        return f"longer than {MAX_REGEX_CHARS} characters"
    if _NOT_SUPPORTED.search(pattern):
        return (f"uses look-around, a back-reference or other syntax {engine} does not "
                "support")
    if _possessive(pattern):
        return f"a quantifier followed by + (possessive), which {engine} does not support"
    for low, high in _REPEAT.findall(pattern):
        if dialect != "rust" and max(int(low), int(high or 0)) > MAX_REPEAT:
            return f"repetition count above {MAX_REPEAT} ({engine} refuses it)"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            re.compile(_as_python(pattern))
    except (re.error, RecursionError, OverflowError) as exc:
        return str(exc)
    return None


def _possessive(pattern: str) -> bool:
    """True when a quantifier (``*``, ``+``, ``?``, ``}``) is directly followed by ``+``
    outside a character class: ``a++`` is possessive in Python, an error in RE2."""
    i, in_class, previous = 0, False, ""
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i, previous = i + 2, "x"
            continue
        if in_class:
            in_class = char != "]" or previous == "["
        elif char == "[":
            in_class = True
        elif char == "+" and previous in ("*", "+", "?", "}") and pattern[i - 2:i] != "(?":
            return True
        previous = char if not in_class or char == "[" else "x"
        i += 1
    return False


def _as_python(pattern: str) -> str:
    text = _QUOTED.sub(lambda m: re.escape(m.group(1)), pattern)
    text = _UNICODE_CLASS.sub("x", text).replace("(?<", "(?P<").replace("(?P<=", "(?<=")
    text = text.replace("(?P<!", "(?<!").replace(r"\z", r"\Z")
    return _FLAGS.sub(_without_ungreedy, text)


_FLAGS = re.compile(r"\(\?([imsxU-]*U[imsxU-]*)([:)])")


def _without_ungreedy(found: re.Match[str]) -> str:
    """RE2's ``U`` (ungreedy) flag has no Python equivalent; the syntax check drops it."""
    flags = found.group(1).replace("U", "").rstrip("-")
    if found.group(2) == ")":
        return f"(?{flags})" if flags else ""
    return f"(?{flags}:" if flags else "(?:"


DURATION_DIALECTS = {
    "go": "a Go duration such as 10s, 1.5s, 300ms or 1m30s",
    "go-signed": "a Go duration such as 10s, 1m30s, 500ms or -1s",
    "protobuf": "a duration such as 10s, 1.5s, 100ms or 1m",
}
_GO_PART = r"(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h)"
_GO_DURATION = re.compile(rf"[+-]?(?:{_GO_PART})+|[+-]?0")
_UNIT_MS = {"ns": Decimal("1e-6"), "us": Decimal("1e-3"), "µs": Decimal("1e-3"),
            "μs": Decimal("1e-3"), "ms": Decimal(1), "s": Decimal(1000), "m": Decimal(60000),
            "h": Decimal(3600000)}
_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


@dataclass(frozen=True)
class Duration(Spec):
    """A duration string. ``go``: Go ``time.ParseDuration``, not negative; ``go-signed``:
    negative allowed (Consul: "disabled"); ``protobuf``: Istio's durations, not negative
    and a whole number of milliseconds (what Envoy can be given)."""

    types = (str,)
    dialect: str = "go"

    @property
    def what(self) -> str:  # type: ignore[override]
        return DURATION_DIALECTS[self.dialect]

    def check(self, value: Any, path: FieldPath, out: Check) -> None:
        if not isinstance(value, str):
            self.expected(value, path, out)
            return
        text = value.strip()
        if len(text) > 64 or _GO_DURATION.fullmatch(text) is None:
            out.add(path, f"invalid duration {_short(value)} (expected {self.what})")
        elif text.startswith("-") and self.dialect != "go-signed" and duration_ms(text):
            out.add(path, f"negative duration {_short(value)} (expected {self.what})")
        elif self.dialect == "protobuf" and duration_ms(text) % 1:
            out.add(path, f"duration {_short(value)} is not a whole number of milliseconds")


def duration_ms(text: str) -> Decimal:
    """The exact milliseconds of a Go duration that matched the syntax (sign ignored)."""
    try:
        return sum((Decimal(n) * _UNIT_MS[u] for n, u in _PART.findall(text)), Decimal(0))
    except InvalidOperation:  # pragma: no cover - the syntax admits only numbers
        return Decimal(0)


_QUANTITY = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|[numkMGTPE])?")


@dataclass(frozen=True)
class Quantity(Spec):
    """A Kubernetes quantity (``1``, ``500m``, ``10k``, ``1Ki``), not negative."""

    types = (str, int, float)
    what = "a Kubernetes quantity such as 1, 500m or 10k"

    def check(self, value: Any, path: FieldPath, out: Check) -> None:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.expected(value, path, out)
            return
        text = repr(value) if isinstance(value, float) else str(value).strip()
        if len(text) > 64 or _QUANTITY.fullmatch(text) is None or text.startswith("-"):
            self.expected(value, path, out)


# -- messages ----------------------------------------------------------------------------
_NAMES = ((bool, "a boolean"), (str, "a string"), (int, "an integer"), (float, "a number"),
          (dict, "a mapping"), (list, "a list"))


def describe(value: Any) -> str:
    """``a string '500m'``, ``an integer 3``, ``a mapping``: the value, briefly (the same
    words as :mod:`meshmigrate.fields`)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    for typ, name in _NAMES:
        if isinstance(value, typ):
            shown = repr(value) if isinstance(value, str | int | float) else ""
            return f"{name} {shown[:40]}".rstrip()
    return type(value).__name__


def _short(value: str) -> str:
    return repr(value) if len(value) <= 60 else repr(value[:57]) + "…"


def _range(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f" from {low:g} to {high:g}"
    if low is not None:
        return f" of {low:g} or more"
    return f" of {high:g} or less" if high is not None else ""


# -- checking documents -------------------------------------------------------------------
def check_document(doc: Document, spec: Spec) -> list[Violation]:
    """Every violation of ``spec`` in ``doc`` (in document order)."""
    out = Check()
    spec.check(doc.obj, (), out)
    return out.found


def check_documents(docs: Iterable[Document], spec_of: Callable[[Document], Spec | None]
                    ) -> None:
    """Raise an InputError for the first violation (the message counts the others)."""
    first: tuple[Document, Violation] | None = None
    more = 0
    for doc in docs:
        spec = spec_of(doc)
        found = check_document(doc, spec) if spec is not None else []
        if found and first is None:
            first = (doc, found[0])
            found = found[1:]
        more += len(found)
    if first is not None:
        raise _error(*first, more)


def _error(doc: Document, violation: Violation, more: int) -> InputError:
    suffix = f" (and {more} more problem{'s' if more > 1 else ''} in the input)" if more else ""
    return InputError(violation.message + suffix, file=doc.file,
                      line=doc.line_of(violation.path), field=format_path(violation.path)
                      or None)


# -- descriptions shared by every kind ----------------------------------------------------
#: ``metadata`` as the converters read it (name is required: it names the object).
METADATA = Obj({"name": Str(), "namespace": Str(), "labels": StrMap(),
                "annotations": StrMap(), "creationTimestamp": AnyValue()},
               required=("name",))


def kind(spec: Obj) -> Obj:
    """A whole object: ``metadata`` plus ``spec``."""
    return Obj({"apiVersion": Str(), "kind": Str(), "metadata": METADATA, "spec": spec},
               required=("metadata",))


PORT = Int(1, 65535)
#: A v1 Service, as :mod:`meshmigrate.services` reads it (Kubernetes API validation).
SERVICE = kind(Obj({
    "ports": Seq(Obj({"port": PORT, "name": Str(), "protocol": Str(enum=("TCP", "UDP", "SCTP")),
                      "appProtocol": Str(), "targetPort": Either((Int(1, 65535), Str()))},
                     required=("port",)), unique="name"),
    "selector": StrMap(), "clusterIP": Str(), "type": Str(),
}))
