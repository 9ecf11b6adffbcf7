"""meshmigrate.validate against the real Gateway API CRDs (from the Go module) and small
synthetic CRDs that pin down each apiserver behaviour the validator reproduces."""

from __future__ import annotations

import copy
import io
import re
import time
from typing import Any

import pytest

from meshmigrate import sources
from meshmigrate.crds import CrdSet
from meshmigrate.validate import (
    Validator,
    _regex,
    apply_defaults,
    cel_property_name,
    validate_documents,
    validate_objects,
)
from tests.test_validate_support import (
    CORPUS,
    OLDEST,
    corpus,
    crd_set,
    expected,
    field_matches,
    messages,
    newest_version,
    served,
    target_sets,
)

SETS = target_sets()
SET_IDS = [f"{v}-{c}" for v, c in SETS]
GATEWAY_GROUPS = ("gateway.networking.k8s.io/", "gateway.networking.x-k8s.io/")


# --------------------------------------------------------------------------------------------
# The corpus, against every target CRD set


@pytest.mark.parametrize(("version", "channel"), SETS, ids=SET_IDS)
def test_valid_corpus_is_accepted(version: str, channel: str) -> None:
    crds = crd_set(version, channel)
    validator = Validator(crds)
    checked = 0
    for name, obj in corpus("valid"):
        if channel == "standard" and name in expected()["experimental_only"]:
            continue
        adapted = served(obj, crds)
        if adapted is None:
            continue  # e.g. TCPRoute is not in the v1.2 standard channel
        assert validator.validate(adapted) == [], name
        checked += 1
    assert checked >= 5
    assert validator.warnings == ()


@pytest.mark.parametrize(("version", "channel"), SETS, ids=SET_IDS)
def test_invalid_corpus_is_rejected_with_the_rules_message(version: str, channel: str) -> None:
    crds = crd_set(version, channel)
    validator = Validator(crds)
    cases = expected()["invalid"]
    assert {name for name, _ in corpus("invalid")} == set(cases)
    for name, obj in corpus("invalid"):
        adapted = served(obj, crds)
        if adapted is None:
            continue
        errors = validator.validate(adapted)
        case = cases[name]
        hits = [e for e in errors if field_matches(e.field, case["field"])
                and any(m in f"{e.reason}: {e.message}" for m in messages(case))]
        assert hits, f"{name}: {[str(e) for e in errors]}"


def test_the_required_bad_objects_name_object_field_message_and_source() -> None:
    validator = Validator(crd_set(OLDEST, "standard"))
    objects = dict(corpus("invalid"))
    error = validator.validate(objects["timeout-backend-longer.yaml"])[0]
    assert error.object == "HTTPRoute/bookinfo/timeout-backend-longer"
    assert error.field == "spec.rules[0].timeouts"
    assert error.message == "backendRequest timeout cannot be longer than request timeout"
    assert error.source == "VirtualService/bookinfo/timeout-backend-longer"
    assert error.rule is not None and "duration(self.backendRequest)" in error.rule
    assert str(error) == (
        "HTTPRoute/bookinfo/timeout-backend-longer: spec.rules[0].timeouts: Invalid value: "
        "backendRequest timeout cannot be longer than request timeout "
        "(from VirtualService/bookinfo/timeout-backend-longer)")


# --------------------------------------------------------------------------------------------
# Every CEL rule of every target CRD set compiles and every function it calls is provided


