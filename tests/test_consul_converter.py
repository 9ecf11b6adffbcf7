"""The Consul converter: ServiceRouter / ServiceSplitter / ServiceResolver YAML in -> routing
model and finding codes out.

One test per row of semantics.md §6 and per trap: first match with the fallthrough through
the service's splitter and resolver, string prefixes, case-insensitive paths, header, query
and method matches, retries, timeouts (Envoy's 15 s default), prefix rewrite, float split
weights, nested splitters, subsets from bexpr filters, resolver redirect and default subset,
policies without an equivalent; bad input; and requests run through the model with the
source evaluator.
"""

from __future__ import annotations

import textwrap

import pytest

from converters.consul import CONVERTER
from converters.consul.subsets import filter_labels
from meshmigrate.errors import InputError
from meshmigrate.findings import Findings
from meshmigrate.model import (
    Destination,
    HeaderOps,
    Match,
    PathKind,
    PathMatch,
    PathRewrite,
    Protocol,
    RetryPolicy,
    RewriteKind,
    RouteTable,
    RoutingModel,
    ServiceRef,
    StringMatch,
    StrKind,
    SubsetService,
    Unmatched,
)
from meshmigrate.registry import ConvertContext, dispatch
from meshmigrate.semantics.outcome import Request, ServiceKey
from meshmigrate.semantics.source import SourceEvaluator
from meshmigrate.services import index_services
from meshmigrate.sources import parse_stream

NS = "shop"
WEB, ADMIN, API = ServiceRef(NS, "web"), ServiceRef(NS, "admin"), ServiceRef(NS, "api")
WEB_V1, WEB_V2 = ServiceRef(NS, "web-v1"), ServiceRef(NS, "web-v2")
ALWAYS = ["SOURCE_MESH_HAS_NO_GAMMA"]


def service(name: str, ports: str = "[{name: http, port: 8080}]", ns: str = NS) -> str:
    return f"""
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {ns}}}
spec:
  selector: {{app: {name}}}
  ports: {ports}
"""


SERVICES = "---".join(service(n) for n in ("web", "api")) + "---" + service(
    "admin", "[{name: http, port: 9090}]")


def entry(kind: str, spec: str, name: str = "web", ns: str = NS) -> str:
    return (f"apiVersion: consul.hashicorp.com/v1alpha1\nkind: {kind}\n"
            f"metadata: {{name: {name}, namespace: {ns}}}\n"
            f"spec:\n{textwrap.indent(textwrap.dedent(spec).strip(), '  ')}\n")


def router(spec: str, name: str = "web") -> str:
    return entry("ServiceRouter", spec, name)


def splitter(spec: str, name: str = "web") -> str:
    return entry("ServiceSplitter", spec, name)


def resolver(spec: str, name: str = "web") -> str:
    return entry("ServiceResolver", spec, name)


SUBSETS = resolver("""
subsets:
  v1: {filter: "Service.Meta.version == v1"}
  v2: {filter: 'Service.Meta.version == "v2"'}
""")


def convert(*texts: str, services: str = SERVICES) -> tuple[RoutingModel, Findings]:
    source = "\n---\n".join([services, *texts])
    docs = list(parse_stream(source, "consul.yaml"))
    model = RoutingModel(services=index_services(docs))
    ctx = ConvertContext(model)
    CONVERTER.convert(dispatch(docs, [CONVERTER])["consul"], ctx)
    return model, ctx.findings


def table_of(model: RoutingModel, svc: ServiceRef = WEB) -> RouteTable:
    (table,) = [t for t in model.tables if t.service == svc]
    return table


def first_match(model: RoutingModel) -> Match:
    return table_of(model).rules[0].matches[0]


def evaluate(model: RoutingModel, path: str = "/", method: str = "GET",
             headers: tuple[tuple[str, str], ...] = (),
             query: tuple[tuple[str, str], ...] = ()) -> list[str]:
    out = SourceEvaluator(model).evaluate(Request(
        ServiceKey(NS, "web", 8080), path=path, method=method, headers=headers, query=query))
    return [f"{b.name}:{b.port}:{b.weight}" for b in out.backends]


