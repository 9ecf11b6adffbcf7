"""The Linkerd converter: ServiceProfile YAML in -> routing model and finding codes out.

One test (or parametrized case) per row of semantics.md §4.1, the traps of §8 that are the
converter's (first match, pass-through, 10 s default timeout, Rust regex anchoring), bad
input, and requests run through the model with the source evaluator.
"""

from __future__ import annotations

import json
import re
import textwrap
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from converters.linkerd import CONVERTER
from converters.linkerd.conditions import TooComplex, normal_form
from converters.linkerd.durations import parse_go_duration
from converters.linkerd.matches import rule_matches
from converters.linkerd.names import parse_authority, parse_fqdn
from converters.linkerd.quantity import integer_weights, milli_value, parse_quantity
from converters.linkerd.regex import has_top_level_alternation, linkerd_path_regex
from meshmigrate.errors import InputError
from meshmigrate.fields import View
from meshmigrate.findings import Findings
from meshmigrate.model import (
    Anchor,
    Destination,
    Dialect,
    Match,
    PathKind,
    PathMatch,
    Protocol,
    RouteTable,
    RoutingModel,
    ServiceRef,
    Unmatched,
)
from meshmigrate.registry import ConvertContext, dispatch
from meshmigrate.semantics.outcome import Request, ServiceKey
from meshmigrate.semantics.source import SourceEvaluator, match_applies
from meshmigrate.services import index_services
from meshmigrate.sources import parse_stream

NS = "booksapp"
BOOKS = ServiceRef(NS, "books")

SERVICES = """
apiVersion: v1
kind: Service
metadata: {name: books, namespace: booksapp}
spec:
  selector: {app: books}
  ports: [{name: http, port: 7002}, {name: admin, port: 9990}]
"""

HEAD = """
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata:
  name: books.booksapp.svc.cluster.local
  namespace: {ns}
spec:
"""


def convert(text: str, services: str = SERVICES) -> tuple[RoutingModel, Findings]:
    docs = list(parse_stream(textwrap.dedent(services) + "\n---\n" + textwrap.dedent(text),
                             "sp.yaml"))
    model = RoutingModel(services=index_services(docs))
    ctx = ConvertContext(model)
    CONVERTER.convert(dispatch(docs, [CONVERTER])["linkerd"], ctx)
    return model, ctx.findings


def profile(spec: str, ns: str = NS) -> str:
    return HEAD.format(ns=ns) + textwrap.indent(textwrap.dedent(spec), "  ")


def one_table(spec: str, ns: str = NS) -> tuple[RouteTable, Findings]:
    model, findings = convert(profile(spec, ns))
    assert len(model.tables) == 1
    return model.tables[0], findings


def codes(findings: Findings) -> list[str]:
    return findings.codes()


ROUTE = """
routes:
- name: GET /books
  condition: {method: GET, pathRegex: /books}
"""


# --- table shape --------------------------------------------------------------------------

def test_producer_table_first_match_pass_through() -> None:
    table, findings = one_table(ROUTE)
    assert table.service == BOOKS
    assert table.consumer_namespace is None
    assert table.unmatched is Unmatched.PASS_THROUGH
    assert table.first_match and table.protocol is Protocol.HTTP and table.port is None
    assert table.fallback == ()
    assert table.name == "books.booksapp.svc.cluster.local"
    (rule,) = table.rules
    assert rule.name == "GET /books"
    assert rule.destinations == (Destination(BOOKS, None),)
    assert rule.origin is not None and rule.origin.path == ("spec", "routes", 0)
    assert "SERVICEPROFILE_OVERRIDES" in codes(findings)


def test_profile_in_client_namespace_is_a_consumer_table() -> None:
    table, _ = one_table(ROUTE, ns="webapp")
    assert table.service == BOOKS
    assert table.consumer_namespace == "webapp"
    assert table.route_namespace == "webapp"