def _rules(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [str(r["rule"]) for r in node.get("x-kubernetes-validations") or []]
        return own + [r for value in node.values() for r in _rules(value)]
    if isinstance(node, list):
        return [r for value in node for r in _rules(value)]
    return []


def _all_rules(crds: CrdSet) -> set[str]:
    return {rule for crd in crds.by_kind.values() for rule in _rules(crd["spec"]["versions"])}


@pytest.mark.parametrize(("version", "channel"), SETS, ids=SET_IDS)
def test_every_rule_of_the_crds_compiles(version: str, channel: str) -> None:
    from meshmigrate.validate import _TRANSITION, _compile

    rules = _all_rules(crd_set(version, channel))
    assert len(rules) > 40
    broken = {r: _compile(r).error for r in rules
              if not _TRANSITION.search(r) and _compile(r).expression is None}
    assert broken == {}


def test_the_kubernetes_functions_used_by_the_crds_are_the_ones_tested_here() -> None:
    rules = set().union(*(_all_rules(crd_set(v, c)) for v, c in SETS))
    called = {m for rule in rules for m in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\(", rule)}
    standard_cel = {"has", "size", "all", "exists", "exists_one", "filter", "map", "matches",
                    "startsWith", "endsWith", "contains", "duration", "int", "string"}
    strings_ext = {"split", "substring"}
    kubernetes = {"isIP", "dns1123Subdomain", "qualifiedName", "validate", "hasValue"}
    assert called - standard_cel - strings_ext - kubernetes == set()


# --------------------------------------------------------------------------------------------
# Apiserver behaviours, pinned with small synthetic CRDs


def _crds(spec: dict[str, Any], kind: str = "Widget") -> CrdSet:
    schema = {"type": "object", "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"},
        "metadata": {"type": "object"}, "spec": spec,
        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}}}
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"kind": kind, "plural": "widgets"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "subresources": {"status": {}},
                                  "schema": {"openAPIV3Schema": schema}}]}}
    return CrdSet.of("test", [crd])