def simple_route(match: str, destination: str = "service: api") -> str:
    return router(f"""
routes:
- match:
    http:
{textwrap.indent(textwrap.dedent(match).strip(), '      ')}
  destination:
{textwrap.indent(textwrap.dedent(destination).strip(), '    ')}
""")


# --- router: first match, fallthrough ------------------------------------------------------

def test_router_first_match_and_fallthrough_to_the_service() -> None:
    model, findings = convert(router("""
routes:
- match: {http: {pathPrefix: /api}}
  destination: {service: api}
- match: {http: {pathExact: /admin}}
  destination: {service: admin}
"""))
    table = table_of(model)
    assert table.protocol is Protocol.HTTP and table.port is None
    assert table.unmatched is Unmatched.PASS_THROUGH and table.first_match
    assert table.fallback == (Destination(WEB, None),)
    assert table.default_retry is None
    first, second = table.rules
    assert first.matches == (Match(path=PathMatch(PathKind.PREFIX, "/api"),
                                   origin=("spec", "routes", 0, "match", "http")),)
    assert first.destinations == (Destination(API, 8080),)  # api has one port...
    assert second.destinations == (Destination(ADMIN, 9090),)  # ...so has admin
    assert first.timeout_ms == second.timeout_ms == 15_000
    assert first.origin is not None and first.origin.path == ("spec", "routes", 0)
    assert findings.codes() == ["SOURCE_MESH_HAS_NO_GAMMA", "TIMEOUT_DEFAULT_EXPLICIT"]
    assert [d.kind for d in model.sources] == ["ServiceRouter"]


def test_string_prefix_semantics_in_the_source() -> None:
    model, _ = convert(router("""
routes:
- match: {http: {pathPrefix: /api}}
  destination: {service: admin}
"""))
    assert evaluate(model, "/apiary") == ["admin:9090:1"]  # a plain string prefix
    assert evaluate(model, "/other") == ["web:8080:1"]  # falls through to the service


def test_route_without_match_is_a_catch_all() -> None:
    model, _ = convert(router("""
routes:
- destination: {service: api}
- match: {http: {}}
  destination: {service: admin}
"""))
    assert [r.matches for r in table_of(model).rules] == [(), ()]
    assert table_of(model).unmatched is Unmatched.NOT_FOUND


def test_path_kinds_and_case_insensitivity() -> None:
    for match, expected in [
        ("pathExact: /a\ncaseInsensitive: true", PathMatch(PathKind.EXACT, "/a", True)),
        ("pathPrefix: /a\ncaseInsensitive: true", PathMatch(PathKind.PREFIX, "/a", True)),
        # Envoy ignores case_sensitive for safe_regex
        ("pathRegex: '/a/[0-9]+'\ncaseInsensitive: true",
         PathMatch(PathKind.REGEX, "/a/[0-9]+")),
    ]:
        model, _ = convert(simple_route(match))
        assert first_match(model).path == expected


