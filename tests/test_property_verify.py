"""Property: no silent change. For random Istio VirtualServices (every match kind, overlapping
rules, rewrites, redirects, weights, header operations, retries, timeouts, mirrors), the
conversion either behaves exactly like the source on every witness request, or a finding
of sufficient severity covers each request that differs (issue 3).

Hypothesis runs derandomized and bounded, so CI is deterministic. A failure prints the
VirtualService and the unexplained differences.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshmigrate.pipeline import ConvertOptions, convert_documents
from meshmigrate.report_diff import difference_lines
from meshmigrate.sources import parse_stream
from meshmigrate.verify import attach_to_findings, verify_model

NS = "shop"
BACKENDS = ("a", "b", "web")
PATHS = ("/", "/a", "/a/", "/ab", "/a/b", "/b", "/api/v1")
REGEXES = ("/a.*", "/a/[0-9]+", "/(a|b)/.*", "/api/v[12]", ".*")
PROFILES = [("generic", "standard"), ("generic", "experimental"), ("istio", "standard")]

SERVICES = [
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NS},
     "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 8080}]}}
    for name in BACKENDS
]
DESTINATION_RULE = {
    "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
    "metadata": {"name": "web", "namespace": NS},
    "spec": {"host": "web", "subsets": [{"name": "v1", "labels": {"version": "v1"}},
                                        {"name": "v2", "labels": {"version": "v2"}}]},
}


def string_match(values: tuple[str, ...]) -> st.SearchStrategy[dict[str, str]]:
    return st.one_of(
        st.builds(lambda v: {"exact": v}, st.sampled_from(values)),
        st.builds(lambda v: {"prefix": v}, st.sampled_from(values)),
        st.builds(lambda v: {"regex": v}, st.sampled_from(("[0-9]+", "1|2", "a.*"))),
    )


uri = st.one_of(
    st.builds(lambda v: {"exact": v}, st.sampled_from(PATHS)),
    st.builds(lambda v: {"prefix": v}, st.sampled_from(PATHS)),
    st.builds(lambda v: {"regex": v}, st.sampled_from(REGEXES)),
)


@st.composite
def match_block(draw: st.DrawFn) -> dict[str, Any]:
    block: dict[str, Any] = {}
    if draw(st.booleans()):
        block["uri"] = draw(uri)
        if draw(st.integers(0, 5)) == 0 and "regex" not in block["uri"]:
            block["ignoreUriCase"] = True
    if draw(st.integers(0, 3)) == 0:
        block["method"] = draw(st.sampled_from([{"exact": "GET"}, {"exact": "POST"},
                                                {"regex": "P.*"}]))
    if draw(st.integers(0, 2)) == 0:
        block["headers"] = {"x-h": draw(string_match(("1", "12")))}
    if draw(st.integers(0, 5)) == 0:
        block["withoutHeaders"] = {"x-w": {"exact": "1"}}
    if draw(st.integers(0, 4)) == 0:
        block["queryParams"] = {"q": draw(string_match(("1", "x")))}
    if draw(st.integers(0, 6)) == 0:
        block["port"] = 8080
    if draw(st.integers(0, 8)) == 0:
        block["sourceNamespace"] = "team"
    return block


@st.composite
def destination(draw: st.DrawFn) -> dict[str, Any]:
    host = draw(st.sampled_from(BACKENDS))
    dest: dict[str, Any] = {"host": host}
    if host == "web" and draw(st.booleans()):
        dest["subset"] = draw(st.sampled_from(["v1", "v2"]))
    if draw(st.integers(0, 4)) == 0:
        dest["port"] = {"number": 8080}
    return dest


@st.composite
def routed(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(1, 3))
    weights = draw(st.lists(st.integers(0, 100), min_size=count, max_size=count).filter(
        lambda ws: sum(ws) > 0))  # Istio rejects several destinations weighing 0 in all
    routes = [{"destination": draw(destination())} for _ in range(count)]
    if count > 1:
        for item, weight in zip(routes, weights, strict=True):
            item["weight"] = weight
    rule: dict[str, Any] = {"route": routes}
    if draw(st.integers(0, 3)) == 0:
        rule["rewrite"] = {"uri": draw(st.sampled_from(["/", "/v2", "/v2/", "/x/y"]))}
    if draw(st.integers(0, 4)) == 0:
        rule["headers"] = {"request": {"set": {"x-s": "1"}, "add": {"x-a": "2"},
                                       "remove": ["x-r"]},
                           "response": {"set": {"x-resp": "1"}}}
    if draw(st.integers(0, 4)) == 0:
        rule["timeout"] = draw(st.sampled_from(["1s", "1.5s", "250ms"]))
    if draw(st.integers(0, 4)) == 0:
        rule["retries"] = draw(st.sampled_from([
            {"attempts": 3, "retryOn": "5xx"}, {"attempts": 0},
            {"attempts": 1, "perTryTimeout": "500ms", "retryOn": "503,gateway-error"}]))
    if draw(st.integers(0, 6)) == 0:
        rule["mirror"] = {"host": "b"}
        rule["mirrorPercentage"] = {"value": 50.0}
    if draw(st.integers(0, 8)) == 0:
        rule["fault"] = {"abort": {"httpStatus": 503, "percentage": {"value": 10.0}}}
    return rule


@st.composite
def redirected(draw: st.DrawFn) -> dict[str, Any]:
    redirect: dict[str, Any] = {}
    if draw(st.booleans()):
        redirect["uri"] = draw(st.sampled_from(["/new", "/"]))
    if draw(st.booleans()):
        redirect["authority"] = "example.com"
    if draw(st.integers(0, 3)) == 0:
        redirect["scheme"] = "https"
    if draw(st.booleans()):
        redirect["redirectCode"] = draw(st.sampled_from([301, 302, 307, 308]))
    return {"redirect": redirect or {"uri": "/moved"}}


@st.composite
def http_rule(draw: st.DrawFn) -> dict[str, Any]:
    rule = draw(st.one_of(routed(), routed(), routed(), redirected(),
                          st.just({"directResponse": {"status": 503}})))
    if draw(st.integers(0, 4)) > 0:
        rule["match"] = draw(st.lists(match_block(), min_size=1, max_size=2))
    return rule


virtual_service = st.builds(
    lambda rules: {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
                   "metadata": {"name": "web", "namespace": NS},
                   "spec": {"hosts": ["web"], "http": rules}},
    st.lists(http_rule(), min_size=1, max_size=4))


def convert_and_verify(vs: dict[str, Any], target: str, channel: str) -> list[str]:
    """The unexplained differences (empty when the property holds)."""
    text = yaml.safe_dump_all([*SERVICES, DESTINATION_RULE, vs], sort_keys=False)
    docs = list(parse_stream(io.StringIO(text), "random.yaml"))
    options = ConvertOptions(target=target, channel=channel, verify=False)
    result = convert_documents(docs, options)
    report = verify_model(result.model, result.objects, profile=options.profile())
    attach_to_findings(report, result.findings, result.model)
    return [f"{f.field}: {f.message}" for f in result.findings
            if f.code == "UNREPORTED_DIFFERENCE"] + (
        [line for d in report.differences[:3] for line in difference_lines(d)]
        if "UNREPORTED_DIFFERENCE" in result.findings.codes() else [])


@pytest.mark.slow
@pytest.mark.parametrize(("target", "channel"), PROFILES)
@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(vs=virtual_service)
def test_no_silent_change(vs: dict[str, Any], target: str, channel: str) -> None:
    unexplained = convert_and_verify(vs, target, channel)
    assert not unexplained, (
        "conversion changed behaviour without an error finding:\n"
        + yaml.safe_dump(vs, sort_keys=False) + "\n".join(unexplained))
