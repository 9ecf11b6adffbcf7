"""The SMI converter: TrafficSplit (+ HTTPRouteGroup/TCPRoute) YAML in -> routing model and
finding codes out.

One test per row of semantics.md §5: weights (quantities and integers), the root-Service
fallback for unmatched requests, start-anchored path regexes, methods, headers (map and list
forms, spec and top-level ``matches``), TCP splits, ports, TrafficTarget; bad input; and
requests run through the model with the source evaluator.
"""

from __future__ import annotations

import textwrap

import pytest

from converters.smi import CONVERTER
from converters.smi.ports import port_protocol
from meshmigrate.errors import InputError
from meshmigrate.findings import Findings
from meshmigrate.model import (
    Anchor,
    Destination,
    Dialect,
    PathKind,
    PathMatch,
    Protocol,
    RoutingModel,
    ServicePort,
    ServiceRef,
    StringMatch,
    StrKind,
    Unmatched,
)
from meshmigrate.registry import ConvertContext, dispatch
from meshmigrate.semantics.outcome import Request, ServiceKey
from meshmigrate.semantics.source import SourceEvaluator
from meshmigrate.services import index_services
from meshmigrate.sources import parse_stream

NS = "shop"
WEBSITE = ServiceRef(NS, "website")
V1, V2 = ServiceRef(NS, "website-v1"), ServiceRef(NS, "website-v2")


def service(name: str, ports: str = "[{name: http, port: 80}]") -> str:
    return f"""
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: shop}}
spec:
  selector: {{app: {name}}}
  ports: {ports}
"""


SERVICES = "---".join(service(n) for n in ("website", "website-v1", "website-v2"))


def split(version: str = "v1alpha4", weights: tuple[str, str] = ("90", "10"),
          matches: str = "") -> str:
    return f"""
apiVersion: split.smi-spec.io/{version}
kind: TrafficSplit
metadata: {{name: canary, namespace: shop}}
spec:
  service: website
{textwrap.indent(textwrap.dedent(matches), "  ")}
  backends:
  - service: website-v1
    weight: {weights[0]}
  - service: website-v2
    weight: {weights[1]}
"""


AB_MATCHES = """
matches:
- kind: HTTPRouteGroup
  name: ab-test
"""

GROUP = """
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: ab-test, namespace: shop}
spec:
  matches:
  - name: firefox-users
    pathRegex: /api/.*
    methods: [GET, HEAD]
    headers:
      user-agent: ".*Firefox.*"
  - name: everything-post
    methods: [POST]
"""


def convert(*texts: str, services: str = SERVICES) -> tuple[RoutingModel, Findings]:
    source = "\n---\n".join([services, *(textwrap.dedent(t) for t in texts)])
    docs = list(parse_stream(source, "smi.yaml"))
    model = RoutingModel(services=index_services(docs))
    ctx = ConvertContext(model)
    CONVERTER.convert(dispatch(docs, [CONVERTER])["smi"], ctx)
    return model, ctx.findings


def evaluate(model: RoutingModel, path: str = "/", method: str = "GET",
             headers: tuple[tuple[str, str], ...] = (), port: int = 80) -> list[str]:
    out = SourceEvaluator(model).evaluate(Request(ServiceKey(NS, "website", port), path=path,
                                                  method=method, headers=headers))
    return [f"{b.name}:{b.weight}" for b in out.backends]


# --- plain splits -------------------------------------------------------------------------

@pytest.mark.parametrize(("version", "weights", "expected"), [
    ("v1alpha1", ("900m", "100m"), (9, 1)),
    ("v1alpha1", ("1", "500m"), (2, 1)),
    ("v1alpha1", ("1k", "1"), (1000, 1)),
    ("v1alpha2", ("90", "10"), (9, 1)),
    ("v1alpha3", ("1000", "500"), (2, 1)),
    ("v1alpha4", ("0", "100"), (0, 1)),
])
def test_catch_all_split_weights(version: str, weights: tuple[str, str],
                                 expected: tuple[int, int]) -> None:
    model, findings = convert(split(version, weights))
    (table,) = model.tables
    assert table.service == WEBSITE and table.port is None
    assert table.protocol is Protocol.HTTP and table.consumer_namespace is None
    assert table.unmatched is Unmatched.PASS_THROUGH and table.fallback == ()
    (rule,) = table.rules
    assert rule.matches == ()
    assert rule.destinations == (Destination(V1, None, expected[0]),
                                 Destination(V2, None, expected[1]))
    assert rule.origin is not None and rule.origin.path == ("spec", "backends")
    assert findings.codes() == []
    assert [d.kind for d in model.sources] == ["TrafficSplit"]


