"""Validate Gateway API objects offline, as the apiserver does: OpenAPI v3 schema + CEL rules.

The steps for one object follow the apiserver's create path for a custom resource:

1. drop ``status`` (the status subresource ignores it on create), drop ``null`` values of
   non-nullable fields and apply the schema's ``default`` values, top-down, so that CEL rules
   see defaulted objects (``backendRefs[].kind`` is ``Service`` before a rule looks at it);
2. check ObjectMeta (name, namespace, labels, annotations);
3. check the structural schema with :mod:`jsonschema` (Draft 4 keywords are the OpenAPI v3.0
   ones) extended for ``nullable``, ``x-kubernetes-int-or-string``, RE2 ``pattern`` anchors
   and the Kubernetes ``format`` names; unknown fields (``kubectl --validate=strict``) and
   ``x-kubernetes-list-type: map|set`` uniqueness are checked by a walk over the schema;
4. unless step 2/3 found a *blocking* error (the apiserver's ``hasBlockingErr``: a wrong type,
   a missing required field, an unsupported enum value, too long, too many), evaluate every
   ``x-kubernetes-validations`` rule with ``self`` bound to the node that carries the rule,
   property names escaped as in Kubernetes (``namespace`` -> ``__namespace__``).

CEL is evaluated by ``cel-expr-python`` (the CEL project's own C++ runtime) with the strings
extension; the Kubernetes library functions the Gateway API CRDs use (``isIP``,
``format.*().validate()``) are small Python functions declared below. Transition rules
(``oldSelf``) are skipped: a create has no old object. Compiled schema validators are kept per
CRD version and compiled CEL programs per rule text, so large inputs validate quickly.
"""

from __future__ import annotations

import copy
import datetime
import functools
import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from jsonschema import Draft4Validator, FormatChecker, validators  # type: ignore[import-untyped]
from jsonschema import ValidationError as SchemaError

from meshmigrate.crds import CrdSet
from meshmigrate.sources import Document, FieldPath, format_path

SOURCE_ANNOTATION = "meshmigrate.io/source"
Schema = Mapping[str, Any]


# --------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True, slots=True)
class ValidationError:
    """One rejected field: which object, where in it, why, and where the object came from."""

    object: str  # Kind/namespace/name
    field: str  # spec.rules[0].matches[0].path ("" for the object itself)
    reason: str  # the apiserver's error type: Invalid value, Required value, ...
    message: str  # the CRD rule's message (or the schema keyword's, worded like the apiserver)
    source: str | None = None  # meshmigrate.io/source: the object the bad field came from
    rule: str | None = None  # the CEL rule or schema keyword that failed
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}: " if self.file and self.line else (
            f"{self.file}: " if self.file else "")
        field = f"{self.field}: " if self.field else ""
        source = f" (from {self.source})" if self.source else ""
        return f"{where}{self.object}: {field}{self.reason}: {self.message}{source}"

    def to_json(self) -> dict[str, Any]:
        return {"object": self.object, "field": self.field, "reason": self.reason,
                "message": self.message, "source": self.source, "rule": self.rule,
                "file": self.file, "line": self.line}


@dataclass(frozen=True, slots=True)
class Report:
    """The outcome of validating many objects."""

    errors: tuple[ValidationError, ...]
    checked: int  # objects checked against a CRD
    skipped: tuple[str, ...]  # objects of groups the CRDs do not cover (e.g. core Services)
    warnings: tuple[str, ...]  # rules that could not be evaluated offline

    @property
    def ok(self) -> bool:
        return not self.errors


class _Issue(NamedTuple):
    path: FieldPath
    reason: str
    message: str
    rule: str | None = None
    blocking: bool = False


# --------------------------------------------------------------------------------------------
# Kubernetes name formats (k8s.io/apimachinery/pkg/util/validation), used for ObjectMeta and
# by the CEL ``format`` library.

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_QUALIFIED_NAME_PART = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")