def test_source_document_recorded_for_cutover() -> None:
    model, _ = convert(profile(ROUTE))
    assert [d.kind for d in model.sources] == ["ServiceProfile"]


def test_name_not_a_service_fqdn() -> None:
    text = profile(ROUTE).replace("books.booksapp.svc.cluster.local", "api.example.com")
    model, findings = convert(text)
    assert model.tables == [] and model.sources == []
    assert codes(findings) == ["HOST_NOT_A_SERVICE"]


def test_unknown_service_reported() -> None:
    model, findings = convert(profile(ROUTE), services="")
    assert len(model.tables) == 1
    assert "SERVICE_UNKNOWN" in codes(findings)


def test_v1alpha1_profile_accepted() -> None:
    text = profile(ROUTE).replace("v1alpha2", "v1alpha1")
    model, _ = convert(text)
    assert len(model.tables) == 1 and model.tables[0].rules[0].timeout_ms == 10_000


def test_profile_without_routes_or_overrides_adds_no_table() -> None:
    model, findings = convert(profile("routes: []"))
    assert model.tables == []
    assert [d.kind for d in model.sources] == ["ServiceProfile"]
    assert codes(findings) == ["SERVICEPROFILE_OVERRIDES"]


# --- conditions ---------------------------------------------------------------------------

def test_path_regex_is_rust_full_match() -> None:
    table, _ = one_table(ROUTE)
    (match,) = table.rules[0].matches
    assert match.path == PathMatch(PathKind.REGEX, "/books", dialect=Dialect.RUST,
                                   anchor=Anchor.FULL)
    assert match.methods == frozenset({"GET"})
    assert match.origin == ("spec", "routes", 0, "condition")


@pytest.mark.parametrize(("raw", "pattern", "partial"), [
    ("/books", "/books", False),
    ("^/books$", "/books", False),
    ("  /books/[^/]*\\.json ", "/books/[^/]*\\.json", False),
    ("^/a", "/a", False),
    ("/a(/.*)?", "/a(/.*)?", False),
    ("/(a|b)", "/(a|b)", False),
    ("/[|]x", "/[|]x", False),
    ("/a|/b", "(?s:.*)(?:^/a|/b$)(?s:.*)", True),
    ("/price\\$", "(?s:.*)(?:^/price\\$)(?s:.*)", True),
])
def test_linkerd_anchoring(raw: str, pattern: str, partial: bool) -> None:
    assert linkerd_path_regex(raw) == (pattern, partial)


def test_top_level_alternation_scanner() -> None:
    assert has_top_level_alternation("a|b")
    assert not has_top_level_alternation("(a|b)")
    assert not has_top_level_alternation("[a|b]")
    assert not has_top_level_alternation("\\|")
    assert not has_top_level_alternation("[]|]")
    assert has_top_level_alternation("[[:alpha:]]|x")


def test_partial_anchoring_reported_and_evaluated_like_the_proxy() -> None:
    model, findings = convert(profile("""
        routes:
        - name: a-or-b
          condition: {pathRegex: /a|/b}
        dstOverrides:
        - {authority: books-v2.booksapp.svc.cluster.local:7002, weight: 1}
        """))
    assert "REGEX_ANCHOR_PARTIAL" in codes(findings)
    evaluator = SourceEvaluator(model)
    # ^/a|/b$ is searched: "starts with /a" or "ends with /b".
    assert rule_of(evaluator, "/apple") == "a-or-b"
    assert rule_of(evaluator, "/x/b") == "a-or-b"
    assert rule_of(evaluator, "/b/x") is None


def rule_of(evaluator: SourceEvaluator, path: str, method: str = "GET",
            namespace: str = "default") -> str | None:
    out = evaluator.evaluate(Request(ServiceKey(NS, "books", 7002), path=path, method=method,
                                     client_namespace=namespace))
    if out.rule is None:
        return None
    table = evaluator.applicable_tables(Request(ServiceKey(NS, "books", 7002),
                                                client_namespace=namespace))[0]
    return table.rules[int(out.rule.rpartition("#")[2])].name


