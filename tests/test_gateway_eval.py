"""Gateway API evaluator: table tests from the spec's own rules and examples."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshmigrate.pipeline import ConvertOptions, convert_documents
from meshmigrate.semantics import gateway
from meshmigrate.semantics.atoms import HeaderAtom, PathAtom, QueryAtom
from meshmigrate.semantics.gateway import (
    GatewayEvaluator,
    RegexRank,
    replace_prefix_match,
    segment_prefix_match,
)
from meshmigrate.semantics.outcome import Backend, Mirror, Request, Retry, ServiceKey
from meshmigrate.semantics.source import SourceEvaluator
from meshmigrate.sources import parse_stream
from meshmigrate.verify import missing_services

NS = "bookinfo"
REVIEWS = ServiceKey(NS, "reviews", 9080)

# --------------------------------------------------------------------------- builders


def service(name: str = "reviews", ns: str = NS, ports: tuple[Any, ...] = ((9080, "http"),),
            **spec: Any) -> dict[str, Any]:
    port_list = [{"port": p, "name": n} for p, n in ports]
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"ports": port_list, **spec}}


def backend(name: str, port: int | None = 9080, **extra: Any) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": name, **extra}
    if port is not None:
        ref["port"] = port
    return ref


def rule(*matches: dict[str, Any], backends: Any = None, filters: Any = None,
         **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = dict(extra)
    if matches:
        out["matches"] = list(matches)
    out["backendRefs"] = [backend("reviews-v1")] if backends is None else backends
    if filters:
        out["filters"] = filters
    return out


def prefix(value: str, **extra: Any) -> dict[str, Any]:
    return {"path": {"type": "PathPrefix", "value": value}, **extra}


def exact(value: str, **extra: Any) -> dict[str, Any]:
    return {"path": {"type": "Exact", "value": value}, **extra}


def route(name: str, *rules: dict[str, Any], ns: str = NS, parent: str = "reviews",
          parent_ns: str | None = None, port: int | None = 9080, kind: str = "HTTPRoute",
          created: str | None = None, version: str = "v1") -> dict[str, Any]:
    ref: dict[str, Any] = {"group": "", "kind": "Service", "name": parent}
    if parent_ns:
        ref["namespace"] = parent_ns
    if port is not None:
        ref["port"] = port
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if created:
        meta["creationTimestamp"] = created
    return {"apiVersion": f"gateway.networking.k8s.io/{version}", "kind": kind,
            "metadata": meta, "spec": {"parentRefs": [ref], "rules": list(rules)}}


def req(path: str = "/", **kw: Any) -> Request:
    kw.setdefault("service", REVIEWS)
    kw.setdefault("client_namespace", NS)
    return Request(path=path, **kw)


def names(outcome: Any) -> list[str]:
    return [b.name for b in outcome.backends if b.weight > 0]


def to(name: str) -> list[dict[str, Any]]:
    return [backend(name)]


# --------------------------------------------------------------------------- path helpers

# The table in HTTPPathModifier.ReplacePrefixMatch (apis/v1/httproute_types.go).
REPLACE_PREFIX_TABLE = [
    ("/foo/bar", "/foo", "/xyz", "/xyz/bar"),
    ("/foo/bar", "/foo", "/xyz/", "/xyz/bar"),
    ("/foo/bar", "/foo/", "/xyz", "/xyz/bar"),
    ("/foo/bar", "/foo/", "/xyz/", "/xyz/bar"),
    ("/foo", "/foo", "/xyz", "/xyz"),
    ("/foo/", "/foo", "/xyz", "/xyz/"),
    ("/foo/bar", "/foo", "", "/bar"),
    ("/foo/", "/foo", "", "/"),
    ("/foo", "/foo", "", "/"),
    ("/foo/", "/foo", "/", "/"),
    ("/foo", "/foo", "/", "/"),
]


@pytest.mark.parametrize(("path", "match", "replacement", "expected"), REPLACE_PREFIX_TABLE)
def test_replace_prefix_match_table(path: str, match: str, replacement: str,
                                    expected: str) -> None:
    assert replace_prefix_match(path, match, replacement) == expected


@pytest.mark.parametrize(("path", "match", "replacement", "expected"), REPLACE_PREFIX_TABLE)
def test_replace_prefix_match_through_url_rewrite(path: str, match: str, replacement: str,
                                                  expected: str) -> None:
    rewrite = {"type": "URLRewrite", "urlRewrite": {"path": {
        "type": "ReplacePrefixMatch", "replacePrefixMatch": replacement}}}
    ev = GatewayEvaluator([route("r", rule(prefix(match), filters=[rewrite]))])
    assert ev.evaluate(req(path)).path == expected


def test_replace_prefix_match_root_prefix_inserts_segment() -> None:
    # semantics.md §8.2: no uri match + rewrite /v2 → Gateway API gives /v2/x.
    assert replace_prefix_match("/x", "/", "/v2") == "/v2/x"


@pytest.mark.parametrize(
    ("path", "match", "matches"),
    [("/foo", "/foo", True), ("/foo/", "/foo", True), ("/foo/bar", "/foo", True),
     ("/foobar", "/foo", False), ("/foo", "/foo/", True), ("/fo", "/foo", False),
     ("/anything", "/", True), ("/", "/", True), ("/Foo", "/foo", False)],
)
def test_segment_prefix(path: str, match: str, matches: bool) -> None:
    assert segment_prefix_match(path, match) is matches
    ev = GatewayEvaluator([route("r", rule(prefix(match)))])
    assert (ev.evaluate(req(path)).status == 200) is matches


# --------------------------------------------------------------------------- attachment


def test_no_route_goes_straight_to_service() -> None:
    ev = GatewayEvaluator([service()])
    out = ev.evaluate(req("/x", headers=(("x-a", "1"),)))
    assert out.status == 200 and out.rule is None
    assert out.backends == (Backend(NS, "reviews", 9080, 1),)
    assert out.path == "/x" and out.host == "reviews"
    assert dict(out.request_headers) == {"x-a": "1"}


def test_no_match_is_404_once_a_route_attaches() -> None:
    ev = GatewayEvaluator([route("r", rule(exact("/only")))])
    assert ev.evaluate(req("/other")).status == 404
    assert ev.evaluate(req("/only")).status == 200


def test_parent_ref_port_limits_attachment() -> None:
    svc = service(ports=((9080, "http"), (9090, "admin")))
    ev = GatewayEvaluator([svc, route("r", rule(backends=to("reviews-v2")), port=9080)])
    assert names(ev.evaluate(req("/"))) == ["reviews-v2"]
    other = ev.evaluate(req("/", service=ServiceKey(NS, "reviews", 9090)))
    assert other.rule is None and names(other) == ["reviews"]
    assert ev.services() == [REVIEWS]


def test_port_less_parent_ref_attaches_to_every_service_port() -> None:
    svc = service(ports=((9080, "http"), (9090, "admin")))
    ev = GatewayEvaluator([svc, route("r", rule(backends=to("reviews-v2")), port=None)])
    assert ev.services() == [REVIEWS, ServiceKey(NS, "reviews", 9090)]
    assert names(ev.evaluate(req("/", service=ServiceKey(NS, "reviews", 9090)))) == ["reviews-v2"]


def test_port_less_parent_ref_to_unknown_service_lists_port_80_and_matches_any() -> None:
    ev = GatewayEvaluator([route("r", rule(backends=to("reviews-v2")), port=None)])
    assert ev.services() == [ServiceKey(NS, "reviews", 80)]
    assert names(ev.evaluate(req("/", service=ServiceKey(NS, "reviews", 8080)))) == ["reviews-v2"]


def test_section_name_is_the_port_name() -> None:
    svc = service(ports=((9080, "http"), (9090, "admin")))
    r = route("r", rule(backends=to("reviews-v2")), port=None)
    r["spec"]["parentRefs"][0]["sectionName"] = "admin"
    ev = GatewayEvaluator([svc, r])
    assert ev.services() == [ServiceKey(NS, "reviews", 9090)]


def test_parent_ref_without_core_group_does_not_attach() -> None:
    r = route("r", rule(backends=to("reviews-v2")))
    del r["spec"]["parentRefs"][0]["group"]  # defaults to gateway.networking.k8s.io
    ev = GatewayEvaluator([r])
    assert ev.services() == []
    assert ev.evaluate(req("/")).rule is None
    assert any("lacks group" in p for p in ev.problems)


def test_headless_service_cannot_be_a_parent() -> None:
    ev = GatewayEvaluator([service(clusterIP="None"), route("r", rule())])
    assert ev.services() == [] and any("ClusterIP" in p for p in ev.problems)


@pytest.mark.parametrize("version", ["v1", "v1beta1"])
def test_api_versions_accepted(version: str) -> None:
    ev = GatewayEvaluator([route("r", rule(backends=to("reviews-v2")), version=version)])
    assert names(ev.evaluate(req())) == ["reviews-v2"]


# --------------------------------------------------------------------------- producer/consumer


def _producer_consumer() -> GatewayEvaluator:
    producer = route("producer", rule(backends=to("reviews-v1")))
    consumer = route("consumer", rule(prefix("/api"), backends=to("reviews-v2")),
                     ns="frontend", parent_ns=NS)
    return GatewayEvaluator([service(), producer, consumer])


def test_consumer_route_applies_only_in_its_namespace() -> None:
    ev = _producer_consumer()
    assert names(ev.evaluate(req("/api", client_namespace="frontend"))) == ["reviews-v2"]
    assert names(ev.evaluate(req("/api", client_namespace="other"))) == ["reviews-v1"]
    assert names(ev.evaluate(req("/api", client_namespace=NS))) == ["reviews-v1"]


def test_consumer_namespace_does_not_fall_back_to_producer_routes() -> None:
    ev = _producer_consumer()
    assert ev.evaluate(req("/else", client_namespace="frontend")).status == 404
    assert ev.evaluate(req("/else", client_namespace="other")).status == 200


def test_consumer_route_on_other_port_leaves_producer_routes() -> None:
    svc = service(ports=((9080, "http"), (9090, "admin")))
    producer = route("producer", rule(backends=to("reviews-v1")), port=None)
    consumer = route("consumer", rule(backends=to("reviews-v2")), ns="frontend",
                     parent_ns=NS, port=9090)
    ev = GatewayEvaluator([svc, producer, consumer])
    assert names(ev.evaluate(req(client_namespace="frontend"))) == ["reviews-v1"]
    at_9090 = req(client_namespace="frontend", service=ServiceKey(NS, "reviews", 9090))
    assert names(ev.evaluate(at_9090)) == ["reviews-v2"]


# --------------------------------------------------------------------------- precedence


def _two(first: dict[str, Any], second: dict[str, Any], **kw: Any) -> GatewayEvaluator:
    """Rule ``first`` → v1, rule ``second`` → v2, in one route, first listed first."""
    return GatewayEvaluator([route("r", rule(first, backends=to("v1")),
                                   rule(second, backends=to("v2")))], **kw)


def test_exact_beats_prefix_listed_earlier() -> None:
    ev = _two(prefix("/foo"), exact("/foo"))
    assert names(ev.evaluate(req("/foo"))) == ["v2"]
    assert names(ev.evaluate(req("/foo/x"))) == ["v1"]


def test_longest_prefix_wins() -> None:
    ev = _two(prefix("/foo"), prefix("/foo/bar"))
    assert names(ev.evaluate(req("/foo/bar/baz"))) == ["v2"]
    assert names(ev.evaluate(req("/foo/baz"))) == ["v1"]


def test_prefix_length_counts_characters_as_written() -> None:
    # "/foo/" has more characters than "/foo"; both match the same paths.
    ev = _two(prefix("/foo"), prefix("/foo/"))
    assert names(ev.evaluate(req("/foo"))) == ["v2"]


def test_method_match_beats_no_method() -> None:
    ev = _two(prefix("/foo"), prefix("/foo", method="POST"))
    assert names(ev.evaluate(req("/foo", method="POST"))) == ["v2"]
    assert names(ev.evaluate(req("/foo", method="GET"))) == ["v1"]


def test_longer_prefix_beats_method() -> None:
    ev = _two(prefix("/foo/bar"), prefix("/foo", method="GET"))
    assert names(ev.evaluate(req("/foo/bar", method="GET"))) == ["v1"]


def test_more_headers_win() -> None:
    one = prefix("/", headers=[{"name": "a", "value": "1"}])
    two = prefix("/", headers=[{"name": "a", "value": "1"}, {"name": "b", "value": "2"}])
    ev = _two(one, two)
    assert names(ev.evaluate(req(headers=(("a", "1"), ("b", "2"))))) == ["v2"]
    assert names(ev.evaluate(req(headers=(("a", "1"),)))) == ["v1"]


def test_method_beats_headers() -> None:
    ev = _two(prefix("/", headers=[{"name": "a", "value": "1"}]), prefix("/", method="GET"))
    assert names(ev.evaluate(req(headers=(("a", "1"),)))) == ["v2"]


def test_more_query_params_win() -> None:
    one = prefix("/", queryParams=[{"name": "q", "value": "1"}])
    two = prefix("/", queryParams=[{"name": "q", "value": "1"}, {"name": "r", "value": "2"}])
    ev = _two(one, two)
    assert names(ev.evaluate(req(query=(("q", "1"), ("r", "2"))))) == ["v2"]
    assert names(ev.evaluate(req(query=(("q", "1"),)))) == ["v1"]


def test_headers_beat_query_params() -> None:
    ev = _two(prefix("/", queryParams=[{"name": "q", "value": "1"}]),
              prefix("/", headers=[{"name": "a", "value": "1"}]))
    assert names(ev.evaluate(req(headers=(("a", "1"),), query=(("q", "1"),)))) == ["v2"]


def test_oldest_route_wins_ties() -> None:
    newer = route("a-newer", rule(backends=to("v1")), created="2024-05-01T00:00:00Z")
    older = route("b-older", rule(backends=to("v2")), created="2023-01-01T00:00:00Z")
    assert names(GatewayEvaluator([newer, older]).evaluate(req())) == ["v2"]


def test_route_with_timestamp_beats_route_without() -> None:
    undated = route("a", rule(backends=to("v1")))
    dated = route("b", rule(backends=to("v2")), created="2030-01-01T00:00:00Z")
    assert names(GatewayEvaluator([undated, dated]).evaluate(req())) == ["v2"]


def test_namespace_name_breaks_remaining_ties() -> None:
    routes = [route("b", rule(backends=to("v2"))), route("a", rule(backends=to("v1")))]
    out = GatewayEvaluator(routes).evaluate(req())
    assert names(out) == ["v1"] and out.rule == f"{NS}/a#0"


def test_rule_order_breaks_ties_within_a_route() -> None:
    ev = _two(prefix("/x"), prefix("/x"))
    out = ev.evaluate(req("/x"))
    assert names(out) == ["v1"] and out.rule == f"{NS}/r#0"


def test_rule_name_labels_the_outcome() -> None:
    ev = GatewayEvaluator([route("r", rule(name="main"))])
    assert ev.evaluate(req()).rule == f"{NS}/r#main"


def test_regex_ranks_below_every_prefix_by_default() -> None:
    regex = {"path": {"type": "RegularExpression", "value": "/api/v[0-9]+"}}
    ev = _two(prefix("/"), regex)
    assert names(ev.evaluate(req("/api/v1"))) == ["v1"]


def test_regex_as_prefix_ranks_by_length() -> None:
    regex = {"path": {"type": "RegularExpression", "value": "/api/v[0-9]+"}}
    ev = _two(prefix("/"), regex, regex_rank=RegexRank.AS_PREFIX)
    assert names(ev.evaluate(req("/api/v1"))) == ["v2"]
    assert names(ev.evaluate(req("/api/vx"))) == ["v1"]


def test_longer_regex_wins_among_regexes() -> None:
    short = {"path": {"type": "RegularExpression", "value": "/a.*"}}
    long = {"path": {"type": "RegularExpression", "value": "/a/b.*"}}
    assert names(_two(short, long).evaluate(req("/a/bc"))) == ["v2"]


def test_precedence_across_routes_uses_match_not_route_order() -> None:
    broad = route("a", rule(prefix("/"), backends=to("v1")))
    narrow = route("z", rule(prefix("/deep/er"), backends=to("v2")))
    ev = GatewayEvaluator([broad, narrow])
    assert names(ev.evaluate(req("/deep/er/x"))) == ["v2"]
    assert names(ev.evaluate(req("/deep"))) == ["v1"]


# --------------------------------------------------------------------------- matching


def test_rule_without_matches_is_prefix_root() -> None:
    ev = GatewayEvaluator([route("r", rule())])
    assert ev.evaluate(req("/any/thing")).status == 200


def test_match_without_path_is_prefix_root() -> None:
    ev = GatewayEvaluator([route("r", rule({"headers": [{"name": "x", "value": "1"}]}))])
    assert ev.evaluate(req("/any", headers=(("x", "1"),))).status == 200
    assert ev.evaluate(req("/any")).status == 404


def test_exact_is_exact_and_case_sensitive() -> None:
    ev = GatewayEvaluator([route("r", rule(exact("/abc")))])
    assert [ev.evaluate(req(p)).status for p in ("/abc", "/abc/", "/Abc", "/abcd")] == [
        200, 404, 404, 404]


def test_regex_is_a_full_match() -> None:
    ev = GatewayEvaluator([route("r", rule({"path": {"type": "RegularExpression",
                                                      "value": "/v[0-9]"}}))])
    assert ev.evaluate(req("/v1")).status == 200
    assert ev.evaluate(req("/v1/x")).status == 404


def test_header_name_case_insensitive_value_case_sensitive() -> None:
    ev = GatewayEvaluator([route("r", rule(prefix("/", headers=[{"name": "X-Env",
                                                                 "value": "Prod"}])))])
    assert ev.evaluate(req(headers=(("x-env", "Prod"),))).status == 200
    assert ev.evaluate(req(headers=(("x-env", "prod"),))).status == 404


def test_header_regex_and_absent_header() -> None:
    m = prefix("/", headers=[{"name": "x", "type": "RegularExpression", "value": "v[12]"}])
    ev = GatewayEvaluator([route("r", rule(m))])
    assert ev.evaluate(req(headers=(("x", "v2"),))).status == 200
    assert ev.evaluate(req(headers=(("x", "v3"),))).status == 404
    assert ev.evaluate(req()).status == 404


def test_repeated_header_name_in_match_only_first_counts() -> None:
    m = prefix("/", headers=[{"name": "x", "value": "1"}, {"name": "X", "value": "2"}])
    ev = GatewayEvaluator([route("r", rule(m))])
    assert ev.evaluate(req(headers=(("x", "1"),))).status == 200
    assert ev.evaluate(req(headers=(("x", "2"),))).status == 404


def test_host_header_match_uses_request_host() -> None:
    m = prefix("/", headers=[{"name": "Host", "value": "reviews"}])
    ev = GatewayEvaluator([route("r", rule(m))])
    assert ev.evaluate(req()).status == 200
    assert ev.evaluate(req(headers=(("host", "other"),))).status == 404


def test_query_param_names_are_case_sensitive() -> None:
    m = prefix("/", queryParams=[{"name": "Q", "value": "1"},
                                 {"name": "r", "type": "RegularExpression", "value": "[a-c]+"}])
    ev = GatewayEvaluator([route("r", rule(m))])
    assert ev.evaluate(req(query=(("Q", "1"), ("r", "abc")))).status == 200
    assert ev.evaluate(req(query=(("q", "1"), ("r", "abc")))).status == 404
    assert ev.evaluate(req(query=(("Q", "1"), ("r", "abd")))).status == 404


def test_matches_of_a_rule_are_ored() -> None:
    ev = GatewayEvaluator([route("r", rule(exact("/a"), exact("/b")))])
    assert [ev.evaluate(req(p)).status for p in ("/a", "/b", "/c")] == [200, 200, 404]


# --------------------------------------------------------------------------- filters


def _filtered(*filters: dict[str, Any], path_match: dict[str, Any] | None = None,
              backends: Any = None) -> GatewayEvaluator:
    matches = (path_match,) if path_match else ()
    return GatewayEvaluator([route("r", rule(*matches, filters=list(filters),
                                             backends=backends))])


def test_request_header_modifier_set_add_remove() -> None:
    mod = {"type": "RequestHeaderModifier", "requestHeaderModifier": {
        "set": [{"name": "X-Set", "value": "new"}],
        "add": [{"name": "X-Add", "value": "bar,baz"}, {"name": "x-fresh", "value": "1"}],
        "remove": ["X-Gone"]}}
    out = _filtered(mod).evaluate(req(headers=(("x-set", "old"), ("x-add", "foo"),
                                               ("x-gone", "1"), ("x-keep", "k"))))
    assert dict(out.request_headers) == {"x-set": "new", "x-add": "foo,bar,baz",
                                         "x-fresh": "1", "x-keep": "k"}


def test_request_headers_exclude_host_and_join_repeats() -> None:
    out = _filtered().evaluate(req(headers=(("host", "reviews.bookinfo"), ("a", "1"),
                                            ("a", "2"))))
    assert dict(out.request_headers) == {"a": "1,2"} and out.host == "reviews.bookinfo"


def test_setting_host_header_rewrites_host() -> None:
    mod = {"type": "RequestHeaderModifier",
           "requestHeaderModifier": {"set": [{"name": "Host", "value": "x.example"}]}}
    out = _filtered(mod).evaluate(req())
    assert out.host == "x.example" and "host" not in dict(out.request_headers)


def test_response_header_modifier_starts_empty() -> None:
    mod = {"type": "ResponseHeaderModifier", "responseHeaderModifier": {
        "set": [{"name": "X-A", "value": "1"}], "add": [{"name": "x-b", "value": "2"}]}}
    out = _filtered(mod).evaluate(req(headers=(("x-a", "req"),)))
    assert dict(out.response_headers) == {"x-a": "1", "x-b": "2"}
    assert dict(out.request_headers) == {"x-a": "req"}


def test_url_rewrite_hostname_and_full_path() -> None:
    rw = {"type": "URLRewrite", "urlRewrite": {
        "hostname": "new.example", "path": {"type": "ReplaceFullPath", "replaceFullPath": "/z"}}}
    out = _filtered(rw, path_match=prefix("/a")).evaluate(req("/a/b", query=(("q", "1"),)))
    assert (out.host, out.path) == ("new.example", "/z")


def test_backend_level_filters_apply_when_uniform() -> None:
    mod = {"type": "RequestHeaderModifier",
           "requestHeaderModifier": {"set": [{"name": "x-b", "value": "1"}]}}
    ev = _filtered(backends=[backend("v1", filters=[mod])])
    assert dict(ev.evaluate(req()).request_headers) == {"x-b": "1"}
    mixed = _filtered(backends=[backend("v1", filters=[mod]), backend("v2")])
    out = mixed.evaluate(req())
    assert dict(out.request_headers) == {} and any("differ" in n for n in out.notes)


# --------------------------------------------------------------------------- redirects


def _redirect(service_port: int = 9080, query: tuple[tuple[str, str], ...] = (),
              **spec: Any) -> tuple[int, str]:
    f = {"type": "RequestRedirect", "requestRedirect": spec}
    ev = GatewayEvaluator([route("r", rule(prefix("/old"), filters=[f], backends=[]),
                                 port=None)])
    out = ev.evaluate(req("/old/page", service=ServiceKey(NS, "reviews", service_port),
                          query=query))
    assert out.redirect is not None and out.status == out.redirect.status
    assert out.backends == () and out.path is None
    return out.status, out.redirect.location


@pytest.mark.parametrize(
    ("spec", "service_port", "expected"),
    [
        ({}, 9080, (302, "http://reviews:9080/old/page")),
        ({}, 80, (302, "http://reviews/old/page")),
        ({"statusCode": 301}, 80, (301, "http://reviews/old/page")),
        ({"scheme": "https"}, 9080, (302, "https://reviews/old/page")),
        ({"scheme": "https", "port": 8443}, 80, (302, "https://reviews:8443/old/page")),
        ({"scheme": "https", "port": 443}, 80, (302, "https://reviews/old/page")),
        ({"scheme": "http"}, 9080, (302, "http://reviews/old/page")),
        ({"scheme": "https", "port": 80}, 80, (302, "https://reviews:80/old/page")),
        ({"port": 8080}, 80, (302, "http://reviews:8080/old/page")),
        ({"hostname": "x.example"}, 80, (302, "http://x.example/old/page")),
        ({"path": {"type": "ReplaceFullPath", "replaceFullPath": "/new"}}, 80,
         (302, "http://reviews/new")),
        ({"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/new"}}, 80,
         (302, "http://reviews/new/page")),
    ],
)
def test_redirect_location(spec: dict[str, Any], service_port: int,
                           expected: tuple[int, str]) -> None:
    assert _redirect(service_port, **spec) == expected


def test_redirect_keeps_query() -> None:
    _, location = _redirect(80, query=(("a", "1"), ("b", "2")), scheme="https")
    assert location == "https://reviews/old/page?a=1&b=2"


def test_redirect_uses_host_header_without_port() -> None:
    f = {"type": "RequestRedirect", "requestRedirect": {"scheme": "https"}}
    ev = GatewayEvaluator([route("r", rule(filters=[f], backends=[]))])
    out = ev.evaluate(req("/p", headers=(("host", "reviews.bookinfo:9080"),)))
    assert out.redirect is not None and out.redirect.location == "https://reviews.bookinfo/p"


def test_redirect_with_backend_refs_is_rejected() -> None:
    f = {"type": "RequestRedirect", "requestRedirect": {"scheme": "https"}}
    ev = GatewayEvaluator([route("r", rule(filters=[f]), rule(prefix("/ok")))])
    assert ev.evaluate(req("/x")).status == 404  # the redirect rule was dropped
    assert ev.evaluate(req("/ok")).status == 200
    assert any("backendRefs" in p for p in ev.problems)


def test_replace_prefix_match_needs_one_prefix_match() -> None:
    rw = {"type": "URLRewrite", "urlRewrite": {"path": {
        "type": "ReplacePrefixMatch", "replacePrefixMatch": "/x"}}}
    ev = GatewayEvaluator([route("r", rule(exact("/a"), filters=[rw]))])
    assert ev.services() == [] and any("ReplacePrefixMatch" in p for p in ev.problems)


# --------------------------------------------------------------------------- backends


def test_weights_and_zero_weight() -> None:
    refs = [backend("v1", weight=3), backend("v2", weight=1), backend("v3", weight=0)]
    out = _filtered(backends=refs).evaluate(req())
    assert out.status == 200
    assert {b.name: b.weight for b in out.backends} == {"v1": 3, "v2": 1, "v3": 0}
    assert names(out) == ["v1", "v2"]


def test_default_weight_and_namespace() -> None:
    out = _filtered(backends=[backend("v1"), backend("v2", namespace="other")]).evaluate(req())
    assert out.backends == (Backend(NS, "v1", 9080, 1), Backend("other", "v2", 9080, 1))


def test_all_zero_weights_is_500() -> None:
    assert _filtered(backends=[backend("v1", weight=0)]).evaluate(req()).status == 500


def test_no_backend_refs_is_500() -> None:
    out = _filtered(backends=[]).evaluate(req())
    assert out.status == 500 and out.rule == f"{NS}/r#0"


def test_backend_without_port_is_invalid() -> None:
    assert _filtered(backends=[backend("v1", port=None)]).evaluate(req()).status == 500


def test_partly_invalid_backends_keep_valid_share_and_note_the_rest() -> None:
    out = _filtered(backends=[backend("v1"), backend("v2", port=None)]).evaluate(req())
    assert out.status == 200 and names(out) == ["v1"]
    assert any("1/2" in n for n in out.notes)


def test_missing_service_valid_unless_strict() -> None:
    objs = [service(), route("r", rule(backends=to("ghost")))]
    assert GatewayEvaluator(objs).evaluate(req()).status == 200
    assert GatewayEvaluator(objs, strict_backends=True).evaluate(req()).status == 500


def test_backend_port_must_exist_on_known_service() -> None:
    objs = [service("v1"), route("r", rule(backends=[backend("v1", port=1234)]))]
    assert GatewayEvaluator(objs).evaluate(req()).status == 500


def test_non_service_backend_kind_is_invalid() -> None:
    ref = backend("x", kind="ServiceImport", group="multicluster.x-k8s.io")
    assert _filtered(backends=[ref]).evaluate(req()).status == 500


# --------------------------------------------------------------------------- mirrors


def test_mirrors_percent_fraction_default_and_repeat() -> None:
    def mirror(name: str, **extra: Any) -> dict[str, Any]:
        return {"type": "RequestMirror",
                "requestMirror": {"backendRef": backend(name), **extra}}

    out = _filtered(mirror("m1"), mirror("m2", percent=25),
                    mirror("m3", fraction={"numerator": 5, "denominator": 1000}),
                    mirror("m4", fraction={"numerator": 1})).evaluate(req())
    assert out.mirrors == (Mirror(NS, "m1", 9080, 100.0), Mirror(NS, "m2", 9080, 25.0),
                           Mirror(NS, "m3", 9080, 0.5), Mirror(NS, "m4", 9080, 1.0))


def test_invalid_mirror_is_dropped() -> None:
    f = {"type": "RequestMirror", "requestMirror": {"backendRef": backend("m", port=None)}}
    out = _filtered(f).evaluate(req())
    assert out.status == 200 and out.mirrors == () and out.notes


# --------------------------------------------------------------------------- timeouts, retry


def test_timeouts_are_canonical_and_zero_disables() -> None:
    ev = GatewayEvaluator([route("r", rule(exact("/a"), timeouts={"request": "90s"}),
                                 rule(exact("/b"), timeouts={"request": "0s"}))])
    assert ev.evaluate(req("/a")).timeout == "1m30s"
    assert ev.evaluate(req("/b")).timeout is None


def test_retry_and_backend_request_timeout() -> None:
    r = rule(retry={"attempts": 2, "codes": [503, 500], "backoff": "100ms"},
             timeouts={"request": "10s", "backendRequest": "2s"})
    out = GatewayEvaluator([route("r", r)]).evaluate(req())
    assert out.retry == Retry(2, (500, 503), per_try_timeout="2s", backoff="100ms")
    assert out.timeout == "10s"


def test_backend_request_without_retry_is_zero_attempts() -> None:
    out = GatewayEvaluator([route("r", rule(timeouts={"backendRequest": "1500ms"}))]).evaluate(
        req())
    assert out.retry == Retry(0, per_try_timeout="1s500ms")


def test_invalid_duration_drops_rule() -> None:
    ev = GatewayEvaluator([route("r", rule(timeouts={"request": "soon"}))])
    assert ev.services() == [] and ev.problems


# --------------------------------------------------------------------------- GRPCRoute, TCPRoute


def _grpc(service: str | None, method: str | None, to_name: str,
          kind: str = "Exact") -> dict[str, Any]:
    m: dict[str, Any] = {"type": kind}
    if service:
        m["service"] = service
    if method:
        m["method"] = method
    return rule({"method": m}, backends=to(to_name))


def test_grpc_route_beats_http_route_on_same_port() -> None:
    grpc = route("g", _grpc("pkg.Svc", None, "grpc-v2"), kind="GRPCRoute")
    http = route("h", rule(backends=to("http-v1")), created="2000-01-01T00:00:00Z")
    ev = GatewayEvaluator([http, grpc])
    out = ev.evaluate(req("/pkg.Svc/Get", protocol="grpc"))
    assert names(out) == ["grpc-v2"]
    assert any("HTTPRoute" in n and "ignored" in n for n in out.notes)
    assert ev.evaluate(req("/other", protocol="grpc")).status == 404


def test_grpc_precedence_service_then_method_chars() -> None:
    ev = GatewayEvaluator([route("g", _grpc("pkg.Svc", None, "svc-only"),
                                 _grpc("pkg.Svc", "Get", "svc-method"),
                                 _grpc(None, "Get", "method-only"), kind="GRPCRoute")])
    assert names(ev.evaluate(req("/pkg.Svc/Get"))) == ["svc-method"]
    assert names(ev.evaluate(req("/pkg.Svc/Put"))) == ["svc-only"]
    assert names(ev.evaluate(req("/other.Svc/Get"))) == ["method-only"]
    assert ev.evaluate(req("/other.Svc/Put")).status == 404


def test_grpc_regex_method_match() -> None:
    ev = GatewayEvaluator([route("g", _grpc("pkg\\.S.*", "Get|List", "rx",
                                            kind="RegularExpression"), kind="GRPCRoute")])
    assert names(ev.evaluate(req("/pkg.Svc/List"))) == ["rx"]
    assert ev.evaluate(req("/pkg.Svc/Put")).status == 404


def test_grpc_route_rejects_http_only_filters() -> None:
    rw = {"type": "URLRewrite", "urlRewrite": {"hostname": "x"}}
    ev = GatewayEvaluator([route("g", rule(filters=[rw]), kind="GRPCRoute")])
    assert ev.services() == []


def test_tcp_route_uses_first_rule_backends() -> None:
    tcp = route("t", rule(backends=[backend("db-v1", weight=9), backend("db-v2", weight=1)]),
                rule(backends=to("never")), kind="TCPRoute", version="v1alpha2")
    out = GatewayEvaluator([tcp]).evaluate(req(protocol="tcp"))
    assert out.status == 200 and names(out) == ["db-v1", "db-v2"]
    assert {b.name: b.weight for b in out.backends} == {"db-v1": 9, "db-v2": 1}


def test_http_route_beats_tcp_route() -> None:
    tcp = route("t", rule(backends=to("tcp")), kind="TCPRoute", version="v1alpha2")
    http = route("h", rule(backends=to("http")))
    assert names(GatewayEvaluator([tcp, http]).evaluate(req())) == ["http"]


# --------------------------------------------------------------------------- atoms


def test_atoms_collect_conditions_of_every_attached_route() -> None:
    m = {"path": {"type": "PathPrefix", "value": "/api"}, "method": "GET",
         "headers": [{"name": "X-V", "value": "2"}],
         "queryParams": [{"name": "q", "type": "RegularExpression", "value": "a+"}]}
    consumer = route("c", rule(exact("/c")), ns="frontend", parent_ns=NS)
    ev = GatewayEvaluator([route("r", rule(m)), consumer])
    atoms = ev.atoms(REVIEWS)
    assert atoms.paths == {PathAtom("segment_prefix", "/api"), PathAtom("exact", "/c")}
    assert atoms.headers == {HeaderAtom("x-v", "exact", "2")}
    assert atoms.queries == {QueryAtom("q", "regex", "a+")}
    assert atoms.methods == {"GET"} and not atoms.grpc


def test_atoms_of_grpc_route() -> None:
    ev = GatewayEvaluator([route("g", _grpc("pkg.Svc", "Get", "x"), kind="GRPCRoute")])
    atoms = ev.atoms(REVIEWS)
    assert atoms.grpc and atoms.paths == {PathAtom("exact", "/pkg.Svc/Get")}


def test_outcome_json_shape() -> None:
    out = GatewayEvaluator([route("r", rule())]).evaluate(req("/p"))
    data = out.to_json()
    assert data["rule"] == f"{NS}/r#0" and data["backends"][0]["name"] == "reviews-v1"
    assert data["redirect"] is None and data["timeout"] is None



# --------------------------------------------------------------------------- parsed once
#
# An HTTPRouteMatch written with plain strings is parsed once per evaluator process (meshes
# repeat their matches); any other shape is parsed as written. Both must read the same.

_PLAIN_MATCHES: list[dict[str, Any]] = [
    {},
    {"path": None},
    {"path": {"type": "Exact", "value": "/a"}},
    {"path": {"value": "/p/"}},
    {"path": {"type": "", "value": "/p"}},
    {"path": {"type": "RegularExpression", "value": "/r[0-9]+"}, "method": ""},
    {"path": {"type": "PathPrefix"}, "method": "GET",
     "headers": [{"name": "X-A", "value": "1"}, {"name": "x-a", "value": "2"},
                 {"name": "x-b", "type": "RegularExpression", "value": "b.*"}],
     "queryParams": [{"name": "Q", "type": None, "value": "v"}]},
]


@pytest.mark.parametrize("raw", _PLAIN_MATCHES)
@pytest.mark.parametrize("rank", list(RegexRank))
def test_cached_match_reads_like_the_match_as_written(raw: dict[str, Any],
                                                      rank: RegexRank) -> None:
    key = gateway._http_match_key(raw)
    assert key is not None
    below = rank is RegexRank.BELOW_PREFIX
    cached = gateway._cached_http_match(key, below)
    assert cached == gateway._http_match(raw, rank)
    assert (cached.order, cached.simple, cached.needs_headers) == (
        tuple(-r for r in cached.rank), not (raw.get("method") or raw.get("headers")
                                             or raw.get("queryParams")),
        bool(raw.get("headers")))
    assert gateway._cached_http_match(key, below) is cached


@pytest.mark.parametrize("raw", [
    {"path": "/a"},
    {"path": {"type": "Exact", "value": 7}},
    {"path": {"type": "Exact", "value": "/a"}, "method": 1},
    {"headers": {"name": "x", "value": "1"}},
    {"headers": [{"name": "x", "value": 1}]},
    {"headers": [["x", "1"]]},
    {"queryParams": [{"name": True, "value": "1"}]},
])
def test_matches_not_written_with_plain_strings_are_parsed_as_written(
        raw: dict[str, Any]) -> None:
    assert gateway._http_match_key(raw) is None


def test_non_string_values_read_as_their_text() -> None:
    as_int = GatewayEvaluator([route("r", rule({"path": {"type": "Exact", "value": "/a"},
                                                 "headers": [{"name": "x", "value": 1}]}))])
    as_text = GatewayEvaluator([route("r", rule(exact("/a", headers=[
        {"name": "x", "value": "1"}])))])
    request = req("/a", headers=(("x", "1"),))
    assert as_int.evaluate(request) == as_text.evaluate(request)
    assert as_int.evaluate(request).status == 200


def test_an_invalid_match_is_rejected_every_time() -> None:
    bad = route("r", rule({"path": {"type": "Regex", "value": "/a"}}))
    for _ in range(2):
        ev = GatewayEvaluator([bad])
        assert ev.services() == [] and any("unsupported match type" in p for p in ev.problems)

# --------------------------------------------------------------------------- compiled views
#
# GatewayEvaluator.evaluate compiles each view (path conditions indexed, each candidate's
# action worked out once, per-port memos); evaluate_plain is the definition it must agree
# with, notes included, whatever the order of the requests.


@pytest.mark.parametrize(("pattern", "path", "expected"), [
    ("/ab?c", "/ac", True),          # a quantifier makes the last literal optional
    ("/ab*c", "/ac", True),
    ("/ab{0,1}c", "/ac", True),
    ("/a|/b", "/b", True),           # an alternation has no common head
    ("(?i)/ABC", "/abc", True),      # a leading flag group
    (r"/a\.b", "/a.b", True),
    (r"/a\.b", "/axb", False),
    ("/abc", "/abd", False),
])
def test_regex_paths_with_tricky_heads(pattern: str, path: str, expected: bool) -> None:
    match = {"path": {"type": "RegularExpression", "value": pattern}}
    ev = GatewayEvaluator([route("r", rule(match))])
    assert (ev.evaluate(req(path)).status == 200) is expected
    assert ev.evaluate(req(path)) == ev.evaluate_plain(req(path))


@pytest.mark.parametrize(("stem", "path", "expected"), [
    ("/a/b", "/a/b", True), ("/a/b", "/a/b/c", True), ("/a/b", "/a/bc", False),
    ("/a/b/", "/a/b", True), ("/a", "/a", True), ("/a", "/ab", False),
    ("//x", "//x/y", True), ("//x", "/x", False), ("a", "a/b", True),
])
def test_path_prefix_index(stem: str, path: str, expected: bool) -> None:
    ev = GatewayEvaluator([route("r", rule(prefix(stem)))])
    assert (ev.evaluate(req(path)).status == 200) is expected


def test_filters_in_order_host_and_path() -> None:
    """The last Host change wins (URLRewrite hostname or a modifier setting host); rule
    then backend URLRewrite paths apply in turn."""
    set_host = {"type": "RequestHeaderModifier", "requestHeaderModifier": {
        "set": [{"name": "Host", "value": "by-modifier"}, {"name": "x-a", "value": "1"}],
        "remove": ["host"]}}
    add = {"type": "RequestHeaderModifier", "requestHeaderModifier": {
        "add": [{"name": "X-A", "value": "2"}]}}
    rewrite = {"type": "URLRewrite", "urlRewrite": {"hostname": "by-rewrite", "path": {
        "type": "ReplacePrefixMatch", "replacePrefixMatch": "/a/b"}}}
    again = {"type": "URLRewrite", "urlRewrite": {"path": {
        "type": "ReplacePrefixMatch", "replacePrefixMatch": "/c"}}}
    ev = GatewayEvaluator([route("r", rule(prefix("/a"), filters=[rewrite, set_host],
                                           backends=[backend("v1", filters=[again, add])]))])
    out = ev.evaluate(req("/a/x"))
    assert (out.host, out.path) == ("by-modifier", "/c/b/x")  # /a/x -> /a/b/x -> /c/b/x
    assert out.request_headers == (("x-a", "1,2"),)
    assert out.notes == ("RequestHeaderModifier cannot remove host; ignored",)
    assert out == ev.evaluate_plain(req("/a/x")) and out.notes == ev.evaluate_plain(
        req("/a/x")).notes


def test_one_evaluator_many_requests_same_path() -> None:
    """Per-port memos: requests that share a path but not headers, method or client."""
    get = rule(prefix("/a", method="GET"), backends=to("get"), filters=[
        {"type": "URLRewrite", "urlRewrite": {"path": {
            "type": "ReplacePrefixMatch", "replacePrefixMatch": "/z"}}}])
    ev = GatewayEvaluator([route("r", get, rule(backends=to("other"))),
                           route("c", rule(backends=to("theirs")), ns="team",
                                 parent_ns=NS)])
    seq = [req("/a/1"), req("/a/1", method="POST"), req("/a/1", headers=(("host", "h"),)),
           req("/a/1", client_namespace="team"), req("/a/1"),
           req("/a/1", headers=(("x", "1"),))]
    got = [ev.evaluate(r) for r in seq]
    assert [names(o) for o in got] == [["get"], ["other"], ["get"], ["theirs"], ["get"],
                                       ["get"]]
    assert [o.host for o in got] == ["reviews", "reviews", "h", "reviews", "reviews",
                                     "reviews"]
    assert got[0].path == "/z/1" and got[1].path == "/a/1"
    assert got[5].request_headers == (("x", "1"),)
    assert got == [ev.evaluate_plain(r) for r in seq]


_PATHS = ("/", "/a", "/a/", "/ab", "/a/b", "/A/b", "/b", "/api/v1", "//a", "/a/M", "/a.B/N1")
_VALUES = ("1", "12", "a", "reviews")


def _path(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["Exact", "PathPrefix", "RegularExpression"]))
    values = ("/a.*", "/a/[0-9]+", "/(a|b)/.*", "/ab?", ".*") if kind == "RegularExpression" \
        else ("/", "/a", "/a/", "/ab", "/A")
    return {"type": kind, "value": draw(st.sampled_from(values))}


def _conds(draw: st.DrawFn, names: tuple[str, ...]) -> list[dict[str, str]]:
    return [{"name": draw(st.sampled_from(names)),
             "type": draw(st.sampled_from(["Exact", "RegularExpression"])),
             "value": draw(st.sampled_from((*_VALUES, "[0-9]+")))}
            for _ in range(draw(st.integers(0, 2)))]


@st.composite
def _http_match(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        out["path"] = _path(draw)
    if draw(st.integers(0, 3)) == 0:
        out["method"] = draw(st.sampled_from(["GET", "POST"]))
    headers, queries = _conds(draw, ("x-h", "X-H", "host")), _conds(draw, ("q", "Q"))
    if headers:
        out["headers"] = headers
    if queries:
        out["queryParams"] = queries
    return out


def _filters(draw: st.DrawFn, prefix_only: bool) -> list[dict[str, Any]]:
    pairs = [{"name": draw(st.sampled_from(["x-h", "X-A", "host"])), "value": "v"}
             for _ in range(draw(st.integers(0, 2)))]
    options: list[dict[str, Any]] = [
        {"type": "RequestHeaderModifier", "requestHeaderModifier": {
            "set": pairs, "add": pairs[:1], "remove": draw(st.sampled_from([[], ["x-h"],
                                                                             ["host"]]))}},
        {"type": "ResponseHeaderModifier", "responseHeaderModifier": {"add": pairs}},
        {"type": "RequestMirror", "requestMirror": {"backendRef": backend("m"),
                                                    "percent": 50}},
        {"type": "URLRewrite", "urlRewrite": {
            "hostname": draw(st.sampled_from([None, "rw"])),
            "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/z"} if prefix_only
            else {"type": "ReplaceFullPath", "replaceFullPath": "/full"}}},
        {"type": "RequestRedirect", "requestRedirect": {"port": 8080}},
    ]
    chosen = draw(st.lists(st.sampled_from(range(len(options))), max_size=2, unique=True))
    return [options[i] for i in chosen]


@st.composite
def _grpc_match(draw: st.DrawFn) -> dict[str, Any]:
    method = {key: draw(st.sampled_from(values)) for key, values in (
        ("type", ("Exact", "RegularExpression")), ("service", ("a", "a.B", "")),
        ("method", ("M", "N.*", ""))) if draw(st.booleans())}
    headers = _conds(draw, ("x-h", "host"))
    return {"method": method, **({"headers": headers} if headers else {})}


@st.composite
def _http_rule(draw: st.DrawFn, grpc: bool = False) -> dict[str, Any]:
    matches = draw(st.lists(_grpc_match() if grpc else _http_match(), min_size=0, max_size=2))
    prefix_only = len(matches) == 1 and matches[0].get("path", {}).get("type") == "PathPrefix"
    filters = [f for f in _filters(draw, prefix_only) if not grpc or f["type"] in (
        "RequestHeaderModifier", "ResponseHeaderModifier", "RequestMirror")]
    refs = [] if any(f["type"] == "RequestRedirect" for f in filters) else [
        backend(draw(st.sampled_from(["v1", "v2"])), draw(st.sampled_from([9080, None])),
                weight=draw(st.integers(0, 2)),
                **({"filters": _filters(draw, prefix_only)} if draw(st.booleans()) else {}))
        for _ in range(draw(st.integers(0, 2)))]
    return rule(*matches, backends=refs, filters=filters,
                **({"timeouts": {"request": "2s"}} if draw(st.booleans()) else {}))


@st.composite
def _route(draw: st.DrawFn, index: int) -> dict[str, Any]:
    kind = draw(st.sampled_from(["HTTPRoute", "HTTPRoute", "GRPCRoute"]))
    return route(f"r{index}", *draw(st.lists(_http_rule(kind == "GRPCRoute"), min_size=1,
                                             max_size=3)),
                 ns=draw(st.sampled_from([NS, NS, "team"])), parent_ns=NS, kind=kind,
                 port=draw(st.sampled_from([9080, None])))


@st.composite
def _routes(draw: st.DrawFn) -> list[dict[str, Any]]:
    return [draw(_route(i)) for i in range(draw(st.integers(1, 3)))]


@st.composite
def _request(draw: st.DrawFn) -> Request:
    pair = st.tuples(st.sampled_from(("x-h", "X-H", "host", "x-a")), st.sampled_from(_VALUES))
    return req(draw(st.sampled_from(_PATHS)),
               service=draw(st.sampled_from([REVIEWS, REVIEWS, ServiceKey(NS, "reviews", 80)])),
               method=draw(st.sampled_from(("GET", "POST"))),
               headers=tuple(draw(st.lists(pair, max_size=3))),
               query=tuple(draw(st.lists(st.tuples(st.sampled_from(("q", "Q")),
                                                   st.sampled_from(_VALUES)), max_size=2))),
               client_namespace=draw(st.sampled_from((NS, "team", "other"))))


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(routes=_routes(), requests=st.lists(_request(), min_size=1, max_size=25))
def test_compiled_evaluation_equals_the_plain_definition(routes: list[dict[str, Any]],
                                                         requests: list[Request]) -> None:
    ev = GatewayEvaluator(routes)
    for request in requests * 2:  # the second round meets the memos
        got, want = ev.evaluate(request), ev.evaluate_plain(request)
        assert repr(got) == repr(want), request  # repr: notes included


def _bench_module(name: str) -> ModuleType:
    root = Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location(f"bench_{name}", root / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_mesh_compiled_views_equal_the_plain_definitions() -> None:
    """Both evaluators on a generated mesh (bench/generate.py) and its conversion, with the
    witness requests verify sends, in verify's order."""
    gen, bench = _bench_module("generate"), _bench_module("bench_eval")
    text = io.StringIO()
    gen.write_all(gen.mesh(12, 3), text)
    result = convert_documents(list(parse_stream(text.getvalue(), "mesh.yaml")),
                               ConvertOptions(verify=False))
    objects = [*result.objects, *missing_services(result.model, result.objects)]
    source, target = SourceEvaluator(result.model), GatewayEvaluator(objects)
    requests = bench.requests_for(source, target)
    assert len(requests) > 1000
    for request in requests:
        assert repr(source.evaluate(request)) == repr(source.evaluate_plain(request))
        assert repr(target.evaluate(request)) == repr(target.evaluate_plain(request))