def _widget(spec: Any, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": "w", "namespace": "ns", **meta}, "spec": spec}


def _check(spec_schema: dict[str, Any], spec: Any) -> list[tuple[str, str, str]]:
    errors = Validator(_crds(spec_schema)).validate(_widget(spec))
    return [(e.field, e.reason, e.message) for e in errors]


def _obj(props: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, **extra}


STR = {"type": "string"}


def test_defaults_are_applied_before_cel_rules() -> None:
    schema = _obj({"kind": {"type": "string", "default": "Service"}, "port": {"type": "integer"}},
                  **{"x-kubernetes-validations": [
                      {"rule": "self.kind == 'Service' ? has(self.port) : true",
                       "message": "port needed"}]})
    assert _check(schema, {}) == [("spec", "Invalid value", "port needed")]
    assert _check(schema, {"kind": "Other"}) == []


def test_defaults_fill_missing_and_null_fields_recursively() -> None:
    schema = _obj({"a": _obj({"b": {"type": "string", "default": "x"}}, default={}),
                   "n": {"type": "string", "default": "d"}})
    value: dict[str, Any] = {"n": None}
    apply_defaults(value, schema)
    assert value == {"a": {"b": "x"}, "n": "d"}


def test_reserved_property_names_are_escaped_and_also_reachable_bare() -> None:
    schema = _obj({"namespace": STR, "x-y": STR, "a.b": STR, "my__f": STR},
                  **{"x-kubernetes-validations": [
                      {"rule": "self.__namespace__ == 'a' && self.namespace == 'a'",
                       "message": "ns"},
                      {"rule": "self.x__dash__y == 'b' && self.a__dot__b == 'c'", "message": "esc"},
                      {"rule": "self.my__underscores__f == 'd'", "message": "under"}]})
    assert _check(schema, {"namespace": "a", "x-y": "b", "a.b": "c", "my__f": "d"}) == []
    assert [m for _, _, m in _check(schema, {"namespace": "z", "x-y": "z", "a.b": "z",
                                              "my__f": "z"})] == ["ns", "esc", "under"]
    assert cel_property_name("namespace") == "__namespace__"
    assert cel_property_name("9lives") is None


def test_rule_scope_is_the_node_that_carries_it() -> None:
    item = _obj({"v": {"type": "integer"}},
                **{"x-kubernetes-validations": [{"rule": "self.v > 0", "message": "positive"}]})
    schema = _obj({"items": {"type": "array", "items": item}})
    assert _check(schema, {"items": [{"v": 1}, {"v": 0}, {"v": 2}]}) == [
        ("spec.items[1]", "Invalid value", "positive")]


def test_message_expression_field_path_and_reason() -> None:
    schema = _obj({"limit": {"type": "integer"}, "m": {"type": "object",
                   "additionalProperties": STR}}, **{"x-kubernetes-validations": [
        {"rule": "self.limit < 10", "messageExpression": "'limit ' + string(self.limit)",
         "message": "fallback", "fieldPath": ".limit", "reason": "FieldValueForbidden"},
        {"rule": "!('k' in self.m)", "message": "no k", "fieldPath": ".m['k']",
         "reason": "FieldValueDuplicate"},
        {"rule": "false", "messageExpression": "''", "message": "empty expr falls back"},
        {"rule": "false"}]})
    assert _check(schema, {"limit": 12, "m": {"k": "v"}}) == [
        ("spec.limit", "Forbidden", "limit 12"),
        ("spec.m.k", "Duplicate value", "no k"),
        ("spec", "Invalid value", "empty expr falls back"),
        ("spec", "Invalid value", "failed rule: false")]


def test_transition_rules_are_skipped_on_create() -> None:
    schema = _obj({"x": STR}, **{"x-kubernetes-validations": [
        {"rule": "self == oldSelf", "message": "immutable"}]})
    assert _check(schema, {"x": "a"}) == []


def test_blocking_schema_errors_stop_cel_like_the_apiserver() -> None:
    schema = _obj({"name": STR, "p": {"type": "string", "pattern": "^a$"}},
                  required=["name"],
                  **{"x-kubernetes-validations": [{"rule": "false", "message": "cel ran"}]})
    assert _check(schema, {}) == [("spec.name", "Required value", "Required value")]
    # a pattern error is not blocking: the rules still run
    assert [m for _, _, m in _check(schema, {"name": "n", "p": "b"})][-1] == "cel ran"


def test_list_type_set_and_map_uniqueness() -> None:
    schema = _obj({
        "s": {"type": "array", "items": STR, "x-kubernetes-list-type": "set"},
        "m": {"type": "array", "x-kubernetes-list-type": "map",
              "x-kubernetes-list-map-keys": ["name"],
              "items": _obj({"name": STR, "v": STR})}})
    got = _check(schema, {"s": ["a", "b", "a"], "m": [{"name": "x", "v": "1"},
                                                      {"name": "x", "v": "2"}]})
    assert got == [("spec.s[2]", "Duplicate value", '"a"'),
                   ("spec.m[1]", "Duplicate value", '{"name":"x"}')]


def test_int_or_string_nullable_and_formats() -> None:
    schema = _obj({"ios": {"x-kubernetes-int-or-string": True},
                   "opt": {"type": "string", "nullable": True, "enum": ["a"]},
                   "ip": {"type": "string", "format": "ipv4"},
                   "when": {"type": "string", "format": "date-time"}})
    assert _check(schema, {"ios": 8080, "opt": None, "ip": "10.0.0.1",
                           "when": "2024-01-02T03:04:05Z"}) == []
    assert _check(schema, {"ios": "http"}) == []
    got = _check(schema, {"ios": True, "ip": "10.0.0", "when": "yesterday"})
    assert [f for f, _, _ in got] == ["spec.ios", "spec.ip", "spec.when"]


def test_unknown_fields_are_reported_but_preserved_ones_are_not() -> None:
    schema = _obj({"a": STR, "free": {"type": "object",
                                      "x-kubernetes-preserve-unknown-fields": True}})
    assert _check(schema, {"a": "x", "free": {"anything": 1}, "b": 2}) == [
        ("spec.b", "Unknown field", "field not declared in the schema (kubectl and "
         "fieldValidation=Strict reject it; otherwise the apiserver drops it)")]


def test_cel_sees_preserved_unknown_fields_but_not_pruned_ones() -> None:
    schema = _obj({"free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                            "x-kubernetes-validations": [
                                {"rule": "self.anything == 1", "message": "free"}]},
                   "a": STR}, **{"x-kubernetes-validations": [
                       {"rule": "!has(self.b)", "message": "pruned"}]})
    assert [m for _, _, m in _check(schema, {"free": {"anything": 1}, "b": 1})] == [
        "field not declared in the schema (kubectl and fieldValidation=Strict reject it; "
        "otherwise the apiserver drops it)"]


def test_status_is_ignored_on_create_and_numbers_are_doubles_in_cel() -> None:
    schema = _obj({"ratio": {"type": "number"}}, **{"x-kubernetes-validations": [
        {"rule": "self.ratio == 1.0", "message": "double"}]})
    crds = _crds(schema)
    obj = {**_widget({"ratio": 1}), "status": {"ready": "not a boolean"}}
    assert Validator(crds).validate(obj) == []