def test_all_any_not_to_normal_form() -> None:
    table, findings = one_table("""
        routes:
        - name: complex
          condition:
            all:
            - not: {method: GET}
            - any:
              - pathRegex: /a
              - pathRegex: /b
        """)
    matches = table.rules[0].matches
    assert [m.path.value for m in matches if m.path] == ["/a", "/b"]
    assert all(m.methods == frozenset({"GET"}) and m.negated_methods for m in matches)
    assert matches[0].origin == ("spec", "routes", 0, "condition", "all")
    assert "NEGATIVE_MATCH_DROPPED" not in codes(findings)


def test_fields_of_one_condition_are_anded() -> None:
    table, _ = one_table("""
        routes:
        - name: r
          condition: {method: POST, pathRegex: /x, any: [{method: POST}, {method: PUT}]}
        """)
    (match,) = table.rules[0].matches  # POST and PUT contradict; POST and POST stay
    assert match.methods == frozenset({"POST"}) and match.path is not None


def test_not_any_pushed_down_de_morgan() -> None:
    table, _ = one_table("""
        routes:
        - name: r
          condition:
            not:
              any: [{method: GET}, {method: HEAD}]
        """)
    (match,) = table.rules[0].matches
    assert match.methods == frozenset({"GET", "HEAD"}) and match.negated_methods


def test_not_all_becomes_alternatives() -> None:
    table, _ = one_table("""
        routes:
        - name: r
          condition:
            not:
              all: [{method: GET}, {method: HEAD}]
        """)
    assert [(m.methods, m.negated_methods) for m in table.rules[0].matches] == [
        (frozenset({"GET"}), True), (frozenset({"HEAD"}), True)]


def test_double_negation() -> None:
    table, _ = one_table("""
        routes:
        - name: r
          condition: {not: {not: {method: DELETE}}}
        """)
    assert table.rules[0].matches[0].methods == frozenset({"DELETE"})
    assert not table.rules[0].matches[0].negated_methods


def test_positive_method_minus_negated() -> None:
    table, _ = one_table("""
        routes:
        - name: r
          condition: {all: [{method: GET}, {not: {method: POST}}]}
        """)
    (match,) = table.rules[0].matches
    assert match.methods == frozenset({"GET"}) and not match.negated_methods


def test_not_path_dropped_and_reported() -> None:
    table, findings = one_table("""
        routes:
        - name: r
          condition: {method: GET, not: {pathRegex: /admin/.*}}
        """)
    (match,) = table.rules[0].matches
    assert match.path is None and match.methods == frozenset({"GET"})
    assert "NEGATIVE_MATCH_DROPPED" in codes(findings)


def test_two_path_regexes_anded_keeps_one_and_reports() -> None:
    table, findings = one_table("""
        routes:
        - name: r
          condition: {all: [{pathRegex: /a.*}, {pathRegex: .*z}]}
        """)
    assert table.rules[0].matches[0].path.value == "/a.*"  # type: ignore[union-attr]
    assert "MATCH_NOT_SUPPORTED" in codes(findings)


def test_contradictory_condition_drops_rule() -> None:
    table, findings = one_table("""
        routes:
        - name: never
          condition: {all: [{method: GET}, {method: POST}]}
        - name: books
          condition: {pathRegex: /books}
        """)
    assert [r.name for r in table.rules] == ["books"]
    assert "RULE_SHADOWED" in codes(findings)


def test_empty_any_never_matches() -> None:
    table, findings = one_table("""
        routes:
        - name: nothing
          condition: {any: []}
        - name: books
          condition: {pathRegex: /books}
        """)
    assert [r.name for r in table.rules] == ["books"]
    assert "RULE_SHADOWED" in codes(findings)