# --------------------------------------------------------------------------- compiled views


def _regex_heavy_routes() -> list[dict[str, Any]]:
    """Regexes interleaved with Exact and PathPrefix matches, some with conditions besides
    the path, over two routes (so the compiled view's regex cut-off is exercised)."""
    regex = {"type": "RegularExpression"}
    return [
        route("r1",
              rule({"path": {**regex, "value": "/a/[0-9]+"}, "method": "POST"},
                   backends=[backend("post-num")]),
              rule({"path": {**regex, "value": "/a/.*"}}, backends=[backend("a-any")]),
              rule(exact("/a/1", headers=[{"name": "x-h", "value": "1"}]),
                   backends=[backend("exact-h")]),
              rule(prefix("/a/"), backends=[backend("a-prefix")]),
              rule({"path": {**regex, "value": ".*"}}, backends=[backend("all")])),
        route("r2",
              rule({"path": {**regex, "value": "/a/1"}, "queryParams": [
                  {"name": "q", "value": "1"}]}, backends=[backend("query")]),
              rule({"path": {**regex, "value": "/(a|b)/.*"}}, backends=[backend("ab")]),
              rule(prefix("/b"), backends=[backend("b-prefix")])),
    ]


@pytest.mark.parametrize("rank", list(RegexRank))
def test_compiled_view_tries_regexes_only_until_a_path_only_match(rank: RegexRank) -> None:
    ev = GatewayEvaluator(_regex_heavy_routes(), regex_rank=rank)
    requests = [req(path, method=method, headers=headers, query=query)
                for path in ("/", "/a", "/a/", "/a/1", "/a/12", "/a/x", "/b", "/b/1", "/c")
                for method in ("GET", "POST")
                for headers in ((), (("x-h", "1"),))
                for query in ((), (("q", "1"),))]
    for request in requests * 2:  # the second round meets the memos
        assert repr(ev.evaluate(request)) == repr(ev.evaluate_plain(request)), request
    plan = ev._plan(REVIEWS, NS)
    assert isinstance(plan, gateway._HttpPlan)
    for path in ("/", "/a/1", "/a/12", "/a/x", "/b/1", "/c"):
        # the definition: every position the path satisfies, up to the first path-only one
        everything = [pos for pos, match in enumerate(plan.matches) if match.path.test(path)]
        cut = next((i for i, pos in enumerate(everything) if plan.matches[pos].simple),
                   len(everything) - 1)
        assert plan.selected(path) == tuple(everything[:cut + 1]), path