def test_header_query_and_method_conditions() -> None:
    model, findings = convert(simple_route("""
header:
- {name: X-Exact, exact: a}
- {name: x-prefix, prefix: b}
- {name: x-suffix, suffix: c}
- {name: x-regex, regex: 'd+'}
- {name: x-present, present: true}
- {name: x-absent, present: true, invert: true}
- {name: x-nothing}
queryParam:
- {name: Exact, exact: "1"}
- {name: re, regex: '[a-z]+'}
- {name: flag, present: true}
methods: [GET, POST]
"""))
    match = first_match(model)
    assert match.headers == (
        StringMatch("x-exact", StrKind.EXACT, "a"), StringMatch("x-prefix", StrKind.PREFIX, "b"),
        StringMatch("x-suffix", StrKind.SUFFIX, "c"), StringMatch("x-regex", StrKind.REGEX, "d+"),
        StringMatch("x-present", StrKind.PRESENT),
        StringMatch("x-absent", StrKind.PRESENT, invert=True))
    assert match.query == (StringMatch("Exact", StrKind.EXACT, "1"),
                           StringMatch("re", StrKind.REGEX, "[a-z]+"),
                           StringMatch("flag", StrKind.PRESENT))
    assert match.methods == frozenset({"GET", "POST"})
    assert "NEGATIVE_MATCH_DROPPED" in findings.codes()
    ok = (("x-exact", "a"), ("x-prefix", "bz"), ("x-suffix", "zc"), ("x-regex", "dd"),
          ("x-present", "1"))
    query = (("Exact", "1"), ("re", "abc"), ("flag", ""))
    assert evaluate(model, headers=ok, query=query) == ["api:8080:1"]
    assert evaluate(model, method="PUT", headers=ok, query=query) == ["web:8080:1"]
    assert evaluate(model, headers=(*ok, ("x-absent", "1")), query=query) == ["web:8080:1"]


# --- destination -------------------------------------------------------------------------

def test_destination_namespace_and_unknown_service() -> None:
    model, findings = convert(simple_route("pathPrefix: /x", "service: api\nnamespace: other"))
    assert table_of(model).rules[0].destinations == (Destination(ServiceRef("other", "api"),
                                                                 None),)
    assert "SERVICE_UNKNOWN" in findings.codes()


def test_partition_is_reported() -> None:
    _, findings = convert(simple_route("pathPrefix: /x", "service: api\npartition: eu"))
    assert "REMOTE_TARGET_DROPPED" in findings.codes()


def test_prefix_rewrite_is_envoy_prefix_rewrite() -> None:
    model, _ = convert(simple_route("pathPrefix: /old", "service: api\nprefixRewrite: /new"))
    rule = table_of(model).rules[0]
    assert rule.rewrite == PathRewrite(RewriteKind.PREFIX_STRING, "/new")
    out = SourceEvaluator(model).evaluate(Request(ServiceKey(NS, "web", 8080), path="/oldies"))
    assert out.path == "/newies"


def test_timeouts() -> None:
    model, findings = convert(router("""
routes:
- match: {http: {pathPrefix: /a}}
  destination: {requestTimeout: 1m30s, idleTimeout: 10s}
- match: {http: {pathPrefix: /b}}
  destination: {requestTimeout: -1s}
- match: {http: {pathPrefix: /c}}
  destination: {requestTimeout: 0s}
"""))
    assert [r.timeout_ms for r in table_of(model).rules] == [90_000, None, 15_000]
    assert "IDLE_TIMEOUT_DROPPED" in findings.codes()


def test_header_modifiers() -> None:
    model, _ = convert(simple_route("pathPrefix: /x", """
service: api
requestHeaders: {add: {x-a: "1"}, set: {x-s: "2"}, remove: [x-r]}
responseHeaders: {set: {x-resp: "3"}}
"""))
    rule = table_of(model).rules[0]
    assert rule.request_headers == HeaderOps(set=(("x-s", "2"),), add=(("x-a", "1"),),
                                             remove=("x-r",))
    assert rule.response_headers == HeaderOps(set=(("x-resp", "3"),))


# --- retries -------------------------------------------------------------------------------

@pytest.mark.parametrize(("destination", "expected", "codes"), [
    ("numRetries: 3\nretryOnConnectFailure: true\nretryOnStatusCodes: [503, 429]",
     RetryPolicy(3, (429, 503), conditions=("connect-failure", "retriable-status-codes")), []),
    ("retryOn: [gateway-error, connect-failure]",
     RetryPolicy(1, (502, 503, 504), conditions=("gateway-error", "connect-failure")), []),
    ("numRetries: 2\nretryOn: [5xx, connect-failure]",
     RetryPolicy(2, tuple(range(500, 600)), conditions=("5xx", "connect-failure")), []),
    ("numRetries: 2\nretryOn: [reset, retriable-4xx]",
     RetryPolicy(2, (409,), conditions=("reset", "retriable-4xx")), ["RETRY_APPROXIMATED"]),
    ("numRetries: 4", None, ["RETRY_NEVER_TRIGGERS"]),
])
def test_retries(destination: str, expected: RetryPolicy | None, codes: list[str]) -> None:
    model, findings = convert(simple_route("pathPrefix: /x", destination))
    assert table_of(model).rules[0].retry == expected
    assert [c for c in codes if c in findings.codes()] == codes
    if not codes:
        assert "RETRY_APPROXIMATED" not in findings.codes()