def test_too_complex_condition_reported() -> None:
    alternatives = ", ".join(f"{{pathRegex: /p{i}}}" for i in range(12))
    table, findings = one_table(f"""
        routes:
        - name: huge
          condition: {{all: [{{any: [{alternatives}]}}, {{any: [{alternatives}]}}]}}
        - name: books
          condition: {{pathRegex: /books}}
        """)
    assert [r.name for r in table.rules] == ["books"]
    assert "MATCH_NOT_SUPPORTED" in codes(findings)


def test_duplicate_alternatives_deduplicated() -> None:
    table, _ = one_table("""
        routes:
        - name: r
          condition: {any: [{method: GET}, {method: GET}]}
        """)
    assert table.rules[0].matches == (Match(methods=frozenset({"GET"}),
                                            origin=("spec", "routes", 0, "condition", "any", 0)),)


# --- timeouts and retries -----------------------------------------------------------------

def test_default_timeout_made_explicit() -> None:
    table, findings = one_table(ROUTE)
    assert table.rules[0].timeout_ms == 10_000
    assert "TIMEOUT_DEFAULT_EXPLICIT" in codes(findings)


@pytest.mark.parametrize(("text", "ms"), [("300ms", 300), ("1.5s", 1500), ("1m30s", 90_000),
                                          ("2h", 7_200_000), ("'0'", 0), ("100us", 1)])
def test_route_timeout(text: str, ms: int) -> None:
    table, findings = one_table(f"""
        routes:
        - name: r
          condition: {{pathRegex: /x}}
          timeout: {text}
        """)
    assert table.rules[0].timeout_ms == ms
    assert "TIMEOUT_DEFAULT_EXPLICIT" not in codes(findings)


def test_go_duration_parser() -> None:
    assert parse_go_duration("1h2m3.5s") == Fraction(3_723_500)
    assert parse_go_duration("-1s") == -1000
    assert parse_go_duration("1") is None
    assert parse_go_duration("1d") is None
    assert parse_go_duration(".5s") == 500


def test_retryable_route_default_5xx_one_retry() -> None:
    table, findings = one_table("""
        routes:
        - name: r
          condition: {method: GET, pathRegex: /books}
          isRetryable: true
        """)
    retry = table.rules[0].retry
    assert retry is not None
    assert retry.attempts == 1 and retry.codes == tuple(range(500, 600))
    assert not retry.is_source_default
    assert "RETRY_APPROXIMATED" in codes(findings)


def test_not_retryable_has_no_retry_and_response_classes_consumed() -> None:
    table, findings = one_table("""
        routes:
        - name: r
          condition: {pathRegex: /books}
          responseClasses:
          - condition: {status: {min: 500, max: 599}}
            isFailure: true
        """)
    assert table.rules[0].retry is None
    assert "FIELD_IGNORED" not in codes(findings)


def test_response_classes_first_match_then_5xx_default() -> None:
    table, _ = one_table("""
        routes:
        - name: r
          condition: {pathRegex: /books}
          isRetryable: true
          responseClasses:
          - condition: {status: {min: 503, max: 503}}
            isFailure: false
          - condition: {any: [{status: {min: 429, max: 429}}, {status: {min: 500, max: 599}}]}
            isFailure: true
          - condition: {not: {status: {min: 100, max: 499}}}
            isFailure: false
        """)
    retry = table.rules[0].retry
    assert retry is not None
    assert retry.codes == (429, 500, 501, 502, *range(504, 600))
    assert retry.conditions == ("isRetryable", "responseClasses")


def test_response_class_with_open_range_is_ignored_like_the_proxy() -> None:
    table, _ = one_table("""
        routes:
        - name: r
          condition: {pathRegex: /books}
          isRetryable: true
          responseClasses:
          - condition: {status: {min: 500}}
            isFailure: false
        """)
    retry = table.rules[0].retry
    assert retry is not None and retry.codes == tuple(range(500, 600))