def test_backend_refs_read_alike_are_shared_and_others_are_not_conflated() -> None:
    refs = [backend("v1"), backend("v1", weight=2), backend("v1", namespace=NS),
            {"name": 1, "port": 9080}, {"name": True, "port": 9080},
            {"name": "v1", "port": 9080, "weight": True}, {"name": "v1", "port": 9080.0},
            {"name": "v1", "port": 9080, "group": "core"},
            {"name": "v1", "port": 9080, "kind": "ServiceImport"},
            {"name": "v1", "port": 9080, "namespace": "other"}]
    routes = [route("r", *(rule(exact(f"/{i}"), backends=[ref]) for i, ref in enumerate(refs)))]
    ev = GatewayEvaluator([*routes, service("v1", ports=((9080, "http"),)),
                           service("v1", ns="other", ports=((80, "http"),))])
    got = [ev.evaluate(req(f"/{i}")) for i in range(len(refs))]
    assert [(o.status, o.backends) for o in got] == [
        (200, (Backend(NS, "v1", 9080, 1),)), (200, (Backend(NS, "v1", 9080, 2),)),
        (200, (Backend(NS, "v1", 9080, 1),)), (200, (Backend(NS, "1", 9080, 1),)),
        (200, (Backend(NS, "True", 9080, 1),)), (200, (Backend(NS, "v1", 9080, 1),)),
        (200, (Backend(NS, "v1", 9080, 1),)), (200, (Backend(NS, "v1", 9080, 1),)),
        (500, ()), (500, ())]
    assert got[9].notes == ("backend Service other/v1 has no port 9080; 1/1 of requests get "
                            "500",)
    rules = {rule.index: rule for _, rule in ev._entries(REVIEWS)}
    assert rules[0].backends[0] is rules[2].backends[0]  # the same reference, read once
    assert rules[0].backends[0] is not rules[1].backends[0]


