"""The source evaluator: Istio-style semantics (first match, string prefix, the rewrite traps
of semantics.md §8.2/§11, the redirect default, pass-through), table by table."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshmigrate.model import (
    Anchor,
    Destination,
    HeaderOps,
    Match,
    MirrorPolicy,
    PathKind,
    PathMatch,
    PathRewrite,
    Protocol,
    Redirect,
    RetryPolicy,
    RewriteKind,
    RouteTable,
    RoutingModel,
    Rule,
    ServiceInfo,
    ServicePort,
    ServiceRef,
    StringMatch,
    StrKind,
    Unmatched,
)
from meshmigrate.semantics import outcome as outcome_module
from meshmigrate.semantics.atoms import PathAtom, header_atom, path_atom_of, query_atom
from meshmigrate.semantics.outcome import (
    Backend,
    Mirror,
    Outcome,
    Request,
    Retry,
    ServiceKey,
    backend,
    forwarded,
    request_at,
    template_outcome,
)
from meshmigrate.semantics.source import (
    SourceEvaluator,
    path_atom,
    path_matches,
    rewrite_path,
    service_atoms,
    string_matches,
)

NS = "shop"
SVC = ServiceRef(NS, "web")
KEY = ServiceKey(NS, "web", 80)


def dest(name: str, weight: int = 1, port: int | None = None, **kw: object) -> Destination:
    return Destination(ServiceRef(NS, name), port, weight, **kw)  # type: ignore[arg-type]


def prefix(value: str, **kw: object) -> Match:
    return Match(path=PathMatch(PathKind.PREFIX, value, **kw))  # type: ignore[arg-type]


def exact(value: str) -> Match:
    return Match(path=PathMatch(PathKind.EXACT, value))


def regex(value: str, anchor: Anchor = Anchor.FULL) -> Match:
    return Match(path=PathMatch(PathKind.REGEX, value, anchor=anchor))


def table(*rules: Rule, **kw: object) -> RouteTable:
    kw.setdefault("name", "VirtualService/shop/web")
    return RouteTable(SVC, tuple(rules), **kw)  # type: ignore[arg-type]


def evaluator(*tables: RouteTable) -> SourceEvaluator:
    info = ServiceInfo(SVC, (ServicePort(80, "http"), ServicePort(9090, "grpc")), (("app", "w"),))
    return SourceEvaluator(RoutingModel(tables=list(tables), services={SVC: info}))


def req(path: str = "/", **kw: object) -> Request:
    kw.setdefault("service", KEY)
    return Request(path=path, **kw)  # type: ignore[arg-type]


def backend_names(outcome: object) -> list[str]:
    return [b.name for b in outcome.backends]  # type: ignore[attr-defined]


# --- matching primitives ----------------------------------------------------------------

@pytest.mark.parametrize(("kind", "value", "path", "expected"), [
    (PathKind.PREFIX, "/v2", "/v2example", True),       # string prefix (semantics.md §11)
    (PathKind.PREFIX, "/v2", "/v2", True),
    (PathKind.PREFIX, "/v2/", "/v2", False),
    (PathKind.SEGMENT_PREFIX, "/v2", "/v2example", False),  # Gateway API segments
    (PathKind.SEGMENT_PREFIX, "/v2", "/v2/x", True),
    (PathKind.SEGMENT_PREFIX, "/foo/", "/foo", True),   # trailing slash ignored (§10)
    (PathKind.SEGMENT_PREFIX, "/", "/anything", True),
    (PathKind.EXACT, "/a", "/a", True),
    (PathKind.EXACT, "/a", "/a/", False),
    (PathKind.REGEX, "/a/[0-9]+", "/a/12", True),
    (PathKind.REGEX, "/a/[0-9]+", "/a/12/x", False),    # RE2 full match
    (PathKind.REGEX, "/a(", "/a(", False),              # an invalid pattern never matches
])
def test_path_kinds(kind: PathKind, value: str, path: str, expected: bool) -> None:
    assert path_matches(PathMatch(kind, value), path) is expected


def test_path_ignore_case_and_start_anchor() -> None:
    assert path_matches(PathMatch(PathKind.PREFIX, "/API", ignore_case=True), "/api/x")
    assert path_matches(PathMatch(PathKind.EXACT, "/A", ignore_case=True), "/a")
    assert not path_matches(PathMatch(PathKind.EXACT, "/A"), "/a")
    start = PathMatch(PathKind.REGEX, "/a", anchor=Anchor.START)  # SMI pathRegex
    assert path_matches(start, "/abc") and not path_matches(start, "/xa")


@pytest.mark.parametrize(("cond", "value", "expected"), [
    (StringMatch("x", StrKind.EXACT, "1"), "1", True),
    (StringMatch("x", StrKind.EXACT, "1"), None, False),
    (StringMatch("x", StrKind.PREFIX, "ab"), "abc", True),
    (StringMatch("x", StrKind.SUFFIX, "bc"), "abc", True),
    (StringMatch("x", StrKind.REGEX, "a.c"), "abc", True),
    (StringMatch("x", StrKind.REGEX, "a."), "abc", False),  # full match
    (StringMatch("x", StrKind.PRESENT), "", True),
    (StringMatch("x", StrKind.PRESENT), None, False),
    (StringMatch("x", StrKind.EXACT, "1", invert=True), None, True),  # absent satisfies not
    (StringMatch("x", StrKind.EXACT, "1", invert=True), "1", False),
    (StringMatch("x", StrKind.PRESENT, invert=True), None, True),
    (StringMatch("x", StrKind.EXACT, "AbC", ignore_case=True), "abc", True),
])
def test_string_conditions(cond: StringMatch, value: str | None, expected: bool) -> None:
    assert string_matches(cond, value) is expected


# --- rule selection ---------------------------------------------------------------------

def test_first_match_wins_over_more_specific_later_rule() -> None:
    ev = evaluator(table(Rule((prefix("/api"),), (dest("a"),)),
                         Rule((prefix("/api/v2"),), (dest("b"),))))
    out = ev.evaluate(req("/api/v2/x"))
    assert backend_names(out) == ["a"] and out.rule == "VirtualService/shop/web#0"


def test_string_prefix_catches_longer_segment() -> None:
    ev = evaluator(table(Rule((prefix("/v2"),), (dest("v2"),)), Rule((), (dest("v1"),))))
    assert backend_names(ev.evaluate(req("/v2example"))) == ["v2"]
    assert backend_names(ev.evaluate(req("/v3"))) == ["v1"]


def test_matches_are_ored_and_conditions_anded() -> None:
    both = Match(path=PathMatch(PathKind.PREFIX, "/a"), methods=frozenset({"POST"}))
    ev = evaluator(table(Rule((both, exact("/b")), (dest("x"),))))
    assert backend_names(ev.evaluate(req("/a", method="POST"))) == ["x"]
    assert ev.evaluate(req("/a", method="GET")).status == 404
    assert backend_names(ev.evaluate(req("/b", method="GET"))) == ["x"]


def test_negated_methods() -> None:
    m = Match(methods=frozenset({"GET"}), negated_methods=True)
    ev = evaluator(table(Rule((m,), (dest("w"),))))
    assert ev.evaluate(req(method="GET")).status == 404
    assert ev.evaluate(req(method="PUT")).status == 200


def test_unmatched_not_found_is_404() -> None:
    ev = evaluator(table(Rule((exact("/a"),), (dest("a"),))))
    out = ev.evaluate(req("/b"))
    assert out.status == 404 and out.backends == () and out.rule is None


def test_unmatched_pass_through_goes_to_the_service() -> None:
    ev = evaluator(table(Rule((exact("/a"),), (dest("a"),)), unmatched=Unmatched.PASS_THROUGH))
    out = ev.evaluate(req("/b"))
    assert out.status == 200 and out.rule is None
    assert out.backends == (Backend(NS, "web", 80, 1),) and out.path == "/b"


def test_no_table_goes_to_the_service_untouched() -> None:
    ev = evaluator()
    out = ev.evaluate(req("/x", service=ServiceKey("other", "db", 5432)))
    assert out.status == 200 and out.backends == (Backend("other", "db", 5432, 1),)
    assert out.rule is None and out.path == "/x" and out.host == "db"


def test_port_scoped_tables_and_match_port() -> None:
    only_9090 = table(Rule((), (dest("g"),)), port=9090)
    by_match = table(Rule((Match(port=80),), (dest("h"),)))
    ev = evaluator(only_9090, by_match)
    assert backend_names(ev.evaluate(req(service=ServiceKey(NS, "web", 9090)))) == ["g"]
    assert backend_names(ev.evaluate(req())) == ["h"]
    assert ev.services() == [KEY, ServiceKey(NS, "web", 9090)]


def test_consumer_tables_replace_producer_tables() -> None:
    ev = evaluator(table(Rule((), (dest("prod"),))),
                   table(Rule((), (dest("cons"),)), consumer_namespace="team"))
    assert backend_names(ev.evaluate(req(client_namespace="team"))) == ["cons"]
    assert backend_names(ev.evaluate(req(client_namespace=NS))) == ["prod"]
    assert ev.consumer_namespaces(KEY) == ["team"]


def test_source_namespace_and_source_labels() -> None:
    ev = evaluator(table(Rule((Match(source_labels=(("app", "x"),)),), (dest("lab"),)),
                         Rule((Match(source_namespace="team"),), (dest("team"),)),
                         Rule((), (dest("rest"),))))
    assert backend_names(ev.evaluate(req(client_namespace="team"))) == ["team"]
    assert backend_names(ev.evaluate(req(client_namespace="x"))) == ["rest"]


def test_headers_host_query_and_scheme() -> None:
    ev = evaluator(table(
        Rule((Match(headers=(StringMatch("end-user", StrKind.EXACT, "jason"),)),), (dest("j"),)),
        Rule((Match(headers=(StringMatch("host", StrKind.EXACT, "web.shop"),)),), (dest("h"),)),
        Rule((Match(query=(StringMatch("v", StrKind.REGEX, "[0-9]"),)),), (dest("q"),)),
        Rule((Match(scheme="https"),), (dest("s"),))))
    assert backend_names(ev.evaluate(req(headers=(("end-user", "jason"),)))) == ["j"]
    assert backend_names(ev.evaluate(req(headers=(("host", "web.shop"),)))) == ["h"]
    assert backend_names(ev.evaluate(req(query=(("v", "7"),)))) == ["q"]
    assert backend_names(ev.evaluate(req(scheme="https"))) == ["s"]
    assert ev.evaluate(req(query=(("v", "77"),))).status == 404


def test_precedence_tables_rank_like_gateway_api() -> None:
    ev = evaluator(table(Rule((prefix("/"),), (dest("root"),)),
                         Rule((exact("/a"),), (dest("exact"),)),
                         Rule((prefix("/a"),), (dest("longer"),)), first_match=False))
    assert backend_names(ev.evaluate(req("/a"))) == ["exact"]
    assert backend_names(ev.evaluate(req("/ab"))) == ["longer"]
    assert backend_names(ev.evaluate(req("/b"))) == ["root"]


# --- actions ----------------------------------------------------------------------------

@pytest.mark.parametrize(("match", "rewrite", "path", "expected"), [
    (prefix("/foo"), "/bar", "/foobar", "/barbar"),      # string substitution (§8.2)
    (prefix("/foo"), "/bar", "/foo/x", "/bar/x"),
    (prefix("/foo"), "/", "/foo/bar", "//bar"),          # §11: prefix /foo + uri / -> //bar
    (None, "/v2", "/x", "/v2x"),                         # no uri match: implicit prefix /
    (exact("/a"), "/b", "/a", "/b"),                     # exact: whole path replaced
    (regex("/a/.*"), "/z", "/a/q", "/z"),                # regex: whole path replaced
    (Match(path=PathMatch(PathKind.SEGMENT_PREFIX, "/foo")), "/bar", "/foo/x", "/bar/x"),
])
def test_prefix_rewrite_traps(match: Match | None, rewrite: str, path: str,
                              expected: str) -> None:
    rw = PathRewrite(RewriteKind.PREFIX_STRING, rewrite)
    assert rewrite_path(rw, match, path) == expected
    rule = Rule((match,) if match else (), (dest("a"),), rewrite=rw)
    assert evaluator(table(rule)).evaluate(req(path)).path == expected


def test_full_and_regex_rewrites() -> None:
    assert rewrite_path(PathRewrite(RewriteKind.FULL, "/new"), prefix("/x"), "/x/y") == "/new"
    rx = PathRewrite(RewriteKind.REGEX, r"/v\1", pattern=r"^/service/([^/]+)")
    assert rewrite_path(rx, None, "/service/3/x") == "/v3/x"


def test_redirect_defaults_and_query() -> None:
    rule = Rule((prefix("/old"),), redirect=Redirect(301, path=PathRewrite(
        RewriteKind.PREFIX_STRING, "/new")))
    out = evaluator(table(rule)).evaluate(req("/old/page", query=(("a", "1"),)))
    assert out.status == 301 and out.backends == ()
    assert out.redirect is not None
    assert out.redirect.location == "http://web/new/page?a=1"


def test_redirect_scheme_host_port() -> None:
    rule = Rule((), redirect=Redirect(308, scheme="https", host="example.com", port=8443,
                                      path=PathRewrite(RewriteKind.FULL, "/x")))
    out = evaluator(table(rule)).evaluate(req("/y"))
    assert out.redirect is not None and out.redirect.location == "https://example.com:8443/x"
    default_port = Rule((), redirect=Redirect(302, scheme="https", port=443))
    loc = evaluator(table(default_port)).evaluate(req("/y")).redirect
    assert loc is not None and loc.location == "https://web/y"
    derived = Rule((), redirect=Redirect(301, derive_port_from_request=True))
    loc = evaluator(table(derived)).evaluate(
        req("/y", service=ServiceKey(NS, "web", 9090))).redirect
    assert loc is not None and loc.location == "http://web:9090/y"


def test_direct_response_and_fault() -> None:
    ev = evaluator(table(Rule((exact("/a"),), direct_status=418),
                         Rule((), (dest("f"),), fault=True)))
    out = ev.evaluate(req("/a"))
    assert out.status == 418 and out.backends == ()
    faulty = ev.evaluate(req("/b"))
    assert faulty.status == 200 and faulty.notes


def test_weights_ports_and_500() -> None:
    ev = evaluator(table(Rule((exact("/w"),), (dest("a", 3), dest("b", 0), dest("c", 1, 8080))),
                         Rule((exact("/z"),), (dest("a", 0),)),
                         Rule((exact("/n"),), ())))
    out = ev.evaluate(req("/w"))
    assert out.backends == (Backend(NS, "a", 80, 3), Backend(NS, "c", 8080, 1))
    assert ev.evaluate(req("/z")).status == 500
    assert ev.evaluate(req("/n")).status == 500


def test_header_operations_and_host_rewrite() -> None:
    rule = Rule((), (dest("a", request_headers=HeaderOps(set=(("x-d", "1"),))),),
                request_headers=HeaderOps(set=(("x-s", "v"),), add=(("x-a", "2"),),
                                          remove=("x-r",)),
                response_headers=HeaderOps(add=(("x-resp", "y"),)), rewrite_host="backend")
    out = evaluator(table(rule)).evaluate(req(headers=(("x-a", "1"), ("x-r", "gone"))))
    assert dict(out.request_headers) == {"x-a": "1,2", "x-s": "v", "x-d": "1"}
    assert dict(out.response_headers) == {"x-resp": "y"}
    assert out.host == "backend"


def test_differing_destination_header_ops_keep_rule_level_only() -> None:
    rule = Rule((), (dest("a", request_headers=HeaderOps(set=(("x", "a"),))),
                     dest("b", request_headers=HeaderOps(set=(("x", "b"),)))))
    out = evaluator(table(rule)).evaluate(req())
    assert dict(out.request_headers) == {} and out.notes


def test_timeout_retry_and_mirror() -> None:
    from meshmigrate.model import MirrorPolicy

    default = RetryPolicy(2, (), is_source_default=True)
    ev = evaluator(table(
        Rule((exact("/t"),), (dest("a"),), timeout_ms=1500,
             retry=RetryPolicy(3, (503,), per_try_timeout_ms=500),
             mirrors=(MirrorPolicy(ServiceRef(NS, "shadow"), None, 50.0),)),
        Rule((), (dest("a"),)), default_retry=default))
    out = ev.evaluate(req("/t"))
    assert out.timeout == "1s500ms"
    assert out.retry is not None and (out.retry.attempts, out.retry.codes) == (3, (503,))
    assert out.retry.per_try_timeout == "500ms"
    assert [(m.name, m.port, m.percent) for m in out.mirrors] == [("shadow", 80, 50.0)]
    plain = ev.evaluate(req("/other"))  # the rule's retry None means: no retries
    assert plain.timeout is None and plain.retry is None


def test_port_protocol_decides_tcp_tables() -> None:
    tcp_port = ServiceKey(NS, "web", 9090)
    ev = evaluator(table(Rule((), (dest("tcp-a"),)), protocol=Protocol.TCP, port=9090),
                   table(Rule((), (dest("tcp-b"),)), protocol=Protocol.TCP, port=80),
                   table(Rule((), (dest("http-a"),)), port=80))
    tcp = ev.evaluate(req("/x", service=tcp_port, protocol="tcp"))
    assert backend_names(tcp) == ["tcp-a"] and tcp.path == "/x"  # bytes are untouched
    assert backend_names(ev.evaluate(req("/x", service=tcp_port))) == ["tcp-a"]
    assert backend_names(ev.evaluate(req())) == ["http-a"]  # HTTP wins on a shared port


def test_redirect_keeps_the_host_the_client_sent() -> None:
    key = ServiceKey(NS, "web", 9080)
    plain = evaluator(table(Rule((), redirect=Redirect(301)), port=9080))
    assert plain.evaluate(req("/a", service=key)).redirect.location == (  # type: ignore[union-attr]
        "http://web:9080/a")
    to_https = evaluator(table(Rule((), redirect=Redirect(301, scheme="https")), port=9080))
    assert to_https.evaluate(req("/a", service=key)).redirect.location == (  # type: ignore[union-attr]
        "https://web:9080/a")  # Envoy keeps a non-default port on a scheme change
    new_host = evaluator(table(Rule((), redirect=Redirect(301, host="x.io")), port=9080))
    assert new_host.evaluate(req("/a", service=key)).redirect.location == (  # type: ignore[union-attr]
        "http://x.io/a")
    sent = plain.evaluate(req("/a", service=key, headers=(("host", "web.shop:9080"),)))
    assert sent.redirect is not None and sent.redirect.location == "http://web.shop:9080/a"


def test_host_header_set_is_an_authority_rewrite() -> None:
    rule = Rule((), (dest("a"),), request_headers=HeaderOps(set=(("Host", "other"),)))
    out = evaluator(table(rule)).evaluate(req(headers=(("host", "web"), ("x", "1"), ("x", "2"))))
    assert out.host == "other" and dict(out.request_headers) == {"x": "1,2"}


def test_outcome_json_shape() -> None:
    out = evaluator(table(Rule((), (dest("a"),)))).evaluate(req("/p"))
    assert set(out.to_json()) == {"status", "rule", "backends", "path", "host",
                                  "request_headers", "response_headers", "redirect",
                                  "timeout", "retry", "mirrors"}


def test_per_try_timeout_above_the_request_timeout_acts_as_it() -> None:
    rule = Rule((), (dest("a"),), timeout_ms=250, retry=RetryPolicy(1, per_try_timeout_ms=500))
    out = evaluator(table(rule)).evaluate(req())
    assert out.timeout == "250ms" and out.retry is not None
    assert out.retry.per_try_timeout == "250ms"


def test_retry_policies_are_read_whether_hashable_or_not() -> None:
    """Retries are cached by policy; a policy holding a list (not hashable) reads the same."""
    codes: Any = [503, 500, 503]
    listed = RetryPolicy(2, codes, per_try_timeout_ms=100)
    as_tuple = RetryPolicy(2, (503, 500, 503), per_try_timeout_ms=100)
    outs = [evaluator(table(Rule((), (dest("a"),), retry=policy))).evaluate(req())
            for policy in (listed, as_tuple, as_tuple)]
    assert outs[0].retry == outs[1].retry == outs[2].retry == Retry(2, (500, 503), "100ms")


# --- the compiled views agree with the plain definition --------------------------------
#
# SourceEvaluator.evaluate compiles each view (path conditions indexed, each rule's action
# worked out once, per-port memos); evaluate_plain is the definition it must agree with,
# notes included, whatever the order of the requests.

def test_a_rule_ranks_by_its_first_matching_block_not_its_best() -> None:
    """Precedence tables: a rule competes with the first of its match blocks the request
    satisfies (select_rule), not with its best-ranked one."""
    ev = evaluator(table(Rule((prefix("/a"), exact("/a/b")), (dest("first"),)),
                         Rule((prefix("/a/b"),), (dest("longer"),)), first_match=False))
    assert backend_names(ev.evaluate(req("/a/b"))) == ["longer"]
    assert backend_names(ev.evaluate(req("/a/c"))) == ["first"]


def test_ranked_table_then_first_match_table() -> None:
    """Tables are tried in order; a table with a match decides, whatever comes later."""
    ranked = table(Rule((exact("/a"),), (dest("ranked"),)), first_match=False)
    ordered = table(Rule((prefix("/"),), (dest("ordered"),)), name="VirtualService/shop/b")
    ev = evaluator(ranked, ordered)
    assert backend_names(ev.evaluate(req("/a"))) == ["ranked"]
    assert backend_names(ev.evaluate(req("/b"))) == ["ordered"]


def test_direct_response_200_is_not_a_forward() -> None:
    out = evaluator(table(Rule((), direct_status=200))).evaluate(req("/x"))
    assert out.status == 200 and out.backends == () and out.path is None and out.host is None


@pytest.mark.parametrize(("pattern", "path", "expected"), [
    ("/ab?c", "/ac", True),          # a quantifier makes the last literal optional
    ("/ab*c", "/ac", True),
    ("/ab{0,1}c", "/ac", True),
    ("/a|/b", "/b", True),           # an alternation has no common head
    ("(?i)/ABC", "/abc", True),      # a leading flag group
    (r"/a\.b", "/a.b", True),
    (r"/a\.b", "/axb", False),
    ("/ab+c", "/abbc", True),
    ("/abc", "/abd", False),
])
def test_regex_paths_with_tricky_heads(pattern: str, path: str, expected: bool) -> None:
    ev = evaluator(table(Rule((regex(pattern),), (dest("r"),))))
    assert (ev.evaluate(req(path)).status == 200) is expected
    assert ev.evaluate(req(path)) == ev.evaluate_plain(req(path))


def test_one_evaluator_many_requests_same_path() -> None:
    """Per-port memos: requests that share a path but not headers, method or client."""
    rule = Rule((Match(path=PathMatch(PathKind.PREFIX, "/a"), methods=frozenset({"GET"})),),
                (dest("get"),), rewrite=PathRewrite(RewriteKind.PREFIX_STRING, "/z"))
    consumer = table(Rule((), (dest("theirs"),)), consumer_namespace="team",
                     name="VirtualService/team/web")
    ev = evaluator(table(rule, Rule((), (dest("other"),))), consumer)
    seq = [req("/a/1"), req("/a/1", method="POST"), req("/a/1", headers=(("host", "h"),)),
           req("/a/1", client_namespace="team"), req("/a/1"), req("/a/1", headers=(("x", "1"),))]
    got = [ev.evaluate(r) for r in seq]
    assert [backend_names(o) for o in got] == [["get"], ["other"], ["get"], ["theirs"],
                                               ["get"], ["get"]]
    assert [o.host for o in got] == ["web", "web", "h", "web", "web", "web"]
    assert got[0].path == "/z/1" and got[1].path == "/a/1"
    assert got[5].request_headers == (("x", "1"),)
    assert got == [ev.evaluate_plain(r) for r in seq]


PATHS = ("/", "/a", "/a/", "/ab", "/a/b", "/A/B", "/b", "/api/v1", "//a", "")
NAMES = ("x-h", "X-H", "host", ":authority", ":method", ":path")
VALUES = ("1", "12", "a", "web", "GET")


def _path_match(draw: st.DrawFn) -> PathMatch:
    kind = draw(st.sampled_from(list(PathKind)))
    values = ("/a.*", "/a/[0-9]+", "/(a|b)/.*", "/ab?", ".*", "/a(") if kind is PathKind.REGEX \
        else ("", "/", "/a", "/a/", "/ab", "/A")
    return PathMatch(kind, draw(st.sampled_from(values)), ignore_case=draw(st.booleans()),
                     anchor=draw(st.sampled_from(list(Anchor))))


@st.composite
def _match(draw: st.DrawFn) -> Match:
    def cond(names: tuple[str, ...]) -> StringMatch:
        return StringMatch(draw(st.sampled_from(names)), draw(st.sampled_from(list(StrKind))),
                           draw(st.sampled_from((*VALUES, "[0-9]+", "(?i)A"))),
                           invert=draw(st.booleans()), ignore_case=draw(st.booleans()))

    return Match(
        path=_path_match(draw) if draw(st.booleans()) else None,
        methods=draw(st.sampled_from([None, frozenset({"GET"}), frozenset({"GET", "POST"})])),
        negated_methods=draw(st.booleans()),
        headers=tuple(cond(NAMES) for _ in range(draw(st.integers(0, 2)))),
        query=tuple(cond(("q", "Q")) for _ in range(draw(st.integers(0, 1)))),
        port=draw(st.sampled_from([None, None, 80, 9090])),
        source_namespace=draw(st.sampled_from([None, None, "team", NS])),
        source_labels=(("app", "x"),) if draw(st.integers(0, 9)) == 0 else (),
        scheme=draw(st.sampled_from([None, None, "https", "HTTP"])))


def _ops(draw: st.DrawFn) -> HeaderOps:
    pairs = st.tuples(st.sampled_from(("x-h", "X-A", "host", ":authority")),
                      st.sampled_from(("v", "w")))
    return HeaderOps(tuple(draw(st.lists(pairs, max_size=2))),
                     tuple(draw(st.lists(pairs, max_size=2))),
                     tuple(draw(st.lists(st.sampled_from(("x-h", "host", "x-a")), max_size=1))))


@st.composite
def _rule(draw: st.DrawFn) -> Rule:
    action = draw(st.sampled_from(["forward", "forward", "forward", "redirect", "direct"]))
    destinations = tuple(
        dest(draw(st.sampled_from(("a", "b"))), draw(st.integers(0, 3)),
             draw(st.sampled_from([None, 8080])), request_headers=_ops(draw))
        for _ in range(draw(st.integers(0, 2))))
    rewrite = draw(st.sampled_from([None, PathRewrite(RewriteKind.PREFIX_STRING, "/z"),
                                    PathRewrite(RewriteKind.FULL, "/full"),
                                    PathRewrite(RewriteKind.REGEX, r"/r\1", "^/(a)")]))
    return Rule(
        tuple(draw(st.lists(_match(), max_size=3))),
        destinations if action == "forward" else (),
        redirect=Redirect(301, path=rewrite, port=draw(st.sampled_from([None, 8443])),
                          derive_port_from_request=draw(st.booleans()))
        if action == "redirect" else None,
        direct_status=draw(st.sampled_from([200, 418])) if action == "direct" else None,
        request_headers=_ops(draw), response_headers=_ops(draw), rewrite=rewrite,
        rewrite_host=draw(st.sampled_from([None, "", "rewritten"])),
        timeout_ms=draw(st.sampled_from([None, 1500])),
        mirrors=(MirrorPolicy(ServiceRef(NS, "m"), None, 50.0),) if draw(st.booleans()) else (),
        fault=draw(st.booleans()))


@st.composite
def _tables(draw: st.DrawFn) -> list[RouteTable]:
    return [table(*draw(st.lists(_rule(), min_size=0, max_size=4)),
                  first_match=draw(st.booleans()),
                  protocol=draw(st.sampled_from([Protocol.HTTP, Protocol.HTTP, Protocol.TCP])),
                  port=draw(st.sampled_from([None, None, 80])),
                  consumer_namespace=draw(st.sampled_from([None, None, "team"])),
                  unmatched=draw(st.sampled_from(list(Unmatched))),
                  fallback=(dest("fb"),) if draw(st.booleans()) else (),
                  name=f"VirtualService/shop/t{i}")
            for i in range(draw(st.integers(1, 3)))]


@st.composite
def _request(draw: st.DrawFn) -> Request:
    pair = st.tuples(st.sampled_from(("x-h", "X-H", "host", "x-a", "q")),
                     st.sampled_from(VALUES))
    return req(draw(st.sampled_from(PATHS)),
               service=draw(st.sampled_from([KEY, KEY, ServiceKey(NS, "web", 9090)])),
               method=draw(st.sampled_from(("GET", "POST", "PUT"))),
               scheme=draw(st.sampled_from(("http", "https"))),
               headers=tuple(draw(st.lists(pair, max_size=3))),
               query=tuple(draw(st.lists(st.tuples(st.sampled_from(("q", "Q")),
                                                   st.sampled_from(VALUES)), max_size=2))),
               client_namespace=draw(st.sampled_from((NS, "team", "other"))))


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(tables=_tables(), requests=st.lists(_request(), min_size=1, max_size=25))
def test_compiled_evaluation_equals_the_plain_definition(tables: list[RouteTable],
                                                         requests: list[Request]) -> None:
    ev = evaluator(*tables)
    for request in requests * 2:  # the second round meets the memos
        got, want = ev.evaluate(request), ev.evaluate_plain(request)
        assert repr(got) == repr(want), request  # repr: notes included


def test_fast_forwarded_outcome_is_the_dataclass_one() -> None:
    """outcome.forwarded (the evaluators' fast constructor) builds the same frozen Outcome
    as dataclasses.replace, every field included."""
    template = Outcome(status=201, rule="r", backends=(Backend(NS, "a", 80, 1),),
                       response_headers=(("x", "1"),), redirect=None, timeout="1s",
                       retry=Retry(2), mirrors=(Mirror(NS, "m", 80, 5.0),), notes=("n",))
    fast = forwarded(template, "/p", "h", (("y", "2"),))
    slow = replace(template, path="/p", host="h", request_headers=(("y", "2"),))
    assert fast == slow and repr(fast) == repr(slow) and hash(fast) == hash(slow)
    with pytest.raises(FrozenInstanceError):
        fast.path = "/q"  # type: ignore[misc]


def test_fast_template_outcome_is_the_dataclass_one() -> None:
    """outcome.template_outcome builds the same frozen Outcome as the dataclass, with no
    path, host, request headers or redirect."""
    args = (200, "r", (Backend(NS, "a", 80, 1),), (("x", "1"),), "1s", Retry(2),
            (Mirror(NS, "m", 80, 5.0),), ("n",))
    fast = template_outcome(*args)
    slow = Outcome(status=200, rule="r", backends=args[2], response_headers=args[3],
                   timeout="1s", retry=Retry(2), mirrors=args[6], notes=("n",))
    assert fast == slow and repr(fast) == repr(slow) and hash(fast) == hash(slow)
    with pytest.raises(FrozenInstanceError):
        fast.path = "/q"  # type: ignore[misc]


def test_fast_backend_is_the_dataclass_one() -> None:
    """outcome.backend (the compiled views' constructor) builds the same frozen Backend."""
    fast, slow = backend(NS, "a", 8080, 3), Backend(NS, "a", 8080, 3)
    assert fast == slow and repr(fast) == repr(slow) and hash(fast) == hash(slow)
    assert not fast < slow and not slow < fast  # ordered like the dataclass
    with pytest.raises(FrozenInstanceError):
        fast.port = 1  # type: ignore[misc]


def test_backends_are_interned_by_value() -> None:
    """Equal backends from backend() are one object (outcomes then compare backend tuples
    by identity); a bool or float port or weight, equal to an int as a key, is not taken
    for it; after the intern table starts over, new and old objects still compare equal."""
    first = backend(NS, "intern-a", 8080, 3)
    assert backend(NS, "intern-a", 8080, 3) is first
    assert backend(NS, "intern-a", None, 3) is backend(NS, "intern-a", None, 3)
    assert backend(NS, "intern-a", 8080, 4) != first
    odd = backend(NS, "intern-b", 1, True)  # type: ignore[arg-type]
    assert repr(odd) == repr(Backend(NS, "intern-b", 1, True))  # type: ignore[arg-type]
    assert repr(backend(NS, "intern-b", 1, 1)) == repr(Backend(NS, "intern-b", 1, 1))
    assert repr(backend(NS, "intern-b", 1, True)) == repr(  # type: ignore[arg-type]
        Backend(NS, "intern-b", 1, True))  # type: ignore[arg-type]
    assert repr(backend(NS, "intern-b", 1.0, 1)) == repr(  # type: ignore[arg-type]
        Backend(NS, "intern-b", 1.0, 1))  # type: ignore[arg-type]
    outcome_module._BACKENDS.clear()
    again = backend(NS, "intern-a", 8080, 3)
    assert again is not first and again == first and hash(again) == hash(first)
    assert backend(NS, "intern-a", 8080, 3) is again


def test_backend_intern_table_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The intern table starts over when full: it never holds more than its bound."""
    monkeypatch.setattr(outcome_module, "BACKENDS_KEPT", 8)
    outcome_module._BACKENDS.clear()
    made = [backend(NS, f"bound-{i}", 80, 1) for i in range(20)]
    assert len(outcome_module._BACKENDS) <= 8
    assert made == [Backend(NS, f"bound-{i}", 80, 1) for i in range(20)]


def test_request_at_is_the_dataclass_one() -> None:
    """outcome.request_at builds the Request the dataclass constructor does."""
    shape = Request(KEY, "/ignored", "POST", "https", (("q", "1"),), (("x-a", "b"),),
                    "ignored", "grpc")
    other = ServiceKey("else", "api", 9090)
    fast = request_at(shape, other, "/p", "client")
    slow = Request(service=other, path="/p", method="POST", scheme="https",
                   query=(("q", "1"),), headers=(("x-a", "b"),), client_namespace="client",
                   protocol="grpc")
    assert fast == slow and repr(fast) == repr(slow) and hash(fast) == hash(slow)
    with pytest.raises(FrozenInstanceError):
        fast.path = "/q"  # type: ignore[misc]


def test_retry_remembered_by_identity_follows_the_timeout() -> None:
    """One policy object shared by rules with different timeouts (the last one is
    remembered by identity): each rule's per-try timeout is still capped by its own."""
    shared = RetryPolicy(1, per_try_timeout_ms=500)
    ev = evaluator(table(Rule((exact("/a"),), (dest("a"),), timeout_ms=250, retry=shared),
                         Rule((exact("/b"),), (dest("b"),), timeout_ms=None, retry=shared),
                         Rule((exact("/c"),), (dest("c"),), timeout_ms=300, retry=shared)))
    tries = [ev.evaluate(req(p)).retry for p in ("/a", "/b", "/c", "/a")]
    assert [t.per_try_timeout if t else None for t in tries] == [
        "250ms", "500ms", "300ms", "250ms"]


@pytest.mark.parametrize("cond", [
    StringMatch("x-h", StrKind.PREFIX, "ab"),
    StringMatch("x-h", StrKind.SUFFIX, "ab"),
    StringMatch("x-h", StrKind.PRESENT, ""),
    StringMatch("x-h", StrKind.EXACT, "ab", invert=True),
    StringMatch("x-h", StrKind.PREFIX, "ab", invert=True),
    StringMatch("X-H", StrKind.SUFFIX, "b", invert=True),
    StringMatch("x-h", StrKind.PRESENT, "", invert=True),
    StringMatch("x-h", StrKind.REGEX, "a[b-c]*"),
    StringMatch("x-h", StrKind.REGEX, "a,b"),
    StringMatch("x-h", StrKind.REGEX, "A.*", ignore_case=True),
    StringMatch("x-h", StrKind.REGEX, "a.*", invert=True),
    StringMatch("x-h", StrKind.REGEX, "a("),
    StringMatch("x-h", StrKind.REGEX, "a(", invert=True),
])
def test_plain_header_conditions_read_like_string_matches(cond: StringMatch) -> None:
    """Header conditions tested inline by the compiled view (case-sensitive unless a
    regex, ordinary headers): absent, repeated (comma-joined) and mixed-case headers; a
    regex that does not compile matches nothing."""
    ev = evaluator(table(Rule((Match(headers=(cond,)),), (dest("h"),)),
                         Rule((), (dest("other"),))))
    for headers in [(), (("x-h", "ab"),), (("x-h", "xab"),), (("x-h", "abx"),),
                    (("X-H", "ab"),), (("x-h", "a"), ("x-h", "b")), (("y", "ab"),)]:
        request = req("/p", headers=headers)
        assert repr(ev.evaluate(request)) == repr(ev.evaluate_plain(request)), headers


@pytest.mark.parametrize("invert", [False, True])
def test_exact_query_conditions_read_like_string_matches(invert: bool) -> None:
    """Exact query conditions tested inline by the compiled view: absent, repeated (the
    first value counts), differently cased names and values."""
    conds = (StringMatch("q", StrKind.EXACT, "1", invert=invert),
             StringMatch("r", StrKind.EXACT, "", invert=invert))
    ev = evaluator(table(Rule((Match(query=conds),), (dest("q"),)),
                         Rule((), (dest("other"),))))
    for query in [(), (("q", "1"),), (("q", "1"), ("r", "")), (("r", ""), ("q", "1")),
                  (("q", "2"), ("q", "1"), ("r", "")), (("Q", "1"), ("r", "")),
                  (("q", "1"), ("q", "2"), ("r", "x"))]:
        request = req("/p", query=query)
        assert repr(ev.evaluate(request)) == repr(ev.evaluate_plain(request)), query


def test_views_compiled_again_after_many_ports() -> None:
    """The evaluator keeps few compiled views: going back to a port after many others
    compiles it again, with the same outcomes (and the memo of the old view is not
    reused)."""
    many = [ServiceRef(NS, f"s{i}") for i in range(40)]
    tables = [RouteTable(ref, (Rule((prefix("/a"),), (Destination(ref, None, 1),),
                                    rewrite=PathRewrite(RewriteKind.PREFIX_STRING, "/z")),),
                         name=f"VirtualService/shop/{ref.name}") for ref in many]
    ev = SourceEvaluator(RoutingModel(tables=tables))
    keys = [ServiceKey(NS, ref.name, 80) for ref in many]
    for key in [*keys, keys[0], *reversed(keys)]:
        request = req("/a/1", service=key)
        got = ev.evaluate(request)
        assert got == ev.evaluate_plain(request)
        assert got.path == "/z/1" and got.backends == (Backend(NS, key.name, 80, 1),)


def test_atoms_are_interned() -> None:
    """Equal conditions give the same atom object (unions compare them by identity
    first), equal to the dataclass built directly."""
    a = path_atom(PathMatch(PathKind.PREFIX, "/v1"))
    b = path_atom(PathMatch(PathKind.PREFIX, "/v1"))
    assert a is b and a == PathAtom("prefix", "/v1")
    assert path_atom(PathMatch(PathKind.REGEX, "/a.*", anchor=Anchor.START)) == \
        PathAtom("regex", "/a.*", False, "start")
    assert path_atom_of("exact", "/x") is path_atom_of("exact", "/x")
    assert header_atom("x", "exact", "1") is header_atom("x", "exact", "1")
    assert query_atom("q", "prefix", "1") is query_atom("q", "prefix", "1")
    atoms = service_atoms([table(Rule((Match(
        path=PathMatch(PathKind.SEGMENT_PREFIX, "/s", ignore_case=True),
        headers=(StringMatch(":authority", StrKind.EXACT, "h.example"),
                 StringMatch(":authority", StrKind.PREFIX, "h"),
                 StringMatch("X-A", StrKind.EXACT, "v", ignore_case=True)),
        query=(StringMatch("q", StrKind.SUFFIX, "z"),),
        methods=frozenset({"GET"})),)))])
    assert atoms.paths == {PathAtom("segment_prefix", "/s", True)}
    assert atoms.hosts == {"h.example"} and atoms.methods == {"GET"}
    assert {(h.name, h.kind, h.value) for h in atoms.headers} == {
        ("host", "prefix", "h"), ("x-a", "regex", "(?i)v")}
    assert {(q.name, q.kind, q.value) for q in atoms.queries} == {("q", "suffix", "z")}