# --- splitter ------------------------------------------------------------------------------

def test_splitter_alone_splits_everything_with_float_weights() -> None:
    model, findings = convert(splitter("""
splits:
- {weight: 90.5, service: web}
- weight: 9.5
  service: api
  requestHeaders: {set: {x-canary: "1"}}
  responseHeaders: {remove: [x-internal]}
"""))
    table = table_of(model)
    assert table.rules == () and table.unmatched is Unmatched.PASS_THROUGH
    assert table.fallback == (
        Destination(WEB, None, 9050),
        Destination(API, 8080, 950, request_headers=HeaderOps(set=(("x-canary", "1"),)),
                    response_headers=HeaderOps(remove=("x-internal",))))
    assert findings.codes() == ALWAYS
    assert evaluate(model, "/anything") == ["web:8080:9050", "api:8080:950"]


def test_router_destination_goes_through_the_target_splitter_unless_a_subset() -> None:
    model, _ = convert(router("""
routes:
- match: {http: {pathPrefix: /canary}}
  destination: {service: api}
- match: {http: {pathPrefix: /v2}}
  destination: {service: web, serviceSubset: v2}
"""), splitter("splits: [{weight: 50, service: admin}, {weight: 50}]", name="api"),
        splitter("splits: [{weight: 100, serviceSubset: v1}]"), SUBSETS)
    canary, v2 = table_of(model).rules
    assert canary.destinations == (Destination(ADMIN, 9090, 5000), Destination(API, 8080, 5000))
    assert v2.destinations == (Destination(WEB_V2, None, subset="v2"),)
    assert table_of(model).fallback == (Destination(WEB_V1, None, 10_000, subset="v1"),)
    # api's splitter also gets its own table (its clients are split too)
    assert table_of(model, API).fallback == (Destination(ADMIN, 9090, 5000),
                                             Destination(API, None, 5000))


def test_nested_splitters_are_flattened() -> None:
    model, _ = convert(splitter("splits: [{weight: 50, service: api}, {weight: 50}]"),
                       splitter("splits: [{weight: 10, service: admin}, {weight: 90}]",
                                name="api"))
    assert table_of(model).fallback == (Destination(ADMIN, 9090, 500),
                                        Destination(API, 8080, 4500),
                                        Destination(WEB, None, 5000))


# --- resolver ------------------------------------------------------------------------------

def test_default_subset_makes_a_subset_service() -> None:
    model, findings = convert(resolver("""
defaultSubset: v1
subsets:
  v1: {filter: "Service.Meta.version == v1 and Service.Meta[\\"track\\"] == `stable`",
       onlyPassing: true}
"""))
    table = table_of(model)
    assert table.rules == ()
    assert table.fallback == (Destination(WEB_V1, None, subset="v1"),)
    assert model.subset_services[WEB_V1] == SubsetService(
        WEB_V1, WEB, "v1", (("track", "stable"), ("version", "v1")))
    assert findings.codes() == ["SOURCE_MESH_HAS_NO_GAMMA", "SUBSET_FILTER_AS_LABELS",
                                "SUBSET_SERVICE_CREATED"]


