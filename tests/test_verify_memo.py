"""The symmetry shortcut (meshmigrate.verify_memo): only strings in identifier positions are
renamed, so equal signatures mean equal verdicts; templated meshes still reuse proofs."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import pytest

import meshmigrate.verify_memo as memo
from meshmigrate.model import (
    Destination,
    Match,
    MirrorPolicy,
    RouteTable,
    RoutingModel,
    Rule,
    ServiceInfo,
    ServicePort,
    ServiceRef,
    StringMatch,
    StrKind,
)
from meshmigrate.semantics.outcome import ServiceKey
from meshmigrate.verify import UNRELATED_NAMESPACE, missing_services, verify_model

NS = "shop"
API = "gateway.networking.k8s.io/v1"


def _service(name: str, ns: str = NS) -> ServiceInfo:
    return ServiceInfo(ServiceRef(ns, name), (ServicePort(8080, "http"),), (("app", name),))


def _header(kind: StrKind, value: str) -> Match:
    return Match(headers=(StringMatch("x", kind, value),))


def _canary_model(values: dict[str, str], extra: tuple[str, ...] = ()) -> RoutingModel:
    """Per Service: ``x`` matching the regex ``alpha.*`` -> its v2, ``x`` equal to
    ``values[name]`` -> its v1 (first match wins)."""
    tables, services = [], {}
    for name, value in values.items():
        ref = ServiceRef(NS, name)
        v1, v2 = ServiceRef(NS, f"{name}-v1"), ServiceRef(NS, f"{name}-v2")
        rules = (Rule((_header(StrKind.REGEX, "alpha.*"),), (Destination(v2, 8080),)),
                 Rule((_header(StrKind.EXACT, value),), (Destination(v1, 8080),)))
        tables.append(RouteTable(ref, rules))
        for svc in (ref, v1, v2):
            services[svc] = _service(svc.name)
    for name in extra:  # Services whose names the header values spell
        services[ServiceRef(NS, name)] = _service(name)
    return RoutingModel(tables=tables, services=services)


def _backend(name: str) -> dict[str, Any]:
    return {"name": name, "port": 8080}


def _route(name: str, rules: list[dict[str, Any]], ns: str = NS,
           **meta: Any) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": ns, **meta},
            "spec": {"parentRefs": [{"group": "", "kind": "Service", "name": name}],
                     "rules": rules}}


def _exact_first(name: str, value: str) -> dict[str, Any]:
    """The translation that puts the exact rule before the regex one."""
    def rule(kind: str, value: str, to: str) -> dict[str, Any]:
        return {"matches": [{"headers": [{"name": "x", "type": kind, "value": value}]}],
                "backendRefs": [_backend(to)]}

    return _route(name, [rule("Exact", value, f"{name}-v1"),
                         rule("RegularExpression", "alpha.*", f"{name}-v2")])


# --- the gap: values spelling a name are data, not names --------------------------------

def test_values_spelling_names_are_not_renamed() -> None:
    """p1's exact value (``bravo-2``) never matches the regex, so reordering the two rules
    is harmless; p2's (``alpha-1``) does, so the same reordering sends ``x: alpha-1``
    elsewhere. Both values are Service names: renaming them made the two ports look alike
    and p2 reused p1's proof. They are header values, kept as written."""
    model = _canary_model({"p1": "bravo-2", "p2": "alpha-1"}, extra=("alpha-1", "bravo-2"))
    routes = [_exact_first("p1", "bravo-2"), _exact_first("p2", "alpha-1")]
    report = verify_model(model, routes)
    assert report.services_by_symmetry == 0
    assert {d.service.name for d in report.differences} == {"p2"}
    assert all(d.aspects == ("backends",) for d in report.differences)


def test_the_same_values_still_share_a_proof() -> None:
    model = _canary_model({"p1": "bravo-2", "p2": "bravo-2"}, extra=("bravo-2",))
    routes = [_exact_first("p1", "bravo-2"), _exact_first("p2", "bravo-2")]
    report = verify_model(model, routes)
    assert report.equivalent and report.services_by_symmetry == 1


def _signatures(model: RoutingModel, routes: list[dict[str, Any]]) -> list[Any]:
    """Each Service port's symmetry class, as verify_model asks for them."""
    from meshmigrate.semantics.source import SourceEvaluator

    objects = [*routes, *missing_services(model, routes)]
    found = memo.Memo(model, objects)
    source = SourceEvaluator(model)
    return [found.signature(key, source.tables_for(key)) for key in source.services()]


