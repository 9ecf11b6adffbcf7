"""Semantic verification: the driver, the unreported-difference findings, and the issue's
naive-translation example (testdata/verify/order-sensitive)."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from meshmigrate.cli import run
from meshmigrate.cliutil import AppContext
from meshmigrate.findings import Findings
from meshmigrate.model import Destination as Dest
from meshmigrate.model import (
    Match,
    PathKind,
    PathMatch,
    RetryPolicy,
    RouteTable,
    RoutingModel,
    Rule,
    ServiceInfo,
    ServicePort,
    ServiceRef,
    StringMatch,
    StrKind,
)
from meshmigrate.model import Provenance as Prov
from meshmigrate.pipeline import ConvertOptions, convert_documents
from meshmigrate.semantics.outcome import Request, ServiceKey
from meshmigrate.sources import load, parse_stream
from meshmigrate.targets import make_profile
from meshmigrate.verify import (
    attach_to_findings,
    describe_request,
    missing_services,
    request_url,
    verify_model,
)

DATA = Path(__file__).resolve().parent.parent / "testdata" / "verify"
ORDER = DATA / "order-sensitive"
NS = "shop"
WEB = ServiceRef(NS, "web")

VS_TEXT = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: shop}
spec:
  hosts: [web]
  http:
  - route: [{destination: {host: web}}]
"""


def vs_doc() -> Any:
    return next(parse_stream(io.StringIO(VS_TEXT), "vs.yaml"))


def model_with(*rules: Rule, **table_kw: Any) -> RoutingModel:
    doc = vs_doc()
    origin = Prov(doc, ("spec", "http"))
    ruled = tuple(replace(r, origin=Prov(doc, ("spec", "http", i)))
                  for i, r in enumerate(rules))
    table = RouteTable(WEB, ruled, origin=origin, name="web", **table_kw)
    info = ServiceInfo(WEB, (ServicePort(8080, "http"),), (("app", "web"),))
    return RoutingModel(tables=[table], services={WEB: info})


def route(*rules: dict[str, Any], name: str = "web", ns: str = NS) -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"parentRefs": [{"group": "", "kind": "Service", "name": "web",
                                     "namespace": NS}],
                     "rules": list(rules)}}


def exact_rule(path: str, backend: str) -> dict[str, Any]:
    return {"matches": [{"path": {"type": "Exact", "value": path}}],
            "backendRefs": [{"name": backend, "port": 8080}]}


EXACT_A = Rule((Match(path=PathMatch(PathKind.EXACT, "/a")),), (Dest(ServiceRef(NS, "a"), 8080),))


# --- the driver ---------------------------------------------------------------------------

def test_equivalent_configs_have_no_difference() -> None:
    report = verify_model(model_with(EXACT_A), [route(exact_rule("/a", "a"))])
    assert report.equivalent and report.differences == []
    assert report.services == [ServiceKey(NS, "web", 8080)]  # the port from the Service
    assert report.requests_evaluated > 0


def test_a_different_backend_is_reported_with_both_outcomes() -> None:
    report = verify_model(model_with(EXACT_A), [route(exact_rule("/a", "b"))])
    assert not report.equivalent
    diff = next(d for d in report.differences if d.request.path == "/a")
    assert diff.aspects == ("backends",)
    assert diff.source.backends[0].name == "a" and diff.target.backends[0].name == "b"
    # no consumer routes on either side: the client namespace cannot matter, one stands for all
    assert {d.request.client_namespace for d in report.differences} == {NS}


def test_string_prefix_vs_segment_prefix_is_found() -> None:
    rule = Rule((Match(path=PathMatch(PathKind.PREFIX, "/api")),),
                (Dest(ServiceRef(NS, "a"), 8080),))
    target = route({"matches": [{"path": {"type": "PathPrefix", "value": "/api"}}],
                    "backendRefs": [{"name": "a", "port": 8080}]})
    report = verify_model(model_with(rule), [target])
    assert report.differences
    for diff in report.differences:  # /apix...: matched by Istio, 404 under Gateway API
        assert diff.request.path.startswith("/api") and diff.request.path[4:5] not in ("", "/")
        assert (diff.source.status, diff.target.status) == (200, 404)


def test_consumer_routes_are_checked_from_their_namespace() -> None:
    consumer = route(exact_rule("/a", "b"), name="web-team", ns="team")
    report = verify_model(model_with(EXACT_A), [route(exact_rule("/a", "a")), consumer])
    assert {d.request.client_namespace for d in report.differences} == {"team"}
    assert report.requests_evaluated % 3 == 0  # own, consumer and unrelated namespaces