def test_subset_service_reuses_or_avoids_an_input_service() -> None:
    same = service("web-v1").replace("{app: web-v1}", "{app: web, version: v1}")
    services = "---".join([service("web"), same, service("web-v2")])
    model, findings = convert(router("""
routes:
- match: {http: {pathPrefix: /v2}}
  destination: {serviceSubset: v2}
"""), resolver("""
defaultSubset: v1
subsets:
  v1: {filter: "Service.Meta.version == v1"}
  v2: {filter: "Service.Meta.version == v2"}
"""), services=services)
    table = table_of(model)
    assert table.fallback == (Destination(WEB_V1, 8080, subset="v1"),)  # used as is
    (v2,) = table.rules[0].destinations
    assert v2.service.name.startswith("web-v2-")  # web-v2 selects other pods
    assert sorted(model.subset_services) == [v2.service]
    assert [f.code for f in findings].count("SUBSET_SERVICE_CREATED") == 1


def test_resolver_with_only_subsets_routes_nothing() -> None:
    model, findings = convert(SUBSETS)
    assert model.tables == [] and findings.codes() == ALWAYS


def test_redirect() -> None:
    model, findings = convert(resolver("redirect: {service: api, datacenter: dc2}"),
                              resolver("defaultSubset: v2\nsubsets: {v2: {filter: "
                                       "'Service.Meta.version == v2'}}", name="api"))
    assert table_of(model).fallback == (Destination(ServiceRef(NS, "api-v2"), 8080,
                                                    subset="v2"),)
    assert "REMOTE_TARGET_DROPPED" in findings.codes()


def test_redirect_to_a_subset_of_the_same_service() -> None:
    model, _ = convert(resolver("""
redirect: {serviceSubset: v2}
subsets: {v2: {filter: "Service.Meta.version == v2"}}
"""))
    assert table_of(model).fallback == (Destination(WEB_V2, None, subset="v2"),)


def test_circular_redirect_is_bad_input() -> None:
    with pytest.raises(InputError) as err:
        convert(resolver("redirect: {service: api}"),
                resolver("redirect: {service: web}", name="api"))
    assert err.value.field == "spec.redirect" and "circular" in str(err.value)


def test_resolver_request_timeout_applies_only_as_start_node() -> None:
    model, findings = convert(resolver("requestTimeout: 3s"))
    (rule,) = table_of(model).rules
    assert rule.matches == () and rule.timeout_ms == 3000
    assert rule.destinations == (Destination(WEB, None),)
    # the explicit catch-all leaves nothing unmatched: no second catch-all is needed
    assert table_of(model).unmatched is Unmatched.NOT_FOUND and table_of(model).fallback == ()
    assert "TIMEOUT_DEFAULT_EXPLICIT" not in findings.codes()
    model, _ = convert(resolver("requestTimeout: 3s"), router("""
routes:
- match: {http: {pathPrefix: /a}}
  destination: {}
"""))
    assert table_of(model).rules[0].timeout_ms == 15_000


def test_policies_without_an_equivalent() -> None:
    _, findings = convert(resolver("""
connectTimeout: 5s
loadBalancer: {policy: least_request}
failover: {"*": {datacenters: [dc2]}}
"""))
    assert findings.codes() == ["SOURCE_MESH_HAS_NO_GAMMA", "TRAFFIC_POLICY_DROPPED"]
    assert len([f for f in findings if f.code == "TRAFFIC_POLICY_DROPPED"]) == 3


def test_subsets_that_cannot_become_services() -> None:
    model, findings = convert(router("""
routes:
- match: {http: {pathPrefix: /tagged}}
  destination: {serviceSubset: tagged}
- match: {http: {pathPrefix: /missing}}
  destination: {serviceSubset: nope}
- match: {http: {pathPrefix: /all}}
  destination: {serviceSubset: all}
"""), resolver("""
subsets:
  tagged: {filter: '"v1" in Service.Tags'}
  all: {}
"""))
    tagged, missing, every = table_of(model).rules
    assert tagged.destinations == (Destination(WEB, None, subset="tagged"),)
    assert missing.destinations == (Destination(WEB, None, subset="nope"),)
    assert every.destinations == (Destination(WEB, None, subset="all"),)
    assert {"SUBSET_NOT_CONVERTIBLE", "SUBSET_UNKNOWN"} <= set(findings.codes())
    assert model.subset_services == {}