def _two_tables(first: RouteTable, second: RouteTable) -> RoutingModel:
    services = {t.service: _service(t.service.name, t.service.namespace)
                for t in (first, second)}
    return RoutingModel(tables=[first, second], services=services)


def test_identifier_positions_are_renamed_together() -> None:
    """Service, backend, mirror, consumer and source namespaces: one renaming for all."""
    def table(name: str, ns: str) -> RouteTable:
        ref = ServiceRef(ns, name)
        rule = Rule((Match(source_namespace=f"{ns}-clients"),),
                    (Destination(ServiceRef(ns, f"{name}-v2"), 8080),),
                    mirrors=(MirrorPolicy(ServiceRef(f"{ns}-audit", name), 8080),))
        return RouteTable(ref, (rule,), consumer_namespace=f"{ns}-front", name=name)

    first, second = _signatures(_two_tables(table("a", "n1"), table("b", "n2")), [])
    assert first is not None and first == second
    # the mirror's namespace is the source namespace here: a different port
    odd = table("b", "n2")
    mirror = MirrorPolicy(ServiceRef("n2-clients", "b"), 8080)
    odd = RouteTable(odd.service, (Rule(odd.rules[0].matches, odd.rules[0].destinations,
                                        mirrors=(mirror,)),),
                     consumer_namespace=odd.consumer_namespace, name=odd.name)
    first, second = _signatures(_two_tables(table("a", "n1"), odd), [])
    assert None not in (first, second) and first != second


@pytest.mark.parametrize("namespace", ["default", UNRELATED_NAMESPACE, ""])
def test_namespaces_the_evaluators_supply_are_not_renamed(namespace: str) -> None:
    """``default`` (unset namespaces), the "any other client" namespace and "" mean
    something to the evaluators: a port using one is not the same as a port using a name."""
    def table(ns: str) -> RouteTable:
        rule = Rule((Match(source_namespace=ns),), (Destination(ServiceRef(NS, "b"), 80),))
        return RouteTable(ServiceRef(NS, "web"), (rule,))

    model = _two_tables(table("team"), table("other"))
    model.tables[1] = RouteTable(ServiceRef(NS, "api"), model.tables[1].rules)
    model.services[ServiceRef(NS, "api")] = _service("api")
    assert len(set(_signatures(model, []))) == 1
    model.tables[1] = RouteTable(ServiceRef(NS, "api"), table(namespace).rules)
    assert len(set(_signatures(model, []))) == 2
    assert {"", "default", UNRELATED_NAMESPACE} == memo.CONSTANTS


# --- the Host: a name that is data ------------------------------------------------------

def _plain_model(*names: str) -> RoutingModel:
    tables = [RouteTable(ServiceRef(NS, n), (Rule((), (Destination(ServiceRef(NS, n), 8080),)),))
              for n in names]
    return RoutingModel(tables=tables, services={ServiceRef(NS, n): _service(n) for n in names})


def test_a_literal_hostname_disables_the_shortcut() -> None:
    """p1's route rewrites the Host to p1 (its own name: no change), p2's to p1 as well (a
    change). A hostname is compared with the Host, which is the Service's name."""
    rewrite = {"type": "URLRewrite", "urlRewrite": {"hostname": "p1"}}
    routes = [_route(n, [{"filters": [rewrite], "backendRefs": [_backend(n)]}])
              for n in ("p1", "p2")]
    report = verify_model(_plain_model("p1", "p2"), routes)
    assert report.services_by_symmetry == 0
    assert [(d.service.name, d.aspects) for d in report.differences] == [("p2", ("host",))]


@pytest.mark.parametrize("filt", [
    {"type": "URLRewrite", "urlRewrite": {"hostname": "h"}},
    {"type": "RequestRedirect", "requestRedirect": {"hostname": "h"}},
    {"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [
        {"name": "Host", "value": "h"}]}},
    {"type": "RequestHeaderModifier", "requestHeaderModifier": {"add": [
        {"name": ":authority", "value": "h"}]}},
])
def test_target_host_changes_give_no_signature(filt: dict[str, Any]) -> None:
    """(A port alone in its source part is in a class of its own whatever its routes: its
    routes are read when a second port shares that part.)"""
    rule = {"filters": [filt], "backendRefs": [_backend("{}")]}
    backend_rule = {"backendRefs": [{**_backend("{}"), "filters": [filt]}]}
    for shape in (rule, backend_rule):
        routes = [_route(n, [_named(shape, n)]) for n in ("p1", "p2")]
        assert _signatures(_plain_model("p1", "p2"), routes)[1] is None


