"""The Istio converter: YAML in -> routing model and finding codes out.

One test (or parametrized case) per row of semantics.md §3 that the converter implements,
the traps of §8 that are the converter's to get right, bad input, and the Bookinfo example.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from converters.istio import CONVERTER
from converters.istio.hosts import resolve_host
from converters.istio.retries import DEFAULT_CONDITIONS, DEFAULT_RETRY
from converters.istio.subsets import subset_service_name
from meshmigrate.errors import InputError
from meshmigrate.findings import Findings
from meshmigrate.model import (
    Match,
    PathKind,
    PathMatch,
    PathRewrite,
    Protocol,
    Redirect,
    RewriteKind,
    RouteTable,
    RoutingModel,
    Rule,
    ServiceRef,
    StringMatch,
    StrKind,
    Unmatched,
)
from meshmigrate.registry import ConvertContext, dispatch
from meshmigrate.semantics.outcome import Request, ServiceKey
from meshmigrate.semantics.source import SourceEvaluator
from meshmigrate.services import index_services
from meshmigrate.sources import load, parse_stream

ROOT = Path(__file__).resolve().parent.parent
NS = "bookinfo"
REVIEWS = ServiceRef(NS, "reviews")
RATINGS = ServiceRef(NS, "ratings")

SERVICES = """
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: bookinfo}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080}]
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: bookinfo}
spec:
  selector: {app: ratings}
  ports: [{name: http, port: 9080}]
---
apiVersion: v1
kind: Service
metadata: {name: mongo, namespace: bookinfo}
spec:
  selector: {app: mongo}
  ports: [{name: tcp-mongo, port: 27017}, {name: tcp-admin, port: 28017}]
---
apiVersion: v1
kind: Service
metadata: {name: cart, namespace: shop}
spec:
  selector: {app: cart}
  ports: [{name: grpc, port: 50051}]
"""

REVIEWS_DR = """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: bookinfo}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - {name: v3, labels: {version: v3}}
"""


# --- helpers ------------------------------------------------------------------------------

def vs(spec: str, name: str = "r", ns: str = NS, api: str = "v1", meta: str = "") -> str:
    """A VirtualService document; ``spec`` is its (dedented) spec body."""
    body = textwrap.indent(textwrap.dedent(spec).strip("\n"), "  ")
    extra = textwrap.indent(textwrap.dedent(meta).strip("\n"), "  ") + "\n" if meta else ""
    return (f"apiVersion: networking.istio.io/{api}\nkind: VirtualService\n"
            f"metadata:\n  name: {name}\n  namespace: {ns}\n{extra}spec:\n{body}\n")


def dr(spec: str, name: str = "d", ns: str = NS) -> str:
    body = textwrap.indent(textwrap.dedent(spec).strip("\n"), "  ")
    return (f"apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
            f"metadata:\n  name: {name}\n  namespace: {ns}\nspec:\n{body}\n")


def convert(*docs: str, services: bool = True) -> tuple[RoutingModel, Findings]:
    text = "\n---\n".join(([SERVICES] if services else []) + list(docs))
    parsed = list(parse_stream(text, "in.yaml"))
    model = RoutingModel(services=index_services(parsed))
    ctx = ConvertContext(model)
    CONVERTER.convert(dispatch(parsed, [CONVERTER])["istio"], ctx)
    return model, ctx.findings


def codes(findings: Findings) -> list[str]:
    return findings.codes()


def only_table(model: RoutingModel) -> RouteTable:
    assert len(model.tables) == 1, model.tables
    return model.tables[0]


def only_rule(model: RoutingModel) -> Rule:
    table = only_table(model)
    assert len(table.rules) == 1, table.rules
    return table.rules[0]


def only_match(model: RoutingModel) -> Match:
    rule = only_rule(model)
    assert len(rule.matches) == 1
    return rule.matches[0]


def http(match: str = "", extra: str = "", host: str = "reviews") -> str:
    """A spec with one http rule routing to ``host`` (optionally with a match and more)."""
    rule = f"- route:\n  - destination: {{host: {host}}}\n"
    if match:
        rule += "  match:\n" + textwrap.indent(textwrap.dedent(match).strip("\n"), "  ") + "\n"
    if extra:
        rule += textwrap.indent(textwrap.dedent(extra).strip("\n"), "  ") + "\n"
    return f"hosts: [{host}]\nhttp:\n{rule}"


def bad(*docs: str) -> InputError:
    with pytest.raises(InputError) as info:
        convert(*docs)
    return info.value


# --- registration -------------------------------------------------------------------------

def test_converter_registers_through_the_entry_point_shape() -> None:
    assert CONVERTER.name == "istio"
    for kind in ("VirtualService", "DestinationRule"):
        assert CONVERTER.kinds[("networking.istio.io", kind)] == ("v1", "v1beta1", "v1alpha3")


@pytest.mark.parametrize("api", ["v1", "v1beta1", "v1alpha3"])
def test_every_served_version_converts(api: str) -> None:
    model, _ = convert(vs(http(), api=api))
    assert only_table(model).service == REVIEWS


# --- §3.1 scope and hosts -----------------------------------------------------------------

def test_table_defaults() -> None:
    model, findings = convert(vs(http()))
    table = only_table(model)
    assert table.name == "r"
    assert table.consumer_namespace is None
    assert table.unmatched is Unmatched.NOT_FOUND
    assert table.first_match is True
    assert table.default_retry == DEFAULT_RETRY
    assert table.protocol is Protocol.HTTP
    assert table.origin is not None and table.origin.ref == "VirtualService/bookinfo/r"
    assert codes(findings) == []


@pytest.mark.parametrize("gateways", ["[mesh]", "[mesh, istio-system/gw]"])
def test_gateways_including_mesh_are_in_scope(gateways: str) -> None:
    model, findings = convert(vs(http() + f"gateways: {gateways}\n"))
    assert only_table(model).service == REVIEWS
    assert "GATEWAY_ONLY_SKIPPED" not in codes(findings)


def test_gateway_only_virtual_service_is_skipped() -> None:
    model, findings = convert(vs("hosts: ['*.example.com']\ngateways: [ingress]\nhttp:\n"
                                 "- route:\n  - destination: {host: reviews}\n"))
    assert model.tables == [] and model.sources == []
    assert codes(findings) == ["GATEWAY_ONLY_SKIPPED"]


def test_match_bound_to_gateways_only_is_dropped() -> None:
    spec = """
    hosts: [reviews]
    http:
    - match:
      - {uri: {prefix: /a}, gateways: [ingress]}
      - {uri: {prefix: /b}}
      route: [{destination: {host: reviews}}]
    - match:
      - {uri: {prefix: /c}, gateways: [ingress]}
      route: [{destination: {host: ratings}}]
    - route: [{destination: {host: reviews}}]
    """
    model, findings = convert(vs(spec))
    rules = only_table(model).rules
    assert [m.path.value for m in rules[0].matches if m.path] == ["/b"]
    # The rule whose only match is gateway-bound is gone, not turned into a catch-all.
    assert len(rules) == 2 and rules[1].matches == ()
    assert codes(findings) == ["GATEWAY_ONLY_SKIPPED"]


@pytest.mark.parametrize(("host", "ns", "expected"), [
    ("reviews", "bookinfo", REVIEWS),
    ("reviews", "other", ServiceRef("other", "reviews")),
    ("reviews.bookinfo", "other", REVIEWS),
    ("reviews.bookinfo.svc", "other", REVIEWS),
    ("reviews.bookinfo.svc.cluster.local", "other", REVIEWS),
    ("Reviews.Bookinfo.svc.cluster.local.", "other", REVIEWS),
    ("*.bookinfo.svc.cluster.local", "bookinfo", None),
    ("*", "bookinfo", None),
    ("httpbin.org", "bookinfo", None),
    ("api.example.com", "bookinfo", None),
    ("10.0.0.1", "bookinfo", None),
    ("reviews.bookinfo.svc.example.org", "bookinfo", None),
])
def test_host_resolution(host: str, ns: str, expected: ServiceRef | None) -> None:
    services = index_services(parse_stream(SERVICES, "s.yaml"))
    assert resolve_host(host, ns, services) == expected


def test_fqdn_host_in_another_namespace_is_a_producer_table_there() -> None:
    model, findings = convert(vs(http(host="reviews.bookinfo.svc.cluster.local"), ns="frontend"))
    table = only_table(model)
    assert table.service == REVIEWS and table.consumer_namespace is None
    assert table.route_namespace == NS
    assert table.rules[0].destinations[0].service == REVIEWS
    assert codes(findings) == []


def test_short_destination_host_resolves_in_the_virtual_service_namespace() -> None:
    spec = ("hosts: [reviews.bookinfo.svc.cluster.local]\nhttp:\n"
            "- route: [{destination: {host: reviews}}]\n")
    model, findings = convert(vs(spec, ns="frontend"))
    assert only_rule(model).destinations[0].service == ServiceRef("frontend", "reviews")
    assert codes(findings) == ["SERVICE_UNKNOWN"]


@pytest.mark.parametrize("host", ["'*.bookinfo.svc.cluster.local'", "httpbin.org", "10.1.2.3"])
def test_host_that_is_not_a_service(host: str) -> None:
    spec = f"hosts: [{host}]\nhttp:\n- route: [{{destination: {{host: reviews}}}}]\n"
    model, findings = convert(vs(spec))
    assert model.tables == []
    assert codes(findings) == ["HOST_NOT_A_SERVICE"]
    assert next(iter(findings)).field == "spec.hosts[0]"


def test_several_hosts_name_tables_by_service() -> None:
    spec = ("hosts: [reviews, ratings, httpbin.org]\nhttp:\n"
            "- route: [{destination: {host: reviews}}]\n")
    model, findings = convert(vs(spec, name="both"))
    assert [(t.name, t.service) for t in model.tables] == [
        ("both-reviews", REVIEWS), ("both-ratings", RATINGS)]
    assert codes(findings) == ["HOST_NOT_A_SERVICE"]


def test_export_to_dot_in_another_namespace_is_a_consumer_table() -> None:
    spec = http(host="reviews.bookinfo.svc.cluster.local") + "exportTo: ['.']\n"
    model, findings = convert(vs(spec, ns="frontend"))
    table = only_table(model)
    assert table.consumer_namespace == "frontend" and table.route_namespace == "frontend"
    assert codes(findings) == ["EXPORT_TO_CONSUMER"]


def test_export_to_namespaces_gives_one_consumer_table_each() -> None:
    model, findings = convert(vs(http() + "exportTo: [web, batch, web]\n"))
    assert [(t.consumer_namespace, len(t.rules)) for t in model.tables] == [
        ("web", 1), ("batch", 1)]
    assert codes(findings) == ["EXPORT_TO_CONSUMER"]


def test_export_to_star_is_a_producer_table() -> None:
    model, findings = convert(vs(http() + "exportTo: [web, '*']\n"))
    assert only_table(model).consumer_namespace is None
    assert codes(findings) == []


@pytest.mark.parametrize("export", ["['.']", "[bookinfo, web]"])
def test_export_to_the_service_namespace_is_widened(export: str) -> None:
    model, findings = convert(vs(http() + f"exportTo: {export}\n"))
    assert only_table(model).consumer_namespace is None
    assert codes(findings) == ["EXPORT_TO_WIDENED"]


SOURCE_NS = """
hosts: [reviews]
http:
- name: from-web
  match:
  - {sourceNamespace: web, uri: {prefix: /a}}
  - {uri: {prefix: /b}}
  route: [{destination: {host: reviews}}]