def test_explicit_retry_budget_reported() -> None:
    _, findings = one_table("""
        retryBudget: {retryRatio: 0.5, minRetriesPerSecond: 5, ttl: 20s}
        routes:
        - name: r
          condition: {pathRegex: /books}
          isRetryable: true
        """)
    messages = [f.message for f in findings if f.code == "RETRY_APPROXIMATED"]
    assert any("retryBudget (0.5 of requests plus 5/s over 20s)" in m for m in messages)
    assert "FIELD_IGNORED" not in codes(findings)


def test_retry_budget_the_proxy_rejects_disables_retries() -> None:
    table, findings = one_table("""
        retryBudget: {retryRatio: 0.2, minRetriesPerSecond: 10, ttl: 90s}
        routes:
        - name: r
          condition: {pathRegex: /books}
          isRetryable: true
        """)
    assert table.rules[0].retry is None
    assert "RETRY_BUDGET_INVALID" in codes(findings)


# --- dstOverrides -------------------------------------------------------------------------

def test_dst_overrides_on_every_rule_and_as_fallback() -> None:
    table, findings = one_table("""
        routes:
        - name: r
          condition: {pathRegex: /books}
        dstOverrides:
        - {authority: books-v1.booksapp.svc.cluster.local:7002, weight: 500m}
        - {authority: books-v2.booksapp.svc.cluster.local, weight: 1}
        - {authority: books-v3.booksapp.svc.cluster.local, weight: "0"}
        """)
    expected = (Destination(ServiceRef(NS, "books-v1"), 7002, 1),
                Destination(ServiceRef(NS, "books-v2"), None, 2))
    assert table.rules[0].destinations == expected
    assert table.fallback == expected
    assert "WEIGHT_ROUNDED" not in codes(findings)


def test_dst_overrides_without_routes_still_split_everything() -> None:
    model, _ = convert(profile("""
        dstOverrides:
        - {authority: books-v1.booksapp.svc.cluster.local:7002, weight: 9}
        - {authority: books-v2.booksapp.svc.cluster.local:7002, weight: 1}
        """))
    (table,) = model.tables
    assert table.rules == ()
    assert [d.weight for d in table.fallback] == [9, 1]
    out = SourceEvaluator(model).evaluate(Request(ServiceKey(NS, "books", 7002), path="/x"))
    assert [(b.name, b.weight) for b in out.backends] == [("books-v1", 9), ("books-v2", 1)]


def test_unmatched_goes_to_overrides_matched_too() -> None:
    model, _ = convert(profile("""
        routes:
        - name: r
          condition: {pathRegex: /books}
          isRetryable: true
        dstOverrides:
        - {authority: books-v2.booksapp.svc.cluster.local:7002, weight: 1}
        """))
    evaluator = SourceEvaluator(model)
    matched = evaluator.evaluate(Request(ServiceKey(NS, "books", 7002), path="/books"))
    other = evaluator.evaluate(Request(ServiceKey(NS, "books", 7002), path="/other"))
    assert [b.name for b in matched.backends] == ["books-v2"] == [b.name for b in other.backends]
    assert matched.timeout == "10s" and other.timeout is None
    assert matched.retry is not None and other.retry is None


def test_all_overrides_zero_means_the_service_itself() -> None:
    table, _ = one_table("""
        routes:
        - name: r
          condition: {pathRegex: /books}
        dstOverrides:
        - {authority: books-v1.booksapp.svc.cluster.local:7002, weight: 0}
        """)
    assert table.fallback == ()
    assert table.rules[0].destinations == (Destination(BOOKS, None),)


def test_override_authority_not_a_service() -> None:
    table, findings = one_table("""
        routes:
        - name: r
          condition: {pathRegex: /books}
        dstOverrides:
        - {authority: api.example.com:443, weight: 1}
        - {authority: books-v2.booksapp.svc.cluster.local:7002, weight: 1}
        """)
    assert [d.service.name for d in table.fallback] == ["books-v2"]
    assert "HOST_NOT_A_SERVICE" in codes(findings)