def test_istio_target_keeps_its_default_retries() -> None:
    default = RetryPolicy(2, is_source_default=True)
    rule = Rule(EXACT_A.matches, EXACT_A.destinations, retry=default)
    objects = [route(exact_rule("/a", "a"))]
    generic = verify_model(model_with(rule), objects, profile=make_profile("generic"))
    assert {d.aspects for d in generic.differences} == {("retry",)}
    istio = verify_model(model_with(rule), objects, profile=make_profile("istio"))
    assert istio.equivalent


def test_missing_services_come_from_the_model() -> None:
    objects = missing_services(model_with(EXACT_A), [])
    assert objects[0]["kind"] == "Service" and objects[0]["spec"]["ports"][0]["port"] == 8080
    assert missing_services(model_with(EXACT_A), objects) == []


def test_witness_limit_and_determinism() -> None:
    objects = [route(exact_rule("/a", "b"))]
    one = verify_model(model_with(EXACT_A), objects, max_witnesses_per_service=1)
    assert one.requests_evaluated == 1
    again = verify_model(model_with(EXACT_A), objects)
    assert [d.request for d in again.differences] == [
        d.request for d in verify_model(model_with(EXACT_A), objects).differences]


def test_request_text() -> None:
    req = Request(ServiceKey(NS, "web", 8080), "/p", "POST", query=(("a", "1"), ("b", "")),
                  headers=(("x-a", "1"),), client_namespace="c")
    assert request_url(req) == "http://web.shop:8080/p?a=1&b"
    assert describe_request(req) == "POST http://web.shop:8080/p?a=1&b (x-a: 1) from namespace c"


# --- findings -----------------------------------------------------------------------------

def _findings_with(code: str | None) -> Findings:
    findings = Findings()
    if code:
        findings.add(code, vs_doc(), ("spec", "http", 0), "reported")
    return findings


@pytest.mark.parametrize(("code", "unreported"), [
    (None, True),
    ("ORDER_NOT_PRESERVED", False),        # an error covers any aspect
    ("RETRY_DROPPED", True),               # a warning does not cover a backend change
    ("SUBSET_SERVICE_CREATED", True),      # an info covers nothing
])
def test_unreported_backend_difference(code: str | None, unreported: bool) -> None:
    model = model_with(EXACT_A)
    report = verify_model(model, [route(exact_rule("/a", "b"))])
    findings = _findings_with(code)
    attach_to_findings(report, findings, model)
    assert ("UNREPORTED_DIFFERENCE" in findings.codes()) is unreported


def test_a_warning_covers_a_retry_only_difference() -> None:
    rule = Rule(EXACT_A.matches, EXACT_A.destinations, retry=RetryPolicy(3, (503,)))
    model = model_with(rule)
    report = verify_model(model, [route(exact_rule("/a", "a"))])
    assert {d.aspects for d in report.differences} == {("retry",)}
    covered = _findings_with("RETRY_DROPPED")
    attach_to_findings(report, covered, model)
    assert "UNREPORTED_DIFFERENCE" not in covered.codes()
    bare = _findings_with(None)
    attach_to_findings(report, bare, model)
    [finding] = [f for f in bare if f.code == "UNREPORTED_DIFFERENCE"]
    assert "GET http://web.shop:8080/a from namespace shop" in finding.message
    assert finding.object == "VirtualService/shop/web" and finding.field == "spec.http[0]"
    assert "retry differs" in finding.message


def test_convert_self_check_adds_no_finding_when_equivalent() -> None:
    docs = load([str(ORDER / "source.yaml")])
    result = convert_documents(docs, ConvertOptions(target="istio", verify=False))
    report = verify_model(result.model, result.objects, profile=make_profile("istio"))
    attach_to_findings(report, result.findings, result.model)
    assert "UNREPORTED_DIFFERENCE" not in result.findings.codes()


# --- the example: a naive translation of an order-sensitive VirtualService ----------