def _named(value: Any, name: str) -> Any:
    """``value`` with every ``{}`` in its strings replaced by ``name``."""
    if isinstance(value, dict):
        return {k: _named(v, name) for k, v in value.items()}
    if isinstance(value, list):
        return [_named(v, name) for v in value]
    return value.replace("{}", name) if isinstance(value, str) else value


def test_source_host_changes_give_no_signature() -> None:
    from meshmigrate.model import HeaderOps, Redirect

    plain = _plain_model("web")
    rule = plain.tables[0].rules[0]
    host_ops = HeaderOps(set=(("Host", "h"),))
    for changed in (Rule(rule.matches, rule.destinations, rewrite_host="h"),
                    Rule((), redirect=Redirect(301, host="h")),
                    Rule((), rule.destinations, request_headers=host_ops),
                    Rule((), (Destination(ServiceRef(NS, "web"), 8080,
                                          request_headers=host_ops),)),
                    Rule((Match(headers=(StringMatch(":authority", StrKind.PREFIX, "w"),)),),
                         rule.destinations)):
        model = _plain_model("web")
        model.tables[0] = RouteTable(ServiceRef(NS, "web"), (changed,))
        assert _signatures(model, []) == [None]
    # a redirect to the Host the client sent is fine
    model = _plain_model("web")
    model.tables[0] = RouteTable(ServiceRef(NS, "web"), (Rule((), redirect=Redirect(301)),))
    assert _signatures(model, []) != [None]


# --- the target side ----------------------------------------------------------------------

def _mirror(name: str, ns: str | None = None) -> dict[str, Any]:
    ref = {"name": name, "port": 8080, **({"namespace": ns} if ns else {})}
    return {"type": "RequestMirror", "requestMirror": {"backendRef": ref}}


def test_route_references_are_renamed_header_values_are_not() -> None:
    def route(name: str, value: str) -> dict[str, Any]:
        backend = {**_backend(f"{name}-v2"), "filters": [_mirror(f"{name}-m2", "audit")]}
        return _route(name, [{"matches": [{"headers": [{"name": "x", "value": value}]}],
                              "filters": [_mirror(f"{name}-m1")], "backendRefs": [backend]},
                             {"backendRefs": [_backend(name)]}])

    model = _plain_model("p1", "p2")
    same = _signatures(model, [route("p1", "1"), route("p2", "1")])
    assert same[0] is not None and same[0] == same[1]
    spelled = _signatures(model, [route("p1", "p1"), route("p2", "p2")])  # names as values
    assert None not in spelled and spelled[0] != spelled[1]


def test_route_order_is_part_of_the_signature() -> None:
    """Two routes on one port tie-break by ``namespace/name``: renamed routes in the other
    order are a different configuration."""
    def routes(service: str, first: str, second: str) -> list[dict[str, Any]]:
        def one(name: str, header: str) -> dict[str, Any]:
            route = _route(name, [{"matches": [{"headers": [{"name": header, "value": "1"}]}],
                                   "backendRefs": [_backend(service)]}])
            route["spec"]["parentRefs"][0]["name"] = service
            return route
        return [one(first, "x-a"), one(second, "x-b")]

    model = _plain_model("p1", "p2")
    alike = _signatures(model, [*routes("p1", "a1", "b1"), *routes("p2", "a2", "b2")])
    assert alike[0] is not None and alike[0] == alike[1]
    flipped = _signatures(model, [*routes("p1", "a1", "b1"), *routes("p2", "b2", "a2")])
    assert flipped[0] != flipped[1]


def test_policy_annotations_are_part_of_the_signature() -> None:
    """Linkerd reads retries and timeouts from route annotations; other annotations (the
    source object's name, say) do not matter."""
    def route(name: str, timeout: str) -> dict[str, Any]:
        notes = {"timeout.linkerd.io/request": timeout, "meshmigrate.io/source": name}
        return _route(name, [{"backendRefs": [_backend(name)]}], annotations=notes)

    model = _plain_model("p1", "p2")
    same = _signatures(model, [route("p1", "1s"), route("p2", "1s")])
    assert same[0] is not None and same[0] == same[1]
    other = _signatures(model, [route("p1", "1s"), route("p2", "2s")])
    assert other[0] != other[1]