def test_weights_beyond_gateway_api_limit_rounded() -> None:
    table, findings = one_table("""
        dstOverrides:
        - {authority: a.booksapp.svc.cluster.local, weight: 1001m}
        - {authority: b.booksapp.svc.cluster.local, weight: 10k}
        """)
    assert [d.weight for d in table.fallback] == [100, 1_000_000]
    assert "WEIGHT_ROUNDED" in codes(findings)


@pytest.mark.parametrize(("text", "value"), [
    ("1", Fraction(1)), ("500m", Fraction(1, 2)), ("10k", Fraction(10_000)),
    ("1Ki", Fraction(1024)), ("1e3", Fraction(1000)), ("1.5", Fraction(3, 2)),
    (".5", Fraction(1, 2)), ("2E", Fraction(2 * 10**18)), ("1E-3", Fraction(1, 1000)),
    ("3n", Fraction(3, 10**9)), (7, Fraction(7)), (0.25, Fraction(1, 4)),
])
def test_quantities(text: str | int | float, value: Fraction) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "abc", "1.2.3", "1KB", "m"])
def test_not_quantities(text: str) -> None:
    assert parse_quantity(text) is None


def test_milli_value_rounds_up_and_integer_weights() -> None:
    assert milli_value(Fraction(1, 3000)) == 1
    assert integer_weights([Fraction(1, 3), Fraction(2, 3)]) == ((1, 2), False)
    assert integer_weights([Fraction(0), Fraction(0)]) == ((0, 0), False)
    assert integer_weights([Fraction(1), Fraction(10**9)]) == ((1, 1_000_000), True)


def test_names() -> None:
    assert parse_fqdn("books.booksapp.svc.cluster.local") == BOOKS
    assert parse_fqdn("books.booksapp.svc.example.org") == BOOKS
    assert parse_fqdn("books.booksapp") is None
    assert parse_authority("books.booksapp.svc.cluster.local:7002") == (BOOKS, 7002)
    assert parse_authority("books.booksapp.svc.cluster.local") == (BOOKS, None)
    assert parse_authority("books.booksapp.svc.cluster.local:http") is None


# --- opaque ports -------------------------------------------------------------------------

def test_opaque_ports_split_tables_per_port() -> None:
    model, findings = convert(profile("""
        opaquePorts: ["9990"]
        routes:
        - name: r
          condition: {pathRegex: /books}
        dstOverrides:
        - {authority: books-v2.booksapp.svc.cluster.local, weight: 1}
        """))
    assert [(t.port, t.protocol) for t in model.tables] == [(7002, Protocol.HTTP),
                                                            (9990, Protocol.TCP)]
    tcp = model.tables[1]
    assert tcp.rules[0].matches == () and tcp.rules[0].destinations == tcp.fallback
    assert "FIELD_IGNORED" not in codes(findings)


def test_opaque_port_without_overrides_is_left_alone() -> None:
    model, _ = convert(profile("""
        opaquePorts: ["9000-9999"]
        routes:
        - name: r
          condition: {pathRegex: /books}
        """))
    assert [(t.port, t.protocol) for t in model.tables] == [(7002, Protocol.HTTP)]


def test_opaque_ports_of_unknown_service() -> None:
    model, findings = convert(profile("""
        opaquePorts: ["9990"]
        routes:
        - name: r
          condition: {pathRegex: /books}
        """), services="")
    assert [t.port for t in model.tables] == [None]
    assert "SERVICE_PORT_UNKNOWN" in codes(findings)


# --- first match and pass-through, evaluated ----------------------------------------------