def test_weights_rounded_when_ratios_too_fine() -> None:
    model, findings = convert(split("v1alpha1", ("1n", "1G")))
    assert [d.weight for d in model.tables[0].rules[0].destinations] == [1, 1_000_000]
    assert findings.codes() == ["WEIGHT_ROUNDED"]


def test_root_service_fqdn_and_backend_self_reference() -> None:
    text = split().replace("service: website\n", "service: website.shop.svc.cluster.local\n")
    text = text.replace("service: website-v2", "service: website")
    model, _ = convert(text)
    assert model.tables[0].service == WEBSITE
    assert model.tables[0].rules[0].destinations[1].service == WEBSITE


def test_evaluated_split() -> None:
    model, _ = convert(split())
    assert evaluate(model, "/anything") == ["website-v1:9", "website-v2:1"]


# --- HTTPRouteGroup matches ---------------------------------------------------------------

def test_matches_rule_plus_root_fallback() -> None:
    model, findings = convert(split(weights=("0", "100"), matches=AB_MATCHES), GROUP)
    (table,) = model.tables
    assert table.unmatched is Unmatched.PASS_THROUGH and table.fallback == ()
    (rule,) = table.rules
    assert rule.name == "ab-test"
    assert rule.origin is not None and rule.origin.ref == "HTTPRouteGroup/shop/ab-test"
    assert rule.origin.path == ("spec", "matches")
    first, second = rule.matches
    assert first.path == PathMatch(PathKind.REGEX, "/api/.*", dialect=Dialect.GO,
                                   anchor=Anchor.START)
    assert first.methods == frozenset({"GET", "HEAD"})
    assert first.headers == (StringMatch("user-agent", StrKind.REGEX, ".*Firefox.*",
                                         dialect=Dialect.GO),)
    assert first.origin == ("spec", "matches", 0)
    assert second.path is None and second.methods == frozenset({"POST"})
    assert findings.codes() == []


def test_matches_evaluated() -> None:
    model, _ = convert(split(weights=("0", "100"), matches=AB_MATCHES), GROUP)
    firefox = (("user-agent", "Mozilla Firefox/99"),)
    assert evaluate(model, "/api/v1", headers=firefox) == ["website-v2:1"]  # weight 0 drops
    # anchored at the start only: /api/ anywhere after the start does not count
    assert evaluate(model, "/x/api/v1", headers=firefox) == ["website:1"]
    assert evaluate(model, "/api/v1/more/path", headers=firefox) == ["website-v2:1"]
    assert evaluate(model, "/api/v1") == ["website:1"]  # unmatched -> root Service
    assert evaluate(model, "/whatever", method="POST") == ["website-v2:1"]


def test_star_method_and_list_headers_at_top_level() -> None:
    group = """
        apiVersion: specs.smi-spec.io/v1alpha2
        kind: HTTPRouteGroup
        metadata: {name: ab-test, namespace: shop}
        matches:
        - name: all
          pathRegex: /metrics
          methods: ["*"]
          headers:
          - user-agent: ".*Android.*"
          - cookie: "^(.*?;)?(type=insider)(;.*)?$"
        """
    model, findings = convert(split(matches=AB_MATCHES), group)
    (match,) = model.tables[0].rules[0].matches
    assert match.methods is None
    assert [h.name for h in match.headers] == ["user-agent", "cookie"]
    assert match.origin == ("matches", 0)
    assert model.tables[0].rules[0].origin.path == ("matches",)  # type: ignore[union-attr]
    assert findings.codes() == []


def test_several_groups_are_merged() -> None:
    other = GROUP.replace("name: ab-test", "name: other")
    matches = AB_MATCHES + "- kind: HTTPRouteGroup\n  name: other\n"
    model, _ = convert(split(matches=matches), GROUP, other)
    assert [r.name for r in model.tables[0].rules] == ["ab-test", "other"]


def test_group_without_matches_splits_nothing() -> None:
    group = """
        apiVersion: specs.smi-spec.io/v1alpha4
        kind: HTTPRouteGroup
        metadata: {name: ab-test, namespace: shop}
        spec: {matches: []}
        """
    model, findings = convert(split(matches=AB_MATCHES), group)
    assert model.tables[0].rules == ()
    assert "RULE_SHADOWED" in findings.codes()
    assert evaluate(model, "/x") == ["website:1"]


def test_missing_group_reported_and_split_skipped() -> None:
    model, findings = convert(split(matches=AB_MATCHES))
    assert model.tables == [] and model.sources == []
    assert findings.codes() == ["REFERENCE_UNRESOLVED"]


def test_group_in_other_namespace_not_found() -> None:
    model, findings = convert(split(matches=AB_MATCHES),
                              GROUP.replace("namespace: shop", "namespace: other"))
    assert model.tables == []
    assert findings.codes() == ["REFERENCE_UNRESOLVED"]