- name: only-batch
  match:
  - {sourceNamespace: batch}
  route: [{destination: {host: ratings}}]
- name: rest
  route: [{destination: {host: reviews}}]
"""


def test_source_namespace_becomes_consumer_tables() -> None:
    model, findings = convert(vs(SOURCE_NS))
    tables = {t.consumer_namespace: t for t in model.tables}
    assert list(tables) == [None, "web", "batch"]
    producer = tables[None]
    assert [r.name for r in producer.rules] == ["from-web", "rest"]
    assert [m.path.value for m in producer.rules[0].matches if m.path] == ["/b"]
    web = tables["web"]
    assert [r.name for r in web.rules] == ["from-web", "rest"]
    assert [(m.source_namespace, m.path.value if m.path else None)
            for m in web.rules[0].matches] == [("web", "/a"), (None, "/b")]
    assert [r.name for r in tables["batch"].rules] == ["from-web", "only-batch", "rest"]
    assert tables["batch"].rules[1].matches[0].source_namespace == "batch"
    assert codes(findings) == ["SOURCE_NAMESPACE_AS_CONSUMER"]


def test_source_namespace_of_the_service_itself_stays_in_the_producer_table() -> None:
    spec = http(match="- {sourceNamespace: bookinfo}")
    model, findings = convert(vs(spec))
    assert only_match(model).source_namespace == NS
    assert only_table(model).consumer_namespace is None
    assert codes(findings) == ["SOURCE_SELECTOR_DROPPED"]


def test_source_namespace_within_an_exported_consumer_table() -> None:
    spec = SOURCE_NS + "exportTo: [web]\n"
    model, _ = convert(vs(spec))
    table = only_table(model)
    assert table.consumer_namespace == "web"
    assert [r.name for r in table.rules] == ["from-web", "rest"]


def test_source_labels_are_kept_and_reported() -> None:
    model, findings = convert(vs(http(match="- sourceLabels: {app: web, tier: front}")))
    assert only_match(model).source_labels == (("app", "web"), ("tier", "front"))
    assert codes(findings) == ["SOURCE_SELECTOR_DROPPED"]


# --- §8.8 several VirtualServices for one host ---------------------------------------------

def _stamped(name: str, stamp: str | None, dest: str, ns: str = NS,
             host: str = "reviews.bookinfo.svc.cluster.local", extra: str = "") -> str:
    meta = f"creationTimestamp: '{stamp}'" if stamp else ""
    spec = f"hosts: [{host}]\nhttp:\n- route: [{{destination: {{host: {dest}.bookinfo}}}}]\n"
    return vs(spec + extra, name=name, ns=ns, meta=meta)


def test_oldest_virtual_service_wins() -> None:
    model, findings = convert(
        _stamped("newer", "2024-02-01T00:00:00Z", "ratings",
                 extra="  fault: {abort: {httpStatus: 500}}\n"),
        _stamped("older", "2024-01-01T00:00:00Z", "reviews"))
    table = only_table(model)
    assert table.name == "older"
    assert table.rules[0].destinations[0].service == REVIEWS
    # The ignored one reports only that it is ignored (not its fault injection).
    assert codes(findings) == ["DUPLICATE_HOST_IGNORED"]
    dup = next(iter(findings))
    assert dup.object == "VirtualService/bookinfo/newer" and "bookinfo/older" in dup.message
    assert [d.name for d in model.sources] == ["newer", "older"]


def test_duplicates_with_equal_timestamps_go_by_name() -> None:
    model, _ = convert(_stamped("b", None, "ratings"), _stamped("a", None, "reviews", ns="z"))
    assert only_table(model).name == "a"


def test_missing_creation_timestamp_counts_as_oldest() -> None:
    model, _ = convert(_stamped("stamped", "2020-01-01T00:00:00Z", "ratings"),
                       _stamped("unstamped", None, "reviews"))
    assert only_table(model).name == "unstamped"


def test_consumer_table_loses_to_an_older_producer_table() -> None:
    model, findings = convert(
        _stamped("producer", "2024-01-01T00:00:00Z", "reviews"),
        _stamped("consumer", "2024-02-01T00:00:00Z", "ratings", ns="web",
                 extra="exportTo: ['.']\n"))
    assert [t.name for t in model.tables] == ["producer"]
    assert codes(findings) == ["DUPLICATE_HOST_IGNORED"]


def test_older_consumer_table_and_newer_producer_table_both_apply() -> None:
    model, findings = convert(
        _stamped("consumer", "2024-01-01T00:00:00Z", "ratings", ns="web",
                 extra="exportTo: ['.']\n"),
        _stamped("producer", "2024-02-01T00:00:00Z", "reviews"))
    assert [(t.name, t.consumer_namespace) for t in model.tables] == [
        ("consumer", "web"), ("producer", None)]
    assert "DUPLICATE_HOST_IGNORED" not in codes(findings)


def test_duplicate_host_per_service_not_per_object() -> None:
    newer = vs("hosts: [reviews, ratings]\nhttp:\n- route: [{destination: {host: ratings}}]\n",
               name="newer", meta="creationTimestamp: '2024-02-01T00:00:00Z'")
    older = _stamped("older", "2024-01-01T00:00:00Z", "reviews")
    model, findings = convert(newer, older)
    assert sorted((t.name, str(t.service)) for t in model.tables) == [
        ("newer-ratings", "bookinfo/ratings"), ("older", "bookinfo/reviews")]
    assert codes(findings) == ["DUPLICATE_HOST_IGNORED"]


def test_subset_services_only_for_virtual_services_in_effect() -> None:
    newer = _stamped("newer", "2024-02-01T00:00:00Z", "reviews").replace(
        "host: reviews.bookinfo}", "host: reviews.bookinfo, subset: v2}")
    model, _ = convert(REVIEWS_DR, newer, _stamped("older", "2024-01-01T00:00:00Z", "reviews"))
    assert model.subset_services == {}
    assert [d.kind for d in model.sources] == ["VirtualService", "VirtualService"]


# --- §3.2 matches ---------------------------------------------------------------------------

@pytest.mark.parametrize(("uri", "expected"), [
    ("{uri: {exact: /a}}", PathMatch(PathKind.EXACT, "/a")),
    ("{uri: {prefix: /api}}", PathMatch(PathKind.PREFIX, "/api")),
    ("{uri: {prefix: /api/}}", PathMatch(PathKind.PREFIX, "/api/")),
    ("{uri: {regex: '/v[0-9]+/.*'}}", PathMatch(PathKind.REGEX, "/v[0-9]+/.*")),
    ("{uri: {exact: /A}, ignoreUriCase: true}", PathMatch(PathKind.EXACT, "/A", ignore_case=True)),
    ("{uri: {prefix: /A}, ignoreUriCase: true}",
     PathMatch(PathKind.PREFIX, "/A", ignore_case=True)),
    # Istio applies ignoreUriCase to exact and prefix only.
    ("{uri: {regex: /A.*}, ignoreUriCase: true}", PathMatch(PathKind.REGEX, "/A.*")),
])
def test_uri_matches(uri: str, expected: PathMatch) -> None:
    model, findings = convert(vs(http(match=f"- {uri}")))
    assert only_match(model).path == expected
    assert codes(findings) == []


def test_prefix_is_a_string_prefix_never_a_segment_prefix() -> None:
    model, _ = convert(vs(http(match="- {uri: {prefix: /api}}")))
    assert only_match(model).path.kind is PathKind.PREFIX  # type: ignore[union-attr]


def test_rule_without_match_matches_everything() -> None:
    model, _ = convert(vs(http()))
    assert only_rule(model).matches == ()


def test_empty_match_block_matches_everything() -> None:
    model, _ = convert(vs(http(match="- {}")))
    assert only_match(model) == Match(origin=("spec", "http", 0, "match", 0))


@pytest.mark.parametrize(("method", "expected", "expanded"), [
    ("{exact: GET}", {"GET"}, False),
    ("{exact: PURGE}", {"PURGE"}, False),
    ("{prefix: P}", {"POST", "PUT", "PATCH"}, True),
    ("{regex: 'GET|HEAD'}", {"GET", "HEAD"}, True),
    ("{regex: 'G'}", set(), True),  # RE2 full match: matches no method
])
def test_method_matches(method: str, expected: set[str], expanded: bool) -> None:
    model, findings = convert(vs(http(match=f"- method: {method}")))
    assert only_match(model).methods == frozenset(expected)
    assert codes(findings) == (["METHOD_EXPANDED"] if expanded else [])


def test_header_matches() -> None:
    match = """
    - headers:
        End-User: {exact: jason}
        x-prefix: {prefix: ab}
        x-regex: {regex: 'v[12]'}
        x-present: {}
        x-null:
    """
    model, findings = convert(vs(http(match=match)))
    assert only_match(model).headers == (
        StringMatch("end-user", StrKind.EXACT, "jason"),
        StringMatch("x-prefix", StrKind.PREFIX, "ab"),
        StringMatch("x-regex", StrKind.REGEX, "v[12]"),
        StringMatch("x-present", StrKind.PRESENT),
        StringMatch("x-null", StrKind.PRESENT))
    assert codes(findings) == []


def test_without_headers_is_an_inverted_match() -> None:
    model, findings = convert(vs(http(match="- withoutHeaders: {x-canary: {exact: 'true'}}")))
    assert only_match(model).headers == (
        StringMatch("x-canary", StrKind.EXACT, "true", invert=True),)
    assert codes(findings) == ["NEGATIVE_MATCH_DROPPED"]


def test_jwt_claim_match() -> None:
    match = "- headers: {'@request.auth.claims.group': {exact: admin}}"
    model, findings = convert(vs(http(match=match)))
    assert only_match(model).headers[0].name == "@request.auth.claims.group"
    assert codes(findings) == ["JWT_CLAIM_MATCH_DROPPED"]


def test_authority_becomes_a_host_header_match() -> None:
    model, findings = convert(vs(http(match="- authority: {exact: reviews.example.com}")))
    assert only_match(model).headers == (
        StringMatch("host", StrKind.EXACT, "reviews.example.com"),)
    assert codes(findings) == ["AUTHORITY_MATCH"]


@pytest.mark.parametrize(("scheme", "kept"), [("{exact: https}", "https"),
                                              ("{prefix: http}", None)])
def test_scheme_match(scheme: str, kept: str | None) -> None:
    model, findings = convert(vs(http(match=f"- scheme: {scheme}")))
    assert only_match(model).scheme == kept
    assert codes(findings) == ["SCHEME_MATCH_DROPPED"]


def test_query_param_matches() -> None:
    match = "- queryParams: {Debug: {exact: '1'}, v: {prefix: '2'}, id: {regex: '\\d+'}, f: {}}"
    model, findings = convert(vs(http(match=match)))
    assert only_match(model).query == (
        StringMatch("Debug", StrKind.EXACT, "1"), StringMatch("v", StrKind.PREFIX, "2"),
        StringMatch("id", StrKind.REGEX, "\\d+"), StringMatch("f", StrKind.PRESENT))
    assert codes(findings) == []


def test_port_match() -> None:
    model, _ = convert(vs(http(match="- {port: 9080}")))
    assert only_match(model).port == 9080


def test_match_name_and_stat_prefix_are_cosmetic() -> None:
    model, findings = convert(vs(http(match="- {name: v2, statPrefix: v2s, uri: {exact: /}}")))
    assert only_match(model).path == PathMatch(PathKind.EXACT, "/")
    assert codes(findings) == ["MATCH_NAME_DROPPED"]
    assert all(f.severity.name == "INFO" for f in findings)


def test_rule_and_match_origins() -> None:
    spec = """
    hosts: [reviews]
    http:
    - route: [{destination: {host: reviews}}]
      match: [{uri: {exact: /a}}, {uri: {exact: /b}}]
    - name: second
      route: [{destination: {host: reviews}}]
    """
    model, _ = convert(vs(spec))
    first, second = only_table(model).rules
    assert first.origin is not None and first.origin.path == ("spec", "http", 0)
    assert [m.origin for m in first.matches] == [("spec", "http", 0, "match", 0),
                                                 ("spec", "http", 0, "match", 1)]
    assert second.name == "second" and second.origin.path == ("spec", "http", 1)  # type: ignore[union-attr]
    assert first.origin.ref == "VirtualService/bookinfo/r"


# --- §3.3 actions ---------------------------------------------------------------------------

def test_destination_ports() -> None:
    spec = """
    hosts: [reviews]
    http:
    - route:
      - {destination: {host: reviews, port: {number: 9080}}, weight: 70}
      - {destination: {host: ratings.bookinfo.svc.cluster.local}, weight: 20}
      - {destination: {host: mongo}, weight: 10}
    """
    model, findings = convert(vs(spec))
    dests = only_rule(model).destinations
    # No port: the Service's only port, else the port the request was addressed to (None).
    assert [(d.service, d.port, d.weight) for d in dests] == [
        (REVIEWS, 9080, 70), (RATINGS, 9080, 20), (ServiceRef(NS, "mongo"), None, 10)]
    assert codes(findings) == []


@pytest.mark.parametrize(("weights", "expected"), [
    ([None], [1]),
    ([0], [1]),  # one destination gets everything whatever its weight
    ([100], [100]),
    ([50, 50], [50, 50]),
    ([100, None], [100, 0]),  # a destination without a weight gets nothing
    ([1, 3], [1, 3]),
])
def test_weights(weights: list[int | None], expected: list[int]) -> None:
    lines = "".join("  - destination: {host: reviews}\n" +
                    (f"    weight: {w}\n" if w is not None else "") for w in weights)
    model, _ = convert(vs(f"hosts: [reviews]\nhttp:\n- route:\n{lines}"))
    assert [d.weight for d in only_rule(model).destinations] == expected


def test_several_destinations_without_weights_is_bad_input() -> None:
    err = bad(vs("hosts: [reviews]\nhttp:\n- route:\n  - destination: {host: reviews}\n"
                 "  - destination: {host: ratings}\n"))
    assert err.field == "spec.http[0].route" and "weight" in str(err)


def test_destination_header_operations() -> None:
    spec = """
    hosts: [reviews]
    http:
    - route:
      - destination: {host: reviews}
        headers:
          request: {set: {X-Version: v1}, add: {x-trace: a}, remove: [X-Debug]}
          response: {remove: [server]}
    """
    model, _ = convert(vs(spec))
    dest = only_rule(model).destinations[0]
    assert dest.request_headers.set == (("x-version", "v1"),)
    assert dest.request_headers.add == (("x-trace", "a"),)
    assert dest.request_headers.remove == ("x-debug",)
    assert dest.response_headers.remove == ("server",)


def test_rule_header_operations_and_host_set_as_rewrite() -> None:
    extra = """
    headers:
      request:
        set: {Host: reviews.internal, x-a: '1'}
        add: {x-b: '2'}
      response:
        set: {x-c: '3'}
    """
    model, findings = convert(vs(http(extra=extra)))
    rule = only_rule(model)
    assert rule.rewrite_host == "reviews.internal"
    assert rule.request_headers.set == (("x-a", "1"),)
    assert rule.request_headers.add == (("x-b", "2"),)
    assert rule.response_headers.set == (("x-c", "3"),)
    assert codes(findings) == ["HOST_REWRITE"]


def _redirect(body: str) -> tuple[Rule, Findings]:
    spec = f"hosts: [reviews]\nhttp:\n- match: [{{uri: {{prefix: /old}}}}]\n  redirect: {body}\n"
    model, findings = convert(vs(spec))
    return only_rule(model), findings


def test_redirect_default_code_is_301_and_explicit() -> None:
    rule, findings = _redirect("{uri: /new}")
    assert rule.redirect == Redirect(code=301, path=PathRewrite(RewriteKind.FULL, "/new"))
    assert rule.destinations == () and rule.retry is None
    assert codes(findings) == ["REDIRECT_CODE_EXPLICIT"]


def test_redirect_fields() -> None:
    rule, findings = _redirect("{authority: b.example.com, port: 8443, scheme: https, "
                               "redirectCode: 308, derivePort: FROM_REQUEST_PORT}")
    assert rule.redirect == Redirect(code=308, scheme="https", host="b.example.com", port=8443,
                                     derive_port_from_request=True)
    assert codes(findings) == []


def test_rewrite_uri_is_an_envoy_string_prefix_rewrite() -> None:
    model, findings = convert(vs(http(match="- uri: {prefix: /foo}",
                                      extra="rewrite: {uri: /bar, authority: b.internal}")))
    rule = only_rule(model)
    assert rule.rewrite == PathRewrite(RewriteKind.PREFIX_STRING, "/bar")
    assert rule.rewrite_host == "b.internal"
    assert codes(findings) == []


def test_regex_rewrite() -> None:
    extra = "rewrite: {uriRegexRewrite: {match: '^/v1/(.*)$', rewrite: '/v2/\\1'}}"
    model, findings = convert(vs(http(extra=extra)))
    assert only_rule(model).rewrite == PathRewrite(RewriteKind.REGEX, "/v2/\\1", "^/v1/(.*)$")
    assert codes(findings) == ["REWRITE_NOT_SUPPORTED"]


@pytest.mark.parametrize(("timeout", "ms"), [("10s", 10_000), ("1.5s", 1500), ("100ms", 100),
                                            ("1m", 60_000), ("1h30m", 5_400_000), ("0s", None)])
def test_timeouts(timeout: str, ms: int | None) -> None:
    model, _ = convert(vs(http(extra=f"timeout: {timeout}")))
    assert only_rule(model).timeout_ms == ms


def test_no_retries_block_is_istios_default_policy() -> None:
    model, _ = convert(vs(http()))
    retry = only_rule(model).retry
    assert retry == DEFAULT_RETRY
    assert retry is not None and retry.attempts == 2 and retry.codes == ()
    assert retry.conditions == ("connect-failure", "refused-stream", "unavailable", "cancelled",
                                "retriable-status-codes")
    assert retry.is_source_default


def test_retries_attempts_zero_disables_retries() -> None:
    model, _ = convert(vs(http(extra="retries: {attempts: 0}")))
    retry = only_rule(model).retry
    # Not None: None would fall back to the table's default policy.
    assert retry is not None and retry.attempts == 0 and not retry.is_source_default


def test_empty_retries_block_disables_retries() -> None:
    model, _ = convert(vs(http(extra="retries: {}")))
    assert only_rule(model).retry.attempts == 0  # type: ignore[union-attr]


def test_explicit_retries() -> None:
    extra = ("retries: {attempts: 3, perTryTimeout: 2s, backoff: 25ms, "
             "retryOn: 'gateway-error,connect-failure,409'}")
    model, findings = convert(vs(http(extra=extra)))
    retry = only_rule(model).retry
    assert retry is not None
    assert (retry.attempts, retry.codes, retry.per_try_timeout_ms, retry.backoff_ms) == (
        3, (409, 502, 503, 504), 2000, 25)
    assert retry.conditions == ("gateway-error", "connect-failure", "retriable-status-codes")
    assert not retry.is_source_default
    assert codes(findings) == []


@pytest.mark.parametrize(("retry_on", "retry_codes", "approximated"), [
    ("5xx", tuple(range(500, 600)), False),
    ("retriable-4xx", (409,), False),
    ("503,504", (503, 504), False),
    ("reset", (), True),
    ("unavailable,cancelled", (), True),
    ("deadline-exceeded,resource-exhausted,internal", (), True),
])
def test_retry_on(retry_on: str, retry_codes: tuple[int, ...], approximated: bool) -> None:
    model, findings = convert(vs(http(extra=f"retries: {{attempts: 2, retryOn: '{retry_on}'}}")))
    assert only_rule(model).retry.codes == retry_codes  # type: ignore[union-attr]
    assert codes(findings) == (["RETRY_APPROXIMATED"] if approximated else [])


def test_retries_without_retry_on_use_the_default_conditions() -> None:
    model, _ = convert(vs(http(extra="retries: {attempts: 5}")))
    retry = only_rule(model).retry
    assert retry is not None and retry.conditions == DEFAULT_CONDITIONS and retry.codes == ()


def test_retry_host_selection_fields_are_reported() -> None:
    extra = "retries: {attempts: 1, retryRemoteLocalities: true, retryIgnorePreviousHosts: false}"
    model, findings = convert(vs(http(extra=extra)))
    assert only_rule(model).retry.attempts == 1  # type: ignore[union-attr]
    assert codes(findings) == ["RETRY_APPROXIMATED"]
    assert len(findings) == 2


def test_mirror_with_percentage() -> None:
    extra = "mirror: {host: ratings, port: {number: 9080}}\nmirrorPercentage: {value: 12.5}"
    model, findings = convert(vs(http(extra=extra)))
    mirror = only_rule(model).mirrors
    assert [(m.service, m.port, m.percent) for m in mirror] == [(RATINGS, 9080, 12.5)]
    assert codes(findings) == []


@pytest.mark.parametrize(("extra", "percents"), [
    ("mirror: {host: ratings}", [100.0]),
    ("mirror: {host: ratings}\nmirrorPercent: 30", [30.0]),
    ("mirror: {host: ratings}\nmirrorPercentage: {value: 0}", []),  # explicit 0: no mirror
    ("mirrors:\n- destination: {host: ratings}\n  percentage: {value: 5}\n"
     "- destination: {host: reviews}", [5.0, 100.0]),
])
def test_mirror_percentages(extra: str, percents: list[float]) -> None:
    model, _ = convert(vs(http(extra=extra)))
    assert [m.percent for m in only_rule(model).mirrors] == percents


def test_cors_policy() -> None:
    extra = """
    corsPolicy:
      allowOrigins:
      - exact: https://a.example.com
      - regex: 'https://.*\\.example\\.org'
      - prefix: https://dev
      - regex: '.*'
      allowMethods: [GET, POST]
      allowHeaders: [x-a]
      exposeHeaders: [x-b]
      maxAge: 24h
      allowCredentials: false
    """
    model, findings = convert(vs(http(extra=extra)))
    cors = only_rule(model).cors
    assert cors is not None
    assert cors.allow_origins == ("https://a.example.com", "https://*.example.org", "*")
    assert (cors.allow_methods, cors.allow_headers, cors.expose_headers) == (
        ("GET", "POST"), ("x-a",), ("x-b",))
    assert cors.max_age_s == 86_400 and cors.allow_credentials is False
    assert codes(findings) == ["CORS_APPROXIMATED"]
    assert len(findings) == 2  # the wildcard regex and the dropped prefix


def test_fault_injection() -> None:
    extra = "fault: {delay: {fixedDelay: 7s, percentage: {value: 100}}, abort: {httpStatus: 500}}"
    model, findings = convert(vs(http(extra=extra)))
    rule = only_rule(model)
    assert rule.fault is True and rule.destinations
    assert codes(findings) == ["FAULT_INJECTION_DROPPED"]


def test_direct_response() -> None:
    spec = "hosts: [reviews]\nhttp:\n- directResponse: {status: 503, body: {string: down}}\n"
    model, findings = convert(vs(spec))
    rule = only_rule(model)
    assert rule.direct_status == 503 and rule.destinations == () and rule.retry is None
    assert codes(findings) == ["DIRECT_RESPONSE_DROPPED"]


def test_delegate_rule_is_dropped_and_its_target_skipped() -> None:
    root = """
    hosts: [reviews]
    http:
    - match: [{uri: {prefix: /v2}}]
      delegate: {name: reviews-v2, namespace: bookinfo}
    - route: [{destination: {host: reviews}}]
    """
    target = "http:\n- route: [{destination: {host: reviews}}]\n"
    model, findings = convert(vs(root), vs(target, name="reviews-v2"))
    assert [r.matches for r in only_table(model).rules] == [()]
    assert codes(findings) == ["DELEGATE_NOT_SUPPORTED"]
    assert len(findings) == 2


# --- §3.5 subsets and DestinationRules -------------------------------------------------------

def test_subset_becomes_a_per_subset_service() -> None:
    spec = "hosts: [reviews]\nhttp:\n- route: [{destination: {host: reviews, subset: v2}}]\n"
    model, findings = convert(REVIEWS_DR, vs(spec))
    dest = only_rule(model).destinations[0]
    ref = ServiceRef(NS, "reviews-v2")
    assert (dest.service, dest.subset) == (ref, "v2")
    subset = model.subset_services[ref]
    assert (subset.parent, subset.subset, subset.labels) == (REVIEWS, "v2", (("version", "v2"),))
    assert subset.origin is not None and subset.origin.path == ("spec", "subsets", 1)
    assert list(model.subset_services) == [ref]  # only referenced subsets
    assert codes(findings) == ["SUBSET_SERVICE_CREATED"]
    assert [d.kind for d in model.sources] == ["VirtualService", "DestinationRule"]


def test_unknown_subset_points_at_a_service_that_does_not_exist() -> None:
    spec = "hosts: [reviews]\nhttp:\n- route: [{destination: {host: reviews, subset: v9}}]\n"
    model, findings = convert(REVIEWS_DR, vs(spec))
    dest = only_rule(model).destinations[0]
    assert dest.service == ServiceRef(NS, "reviews-v9") and dest.subset == "v9"
    assert model.subset_services == {}
    assert codes(findings) == ["SUBSET_UNKNOWN"]


def test_subset_of_an_unknown_service_stays_on_the_parent() -> None:
    rule = dr("host: ghost\nsubsets: [{name: v1, labels: {version: v1}}]\n")
    spec = "hosts: [ghost]\nhttp:\n- route: [{destination: {host: ghost, subset: v1}}]\n"
    model, findings = convert(rule, vs(spec))
    dest = only_rule(model).destinations[0]
    assert dest.service == ServiceRef(NS, "ghost") and dest.subset == "v1"
    assert codes(findings) == ["SERVICE_UNKNOWN", "SUBSET_NOT_CONVERTIBLE"]


def test_destination_rule_host_resolves_in_its_own_namespace() -> None:
    rule = dr("host: reviews.bookinfo.svc.cluster.local\nsubsets: [{name: v1, labels: {v: '1'}}]",
              ns="istio-config")
    short = dr("host: reviews\nsubsets: [{name: v2, labels: {v: '2'}}]", ns="istio-config")
    spec = ("hosts: [reviews]\nhttp:\n- route:\n  - {destination: {host: reviews, subset: v1},"
            " weight: 1}\n  - {destination: {host: reviews, subset: v2}, weight: 1}\n")
    model, findings = convert(rule, short, vs(spec))
    assert [d.service.name for d in only_rule(model).destinations] == ["reviews-v1",
                                                                     "reviews-v2"]
    assert "SUBSET_UNKNOWN" in codes(findings)  # v2 belongs to istio-config/reviews


@pytest.mark.parametrize(("parent", "subset", "expected"), [
    ("reviews", "v1", "reviews-v1"),
    ("reviews", "v1.2", "reviews-v1-2"),
    ("reviews", "V2_beta", "reviews-v2-beta"),
    ("reviews", "canary--", "reviews-canary"),
])
def test_subset_service_names(parent: str, subset: str, expected: str) -> None:
    assert subset_service_name(parent, subset) == expected


def test_long_subset_service_names_are_cut_with_a_hash() -> None:
    name = subset_service_name("a" * 50, "b" * 30)
    assert len(name) <= 63 and name == subset_service_name("a" * 50, "b" * 30)
    assert name != subset_service_name("a" * 50, "b" * 31)
    assert name[0].isalpha() and name[-1].isalnum()


def test_existing_service_for_the_subset_is_reused() -> None:
    existing = """
    apiVersion: v1
    kind: Service
    metadata: {name: reviews-v2, namespace: bookinfo}
    spec:
      selector: {app: reviews, version: v2}
      ports: [{port: 9080}]
    """
    spec = "hosts: [reviews]\nhttp:\n- route: [{destination: {host: reviews, subset: v2}}]\n"
    model, _ = convert(textwrap.dedent(existing), REVIEWS_DR, vs(spec))
    assert only_rule(model).destinations[0].service == ServiceRef(NS, "reviews-v2")
    assert model.subset_services == {}


def test_existing_service_with_another_selector_gets_a_hashed_name() -> None:
    existing = """
    apiVersion: v1
    kind: Service
    metadata: {name: reviews-v2, namespace: bookinfo}
    spec:
      selector: {app: something-else}
      ports: [{port: 9080}]
    """
    spec = "hosts: [reviews]\nhttp:\n- route: [{destination: {host: reviews, subset: v2}}]\n"
    model, _ = convert(textwrap.dedent(existing), REVIEWS_DR, vs(spec))
    ref = only_rule(model).destinations[0].service
    assert ref.name.startswith("reviews-v2-") and ref in model.subset_services


@pytest.mark.parametrize(("policy", "expected"), [
    ("tls: {mode: ISTIO_MUTUAL}", ["MESH_TLS_DROPPED"]),
    ("tls: {mode: SIMPLE, sni: reviews.example.com}", ["BACKEND_TLS_NOT_CONVERTED"]),
    ("tls: {mode: MUTUAL, clientCertificate: /c.pem}", ["BACKEND_TLS_NOT_CONVERTED"]),
    ("tls: {mode: DISABLE}", ["BACKEND_TLS_NOT_CONVERTED"]),
    ("loadBalancer: {simple: LEAST_REQUEST}", ["TRAFFIC_POLICY_DROPPED"]),
    ("connectionPool: {tcp: {maxConnections: 10}}", ["TRAFFIC_POLICY_DROPPED"]),
    ("outlierDetection: {consecutive5xxErrors: 7}", ["TRAFFIC_POLICY_DROPPED"]),
    ("portLevelSettings: [{port: {number: 9080}, loadBalancer: {simple: RANDOM}}]",
     ["TRAFFIC_POLICY_DROPPED"]),
])
def test_traffic_policies_are_reported(policy: str, expected: list[str]) -> None:
    _, findings = convert(dr(f"host: reviews\ntrafficPolicy: {{{policy}}}\n"))
    assert codes(findings) == expected


def test_subset_traffic_policy_and_object_fields() -> None:
    rule = dr("""
    host: reviews
    exportTo: ['.']
    workloadSelector: {matchLabels: {app: web}}
    subsets:
    - name: v1
      labels: {version: v1}
      trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
    """)
    _, findings = convert(rule)
    assert codes(findings) == ["TRAFFIC_POLICY_DROPPED"]
    assert sorted(f.field for f in findings) == [
        "spec.exportTo", "spec.subsets[0].trafficPolicy.loadBalancer", "spec.workloadSelector"]


def test_wildcard_destination_rule_with_only_a_policy_is_fine() -> None:
    _, findings = convert(dr("host: '*.local'\ntrafficPolicy: {tls: {mode: ISTIO_MUTUAL}}\n",
                             ns="istio-system"))
    assert codes(findings) == ["MESH_TLS_DROPPED"]


def test_wildcard_destination_rule_with_subsets() -> None:
    _, findings = convert(dr("host: '*.bookinfo.svc.cluster.local'\n"
                             "subsets: [{name: v1, labels: {version: v1}}]\n"))
    assert codes(findings) == ["HOST_NOT_A_SERVICE"]


# --- TCP, TLS, gRPC ---------------------------------------------------------------------------

TCP = """
hosts: [mongo]
tcp:
- match: [{port: 27017}]
  route:
  - {destination: {host: mongo, port: {number: 27017}}, weight: 90}
  - {destination: {host: mongo.backup.svc.cluster.local, port: {number: 27017}}, weight: 10}