def test_subset_of_an_unknown_service() -> None:
    model, findings = convert(resolver("defaultSubset: v1\nsubsets: {v1: {filter: "
                                       "'Service.Meta.version == v1'}}", name="ghost"))
    assert table_of(model, ServiceRef(NS, "ghost")).fallback == (
        Destination(ServiceRef(NS, "ghost"), None, subset="v1"),)
    assert {"SUBSET_NOT_CONVERTIBLE", "SERVICE_UNKNOWN"} <= set(findings.codes())


@pytest.mark.parametrize(("expr", "labels"), [
    ("Service.Meta.version == v1", (("version", "v1"),)),
    ('Service.Meta.version == "v1" and Service.Meta.zone == `a`',
     (("version", "v1"), ("zone", "a"))),
    ("", ()),
    ("Service.Meta.version != v1", None),
    ("Service.Meta.version == v1 or Service.Meta.version == v2", None),
    ("Service.Tags contains v1", None),
    ("Service.Meta.version == v1 and Service.Meta.version == v2", None),
])
def test_filter_labels(expr: str, labels: tuple[tuple[str, str], ...] | None) -> None:
    assert filter_labels(expr) == labels


# --- whole objects -------------------------------------------------------------------------

def test_unread_fields_are_reported() -> None:
    _, findings = convert(simple_route("pathPrefix: /x", "service: api\nfancy: yes"))
    assert "FIELD_IGNORED" in findings.codes()


def test_later_duplicate_is_ignored() -> None:
    model, findings = convert(splitter("splits: [{weight: 100, service: api}]"),
                              splitter("splits: [{weight: 100, service: admin}]"))
    assert table_of(model).fallback == (Destination(API, 8080, 10_000),)
    assert "DUPLICATE_HOST_IGNORED" in findings.codes()


def test_no_gamma_is_said_once_per_run() -> None:
    _, findings = convert(splitter("splits: [{weight: 100}]"),
                          splitter("splits: [{weight: 100}]", name="api"))
    assert [f.code for f in findings].count("SOURCE_MESH_HAS_NO_GAMMA") == 1


# --- bad input -----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "field", "message"), [
    (splitter("splits: [{weight: 60}, {weight: 30, service: api}]"), "spec.splits",
     "add up to 90"),
    (splitter("splits: [{weight: 120}]"), "spec.splits[0].weight", "0 to 100"),
    (splitter("splits: [{weight: ten}]"), "spec.splits[0].weight", "expected a number"),
    (simple_route("pathPrefix: /a\npathExact: /b"), "spec.routes[0].match.http",
     "at most one"),
    (simple_route("pathPrefix: a"), "spec.routes[0].match.http.pathPrefix", "begin with"),
    (simple_route("pathRegex: '/a('"), "spec.routes[0].match.http.pathRegex",
     "invalid regular expression"),
    (simple_route("header: [{name: x, exact: a, prefix: b}]"),
     "spec.routes[0].match.http.header[0]", "at most one"),
    (simple_route("pathRegex: /a.*", "prefixRewrite: /b"),
     "spec.routes[0].destination.prefixRewrite", "requires"),
    (simple_route("pathPrefix: /a", "requestTimeout: soon"),
     "spec.routes[0].destination.requestTimeout", "invalid duration"),
    (simple_route("pathPrefix: /a", "numRetries: three"),
     "spec.routes[0].destination.numRetries", "expected an integer"),
    (simple_route("pathPrefix: /a", "retryOnStatusCodes: [five]"),
     "spec.routes[0].destination.retryOnStatusCodes", "status codes"),
    (router("routes: [oops]"), "spec.routes[0]", "expected a mapping"),
])
def test_bad_input(text: str, field: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        convert(text)
    assert err.value.field == field and err.value.file == "consul.yaml"
    assert err.value.line is not None
    assert message in str(err.value)
