"""The App Mesh converter: VirtualService / VirtualRouter / VirtualNode YAML in -> routing
model and finding codes out.

Covers: the Service from ``awsName``, router listeners -> table ports, route priority order
(and the assumed order without one), http/http2/grpc/tcp routes, prefix/path/header/query/
method/scheme matches, weighted targets -> the nodes' Services and ports, retry policies and
App Mesh's default one, the 15 s default timeout, a virtual service provided by a node,
nodes sharing a hostname, unresolved references; bad input; and requests run through the
model with the source evaluator.
"""

from __future__ import annotations

import textwrap

import pytest

from converters.appmesh import CONVERTER
from converters.appmesh.policies import DEFAULT_RETRY, GRPC_DEFAULT_RETRY
from meshmigrate.errors import InputError
from meshmigrate.findings import Findings
from meshmigrate.model import (
    Destination,
    Match,
    PathKind,
    PathMatch,
    Protocol,
    RetryPolicy,
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

NS = "bookinfo"
REVIEWS = ServiceRef(NS, "reviews")
V1, V2 = ServiceRef(NS, "reviews-v1"), ServiceRef(NS, "reviews-v2")
API = "appmesh.k8s.aws/v1beta2"


def service(name: str, ports: str = "[{name: http, port: 9080}]") -> str:
    return f"""
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {NS}}}
spec:
  selector: {{app: {name}}}
  ports: {ports}
"""


SERVICES = "---".join([service("reviews"), service("reviews-v1"),
                       service("reviews-v2", "[{name: http, port: 80, targetPort: 9080}]")])


def obj(kind: str, name: str, spec: str) -> str:
    body = textwrap.indent(textwrap.dedent(spec).strip(), "  ")
    return f"apiVersion: {API}\nkind: {kind}\nmetadata: {{name: {name}, namespace: {NS}}}\n" \
           f"spec:\n{body}\n"


def node(name: str, host: str | None = None, protocol: str = "http",
         selector: str = "") -> str:
    host = host or f"{name}.{NS}.svc.cluster.local"
    selector = selector or f"{{matchLabels: {{app: reviews, version: {name[-2:]}}}}}"
    return obj("VirtualNode", name, f"""
podSelector: {selector}
listeners:
- portMapping: {{port: 9080, protocol: {protocol}}}
serviceDiscovery:
  dns: {{hostname: {host}}}
""")


NODES = node("reviews-v1") + "---\n" + node("reviews-v2")

VS = obj("VirtualService", "reviews", """
awsName: reviews.bookinfo.svc.cluster.local
provider:
  virtualRouter:
    virtualRouterRef: {name: reviews-router}
""")


def router(routes: str, protocol: str = "http", port: int = 9080) -> str:
    return obj("VirtualRouter", "reviews-router", f"""
listeners:
- portMapping: {{port: {port}, protocol: {protocol}}}
routes:
{textwrap.indent(textwrap.dedent(routes).strip(), '')}
""")


def http_route(name: str, match: str = "prefix: /", targets: str = "", extra: str = "",
               priority: int | None = None, kind: str = "httpRoute") -> str:
    targets = targets or "[{virtualNodeRef: {name: reviews-v1}, weight: 1}]"
    text = f"""
- name: {name}
  {kind}:
    match:
{textwrap.indent(textwrap.dedent(match).strip(), '      ')}
    action:
      weightedTargets: {targets}
{textwrap.indent(textwrap.dedent(extra).strip(), '    ')}
"""
    if priority is not None:
        text = text.replace(f"- name: {name}\n", f"- name: {name}\n  priority: {priority}\n")
    return text


def convert(*texts: str, services: str = SERVICES) -> tuple[RoutingModel, Findings]:
    source = "\n---\n".join([services, *texts])
    docs = list(parse_stream(source, "appmesh.yaml"))
    model = RoutingModel(services=index_services(docs))
    ctx = ConvertContext(model)
    CONVERTER.convert(dispatch(docs, [CONVERTER])["appmesh"], ctx)
    return model, ctx.findings


def only_table(model: RoutingModel) -> RouteTable:
    (table,) = model.tables
    return table


def evaluate(model: RoutingModel, path: str = "/", method: str = "GET",
             headers: tuple[tuple[str, str], ...] = ()) -> tuple[int, list[str]]:
    out = SourceEvaluator(model).evaluate(Request(ServiceKey(NS, "reviews", 9080), path=path,
                                                  method=method, headers=headers))
    return out.status, [f"{b.name}:{b.port}:{b.weight}" for b in out.backends]


SPLIT = "[{virtualNodeRef: {name: reviews-v1}, weight: 90}, " \
        "{virtualNodeRef: {name: reviews-v2}, weight: 10}]"


# --- virtual service + router ------------------------------------------------------------

def test_router_table() -> None:
    model, findings = convert(VS, router(http_route("all", targets=SPLIT)), NODES)
    table = only_table(model)
    assert table.service == REVIEWS and table.port == 9080
    assert table.protocol is Protocol.HTTP and table.unmatched is Unmatched.NOT_FOUND
    assert table.default_retry == DEFAULT_RETRY and table.first_match
    (rule,) = table.rules
    assert rule.name == "all" and rule.timeout_ms == 15_000 and rule.retry is None
    assert rule.matches == (Match(path=PathMatch(PathKind.PREFIX, "/"),
                                  origin=("spec", "routes", 0, "httpRoute", "match")),)
    # reviews-v2's Service reaches container port 9080 through Service port 80
    assert rule.destinations == (Destination(V1, 9080, 90), Destination(V2, 80, 10))
    assert rule.origin is not None and rule.origin.doc.kind == "VirtualRouter"
    assert findings.codes() == ["CLIENT_SCOPE_WIDENED", "SOURCE_DEFAULT_RETRY_ASSUMED",
                                "SOURCE_MESH_HAS_NO_GAMMA", "TIMEOUT_DEFAULT_EXPLICIT"]
    assert sorted(d.kind for d in model.sources) == ["VirtualRouter", "VirtualService"]


def test_unmatched_is_404_and_prefix_is_a_string_prefix() -> None:
    model, _ = convert(VS, router(http_route("api", "prefix: /api")), NODES)
    assert evaluate(model, "/apiary") == (200, ["reviews-v1:9080:1"])
    assert evaluate(model, "/other")[0] == 404


def test_aws_name_defaults_to_the_object_name() -> None:
    vs = VS.replace("  awsName: reviews.bookinfo.svc.cluster.local\n", "")
    model, _ = convert(vs, router(http_route("all")), NODES)
    assert only_table(model).service == REVIEWS


def test_priority_order() -> None:
    routes = (http_route("late", "prefix: /", priority=20) +
              http_route("early", "prefix: /a", priority=5))
    model, findings = convert(VS, router(routes), NODES)
    assert [r.name for r in only_table(model).rules] == ["early", "late"]
    assert "SOURCE_ORDER_ASSUMED" not in findings.codes()


def test_order_without_priority_is_assumed() -> None:
    routes = (http_route("short", "prefix: /") + http_route("long", "prefix: /api/v1") +
              http_route("prioritized", "prefix: /x", priority=100))
    model, findings = convert(VS, router(routes), NODES)
    assert [r.name for r in only_table(model).rules] == ["prioritized", "long", "short"]
    assert "SOURCE_ORDER_ASSUMED" in findings.codes()


def test_http_match_conditions() -> None:
    model, findings = convert(VS, router(http_route("m", """
path: {exact: /reviews/1}
method: POST
scheme: https
headers:
- {name: X-Exact, match: {exact: a}}
- {name: x-prefix, match: {prefix: b}}
- {name: x-suffix, match: {suffix: c}}
- {name: x-regex, match: {regex: 'd+'}}
- {name: x-range, match: {range: {start: 1, end: 4}}}
- {name: x-present}
- {name: x-not, invert: true, match: {exact: 'no'}}
queryParameters:
- {name: Id, match: {exact: "7"}}
- {name: flag}
""")), NODES)
    (match,) = only_table(model).rules[0].matches
    assert match.path == PathMatch(PathKind.EXACT, "/reviews/1")
    assert match.methods == frozenset({"POST"}) and match.scheme == "https"
    assert match.headers == (
        StringMatch("x-exact", StrKind.EXACT, "a"), StringMatch("x-prefix", StrKind.PREFIX, "b"),
        StringMatch("x-suffix", StrKind.SUFFIX, "c"), StringMatch("x-regex", StrKind.REGEX, "d+"),
        StringMatch("x-range", StrKind.REGEX, "1|2|3"), StringMatch("x-present", StrKind.PRESENT),
        StringMatch("x-not", StrKind.EXACT, "no", invert=True))
    assert match.query == (StringMatch("Id", StrKind.EXACT, "7"),
                           StringMatch("flag", StrKind.PRESENT))
    assert {"HEADER_MATCH_APPROXIMATED", "NEGATIVE_MATCH_DROPPED",
            "SCHEME_MATCH_DROPPED"} <= set(findings.codes())


def test_path_regex_and_an_inexpressible_range() -> None:
    model, findings = convert(VS, router(http_route("m", """
path: {regex: '/r/[0-9]+'}
headers: [{name: x-big, match: {range: {start: 0, end: 1000}}}]
""")), NODES)
    (match,) = only_table(model).rules[0].matches
    assert match.path == PathMatch(PathKind.REGEX, "/r/[0-9]+") and match.headers == ()
    assert "MATCH_NOT_SUPPORTED" in findings.codes()


def test_retry_policy_and_timeouts() -> None:
    model, findings = convert(VS, router(http_route("r", extra="""
retryPolicy:
  maxRetries: 3
  perRetryTimeout: {unit: ms, value: 250}
  httpRetryEvents: [gateway-error, client-error]
  tcpRetryEvents: [connection-error]
timeout:
  perRequest: {unit: s, value: 2}
  idle: {unit: s, value: 30}
""")), NODES)
    rule = only_table(model).rules[0]
    assert rule.retry == RetryPolicy(3, (409, 502, 503, 504), per_try_timeout_ms=250,
                                     conditions=("gateway-error", "client-error",
                                                 "connection-error"))
    assert rule.timeout_ms == 2000
    assert "IDLE_TIMEOUT_DROPPED" in findings.codes()
    assert "RETRY_APPROXIMATED" not in findings.codes()
    assert "SOURCE_DEFAULT_RETRY_ASSUMED" not in findings.codes()


def test_retry_approximations_and_disabled_timeout() -> None:
    model, findings = convert(VS, router(http_route("r", extra="""
retryPolicy:
  maxRetries: 1
  perRetryTimeout: {unit: s, value: 1}
  httpRetryEvents: [server-error, stream-error]
timeout:
  perRequest: {unit: ms, value: 0}
""")), NODES)
    rule = only_table(model).rules[0]
    assert rule.retry is not None and 511 in rule.retry.codes and 509 not in rule.retry.codes
    assert rule.timeout_ms is None
    assert "RETRY_APPROXIMATED" in findings.codes()


def test_http2_route() -> None:
    model, _ = convert(VS, router(http_route("h2", kind="http2Route"), protocol="http2"),
                       node("reviews-v1", protocol="http2"))
    assert only_table(model).protocol is Protocol.HTTP
    assert only_table(model).rules[0].name == "h2"


def test_grpc_route() -> None:
    routes = http_route("method", "serviceName: pkg.Reviews\nmethodName: Get\n"
                        "metadata: [{name: x-tenant, match: {exact: a}}]",
                        kind="grpcRoute", priority=0) + \
        http_route("service", "serviceName: pkg.Reviews", kind="grpcRoute", priority=1)
    model, _ = convert(VS, router(routes, protocol="grpc"), node("reviews-v1", protocol="grpc"))
    table = only_table(model)
    assert table.protocol is Protocol.GRPC and table.default_retry == GRPC_DEFAULT_RETRY
    method, svc = table.rules
    assert method.matches[0].path == PathMatch(PathKind.EXACT, "/pkg.Reviews/Get")
    assert method.matches[0].headers == (StringMatch("x-tenant", StrKind.EXACT, "a"),)
    assert svc.matches[0].path == PathMatch(PathKind.PREFIX, "/pkg.Reviews/")


def test_tcp_route() -> None:
    route = """
- name: tcp
  tcpRoute:
    action:
      weightedTargets: [{virtualNodeRef: {name: reviews-v1}, weight: 1}]
    timeout: {idle: {unit: s, value: 5}}
"""
    model, findings = convert(VS, router(route, protocol="tcp"),
                              node("reviews-v1", protocol="tcp"))
    table = only_table(model)
    assert table.protocol is Protocol.TCP and table.default_retry is None
    assert table.rules[0].timeout_ms is None and table.rules[0].matches == ()
    assert "IDLE_TIMEOUT_DROPPED" in findings.codes()
    assert "TIMEOUT_DEFAULT_EXPLICIT" not in findings.codes()


def test_listener_per_port_with_route_port_match() -> None:
    text = obj("VirtualRouter", "reviews-router", """
listeners:
- portMapping: {port: 9080, protocol: http}
- portMapping: {port: 9090, protocol: http}
routes:
- name: main
  httpRoute:
    match: {prefix: /, port: 9080}
    action: {weightedTargets: [{virtualNodeRef: {name: reviews-v1}, weight: 1, port: 9080}]}
- name: admin
  httpRoute:
    match: {prefix: /, port: 9090}
    action: {weightedTargets: [{virtualNodeRef: {name: reviews-v1}, weight: 1, port: 9090}]}
""")
    services = SERVICES.replace("[{name: http, port: 9080}]",
                                "[{name: http, port: 9080}, {name: admin, port: 9090}]")
    model, _ = convert(VS, text, NODES, services=services)
    assert [(t.port, [r.name for r in t.rules]) for t in model.tables] == [
        (9080, ["main"]), (9090, ["admin"])]
    assert model.tables[1].rules[0].destinations == (Destination(V1, 9090),)


# --- virtual node provider, nodes ----------------------------------------------------------

def test_virtual_service_provided_by_a_node() -> None:
    vs = VS.replace("virtualRouter:\n      virtualRouterRef: {name: reviews-router}",
                    "virtualNode:\n      virtualNodeRef: {name: reviews-v2}")
    model, findings = convert(vs, NODES)
    table = only_table(model)
    assert table.port == 9080 and table.default_retry == DEFAULT_RETRY
    (rule,) = table.rules
    assert rule.matches == () and rule.timeout_ms == 15_000
    assert rule.destinations == (Destination(V2, 80),)
    assert evaluate(model, "/x") == (200, ["reviews-v2:80:1"])
    assert "TIMEOUT_DEFAULT_EXPLICIT" in findings.codes()


def test_nodes_sharing_a_hostname_get_a_service_each() -> None:
    shared = "reviews.bookinfo.svc.cluster.local"
    nodes = node("reviews-v1", shared) + "---\n" + node(
        "reviews-v2", shared, selector="{matchExpressions: [{key: v, operator: Exists}]}")
    model, findings = convert(VS, router(http_route("all", targets=SPLIT)), nodes,
                              services=service("reviews"))
    rule = only_table(model).rules[0]
    assert rule.destinations == (Destination(V1, 9080, 90, subset="v1"),
                                 Destination(REVIEWS, 9080, 10, subset="v2"))
    assert model.subset_services == {V1: SubsetService(
        V1, REVIEWS, "v1", (("app", "reviews"), ("version", "v1")))}
    assert {"SHARED_HOSTNAME_SPLIT", "SUBSET_SERVICE_CREATED",
            "SUBSET_NOT_CONVERTIBLE"} <= set(findings.codes())


def test_per_node_service_reuses_or_avoids_an_input_service() -> None:
    shared = "reviews.bookinfo.svc.cluster.local"
    nodes = node("reviews-v1", shared) + "---\n" + node("reviews-v2", shared)
    same = service("reviews-v1").replace("{app: reviews-v1}", "{app: reviews, version: v1}")
    model, _ = convert(VS, router(http_route("all", targets=SPLIT)), nodes,
                       services="---".join([service("reviews"), same, service("reviews-v2")]))
    v1, v2 = only_table(model).rules[0].destinations
    assert v1.service == V1  # the input's reviews-v1 selects exactly these pods: used as is
    assert v2.service.name.startswith("reviews-v2-") and v2.service != V2  # another selector
    assert sorted(model.subset_services) == [v2.service]


def test_node_policies_are_reported() -> None:
    text = obj("VirtualNode", "reviews-v1", """
podSelector: {matchLabels: {app: reviews}}
listeners:
- portMapping: {port: 9080, protocol: http}
  healthCheck: {protocol: http, healthyThreshold: 2, unhealthyThreshold: 2,
                timeoutMillis: 2000, intervalMillis: 5000}
  outlierDetection: {maxServerErrors: 5}
  tls: {mode: STRICT}
serviceDiscovery:
  dns: {hostname: reviews-v1.bookinfo.svc.cluster.local, responseType: ENDPOINTS}
backends:
- virtualService:
    virtualServiceRef: {name: ratings}
    clientPolicy: {tls: {validation: {}}}
logging: {accessLog: {file: {path: /dev/stdout}}}
""")
    _, findings = convert(VS, router(http_route("all")), text)
    assert {"TRAFFIC_POLICY_DROPPED", "MESH_TLS_DROPPED"} <= set(findings.codes())
    assert "FIELD_IGNORED" not in findings.codes()


# --- unresolved and unsupported ------------------------------------------------------------

def test_unresolved_references() -> None:
    targets = "[{virtualNodeARN: 'arn:aws:appmesh:x', weight: 50}, " \
              "{virtualNodeRef: {name: ghost}, weight: 50}]"
    model, findings = convert(VS, router(http_route("all", targets=targets)), NODES)
    assert only_table(model).rules[0].destinations == ()
    assert [f.code for f in findings].count("REFERENCE_UNRESOLVED") == 2
    assert evaluate(model)[0] == 500


def test_missing_router_and_external_names() -> None:
    model, findings = convert(VS)
    assert model.tables == [] and "REFERENCE_UNRESOLVED" in findings.codes()
    vs = VS.replace("reviews.bookinfo.svc.cluster.local", "reviews.example.com")
    model, findings = convert(vs, router(http_route("all")), NODES)
    assert model.tables == [] and "HOST_NOT_A_SERVICE" in findings.codes()
    cloud_map = obj("VirtualNode", "reviews-v1", """
listeners: [{portMapping: {port: 9080, protocol: http}}]
serviceDiscovery: {awsCloudMap: {namespaceName: local, serviceName: reviews}}
""")
    model, findings = convert(VS, router(http_route("all")), cloud_map)
    assert only_table(model).rules[0].destinations == ()
    assert "HOST_NOT_A_SERVICE" in findings.codes()


def test_unused_router_and_gateway_objects() -> None:
    gateway = obj("VirtualGateway", "ingress", "listeners: []")
    model, findings = convert(router(http_route("all")), gateway, NODES)
    assert model.tables == []
    assert {"OBJECT_UNUSED", "UNSUPPORTED_SOURCE"} <= set(findings.codes())
    assert "FIELD_IGNORED" not in findings.codes()


def test_unknown_service_port() -> None:
    model, findings = convert(VS, router(http_route("all"), port=7000), NODES)
    assert only_table(model).port is None
    assert "SERVICE_PORT_UNKNOWN" in findings.codes()


def test_unread_fields_are_reported() -> None:
    _, findings = convert(VS.replace("  provider:", "  surprise: yes\n  provider:"),
                          router(http_route("all")), NODES)
    assert "FIELD_IGNORED" in findings.codes()


# --- bad input -----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "field", "message"), [
    (router(http_route("a").replace("httpRoute:", "tcpRoute: {}\n  httpRoute:")),
     "spec.routes[0]", "exactly one of"),
    (router(http_route("a", kind="grpcRoute")), "spec.listeners", "protocol grpc"),
    (router(http_route("a", priority=2000)), "spec.routes[0].priority", "0-1000"),
    (router(http_route("a", targets="[{virtualNodeRef: {name: reviews-v1}, weight: 101}]")),
     "spec.routes[0].httpRoute.action.weightedTargets[0].weight", "0-100"),
    (router(http_route("a", extra="timeout: {perRequest: {unit: h, value: 1}}")),
     "spec.routes[0].httpRoute.timeout.perRequest.unit", "s or ms"),
    (router(http_route("a", "prefix: /\npath: {exact: /x}")), "spec.routes[0].httpRoute.match",
     "only one of"),
    (router(http_route("a", "path: {regex: '/x('}")),
     "spec.routes[0].httpRoute.match.path.regex", "invalid regular expression"),
    (router(http_route("a", "methodName: Get"), protocol="grpc").replace("httpRoute",
                                                                       "grpcRoute"),
     "spec.routes[0].grpcRoute.match.methodName", "needs serviceName"),
    (router(http_route("a"), protocol="smtp"), "spec.listeners[0].portMapping.protocol",
     "one of"),
])
def test_bad_router(text: str, field: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        convert(VS, text, NODES)
    assert err.value.field == field and err.value.file == "appmesh.yaml"
    assert err.value.line is not None
    assert message in str(err.value)


def test_provider_needs_exactly_one() -> None:
    vs = VS.replace("  provider:\n", "  provider:\n    virtualNode: {virtualNodeRef: {name: x}}\n")
    with pytest.raises(InputError) as err:
        convert(vs, router(http_route("all")), NODES)
    assert err.value.field == "spec.provider"