def test_matches_before_v1alpha3_are_not_a_field() -> None:
    model, findings = convert(split("v1alpha2", matches=AB_MATCHES), GROUP)
    assert model.tables[0].rules[0].matches == ()
    assert "FIELD_IGNORED" in findings.codes()


def test_unused_group_fields_not_reported() -> None:
    group = GROUP + "    unknownField: x\n"
    _, findings = convert(split(), group)
    assert findings.codes() == []
    _, findings = convert(split(matches=AB_MATCHES), group)
    assert findings.codes() == ["FIELD_IGNORED"]


def test_http_matches_only_on_http_ports() -> None:
    ports = "[{name: http, port: 80}, {name: tcp-db, port: 5432}]"
    services = "---".join(service(n, ports) for n in ("website", "website-v1", "website-v2"))
    model, _ = convert(split(matches=AB_MATCHES), GROUP, services=services)
    assert [(t.port, t.protocol) for t in model.tables] == [(80, Protocol.HTTP)]


# --- TCP ----------------------------------------------------------------------------------

def test_tcp_route_split_per_port() -> None:
    route = """
        apiVersion: specs.smi-spec.io/v1alpha4
        kind: TCPRoute
        metadata: {name: db, namespace: shop}
        spec:
          matches:
            ports: [5432, 3306]
        """
    matches = "matches:\n- kind: TCPRoute\n  name: db\n"
    ports = "[{name: tcp-pg, port: 5432}, {name: tcp-my, port: 3306}]"
    services = "---".join(service(n, ports) for n in ("website", "website-v1", "website-v2"))
    model, findings = convert(split(matches=matches), route, services=services)
    assert [(t.port, t.protocol) for t in model.tables] == [(3306, Protocol.TCP),
                                                            (5432, Protocol.TCP)]
    assert model.tables[0].rules[0].matches == ()
    assert findings.codes() == []


def test_tcp_route_without_ports_covers_every_port() -> None:
    route = """
        apiVersion: specs.smi-spec.io/v1alpha3
        kind: TCPRoute
        metadata: {name: db, namespace: shop}
        spec: {}
        """
    model, _ = convert(split("v1alpha3", matches="matches:\n- kind: TCPRoute\n  name: db\n"),
                       route)
    assert [(t.port, t.protocol) for t in model.tables] == [(None, Protocol.TCP)]


def test_split_on_non_http_service_is_tcp() -> None:
    ports = "[{name: tcp-mysql, port: 3306}]"
    services = "---".join(service(n, ports) for n in ("website", "website-v1", "website-v2"))
    model, _ = convert(split(), services=services)
    assert [(t.port, t.protocol) for t in model.tables] == [(None, Protocol.TCP)]


def test_mixed_protocol_service_gets_a_table_per_port() -> None:
    ports = "[{name: http, port: 80}, {name: db, port: 5432, appProtocol: postgresql}]"
    services = "---".join(service(n, ports) for n in ("website", "website-v1", "website-v2"))
    model, _ = convert(split(), services=services)
    assert [(t.port, t.protocol) for t in model.tables] == [(80, Protocol.HTTP),
                                                            (5432, Protocol.TCP)]


def test_udp_route_not_converted() -> None:
    model, findings = convert(split(matches="matches:\n- kind: UDPRoute\n  name: dns\n"))
    assert model.tables == []
    assert findings.codes() == ["UNSUPPORTED_SOURCE"]


def test_tcp_and_http_matches_together() -> None:
    route = """
        apiVersion: specs.smi-spec.io/v1alpha4
        kind: TCPRoute
        metadata: {name: db, namespace: shop}
        spec: {}
        """
    matches = AB_MATCHES + "- kind: TCPRoute\n  name: db\n"
    model, findings = convert(split(matches=matches), GROUP, route)
    assert [t.protocol for t in model.tables] == [Protocol.HTTP]
    assert "MATCH_NOT_SUPPORTED" in findings.codes()


@pytest.mark.parametrize(("name", "app", "protocol", "expected"), [
    ("http", None, "TCP", Protocol.HTTP),
    ("grpc-api", None, "TCP", Protocol.HTTP),
    ("tcp", None, "TCP", Protocol.TCP),
    ("mysql-main", None, "TCP", Protocol.TCP),
    ("", None, "TCP", Protocol.HTTP),
    ("web", "kubernetes.io/h2c", "TCP", Protocol.HTTP),
    ("tcp-web", "http", "TCP", Protocol.HTTP),
    ("web", "redis", "TCP", Protocol.TCP),
    ("dns", None, "UDP", None),
])
def test_port_protocol(name: str, app: str | None, protocol: str,
                       expected: Protocol | None) -> None:
    assert port_protocol(ServicePort(1, name, protocol, app)) is expected