@pytest.mark.parametrize("raw", [
    {"path": {"type": "Exact", "value": "/a"}},
    {"path": {"type": "PathPrefix", "value": "/a/"}},
    {"path": {"type": "RegularExpression", "value": "/a.*"}},
    {"path": {"type": "", "value": "/p"}},
    {"path": {"type": None, "value": "/p"}},
    {"path": {"value": "/p", "extra": 1}},
    {"path": {"type": "Exact", "value": 7}},
])
@pytest.mark.parametrize("rank", list(RegexRank))
def test_path_only_matches_read_like_the_match_as_written(raw: dict[str, Any],
                                                          rank: RegexRank) -> None:
    parser = gateway._Parser({}, False, rank, [])
    assert parser.http_match(raw) == gateway._http_match(raw, rank)


# --------------------------------------------------------------------------- path readers


def test_path_reader_labels_are_the_rules_that_rewrite_or_redirect() -> None:
    """A URLRewrite or RequestRedirect on the rule or on a backendRef makes a path reader;
    other filters, plain rules and dropped rules do not; labels are Outcome.rule's."""
    rewrite = {"type": "URLRewrite", "urlRewrite": {"hostname": "x"}}
    redirect = {"type": "RequestRedirect", "requestRedirect": {"statusCode": 301}}
    header = {"type": "RequestHeaderModifier",
              "requestHeaderModifier": {"set": [{"name": "x", "value": "1"}]}}
    ev = GatewayEvaluator([route(
        "r",
        rule(exact("/a"), filters=[rewrite], name="rw"),
        rule(exact("/b"), backends=[], filters=[redirect]),
        rule(exact("/c"), backends=[backend("reviews-v1", filters=[rewrite])]),
        rule(exact("/d"), filters=[header]),
        rule(exact("/e")),
        rule(exact("/f"), filters=[redirect]),  # with backendRefs: dropped
    )])
    assert ev.path_reader_labels() == {f"{NS}/r#rw", f"{NS}/r#1", f"{NS}/r#2"}
    assert {ev.evaluate(req(path)).rule for path in ("/a", "/b", "/c")} == \
        ev.path_reader_labels()
    assert any("rule 5 dropped" in problem for problem in ev.problems)


def _golden_paths() -> list[Path]:
    from tests.golden import cases
    return list(cases())


@pytest.mark.parametrize("path", _golden_paths(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_path_reader_labels_match_the_objects_reading(path: Path) -> None:
    """The rules that read the path and the request headers modifiers name, as the objects
    say them (tests/test_verify_cells.scan_rules), on every golden case's conversion (the
    bad-input cases convert nothing)."""
    import yaml

    from tests.test_verify_cells import scan_rules
    case = yaml.safe_load(path.read_text())
    options = ConvertOptions(verify=False)
    args = case.get("args") or []
    flags = dict(zip(args[::2], args[1::2], strict=True))
    options.target = flags.get("--target", options.target)
    options.channel = flags.get("--channel", options.channel)
    try:
        result = convert_documents(list(parse_stream(io.StringIO(case["input"]), "case.yaml")),
                                   options)
    except Exception:  # the bad-input cases: nothing converted
        return
    objects = result.objects
    evaluator = GatewayEvaluator(objects)
    assert (evaluator.path_reader_labels(), evaluator.modified_header_names()) == scan_rules(
        objects)