def _regex_name(pattern: re.Pattern[str], limit: int, what: str) -> Callable[[str], list[str]]:
    def check(value: str) -> list[str]:
        errors = [] if pattern.fullmatch(value) else [
            f"a valid {what} must match the regex '{pattern.pattern}'"]
        if len(value) > limit:
            errors.append(f"must be no more than {limit} characters")
        return errors
    return check


dns1123_label = _regex_name(_DNS1123_LABEL, 63, "lowercase RFC 1123 label")
dns1123_subdomain = _regex_name(_DNS1123_SUBDOMAIN, 253, "lowercase RFC 1123 subdomain")
dns1035_label = _regex_name(_DNS1035_LABEL, 63, "DNS-1035 label")
label_value = _regex_name(_LABEL_VALUE, 63, "label value")
_name_part = _regex_name(_QUALIFIED_NAME_PART, 63, "name part")


def qualified_name(value: str) -> list[str]:
    """``[prefix/]name`` as used for label and annotation keys."""
    prefix, slash, name = value.rpartition("/")
    if slash and not prefix:
        return ["prefix part must be non-empty"]
    errors = [f"prefix part {e}" for e in dns1123_subdomain(prefix)] if slash else []
    return errors + (_name_part(name) if name else ["name part must be non-empty"])


# --------------------------------------------------------------------------------------------
# JSON schema: jsonschema's Draft 4 validator with the OpenAPI/Kubernetes adaptations.


@functools.cache
def _regex(pattern: str) -> re.Pattern[str] | None:
    """A Python regex that matches like RE2 (Go): ``$`` is the end of the text (Python's
    ``$`` also matches before a final newline, so ``"abc\\n"`` would pass ``^[a-z]+$``)."""
    out: list[str] = []
    i, class_start = 0, -1  # class_start: index in ``out`` where the open ``[...]`` began
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            escaped = pattern[i:i + 2]
            out.append(r"\Z" if escaped == r"\z" else escaped)
            i += 2
            continue
        if class_start < 0 and char == "[":
            class_start = len(out) + 1
        elif class_start >= 0 and char == "^" and len(out) == class_start:
            class_start += 1  # [^...]
        elif class_start >= 0 and char == "]" and len(out) > class_start:
            class_start = -1  # a ``]`` first in the class is a literal
        out.append(r"\Z" if char == "$" and class_start < 0 else char)
        i += 1
    try:
        return re.compile("".join(out))
    except re.error:
        return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _nullable(keyword: str) -> Callable[..., Iterator[SchemaError]]:
    """``nullable: true`` lets ``null`` through every check of that keyword."""
    base = Draft4Validator.VALIDATORS[keyword]

    def check(validator: Any, value: Any, instance: Any, schema: Schema) -> Iterator[SchemaError]:
        if instance is None and schema.get("nullable"):
            return
        yield from base(validator, value, instance, schema)
    return check


def _required(validator: Any, required: list[str], instance: Any,
              schema: Schema) -> Iterator[SchemaError]:
    if isinstance(instance, dict):
        for name in required:
            if name not in instance:
                yield SchemaError("Required value", path=[name])


def _pattern(validator: Any, pattern: str, instance: Any,
             schema: Schema) -> Iterator[SchemaError]:
    compiled = _regex(pattern)
    if isinstance(instance, str) and compiled is not None and not compiled.search(instance):
        yield SchemaError(f"should match '{pattern}'")


def _int_or_string(validator: Any, enabled: bool, instance: Any,
                   schema: Schema) -> Iterator[SchemaError]:
    allowed = _is_int(instance) or isinstance(instance, str) or (
        instance is None and schema.get("nullable"))
    if enabled and not allowed:
        yield SchemaError("must be of type integer,string")


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value) if "%" not in value else None
    except ValueError:
        return None


def _date_time(value: str) -> bool:
    try:
        datetime.datetime.fromisoformat(value)
    except ValueError:
        return False
    return "T" in value.upper() or " " in value