def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(args), AppContext(stdin=io.StringIO(""), stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


def test_verify_against_naive_translation_names_the_flipping_request() -> None:
    code, out, _ = cli("verify", "-f", str(ORDER / "source.yaml"), "--against",
                       str(ORDER / "naive-httproute.yaml"), "--target", "istio")
    assert code == 1
    # first match in Istio: the canary header rule wins; Gateway API: the longer prefix
    assert ("GET http://reviews.bookinfo:9080/reviews (x-canary: true) from namespace "
            "bookinfo: backends") in out
    assert "source: 200 to bookinfo/ratings:9080" in out
    assert "target: 200 to bookinfo/reviews:9080" in out
    # string prefix in Istio: /reviewsx still goes to reviews, not to the catch-all
    assert "GET http://reviews.bookinfo:9080/reviewsx from namespace bookinfo" in out


def test_verify_of_the_real_conversion_is_clean() -> None:
    code, out, _ = cli("verify", "-f", str(ORDER / "source.yaml"), "--target", "istio")
    assert code == 0 and out.startswith("equivalent")


def test_convert_verifies_its_own_output_by_default() -> None:
    docs = load([str(ORDER / "source.yaml")])
    checked = convert_documents(docs, ConvertOptions(target="istio"))
    assert checked.verify_report is not None and checked.verify_report.equivalent
    assert checked.verify_report.services_checked == 1
    assert convert_documents(docs, ConvertOptions(target="istio", verify=False)).verify_report \
        is None


# --- symmetry: Service ports identical up to names are proven once ------------------------

def _svc_model(*names: str, header: str = "x-a") -> RoutingModel:
    doc = vs_doc()
    tables, services = [], {}
    for name in names:
        ref = ServiceRef(NS, name)
        match = Match(headers=(StringMatch(header, StrKind.EXACT, "1"),))
        rule = Rule((match,), (Dest(ServiceRef(NS, f"{name}-v2"), 8080),),
                    origin=Prov(doc, ("spec", "http", 0)))
        tables.append(RouteTable(ref, (rule, Rule((), (Dest(ref, 8080),))), origin=Prov(doc)))
        services[ref] = ServiceInfo(ref, (ServicePort(8080, "http"),), (("app", name),))
    return RoutingModel(tables=tables, services=services)


def _svc_route(name: str, header: str = "x-a", backend: str | None = None) -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": NS,
                         "annotations": {"meshmigrate.io/source": f"VirtualService/{name}"}},
            "spec": {"parentRefs": [{"group": "", "kind": "Service", "name": name}],
                     "rules": [{"matches": [{"headers": [{"name": header, "value": "1"}]}],
                                "backendRefs": [{"name": backend or f"{name}-v2",
                                                 "port": 8080}]},
                               {"backendRefs": [{"name": name, "port": 8080}]}]}}


def test_identical_services_are_proven_by_symmetry() -> None:
    names = ("alpha", "beta", "gamma")
    report = verify_model(_svc_model(*names), [_svc_route(n) for n in names])
    assert report.equivalent and report.services_checked == 3
    assert report.services_by_symmetry == 2


def test_symmetry_never_hides_a_difference() -> None:
    routes = [_svc_route("alpha"), _svc_route("beta", backend="alpha-v2")]
    report = verify_model(_svc_model("alpha", "beta"), routes)
    assert report.services_by_symmetry == 0
    assert {d.service.name for d in report.differences} == {"beta"}


def test_header_names_are_not_renamed() -> None:
    # alpha: X-A vs x-a are the same header (equivalent); beta: x-a vs x-b are not
    model = _svc_model("alpha", "beta")
    routes = [_svc_route("alpha", header="X-A"), _svc_route("beta", header="x-b")]
    report = verify_model(model, routes)
    assert {d.service.name for d in report.differences} == {"beta"}


def test_host_conditions_disable_symmetry() -> None:
    routes = [_svc_route(n, header="host") for n in ("alpha", "beta")]
    report = verify_model(_svc_model("alpha", "beta", header="host"), routes)
    assert report.services_by_symmetry == 0


def test_symmetry_gives_up_on_meshes_that_are_not_templated(monkeypatch: Any) -> None:
    """After a trial with too few reused signatures no more are computed; a templated
    mesh keeps the shortcut. The verdict is the same either way."""
    import meshmigrate.verify_memo as memo

    monkeypatch.setattr(memo, "TRIAL", 2)
    headers = ("x-a", "x-b", "x-c", "x-d")  # every Service port different
    names = ("alpha", "beta", "gamma", "delta")
    model = _svc_model(*names)
    model.tables[:] = [_svc_model(n, header=h).tables[0] for n, h in zip(names, headers,
                                                                      strict=True)]
    computed: list[int] = []
    original = memo.Memo.signature

    def counting(self: memo.Memo, *args: Any) -> Any:
        found = original(self, *args)
        computed.append(found is not None)
        return found

    monkeypatch.setattr(memo.Memo, "signature", counting)
    routes = [_svc_route(n, header=h) for n, h in zip(names, headers, strict=True)]
    report = verify_model(model, routes)
    assert report.equivalent and computed == [True, True, False, False]
    computed.clear()
    templated = verify_model(_svc_model(*names), [_svc_route(n) for n in names])
    assert templated.equivalent and templated.services_by_symmetry == 3
    assert computed == [True, True, True, True]