def test_routes_in_a_list_are_read() -> None:
    route = _route("web", [{"backendRefs": [_backend("web")]}])
    found = memo.Memo(RoutingModel(), [{"kind": "List", "items": [route]}])
    assert found.routes[(NS, "web")] == [route]


def test_malformed_identifiers_give_no_signature() -> None:
    for rules in ([{"backendRefs": [{"name": 7, "port": 8080}]}], [{"backendRefs": "{}"}]):
        routes = [_route(n, _named(rules, n)) for n in ("p1", "p2")]
        assert _signatures(_plain_model("p1", "p2"), routes)[1] is None


def test_backend_services_are_part_of_the_signature() -> None:
    """A backend port the Service lacks is a difference: the Services named count."""
    model = _plain_model("p1", "p2")
    for name in ("p1", "p2"):
        model.tables[int(name[1]) - 1] = RouteTable(ServiceRef(NS, name), (
            Rule((), (Destination(ServiceRef(NS, f"{name}-b"), 8080),)),))
    model.services[ServiceRef(NS, "p1-b")] = _service("p1-b")
    routes = [_route(n, [{"backendRefs": [_backend(f"{n}-b")]}]) for n in ("p1", "p2")]
    model.services[ServiceRef(NS, "p2-b")] = _service("p2-b")
    first, second = _signatures(model, routes)
    assert first is not None and first == second
    model.services[ServiceRef(NS, "p2-b")] = ServiceInfo(
        ServiceRef(NS, "p2-b"), (ServicePort(9090, "http"),), None)
    first, second = _signatures(model, routes)
    assert first != second
    assert not verify_model(model, routes).equivalent


# --- cost ---------------------------------------------------------------------------------

def test_a_lone_source_part_needs_no_route_index() -> None:
    """The target part of a signature waits until a second port shares the source part, so
    a mesh that is not templated never indexes its routes."""
    model = _canary_model({"p1": "v-1", "p2": "v-2"})
    routes = [_exact_first("p1", "v-1"), _exact_first("p2", "v-2")]
    found = memo.Memo(model, [*routes, *missing_services(model, routes)])
    from meshmigrate.semantics.source import SourceEvaluator

    source = SourceEvaluator(model)
    keys = [ServiceKey(NS, "p1", 8080), ServiceKey(NS, "p2", 8080)]
    classes = [found.signature(k, source.tables_for(k)) for k in keys]
    assert None not in classes and classes[0] != classes[1]
    assert found._routes is None


def test_every_model_field_is_classified() -> None:
    """A new field of the routing model must be placed: literal, or holding identifiers."""
    def compared(cls: type) -> set[str]:
        return {f.name for f in fields(cls) if f.compare}

    assert compared(RouteTable) == {*memo.TABLE_LITERAL, *memo.TABLE_NAMED}
    assert compared(Rule) == {*memo.RULE_LITERAL, *memo.RULE_NAMED}
    assert compared(Destination) == {"service", *memo.DEST_LITERAL}
    assert compared(MirrorPolicy) == {"service", *memo.MIRROR_LITERAL}
    assert compared(ServiceRef) == {"namespace", "name"}
    assert "source_namespace" in compared(Match)
    fields_of_match = compared(Match) - {"source_namespace"}
    assert fields_of_match == {"path", "methods", "headers", "query", "port", "source_labels",
                               "scheme", "negated_methods", "origin"}


def test_given_client_namespaces_are_kept_as_written() -> None:
    """Requests sent from fixed namespaces (``verify_model(client_namespaces=...)``) tell a
    Service in one of them from a Service elsewhere."""
    from meshmigrate.semantics.source import SourceEvaluator

    model = _two_tables(RouteTable(ServiceRef("n1", "web"), ()),
                        RouteTable(ServiceRef("n2", "web"), ()))
    source = SourceEvaluator(model)
    for constants, classes in (((), 1), (("n1",), 2)):
        found = memo.Memo(model, missing_services(model, []), constants)
        keys = source.services()
        assert len({found.signature(k, source.tables_for(k)) for k in keys}) == classes