def _cidr(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return "/" in value


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_MAC = re.compile(r"([0-9a-f]{2}[:-]){5}[0-9a-f]{2}", re.I)

# Kubernetes' format names (kube-openapi strfmt); formats it does not check (int32, int64,
# password, ...) are not checked here either.
_STRING_FORMATS: dict[str, Callable[[str], bool]] = {
    "ipv4": lambda v: _ip(v) is not None and "." in v,
    "ipv6": lambda v: _ip(v) is not None and ":" in v,
    "cidr": _cidr,
    "date-time": _date_time,
    "datetime": _date_time,
    "date": lambda v: bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", v)) and _date_time(v + "T00:00"),
    "uuid": lambda v: bool(_UUID.fullmatch(v)),
    "mac": lambda v: bool(_MAC.fullmatch(v)),
    "hostname": lambda v: not dns1123_subdomain(v.lower()),
}


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    for name, check in _STRING_FORMATS.items():
        checker.checks(name)(functools.partial(_string_format, check))
    return checker


def _string_format(check: Callable[[str], bool], value: Any) -> bool:
    return not isinstance(value, str) or check(value)


_SchemaValidator = validators.extend(Draft4Validator, {
    "type": _nullable("type"),
    "enum": _nullable("enum"),
    "format": _nullable("format"),
    "required": _required,
    "pattern": _pattern,
    "x-kubernetes-int-or-string": _int_or_string,
})
_FORMATS = _format_checker()


def _quote(value: Any) -> str:
    """JSON, compact like the apiserver's rendering of values in its messages."""
    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))