def test_first_match_wins_and_unmatched_passes_through() -> None:
    model, _ = convert(profile("""
        routes:
        - name: any books
          condition: {pathRegex: /books.*}
          timeout: 1s
        - name: GET book
          condition: {method: GET, pathRegex: '/books/[0-9]+'}
        """))
    evaluator = SourceEvaluator(model)
    assert rule_of(evaluator, "/books/1") == "any books"
    assert rule_of(evaluator, "/authors") is None
    out = evaluator.evaluate(Request(ServiceKey(NS, "books", 7002), path="/authors"))
    assert out.status == 200 and [b.name for b in out.backends] == ["books"]


def test_consumer_profile_applies_only_in_its_namespace() -> None:
    model, _ = convert(profile(ROUTE, ns="webapp"))
    evaluator = SourceEvaluator(model)
    assert rule_of(evaluator, "/books", namespace="webapp") == "GET /books"
    assert rule_of(evaluator, "/books", namespace="other") is None


# --- unconsumed fields and bad input ------------------------------------------------------

def test_unknown_fields_reported() -> None:
    _, findings = one_table("""
        routes:
        - name: r
          condition: {pathRegex: /books, headers: {x: y}}
          mirror: books-shadow
        """)
    fields = [f.field for f in findings if f.code == "FIELD_IGNORED"]
    assert fields == ["spec.routes[0].condition.headers.x", "spec.routes[0].mirror"]


@pytest.mark.parametrize(("spec", "field", "text"), [
    ("routes: [{condition: {pathRegex: /x}}]", "spec.routes[0].name", "required"),
    ("routes: [{name: r}]", "spec.routes[0].condition", "required"),
    ("routes: [{name: r, condition: {}}]", "spec.routes[0].condition", "must set"),
    ("routes: [{name: r, condition: {pathRegex: '/(x'}}]", "spec.routes[0].condition.pathRegex",
     "invalid regular expression"),
    ("routes: [{name: r, condition: {pathRegex: '/(?=x)'}}]",
     "spec.routes[0].condition.pathRegex", "look-around"),
    ("routes: [{name: r, condition: {method: 1}}]", "spec.routes[0].condition.method",
     "expected a string"),
    ("routes: [{name: r, condition: {all: {method: GET}}}]", "spec.routes[0].condition.all",
     "expected a list"),
    ("routes: [{name: r, condition: {pathRegex: /x}, timeout: 10}]",
     "spec.routes[0].timeout", "expected a string"),
    ("routes: [{name: r, condition: {pathRegex: /x}, timeout: 10 s}]",
     "spec.routes[0].timeout", "invalid duration"),
    ("routes: [{name: r, condition: {pathRegex: /x}, timeout: -1s}]",
     "spec.routes[0].timeout", "negative"),
    ("routes: [{name: r, condition: {pathRegex: /x}, isRetryable: true, responseClasses: "
     "[{condition: {status: {min: 600, max: 700}}}]}]",
     "spec.routes[0].responseClasses[0].condition.status.min", "between 100 and 599"),
    ("routes: [{name: r, condition: {pathRegex: /x}, isRetryable: true, responseClasses: "
     "[{isFailure: true}]}]", "spec.routes[0].responseClasses[0].condition", "condition"),
    ("retryBudget: {retryRatio: 0.2, minRetriesPerSecond: 10}", "spec.retryBudget.ttl",
     "required"),
    ("retryBudget: {retryRatio: -1, minRetriesPerSecond: 10, ttl: 10s}",
     "spec.retryBudget.retryRatio", "non-negative"),
    ("dstOverrides: [{authority: a.b.svc.cluster.local, weight: lots}]",
     "spec.dstOverrides[0].weight", "quantity"),
    ("dstOverrides: [{authority: a.b.svc.cluster.local, weight: -1}]",
     "spec.dstOverrides[0].weight", "negative"),
    ("dstOverrides: [{authority: a.b.svc.cluster.local}]", "spec.dstOverrides[0].weight",
     "required"),
    ("routes: [r1]", "spec.routes[0]", "expected a mapping"),
    ("opaquePorts: [http]", "spec.opaquePorts", "port"),
])
def test_bad_input(spec: str, field: str, text: str) -> None:
    with pytest.raises(InputError) as err:
        convert(profile(spec))
    assert err.value.file == "sp.yaml"
    assert err.value.field == field
    assert err.value.line is not None and err.value.line > 8
    assert text in str(err.value)