- route: [{destination: {host: mongo}}]
"""


def test_tcp_routes_are_tables_per_port() -> None:
    model, findings = convert(vs(TCP, name="mongo"))
    tables = model.tables
    assert [(t.name, t.protocol, t.port, len(t.rules)) for t in tables] == [
        ("mongo-27017", Protocol.TCP, 27017, 2), ("mongo", Protocol.TCP, None, 1)]
    first = tables[0].rules[0]
    assert [(d.service.name, d.weight) for d in first.destinations] == [("mongo", 90),
                                                                       ("mongo", 10)]
    assert first.destinations[1].service.namespace == "backup"
    assert tables[0].default_retry is None and first.retry is None
    assert codes(findings) == ["SERVICE_UNKNOWN"]


def test_single_tcp_rule_is_one_table() -> None:
    model, _ = convert(vs("hosts: [mongo]\ntcp:\n- route: [{destination: {host: mongo}}]\n",
                          name="mongo"))
    assert [(t.name, t.port) for t in model.tables] == [("mongo", None)]


def test_tcp_match_conditions_that_cannot_be_expressed() -> None:
    spec = """
    hosts: [mongo]
    tcp:
    - match: [{destinationSubnets: [10.0.0.0/8], sourceSubnet: 10.1.0.0/16, sourceLabels: {app: a}}]
      route: [{destination: {host: mongo}}]
    """
    model, findings = convert(vs(spec))
    assert only_match(model).source_labels == (("app", "a"),)
    assert codes(findings) == ["TCP_MATCH_DROPPED"]
    assert len(findings) == 3


def test_tls_routes_are_not_converted() -> None:
    spec = ("hosts: [reviews]\ntls:\n- match: [{port: 443, sniHosts: [reviews]}]\n"
            "  route: [{destination: {host: reviews}}]\n")
    model, findings = convert(vs(spec))
    assert model.tables == []
    assert codes(findings) == ["TLS_ROUTE_NOT_CONVERTED"]


def test_grpc_only_service_gives_a_grpc_table() -> None:
    model, _ = convert(vs("hosts: [cart]\nhttp:\n- route: [{destination: {host: cart}}]\n",
                          ns="shop"))
    assert only_table(model).protocol is Protocol.GRPC


# --- unconsumed fields -------------------------------------------------------------------------

def test_unknown_fields_are_reported_not_dropped() -> None:
    spec = http(extra="rateLimit: {local: {tokenBucket: {maxTokens: 5}}}") + "future: yes\n"
    _, findings = convert(vs(spec))
    assert codes(findings) == ["FIELD_IGNORED"]
    assert sorted(f.field for f in findings) == [
        "spec.future", "spec.http[0].rateLimit.local.tokenBucket.maxTokens"]


# --- bad input --------------------------------------------------------------------------------

@pytest.mark.parametrize(("doc", "field", "words"), [
    (vs("hosts: reviews\n"), "spec.hosts", "expected a list"),
    (vs("http:\n- route: [{destination: {host: reviews}}]\n"), "spec.hosts", "required"),
    (vs("hosts: [reviews]\nhttp:\n- route: [{weight: 1}]\n"),
     "spec.http[0].route[0].destination", "required"),
    (vs("hosts: [reviews]\nhttp:\n- route: [{destination: {subset: v1}}]\n"),
     "spec.http[0].route[0].destination.host", "required"),
    (dr("subsets: [{name: v1}]\n"), "spec.host", "required"),
    (dr("host: reviews\nsubsets: [{labels: {v: '1'}}]\n"), "spec.subsets[0].name", "required"),
    (vs(http(match="- uri: {regex: '/a(['}")), "spec.http[0].match[0].uri.regex",
     "invalid regular expression"),
    (vs(http(match="- uri: {regex: '/(?=a)'}")), "spec.http[0].match[0].uri.regex", "RE2"),
    (vs(http(match="- headers: {x: {regex: '('}}")), "spec.http[0].match[0].headers.x.regex",
     "invalid regular expression"),
    (vs(http(match="- uri: {exact: /a, prefix: /b}")), "spec.http[0].match[0].uri",
     "only one of"),
    (vs(http(match="- headers: {end-user: jason}")), "spec.http[0].match[0].headers.end-user",
     "expected a mapping"),
    (vs(http(match="- /a")), "spec.http[0].match[0]", "expected a mapping"),
    (vs(http(match="- port: 70000")), "spec.http[0].match[0].port", "out of range"),
    (vs(http(extra="timeout: 10 seconds")), "spec.http[0].timeout", "invalid duration"),
    (vs(http(extra="timeout: 10")), "spec.http[0].timeout", "expected a string"),
    (vs(http(extra="redirect: {uri: /x}")), "spec.http[0].redirect", "only one of"),
    (vs("hosts: [reviews]\nhttp:\n- match: [{uri: {exact: /}}]\n"), "spec.http[0]",
     "one of route"),
    (vs("hosts: [reviews]\nhttp:\n- redirect: {uri: /x, redirectCode: 200}\n"),
     "spec.http[0].redirect.redirectCode", "3xx"),
    (vs("hosts: [reviews]\nhttp:\n- redirect: {uri: /x}\n  rewrite: {uri: /y}\n"),
     "spec.http[0].rewrite", "cannot be used with redirect"),
    (vs(http(extra="retries: {attempts: 0, perTryTimeout: 2s}")),
     "spec.http[0].retries.attempts", "attempts is 0"),
    (vs(http(extra="retries: {attempts: 2, retryOn: 'sometimes'}")),
     "spec.http[0].retries.retryOn", "not a valid retryOn"),
    (vs(http(extra="mirror: {host: ratings}\nmirrorPercentage: {value: 150}")),
     "spec.http[0].mirrorPercentage.value", "out of range"),
    (vs(http(extra="rewrite: {uriRegexRewrite: {match: '(', rewrite: /x}}")),
     "spec.http[0].rewrite.uriRegexRewrite.match", "invalid regular expression"),
    (vs(http(extra="headers: {request: {set: {x-on: true}}}")),
     "spec.http[0].headers.request.set.x-on", "expected a string"),
    (vs("hosts: [reviews]\nhttp:\n- route: [{destination: {host: reviews}, weight: -1}]\n"),
     "spec.http[0].route[0].weight", "negative"),
    (vs("hosts: [mongo]\ntcp:\n- match: [{port: 1}]\n"), "spec.tcp[0].route", "required"),
    (vs(http(), meta="creationTimestamp: yesterday"), "metadata.creationTimestamp",
     "invalid timestamp"),
])
def test_bad_input_names_file_line_and_field(doc: str, field: str, words: str) -> None:
    err = bad(doc)
    assert err.field == field
    assert err.file == "in.yaml" and err.line is not None
    assert words in str(err)
    assert str(err).startswith(f"in.yaml:{err.line}: {field}: ")


def test_bad_input_line_is_the_line_of_the_field() -> None:
    text = SERVICES + "\n---\n" + vs(http(match="- uri: {regex: '('}"))
    err = bad(vs(http(match="- uri: {regex: '('}")))
    lines = text.splitlines()
    assert "regex" in lines[err.line - 1]  # type: ignore[operator]


def test_unknown_api_version_is_an_input_error() -> None:
    text = vs(http()).replace("networking.istio.io/v1\n", "networking.istio.io/v2\n")
    with pytest.raises(InputError, match="unknown apiVersion"):
        dispatch(parse_stream(text, "in.yaml"), [CONVERTER])


# --- Bookinfo ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bookinfo() -> tuple[RoutingModel, Findings]:
    docs = load([str(ROOT / "examples" / "bookinfo")])
    model = RoutingModel(services=index_services(docs))
    ctx = ConvertContext(model)
    CONVERTER.convert(dispatch(docs, [CONVERTER])["istio"], ctx)
    return model, ctx.findings


def test_bookinfo_reviews_routes_jason_to_v2_and_splits_the_rest(
        bookinfo: tuple[RoutingModel, Findings]) -> None:
    model, _ = bookinfo
    reviews = next(t for t in model.tables if t.service == REVIEWS)
    jason, rest = reviews.rules
    assert jason.matches[0].headers == (StringMatch("end-user", StrKind.EXACT, "jason"),)
    assert [(d.service.name, d.weight) for d in jason.destinations] == [("reviews-v2", 1)]
    assert rest.matches == ()
    assert [(d.service.name, d.weight) for d in rest.destinations] == [
        ("reviews-v1", 50), ("reviews-v3", 50)]
    assert {str(r) for r in model.subset_services} >= {
        "bookinfo/reviews-v1", "bookinfo/reviews-v2", "bookinfo/reviews-v3"}


def test_bookinfo_through_the_source_evaluator(bookinfo: tuple[RoutingModel, Findings]) -> None:
    evaluator = SourceEvaluator(bookinfo[0])
    key = ServiceKey(NS, "reviews", 9080)
    jason = evaluator.evaluate(Request(key, "/reviews/1", headers=(("end-user", "jason"),)))
    assert [b.name for b in jason.backends] == ["reviews-v2"]
    other = evaluator.evaluate(Request(key, "/reviews/1"))
    assert sorted((b.name, b.weight) for b in other.backends) == [("reviews-v1", 50),
                                                                  ("reviews-v3", 50)]
    page = ServiceKey(NS, "productpage", 9080)
    assert evaluator.evaluate(Request(page, "/api/v1/products")).path == "/api/v2/products"
    redirect = evaluator.evaluate(Request(page, "/signin"))
    assert redirect.status == 301


def test_bookinfo_ratings_policies(bookinfo: tuple[RoutingModel, Findings]) -> None:
    model, findings = bookinfo
    ratings = next(t for t in model.tables if t.service == RATINGS)
    delayed, normal = ratings.rules
    assert delayed.fault and delayed.retry == DEFAULT_RETRY
    assert normal.timeout_ms == 10_000
    assert normal.retry is not None
    assert (normal.retry.attempts, normal.retry.per_try_timeout_ms, normal.retry.codes) == (
        3, 2000, (502, 503, 504))
    assert "FAULT_INJECTION_DROPPED" in codes(findings)
    assert "FIELD_IGNORED" not in codes(findings)


def test_bookinfo_productpage(bookinfo: tuple[RoutingModel, Findings]) -> None:
    model, _ = bookinfo
    page = next(t for t in model.tables if t.service.name == "productpage")
    redirect, api, default = page.rules
    assert redirect.redirect == Redirect(301, path=PathRewrite(RewriteKind.FULL, "/login"))
    assert api.rewrite == PathRewrite(RewriteKind.PREFIX_STRING, "/api/v2/")
    assert api.destinations[0].port == 9080
    assert default.request_headers.set == (("x-served-by", "mesh"),)
    assert default.response_headers.remove == ("x-powered-by",)


def test_bookinfo_sources(bookinfo: tuple[RoutingModel, Findings]) -> None:
    model, _ = bookinfo
    assert [d.ref() for d in model.sources if d.kind == "VirtualService"] == [
        "VirtualService/bookinfo/reviews", "VirtualService/bookinfo/ratings",
        "VirtualService/bookinfo/productpage", "VirtualService/bookinfo/details"]
    assert {d.kind for d in model.sources} == {"VirtualService", "DestinationRule"}