def _type_name(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string", dict: "object",
             list: "array", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _size(value: Any) -> int:
    return len(value) if isinstance(value, list | dict | str) else 0


_Message = Callable[[Any, Any, str], tuple[str, str, bool]]
# keyword -> (validator value, instance, jsonschema message) -> (reason, message, blocking);
# blocking errors stop CEL evaluation, as in the apiserver's hasBlockingErr.
_SCHEMA_MESSAGES: dict[str, _Message] = {
    "required": lambda v, i, m: ("Required value", "Required value", True),
    "type": lambda v, i, m: (
        "Invalid value", f"{_quote(_type_name(i))}: must be of type {v}", True),
    "x-kubernetes-int-or-string": lambda v, i, m: (
        "Invalid value", f"{_quote(_type_name(i))}: {m}", True),
    "enum": lambda v, i, m: ("Unsupported value", f"{_quote(i)}: supported values: "
                             + ", ".join(_quote(x) for x in v), True),
    "maxLength": lambda v, i, m: ("Too long", f"may not be more than {v} characters", True),
    "maxItems": lambda v, i, m: ("Too many", f"{_size(i)}: must have at most {v} items", True),
    "maxProperties": lambda v, i, m: (
        "Too many", f"{_size(i)}: must have at most {v} items", True),
    "minLength": lambda v, i, m: (
        "Invalid value", f"{_quote(i)}: should be at least {v} chars long", False),
    "minItems": lambda v, i, m: (
        "Invalid value", f"{_size(i)}: should have at least {v} items", False),
    "minProperties": lambda v, i, m: (
        "Invalid value", f"{_size(i)}: should have at least {v} properties", False),
    "minimum": lambda v, i, m: (
        "Invalid value", f"{i}: should be greater than or equal to {v}", False),
    "maximum": lambda v, i, m: (
        "Invalid value", f"{i}: should be less than or equal to {v}", False),
    "format": lambda v, i, m: ("Invalid value", f"{_quote(i)}: must be of type {v}", False),
}


def _schema_message(err: SchemaError) -> tuple[str, str, bool]:
    """(reason, message, blocking) worded like the apiserver's field errors."""
    default: _Message = lambda v, i, m: ("Invalid value", f"{_quote(i)}: {m}", False)  # noqa: E731
    return _SCHEMA_MESSAGES.get(err.validator, default)(
        err.validator_value, err.instance, err.message)


def _schema_issues(checker: Any, obj: Mapping[str, Any]) -> list[_Issue]:
    issues = []
    for err in checker.iter_errors(obj):
        reason, message, blocking = _schema_message(err)
        issues.append(_Issue(tuple(err.absolute_path), reason, message, err.validator, blocking))
    return issues


# --------------------------------------------------------------------------------------------
# Defaults, structure (unknown fields, list types) and ObjectMeta


def _plain(value: Any) -> Any:
    """A deep copy as plain dicts and lists (the loader's LineDict/LineList are subclasses)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _child_schema(schema: Schema, key: str) -> Schema | None:
    props = schema.get("properties") or {}
    if key in props:
        return props[key]  # type: ignore[no-any-return]
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def apply_defaults(value: Any, schema: Schema) -> None:
    """Structural defaulting, in place: a missing (or non-nullable ``null``) property gets a
    deep copy of its ``default``; then every child is defaulted, new ones included."""
    if isinstance(value, dict):
        for key, prop in (schema.get("properties") or {}).items():
            if key in value and value[key] is None and not prop.get("nullable"):
                del value[key]  # the apiserver prunes such nulls before defaulting
            if key not in value and "default" in prop:
                value[key] = copy.deepcopy(prop["default"])
        for key, child in value.items():
            sub = _child_schema(schema, key)
            if sub is not None:
                apply_defaults(child, sub)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for child in value:
            apply_defaults(child, schema["items"])


_ROOT_FIELDS = frozenset({"apiVersion", "kind", "metadata"})


def _structure_issues(value: Any, schema: Schema, path: FieldPath) -> Iterator[_Issue]:
    """Unknown fields and ``x-kubernetes-list-type`` map/set uniqueness, recursively."""
    if isinstance(value, dict):
        yield from _object_structure(value, schema, path)
    elif isinstance(value, list):
        yield from _list_uniqueness(value, schema, path)
        items = schema.get("items")
        for index, child in enumerate(value):
            if isinstance(items, dict):
                yield from _structure_issues(child, items, (*path, index))


def _object_structure(value: dict[str, Any], schema: Schema,
                      path: FieldPath) -> Iterator[_Issue]:
    preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
    for key, child in value.items():
        sub = _child_schema(schema, key)
        if path == () and key in _ROOT_FIELDS:
            continue  # ObjectMeta is checked on its own; its CRD schema is only type: object
        if sub is not None:
            yield from _structure_issues(child, sub, (*path, key))
        elif not preserve:
            yield _Issue((*path, key), "Unknown field",
                         "field not declared in the schema (kubectl and fieldValidation=Strict "
                         "reject it; otherwise the apiserver drops it)")


def _list_uniqueness(value: list[Any], schema: Schema, path: FieldPath) -> Iterator[_Issue]:
    list_type = schema.get("x-kubernetes-list-type")
    if list_type not in ("set", "map"):
        return
    keys = schema.get("x-kubernetes-list-map-keys") or []
    seen: set[str] = set()
    reported: set[str] = set()  # like the apiserver, each duplicate is reported once
    for index, item in enumerate(value):
        if list_type == "map" and not isinstance(item, dict):
            continue  # a type error, reported by the schema check
        marker = _quote({k: item.get(k) for k in keys} if list_type == "map" else item)
        if marker in seen and marker not in reported:
            reported.add(marker)
            yield _Issue((*path, index), "Duplicate value", marker, f"list-type {list_type}")
        seen.add(marker)


def _metadata_issues(meta: Any, namespaced: bool) -> Iterator[_Issue]:
    """What ``ValidateObjectMeta`` checks for a custom resource."""
    if not isinstance(meta, dict):
        yield _Issue(("metadata",), "Required value", "name or generateName is required",
                     blocking=True)
        return
    name = meta.get("name")
    if not name and not meta.get("generateName"):
        yield _Issue(("metadata", "name"), "Required value", "name or generateName is required",
                     blocking=True)
    checks: list[tuple[str, Callable[[str], list[str]]]] = [("name", dns1123_subdomain)]
    if namespaced:
        checks.append(("namespace", dns1123_label))
    for key, check in checks:
        text = meta.get(key)
        if text is not None and not isinstance(text, str):
            yield _Issue(("metadata", key), "Invalid value", f"{_quote(text)}: must be a string",
                         blocking=True)
        for problem in check(text) if isinstance(text, str) and text else []:
            yield _Issue(("metadata", key), "Invalid value", f"{_quote(text)}: {problem}")
    yield from _map_issues(meta, "labels", label_value)
    yield from _map_issues(meta, "annotations", None)


def _map_issues(meta: Mapping[str, Any], field: str,
                value_check: Callable[[str], list[str]] | None) -> Iterator[_Issue]:
    entries = meta.get(field) or {}
    if not isinstance(entries, dict):
        yield _Issue(("metadata", field), "Invalid value", "must be a map of strings",
                     blocking=True)
        return
    for key, value in entries.items():
        for problem in qualified_name(str(key)):
            yield _Issue(("metadata", field), "Invalid value", f"{_quote(key)}: {problem}")
        if not isinstance(value, str):
            yield _Issue(("metadata", field, key), "Invalid value",
                         f"{_quote(value)}: must be a string", blocking=True)
        for problem in value_check(value) if value_check and isinstance(value, str) else []:
            yield _Issue(("metadata", field, key), "Invalid value", f"{_quote(value)}: {problem}")


# --------------------------------------------------------------------------------------------
# CEL: the environment, Kubernetes library functions, compiled-program cache, escaping


def _k8s_format(name: str) -> Callable[[], str]:
    return lambda: name


_CEL_FORMATS: dict[str, Callable[[str], list[str]]] = {
    "dns1123Label": dns1123_label,
    "dns1123Subdomain": dns1123_subdomain,
    "dns1035Label": dns1035_label,
    "qualifiedName": qualified_name,
    "labelValue": label_value,
}


def _format_validate(fmt: str, value: str) -> list[str]:
    return _CEL_FORMATS[fmt](value)


def _cel_functions(cel: Any) -> list[Any]:
    """Kubernetes CEL library functions used by the Gateway API CRDs.

    ``format.<name>().validate(s)`` returns ``optional<list<string>>`` in Kubernetes; the
    CEL runtime cannot take an optional from a Python function, so here ``validate`` returns
    the (possibly empty) list and ``hasValue()``/``value()`` are declared on that list: the
    rules' ``!format.x().validate(s).hasValue()`` reads the same.
    """
    string, strings = cel.Type.STRING, cel.Type.List(cel.Type.STRING)
    decls = [
        cel.FunctionDecl("isIP", [cel.Overload(
            "is_ip_string", cel.Type.BOOL, [string], impl=lambda s: _ip(s) is not None)]),
        cel.FunctionDecl("validate", [cel.Overload(
            "format_validate_string", strings, [string, string], is_member=True,
            impl=_format_validate)]),
        cel.FunctionDecl("hasValue", [cel.Overload(
            "format_errors_has_value", cel.Type.BOOL, [strings], is_member=True,
            impl=lambda errors: len(errors) > 0)]),
        cel.FunctionDecl("value", [cel.Overload(
            "format_errors_value", strings, [strings], is_member=True, impl=list)]),
    ]
    decls += [cel.FunctionDecl(f"format.{name}", [cel.Overload(
        f"format_{name}", string, [], impl=_k8s_format(name))]) for name in _CEL_FORMATS]
    return decls


@functools.cache
def _cel_env() -> Any:
    from cel_expr_python import cel  # type: ignore[import-untyped]
    from cel_expr_python.ext import ext_strings  # type: ignore[import-untyped]

    return cel.NewEnv(variables={"self": cel.Type.DYN}, extensions=[ext_strings.ExtStrings()],
                      functions=_cel_functions(cel))


class _Program(NamedTuple):
    expression: Any  # cel_expr_python Expression, or None when it did not compile
    error: str | None


@functools.cache
def _compile(text: str) -> _Program:
    try:
        return _Program(_cel_env().compile(text), None)
    except RuntimeError as exc:
        return _Program(None, " ".join(str(exc).split()))


_TRANSITION = re.compile(r"\boldSelf\b")
# CEL's reserved words (k8s.io/apiserver/pkg/cel: celReservedSymbols): a property with such
# a name is ``__name__`` in CEL; newer apiservers also resolve the bare name.
_CEL_RESERVED = frozenset({
    "true", "false", "null", "in", "as", "break", "const", "continue", "else", "for",
    "function", "if", "import", "let", "loop", "package", "namespace", "return", "var", "void",
    "while"})
_ESCAPABLE = re.compile(r"[a-zA-Z_.\-/][a-zA-Z0-9_.\-/]*")
_ESCAPES = {"__": "__underscores__", ".": "__dot__", "-": "__dash__", "/": "__slash__"}


@functools.cache
def cel_property_name(name: str) -> str | None:
    """A property's name inside CEL (Kubernetes escaping); None if CEL cannot reach it."""
    if name in _CEL_RESERVED:
        return f"__{name}__"
    if not _ESCAPABLE.fullmatch(name):
        return None
    return re.sub(r"__|[.\-/]", lambda m: _ESCAPES[m.group(0)], name)


def _is_map(schema: Schema) -> bool:
    """A map (``additionalProperties``) rather than an object: its keys are not escaped."""
    return isinstance(schema.get("additionalProperties"), dict) and not schema.get("properties")


def cel_value(value: Any, schema: Schema) -> Any:
    """The value a CEL rule sees: objects with escaped property names, numbers as doubles
    where the schema says ``number``, maps and lists as they are."""
    if isinstance(value, dict):
        if _is_map(schema):
            return {k: cel_value(v, schema["additionalProperties"]) for k, v in value.items()}
        preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
        return _cel_object(value, schema.get("properties") or {}, preserve)
    if isinstance(value, list):
        items = schema.get("items")
        return [cel_value(v, items if isinstance(items, dict) else {}) for v in value]
    if schema.get("type") == "number" and _is_int(value):
        return float(value)
    return value


def _cel_object(value: Mapping[str, Any], props: Mapping[str, Schema],
                preserve: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, child in value.items():
        name = cel_property_name(key)
        if name is None or not (key in props or preserve):
            continue  # inaccessible, or unknown (the apiserver prunes unknown fields)
        out[name] = cel_value(child, props.get(key, {}))
        if key in _CEL_RESERVED and key not in ("true", "false", "null", "in"):
            out[key] = out[name]
    return out


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _root_cel_value(obj: Mapping[str, Any], schema: Schema) -> dict[str, Any]:
    view = cel_value({k: v for k, v in obj.items() if k != "metadata"}, schema)
    meta = _mapping(obj.get("metadata"))
    # Rules may read only metadata.name and metadata.generateName.
    view["metadata"] = {k: meta[k] for k in ("name", "generateName") if k in meta}
    return view  # type: ignore[no-any-return]


_RULE_REASONS = {"FieldValueInvalid": "Invalid value", "FieldValueForbidden": "Forbidden",
                 "FieldValueRequired": "Required value",
                 "FieldValueDuplicate": "Duplicate value"}
_FIELD_PATH_PART = re.compile(r"\.([^.\[]+)|\['((?:[^'\\]|\\.)*)'\]|\[(\d+)\]")


def _relative_path(field_path: str) -> FieldPath:
    """A rule's ``fieldPath`` (``.spec.x``, ``.m['key']``, ``.l[0]``) as path parts."""
    parts: list[str | int] = []
    for match in _FIELD_PATH_PART.finditer(field_path):
        name, key, index = match.groups()
        parts.append(int(index) if index is not None else (name if name is not None else key))
    return tuple(parts)


class _RuleRunner:
    """Evaluates the ``x-kubernetes-validations`` of one object, top-down."""

    def __init__(self, warnings: set[str]) -> None:
        self.warnings = warnings
        self.issues: list[_Issue] = []

    def walk(self, value: Any, view: Any, schema: Schema, path: FieldPath) -> None:
        rules = schema.get("x-kubernetes-validations")
        if rules:
            self._evaluate(rules, view, path)
        if isinstance(value, dict) and isinstance(view, dict):
            for key, child in value.items():
                sub = _child_schema(schema, key)
                name = key if _is_map(schema) else cel_property_name(key)
                if sub is not None and name in view:
                    self.walk(child, view[name], sub, (*path, key))
        elif isinstance(value, list) and isinstance(schema.get("items"), dict):
            for index, child in enumerate(value):
                self.walk(child, view[index], schema["items"], (*path, index))

    def _evaluate(self, rules: list[Mapping[str, Any]], view: Any, path: FieldPath) -> None:
        activation = None
        for rule in rules:
            text = str(rule.get("rule", ""))
            if _TRANSITION.search(text):
                continue  # a transition rule: only evaluated on update
            program = _compile(text)
            if program.expression is None:
                self.warnings.add(f"cannot evaluate rule offline ({program.error}): {text}")
                continue
            if activation is None:
                activation = _cel_env().Activation({"self": view})
            result = program.expression.eval(activation)
            if result.value() is not True:
                self.issues.append(self._failure(rule, result, activation, path))

    def _failure(self, rule: Mapping[str, Any], result: Any, activation: Any,
                 path: FieldPath) -> _Issue:
        text = str(rule["rule"])
        where = (*path, *_relative_path(str(rule.get("fieldPath", ""))))
        message = self._message(rule, activation) or rule.get("message") or f"failed rule: {text}"
        if not isinstance(result.value(), bool):  # worded like the apiserver's
            return _Issue(where, "Invalid value", f"{result.value()} evaluating rule: {message}",
                          text)
        reason = _RULE_REASONS.get(str(rule.get("reason", "")), "Invalid value")
        return _Issue(where, reason, str(message), text)

    def _message(self, rule: Mapping[str, Any], activation: Any) -> str | None:
        expression = rule.get("messageExpression")
        if not expression:
            return None
        program = _compile(str(expression))
        if program.expression is None:
            return None
        value = program.expression.eval(activation).value()
        return value if isinstance(value, str) and value.strip() else None


# --------------------------------------------------------------------------------------------
# The validator


@dataclass(frozen=True, slots=True)
class _Compiled:
    schema: Schema
    checker: Any  # the jsonschema validator for this CRD version
    status_subresource: bool
    namespaced: bool


def object_ref(obj: Mapping[str, Any]) -> str:
    """``Kind/namespace/name`` (``Kind/name`` when there is no namespace)."""
    meta = _mapping(obj.get("metadata"))
    parts = [str(obj.get("kind") or "?"), str(meta.get("namespace") or ""),
             str(meta.get("name") or meta.get("generateName") or "?")]
    return "/".join(p for p in parts if p)


def source_of(obj: Mapping[str, Any]) -> str | None:
    source = _mapping(_mapping(obj.get("metadata")).get("annotations")).get(SOURCE_ANNOTATION)
    return str(source) if source else None


class Validator:
    """Validates objects against one :class:`~meshmigrate.crds.CrdSet`. Keep one per CRD set:
    it caches the compiled schema validator of each CRD version."""

    def __init__(self, crds: CrdSet) -> None:
        self.crds = crds
        self._compiled: dict[tuple[str, str, str], _Compiled | _Issue] = {}
        self._warnings: set[str] = set()

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(sorted(self._warnings))

    def covers(self, obj: Mapping[str, Any]) -> bool:
        """Whether the object's API group has CRDs in this set (else it is not checked)."""
        return str(obj.get("apiVersion", "")).rpartition("/")[0] in self.crds.groups

    def validate(self, obj: Mapping[str, Any], doc: Document | None = None
                 ) -> list[ValidationError]:
        """Every error the apiserver would report when creating ``obj`` (in order)."""
        compiled = self._compile(obj)
        issues = [compiled] if isinstance(compiled, _Issue) else self._issues(obj, compiled)
        ref, source = object_ref(obj), source_of(obj)
        return [ValidationError(
            ref, format_path(i.path), i.reason, i.message, source, i.rule,
            doc.file if doc else None, doc.line_of(i.path) if doc else None) for i in issues]

    def _issues(self, obj: Mapping[str, Any], compiled: _Compiled) -> list[_Issue]:
        prepared = _plain(obj)
        if compiled.status_subresource:
            prepared.pop("status", None)
        apply_defaults(prepared, compiled.schema)
        issues = list(_metadata_issues(prepared.get("metadata"), compiled.namespaced))
        issues += _schema_issues(compiled.checker, prepared)
        issues += _structure_issues(prepared, compiled.schema, ())
        if any(issue.blocking for issue in issues):
            return issues  # as the apiserver: CEL rules are not run on such an object
        runner = _RuleRunner(self._warnings)
        runner.walk(prepared, _root_cel_value(prepared, compiled.schema), compiled.schema, ())
        return issues + runner.issues

    def _compile(self, obj: Mapping[str, Any]) -> _Compiled | _Issue:
        group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
        key = (group, str(obj.get("kind", "")), version)
        if key not in self._compiled:
            self._compiled[key] = self._compile_version(*key)
        return self._compiled[key]

    def _compile_version(self, group: str, kind: str, version: str) -> _Compiled | _Issue:
        crd = self.crds.find(group, kind)
        if crd is None:
            return _Issue(("kind",), "Not found", f"no CustomResourceDefinition for {kind} in "
                          f"{group or 'the core group'} ({self.crds.origin})")
        versions = {v["name"]: v for v in crd["spec"]["versions"] if v.get("served")}
        if version not in versions:
            return _Issue(("apiVersion",), "Not found", f"{group}/{version} {kind} is not "
                          f"served (served: {', '.join(sorted(versions))}; {self.crds.origin})")
        entry = versions[version]
        schema = entry["schema"]["openAPIV3Schema"]
        subresources = entry.get("subresources") or crd["spec"].get("subresources") or {}
        return _Compiled(schema, _SchemaValidator(schema, format_checker=_FORMATS),
                         "status" in subresources, crd["spec"].get("scope") != "Cluster")


def validate_documents(docs: Iterable[Document], validator: Validator) -> Report:
    """Validate every document the CRDs cover; the others are listed as skipped."""
    errors: list[ValidationError] = []
    checked, skipped = 0, []
    for doc in docs:
        if not validator.covers(doc.obj):
            skipped.append(object_ref(doc.obj))
            continue
        checked += 1
        errors += validator.validate(doc.obj, doc)
    return Report(tuple(errors), checked, tuple(skipped), validator.warnings)


def validate_objects(objects: Iterable[Mapping[str, Any]], crds: CrdSet) -> Report:
    """For ``convert``'s self-check: validate generated objects (no file provenance)."""
    validator = Validator(crds)
    errors: list[ValidationError] = []
    checked, skipped = 0, []
    for obj in objects:
        if validator.covers(obj):
            checked += 1
            errors += validator.validate(obj)
        else:
            skipped.append(object_ref(obj))
    return Report(tuple(errors), checked, tuple(skipped), validator.warnings)