def test_bad_input_names_the_line() -> None:
    with pytest.raises(InputError) as err:
        convert(profile("""
            routes:
            - name: ok
              condition: {pathRegex: /x}
            - name: bad
              condition:
                pathRegex: "/(unclosed"
            """))
    text = str(err.value)
    assert text.startswith("sp.yaml:")
    line = int(text.split(":")[1])
    source = (textwrap.dedent(SERVICES) + "\n---\n" + profile("""
            routes:
            - name: ok
              condition: {pathRegex: /x}
            - name: bad
              condition:
                pathRegex: "/(unclosed"
            """)).splitlines()
    assert "pathRegex" in source[line - 1]


# --- property: the normal form decides exactly like the condition tree --------------------

METHODS = ("GET", "POST", "PURGE")
PATHS = ("/a", "/b", "/ab")


def _leaf(draw_path: bool) -> st.SearchStrategy[dict[str, Any]]:
    method = st.sampled_from(METHODS).map(lambda m: {"method": m})
    path = st.sampled_from(("/a", "/b", "/a.*")).map(lambda p: {"pathRegex": p})
    return st.one_of(method, path) if draw_path else method


def _tree(draw_path: bool) -> st.SearchStrategy[dict[str, Any]]:
    """Condition trees; path leaves never sit under ``not`` (that is the one lossy case)."""
    def extend(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
        lists = st.lists(children, min_size=0, max_size=3)
        return st.one_of(lists.map(lambda c: {"all": c}), lists.map(lambda c: {"any": c}))
    positive = st.recursive(_leaf(draw_path), extend, max_leaves=6)
    negated = st.recursive(_leaf(False), extend, max_leaves=4).map(lambda c: {"not": c})
    return st.one_of(positive, negated, st.tuples(positive, negated).map(
        lambda pair: {"all": list(pair)}))


def _holds(cond: dict[str, Any], method: str, path: str) -> bool:
    """The proxy's semantics: every field set must hold."""
    checks = []
    if "method" in cond:
        checks.append(cond["method"] == method)
    if "pathRegex" in cond:
        checks.append(re.fullmatch(cond["pathRegex"], path) is not None)
    if "all" in cond:
        checks.append(all(_holds(c, method, path) for c in cond["all"]))
    if "any" in cond:
        checks.append(any(_holds(c, method, path) for c in cond["any"]))
    if "not" in cond:
        checks.append(not _holds(cond["not"], method, path))
    return all(checks)


@settings(max_examples=300, deadline=None)
@given(_tree(draw_path=True))
def test_normal_form_equivalent_to_condition_tree(cond: dict[str, Any]) -> None:
    """Unless a loss is reported, a request satisfies some match iff it satisfies the tree."""
    doc = next(parse_stream(json.dumps({"spec": {"condition": cond}}), "prop.yaml"))
    report = Findings()
    try:
        conjunctions = normal_form(View(doc).at("spec").at("condition"))
    except TooComplex:
        return
    matches = rule_matches(conjunctions, lambda code, path, msg: report.add(code, doc, path,
                                                                            msg))
    if len(report):
        return  # a reported loss (two path regexes that must both hold)
    for method in METHODS:
        for path in PATHS:
            request = Request(ServiceKey(NS, "books", 80), path=path, method=method)
            got = any(match_applies(m, request) for m in matches)
            assert got == _holds(cond, method, path), (cond, method, path, matches)