def test_kubernetes_cel_library_functions() -> None:
    schema = _obj({"hosts": {"type": "array", "items": STR}, "key": STR, "name": STR},
                  **{"x-kubernetes-validations": [
                      {"rule": "self.hosts.all(h, !isIP(h))", "message": "no IPs"},
                      {"rule": "!format.qualifiedName().validate(self.key).hasValue()",
                       "message": "key"},
                      {"rule": "!format.dns1123Subdomain().validate(self.name).hasValue()",
                       "message": "name"},
                      {"rule": "self.name.split('.')[0].size() < 10 && "
                               "self.name.substring(1).startsWith('x')", "message": "strings"}]})
    assert _check(schema, {"hosts": ["a.b", "fe80::1%eth0"], "key": "example.com/a-b",
                           "name": "ax.example"}) == []
    got = _check(schema, {"hosts": ["10.0.0.1", "::1"], "key": "/bad", "name": "Bad_Name"})
    assert [m for _, _, m in got] == ["no IPs", "key", "name", "strings"]


def test_cel_regex_is_re2_and_schema_pattern_end_anchor_is_re2_too() -> None:
    schema = _obj({"svc": {"type": "string", "pattern": "^[a-z]+$"}},
                  **{"x-kubernetes-validations": [
                      {"rule": 'self.svc.matches(r"""^(?i)[a-z]+$""")', "message": "re2"}]})
    assert _check(schema, {"svc": "abc"}) == []
    assert [r for _, r, _ in _check(schema, {"svc": "abc\n"})] == ["Invalid value"] * 2
    assert _regex("^[$a]+$").search("a$") is not None  # "$" inside a class stays literal


def test_metadata_is_checked_like_object_meta() -> None:
    validator = Validator(_crds(_obj({})))
    obj = _widget({}, labels={"app": "ok", "bad key!": "v", "v": "-bad-"})
    obj["metadata"]["name"] = "Not_Valid"
    fields = [e.field for e in validator.validate(obj)]
    assert fields == ["metadata.name", "metadata.labels", "metadata.labels.v"]
    nameless = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {}, "spec": {}}
    assert [e.reason for e in validator.validate(nameless)] == ["Required value"]


def test_unknown_kind_and_unserved_version_are_errors() -> None:
    validator = Validator(crd_set(OLDEST, "standard"))
    tcp = dict(corpus("valid"))["tcproute.yaml"]
    assert [(e.field, e.reason) for e in validator.validate(tcp)] == [("kind", "Not found")]
    route = {**dict(corpus("valid"))["httproute-defaults.yaml"],
             "apiVersion": "gateway.networking.k8s.io/v1alpha1"}
    error = validator.validate(route)[0]
    assert error.field == "apiVersion" and "served: v1, v1beta1" in error.message


# --------------------------------------------------------------------------------------------
# Documents: provenance and the report


def test_errors_carry_file_and_line_and_others_are_skipped() -> None:
    path = CORPUS / "invalid" / "path-relative.yaml"
    service = "---\napiVersion: v1\nkind: Service\nmetadata: {name: reviews}\n"
    docs = list(sources.parse_stream(io.StringIO(path.read_text() + service), str(path)))
    report = validate_documents(docs, Validator(crd_set(OLDEST, "standard")))
    assert report.checked == 1 and report.skipped == ("Service/reviews",)
    [error] = report.errors
    assert (error.file, error.line) == (str(path), 16)  # the `path:` key of the match
    assert str(error).startswith(f"{path}:16: HTTPRoute/bookinfo/path-relative: ")


def test_validate_objects_for_convert_self_check() -> None:
    objects = [obj for _, obj in corpus("valid") if obj["kind"] == "HTTPRoute"]
    report = validate_objects(objects, crd_set(newest_version(), "experimental"))
    assert report.ok and report.checked == len(objects)


@pytest.mark.slow
def test_ten_thousand_routes_validate_quickly() -> None:
    validator = Validator(crd_set(newest_version(), "experimental"))
    route = dict(corpus("valid"))["httproute-gamma.yaml"]
    routes = []
    for i in range(10_000):
        routes.append(copy.deepcopy(route))
        routes[-1]["metadata"]["name"] = f"reviews-{i}"
    start = time.perf_counter()
    errors = [e for r in routes for e in validator.validate(r)]
    elapsed = time.perf_counter() - start
    assert errors == []
    assert elapsed < 90, f"{elapsed:.1f}s for 10,000 routes"