# --- ports of the backends ----------------------------------------------------------------

def test_backend_without_a_root_port_excluded_on_that_port() -> None:
    two = "[{name: http, port: 80}, {name: admin, port: 8080}]"
    services = "---".join([service("website", two), service("website-v1", two),
                           service("website-v2")])
    model, findings = convert(split(), services=services)
    assert [t.port for t in model.tables] == [80, 8080]
    assert [d.service.name for d in model.tables[1].rules[0].destinations] == ["website-v1"]
    assert "SPLIT_BACKEND_PORT_MISSING" in findings.codes()
    assert evaluate(model, port=8080) == ["website-v1:9"]


def test_unknown_root_service() -> None:
    model, findings = convert(split(), services=service("website-v1"))
    assert [t.port for t in model.tables] == [None]
    assert findings.codes() == ["SERVICE_UNKNOWN"]


# --- other objects ------------------------------------------------------------------------

def test_traffic_target_reported_not_converted() -> None:
    target = """
        apiVersion: access.smi-spec.io/v1alpha3
        kind: TrafficTarget
        metadata: {name: tt, namespace: shop}
        spec:
          destination: {kind: ServiceAccount, name: website}
          rules: [{kind: HTTPRouteGroup, name: ab-test, matches: [firefox-users]}]
          sources: [{kind: ServiceAccount, name: web}]
        """
    model, findings = convert(target, GROUP)
    assert model.tables == [] and model.sources == []
    assert findings.codes() == ["UNSUPPORTED_SOURCE"]


def test_second_split_for_the_same_root_ignored() -> None:
    other = split().replace("name: canary", "name: canary-2")
    model, findings = convert(split(), other)
    assert len(model.tables) == 1 and model.tables[0].name == "canary"
    assert findings.codes() == ["DUPLICATE_HOST_IGNORED"]


def test_root_not_a_service_name() -> None:
    model, findings = convert(split().replace("service: website\n", "service: Web_Site\n"))
    assert model.tables == []
    assert findings.codes() == ["HOST_NOT_A_SERVICE"]


# --- bad input ----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "field", "message"), [
    (split("v1alpha1", ("lots", "1")), "spec.backends[0].weight", "quantity"),
    (split("v1alpha2", ("'90'", "10")), "spec.backends[0].weight", "expected an integer"),
    (split("v1alpha4", ("-1", "10")), "spec.backends[0].weight", "negative"),
    (split().replace("    weight: 90\n", ""), "spec.backends[0].weight", "required"),
    (split().replace("service: website\n", ""), "spec.service", "required"),
    (split().replace("- service: website-v1", "- service: Bad_Name"),
     "spec.backends[0].service", "not a Service name"),
    (split(matches="matches:\n- kind: Gateway\n  name: x\n"), "spec.matches[0].kind",
     "unknown kind"),
    (split(matches="matches:\n- kind: HTTPRouteGroup\n"), "spec.matches[0].name", "required"),
])
def test_bad_split(text: str, field: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        convert(text, GROUP)
    assert err.value.field == field and err.value.file == "smi.yaml"
    assert err.value.line is not None
    assert message in str(err.value)


@pytest.mark.parametrize(("old", "new", "field", "message"), [
    ("pathRegex: /api/.*", "pathRegex: '/api/(x'", "spec.matches[0].pathRegex", "invalid"),
    ('user-agent: ".*Firefox.*"', 'user-agent: "(?!x)"', "spec.matches[0].headers.user-agent",
     "look-around"),
    ("methods: [GET, HEAD]", "methods: GET", "spec.matches[0].methods", "expected a list"),
    ("- name: everything-post\n", "- pathRegex: /x\n", "spec.matches[1].name", "required"),
    ('    headers:\n      user-agent: ".*Firefox.*"\n', "    headers: x\n",
     "spec.matches[0].headers", "expected a mapping"),
])
def test_bad_group(old: str, new: str, field: str, message: str) -> None:
    group = GROUP.replace(old, new)
    assert group != GROUP
    with pytest.raises(InputError) as err:
        convert(split(matches=AB_MATCHES), group)
    assert err.value.field == field
    assert message in str(err.value)


def test_bad_tcp_ports() -> None:
    route = """
        apiVersion: specs.smi-spec.io/v1alpha4
        kind: TCPRoute
        metadata: {name: db, namespace: shop}
        spec: {matches: {ports: [http]}}
        """
    with pytest.raises(InputError) as err:
        convert(split(matches="matches:\n- kind: TCPRoute\n  name: db\n"), route)
    assert err.value.field == "spec.matches.ports[0]"
