"""Property: no silent change, for every converter (issue 8, extending issue 3's Istio test in
``test_property_verify.py``). Random valid Linkerd ServiceProfiles, SMI TrafficSplits with
HTTPRouteGroups, Consul router/splitter/resolver chains and App Mesh routers are converted
with the semantic self-check on; every request whose outcome changes must be covered by a
finding of sufficient severity, i.e. no ``UNREPORTED_DIFFERENCE``.

Hypothesis runs derandomized and bounded (the whole file well under a minute). A failure
prints the source objects and the unexplained differences.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from meshmigrate.pipeline import ConvertOptions, convert_documents
from meshmigrate.report_diff import difference_lines
from meshmigrate.sources import parse_stream

NS = "shop"
PORT = 8080
Obj = dict[str, Any]
PATHS = ("/", "/a", "/a/", "/ab", "/a/b", "/b", "/api/v1")
PROPERTY = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
#: Every target profile: each mesh implementation adds its own defaults (Istio's retries).
TARGETS = ("generic", "istio", "linkerd")


def service(name: str, labels: dict[str, str] | None = None, port: int = PORT) -> Obj:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NS},
            "spec": {"selector": labels or {"app": name},
                     "ports": [{"name": "http", "port": port}]}}


SERVICES = [service("web", {"app": "web"}), service("web-v1", {"app": "web", "version": "v1"}),
            service("web-v2", {"app": "web", "version": "v2"})]


def unexplained(objects: list[Obj], target: str = "generic") -> list[str]:
    """Convert (with the self-check) and list the differences no finding explains."""
    text = yaml.safe_dump_all([*SERVICES, *objects], sort_keys=False)
    docs = list(parse_stream(io.StringIO(text), "random.yaml"))
    result = convert_documents(docs, ConvertOptions(target=target, verify=True))
    lines = [f"{f.field}: {f.message}" for f in result.findings
             if f.code == "UNREPORTED_DIFFERENCE"]
    if lines and result.verify_report is not None:
        lines += [line for d in result.verify_report.differences[:3]
                  for line in difference_lines(d)]
    return lines


def holds(objects: list[Obj], target: str = "generic") -> None:
    found = unexplained(objects, target)
    assert not found, ("conversion changed behaviour without an error finding:\n"
                       + yaml.safe_dump_all(objects, sort_keys=False) + "\n".join(found))


def some(draw: st.DrawFn, chance: int) -> bool:
    """True one time in ``chance``."""
    return draw(st.integers(0, chance - 1)) == 0


# -- Linkerd ServiceProfile ----------------------------------------------------------------
LINKERD_REGEXES = ("/a", "/a/.*", "/api/v[12]/.*", "/(a|b)", "/b.*", ".*", "/a|/b", "/a/[0-9]+",
                   "/ab?")


@st.composite
def linkerd_condition(draw: st.DrawFn, depth: int = 0) -> Obj:
    kind = draw(st.sampled_from(["path", "method", "path", "all", "any", "not"] if depth < 2
                                else ["path", "method"]))
    if kind == "path":
        return {"pathRegex": draw(st.sampled_from(LINKERD_REGEXES))}
    if kind == "method":
        return {"method": draw(st.sampled_from(["GET", "POST", "PUT"]))}
    if kind == "not":
        return {"not": draw(linkerd_condition(depth + 1))}
    return {kind: draw(st.lists(linkerd_condition(depth + 1), min_size=1, max_size=2))}


@st.composite
def linkerd_route(draw: st.DrawFn) -> Obj:
    route: Obj = {"name": f"r{draw(st.integers(0, 99))}", "condition": draw(linkerd_condition())}
    if some(draw, 3):
        route["timeout"] = draw(st.sampled_from(["1s", "250ms", "1m30s", "0.5s"]))
    if some(draw, 3):
        route["isRetryable"] = True
        if some(draw, 2):
            route["responseClasses"] = [{"condition": {"status": {"min": 500, "max": 503}},
                                         "isFailure": draw(st.booleans())}]
    return route


@st.composite
def service_profile(draw: st.DrawFn) -> Obj:
    spec: Obj = {"routes": draw(st.lists(linkerd_route(), max_size=3))}
    if some(draw, 3):
        weights = draw(st.lists(st.sampled_from(["1", "500m", "0", "3", 2]), min_size=1,
                                max_size=2))
        spec["dstOverrides"] = [
            {"authority": f"{name}.{NS}.svc.cluster.local" + draw(st.sampled_from(["", ":8080"])),
             "weight": weight} for name, weight in zip(("web-v1", "web-v2"), weights,
                                                       strict=False)]
    namespace = draw(st.sampled_from([NS, NS, "client"]))
    return {"apiVersion": "linkerd.io/v1alpha2", "kind": "ServiceProfile",
            "metadata": {"name": f"web.{NS}.svc.cluster.local", "namespace": namespace},
            "spec": spec}


@pytest.mark.parametrize("target", TARGETS)
@PROPERTY
@given(profile=service_profile())
def test_linkerd(profile: Obj, target: str) -> None:
    holds([profile], target)


# -- SMI TrafficSplit + HTTPRouteGroup ----------------------------------------------------
GO_REGEXES = ("/a", "/a/.*", "/api/v[12]", "/(a|b)", "/b", ".*", "/a|/b", "/a$")


@st.composite
def smi_match(draw: st.DrawFn, index: int) -> Obj:
    match: Obj = {"name": f"m{index}"}
    if some(draw, 2) or index == 0:
        match["pathRegex"] = draw(st.sampled_from(GO_REGEXES))
    if some(draw, 3):
        match["methods"] = draw(st.sampled_from([["GET"], ["GET", "POST"], ["*"]]))
    if some(draw, 3):
        match["headers"] = {"x-h": draw(st.sampled_from(["1", "1|2", "a.*"]))}
    return match


@st.composite
def traffic_split(draw: st.DrawFn) -> list[Obj]:
    version = draw(st.sampled_from(["v1alpha3", "v1alpha4"]))
    weights = draw(st.lists(st.integers(0, 100), min_size=1, max_size=2).filter(
        lambda ws: sum(ws) > 0))
    spec: Obj = {"service": "web", "backends": [
        {"service": name, "weight": weight}
        for name, weight in zip(("web-v1", "web-v2"), weights, strict=False)]}
    objects: list[Obj] = []
    if some(draw, 4) is False:
        groups = draw(st.integers(1, 2))
        spec["matches"] = [{"kind": "HTTPRouteGroup", "name": f"g{i}"} for i in range(groups)]
        for i in range(groups):
            matches = [draw(smi_match(j)) for j in range(draw(st.integers(1, 2)))]
            objects.append({"apiVersion": f"specs.smi-spec.io/{version}",
                            "kind": "HTTPRouteGroup",
                            "metadata": {"name": f"g{i}", "namespace": NS},
                            "spec": {"matches": matches}})
    split = {"apiVersion": f"split.smi-spec.io/{version}", "kind": "TrafficSplit",
             "metadata": {"name": "web-split", "namespace": NS}, "spec": spec}
    return [split, *objects]


#: Found by this test (issue 8 report): with --target istio, Istio's default retries (2) are
#: added to routes whose source never retried, and no finding says so.
SMI_ISTIO_RETRIES = [{"apiVersion": "split.smi-spec.io/v1alpha4", "kind": "TrafficSplit",
                      "metadata": {"name": "web-split", "namespace": NS},
                      "spec": {"service": "web", "backends": [{"service": "web-v1",
                                                               "weight": 1}]}}]


@pytest.mark.parametrize("target", TARGETS)
@PROPERTY
@example(objects=SMI_ISTIO_RETRIES)
@given(objects=traffic_split())
def test_smi(objects: list[Obj], target: str) -> None:
    holds(objects, target)


# -- Consul ServiceRouter / ServiceSplitter / ServiceResolver ------------------------------
RE2 = ("/a.*", "/a/[0-9]+", "/(a|b)/.*", "/api/v[12]", ".*")


@st.composite
def consul_match(draw: st.DrawFn) -> Obj:
    http: Obj = {}
    kind = draw(st.sampled_from(["pathExact", "pathPrefix", "pathRegex", None]))
    if kind is not None:
        http[kind] = draw(st.sampled_from(RE2 if kind == "pathRegex" else PATHS))
        if kind != "pathRegex" and some(draw, 4):
            http["caseInsensitive"] = True
    if some(draw, 3):
        http["methods"] = draw(st.sampled_from([["GET"], ["GET", "POST"]]))
    if some(draw, 3):
        criterion = draw(st.sampled_from([{"exact": "1"}, {"prefix": "1"}, {"suffix": "2"},
                                          {"regex": "1|2"}, {"present": True}]))
        http["header"] = [{"name": "x-h", **criterion}]
    if some(draw, 4):
        http["queryParam"] = [{"name": "q", **draw(st.sampled_from(
            [{"exact": "1"}, {"regex": "[0-9]+"}, {"present": True}]))}]
    return {"http": http} if http else {}


@st.composite
def consul_destination(draw: st.DrawFn, match: Obj) -> Obj:
    dest: Obj = {}
    target = draw(st.sampled_from(["web", "web-v1", "web-v2", None]))
    if target:
        dest["service"] = target
    if target in ("web", None) and some(draw, 2):
        dest["serviceSubset"] = draw(st.sampled_from(["v1", "v2"]))
    http = match.get("http", {})
    if ("pathPrefix" in http or "pathExact" in http) and some(draw, 3):
        dest["prefixRewrite"] = draw(st.sampled_from(["/", "/v2", "/v2/"]))
    if some(draw, 3):
        dest["requestTimeout"] = draw(st.sampled_from(["1s", "250ms", "-1s"]))
    if some(draw, 4):
        dest.update(numRetries=draw(st.integers(0, 3)), retryOnConnectFailure=True,
                    retryOnStatusCodes=[503])
    if some(draw, 4):
        dest["requestHeaders"] = {"set": {"x-s": "1"}, "add": {"x-a": "2"}, "remove": ["x-r"]}
    return dest


@st.composite
def consul_entries(draw: st.DrawFn) -> list[Obj]:
    def entry(kind: str, name: str, spec: Obj) -> Obj:
        return {"apiVersion": "consul.hashicorp.com/v1alpha1", "kind": kind,
                "metadata": {"name": name, "namespace": NS}, "spec": spec}

    out = [entry("ServiceResolver", "web", {
        "subsets": {"v1": {"filter": "Service.Meta.version == v1"},
                    "v2": {"filter": "Service.Meta.version == v2"}},
        **({"defaultSubset": "v1"} if some(draw, 3) else {}),
        **({"requestTimeout": "5s"} if some(draw, 4) else {})})]
    if some(draw, 2):
        weight = draw(st.sampled_from([0, 10, 50, 100]))
        out.append(entry("ServiceSplitter", "web", {"splits": [
            {"weight": weight, "serviceSubset": "v1"},
            {"weight": 100 - weight, "serviceSubset": "v2"}]}))
    if some(draw, 4) is False:
        routes = []
        for _ in range(draw(st.integers(1, 3))):
            match = draw(consul_match())
            routes.append({**({"match": match} if match else {}),
                           "destination": draw(consul_destination(match))})
        out.append(entry("ServiceRouter", "web", {"routes": routes}))
    return out


#: Found by this test: with --target linkerd the timeout is emitted as the
#: timeout.linkerd.io/request annotation, which the self-check's Gateway API side does not
#: read, so it reports the timeout as lost, with no finding to explain it.
CONSUL_LINKERD_TIMEOUT = [{"apiVersion": "consul.hashicorp.com/v1alpha1",
                           "kind": "ServiceResolver",
                           "metadata": {"name": "web", "namespace": NS},
                           "spec": {"requestTimeout": "5s"}}]


@pytest.mark.parametrize("target", TARGETS)
@PROPERTY
@example(entries=CONSUL_LINKERD_TIMEOUT)
@given(entries=consul_entries())
def test_consul(entries: list[Obj], target: str) -> None:
    holds(entries, target)


# -- App Mesh VirtualService / VirtualRouter / VirtualNode ---------------------------------
@st.composite
def appmesh_match(draw: st.DrawFn) -> Obj:
    match: Obj = {}
    kind = draw(st.sampled_from(["prefix", "exact", "regex", "prefix"]))
    if kind == "prefix":
        match["prefix"] = draw(st.sampled_from(PATHS))
    else:
        match["path"] = {kind: draw(st.sampled_from(RE2 if kind == "regex" else PATHS))}
    if some(draw, 3):
        match["method"] = draw(st.sampled_from(["GET", "POST"]))
    if some(draw, 3):
        criterion = draw(st.sampled_from([{"exact": "1"}, {"prefix": "1"}, {"suffix": "2"},
                                          {"regex": "1|2"}, {"range": {"start": 0, "end": 3}},
                                          None]))
        header: Obj = {"name": "x-h", **({"match": criterion} if criterion else {})}
        if some(draw, 5):
            header["invert"] = True
        match["headers"] = [header]
    if some(draw, 4):
        match["queryParameters"] = [{"name": "q", **draw(st.sampled_from(
            [{"match": {"exact": "1"}}, {}]))}]
    return match


@st.composite
def appmesh_route(draw: st.DrawFn, index: int, priorities: bool) -> Obj:
    weights = draw(st.lists(st.integers(0, 100), min_size=1, max_size=2).filter(
        lambda ws: sum(ws) > 0))
    http: Obj = {"match": draw(appmesh_match()), "action": {"weightedTargets": [
        {"virtualNodeRef": {"name": name}, "weight": weight}
        for name, weight in zip(("web-v1", "web-v2"), weights, strict=False)]}}
    if some(draw, 3):
        http["timeout"] = {"perRequest": {"unit": "ms", "value": draw(st.sampled_from(
            [0, 250, 1000]))}}
    if some(draw, 3):
        http["retryPolicy"] = {"maxRetries": draw(st.integers(0, 3)),
                               "perRetryTimeout": {"unit": "s", "value": 1},
                               "httpRetryEvents": ["server-error"],
                               "tcpRetryEvents": ["connection-error"]}
    route: Obj = {"name": f"r{index}", "httpRoute": http}
    if priorities:
        route["priority"] = index
    return route


def node(name: str, hostname: str, labels: dict[str, str]) -> Obj:
    return {"apiVersion": "appmesh.k8s.aws/v1beta2", "kind": "VirtualNode",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"podSelector": {"matchLabels": labels},
                     "listeners": [{"portMapping": {"port": PORT, "protocol": "http"}}],
                     "serviceDiscovery": {"dns": {"hostname": hostname}}}}


@st.composite
def app_mesh(draw: st.DrawFn) -> list[Obj]:
    priorities = draw(st.booleans())
    routes = [draw(appmesh_route(i, priorities)) for i in range(draw(st.integers(1, 3)))]
    return app_mesh_objects(routes, shared=some(draw, 3))


def app_mesh_objects(routes: list[Obj], shared: bool) -> list[Obj]:
    """A VirtualService provided by a router with ``routes`` to nodes web-v1 and web-v2
    (which share the hostname of ``web`` when ``shared``)."""
    nodes = [node(f"web-{v}", f"{'web' if shared else f'web-{v}'}.{NS}.svc.cluster.local",
                  {"app": "web", "version": v}) for v in ("v1", "v2")]
    return [
        {"apiVersion": "appmesh.k8s.aws/v1beta2", "kind": "VirtualService",
         "metadata": {"name": "web", "namespace": NS},
         "spec": {"awsName": f"web.{NS}.svc.cluster.local",
                  "provider": {"virtualRouter": {"virtualRouterRef": {"name": "web-router"}}}}},
        {"apiVersion": "appmesh.k8s.aws/v1beta2", "kind": "VirtualRouter",
         "metadata": {"name": "web-router", "namespace": NS},
         "spec": {"listeners": [{"portMapping": {"port": PORT, "protocol": "http"}}],
                  "routes": routes}},
        *nodes,
    ]


def _prefix_routes() -> list[Obj]:
    """Found by this test: string prefix ``/a/`` then ``/a`` — the compiler writes the second
    as the regex ``/a[^/].*``, which no longer matches ``/a`` itself (404 instead of the
    route)."""
    objects = app_mesh_objects([
        {"name": name, "httpRoute": {"match": {"prefix": prefix}, "action": {
            "weightedTargets": [{"virtualNodeRef": {"name": "web-v1"}, "weight": 1}]}}}
        for name, prefix in (("r0", "/a/"), ("r1", "/a"))], shared=False)
    return objects


@pytest.mark.parametrize("target", TARGETS)
@PROPERTY
@example(objects=_prefix_routes())
@given(objects=app_mesh())
def test_appmesh(objects: list[Obj], target: str) -> None:
    holds(objects, target)


# -- the strategies produce valid sources (else the properties above prove little) ---------
@pytest.mark.parametrize("strategy", [service_profile(), traffic_split(), consul_entries(),
                                      app_mesh()], ids=["linkerd", "smi", "consul", "appmesh"])
def test_examples_are_accepted(strategy: st.SearchStrategy[Any]) -> None:
    convert: Callable[[Any], None] = lambda found: unexplained(  # noqa: E731
        found if isinstance(found, list) else [found])

    @settings(max_examples=10, deadline=None, derandomize=True, database=None)
    @given(found=strategy)
    def check(found: Any) -> None:
        convert(found)  # an InputError here fails the test: the strategy made bad input

    check()
