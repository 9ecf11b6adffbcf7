"""The test cluster itself: a real API server with real CRDs, RBAC and persistence."""

from __future__ import annotations

import copy
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import testcluster  # scripts/testcluster.py (on sys.path via the fixture module)
import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException

Cluster = testcluster.Cluster
cluster = pytest.mark.cluster
SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "test-cluster"

GATEWAY_GROUP = "gateway.networking.k8s.io"
CRD_DIR = Path(__file__).resolve().parent.parent / "testdata" / "crds"


def api_client(kubeconfig: Path) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(kubeconfig))


@pytest.fixture(scope="module")
def admin(kube_cluster: Cluster) -> Iterator[client.ApiClient]:
    with api_client(kube_cluster.kubeconfig) as api:
        yield api


@pytest.fixture
def namespace(kube_cluster: Cluster) -> str:
    return kube_cluster.create_namespace("harness")


def httproute(name: str, path_value: str = "/api") -> dict[str, Any]:
    """A GAMMA route: its parent is a Service, not a Gateway."""
    return {
        "apiVersion": f"{GATEWAY_GROUP}/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name},
        "spec": {
            "parentRefs": [{"group": "", "kind": "Service", "name": "reviews", "port": 9080}],
            "rules": [{
                "matches": [{"path": {"type": "PathPrefix", "value": path_value}}],
                "backendRefs": [{"name": "reviews-v2", "port": 9080, "weight": 90},
                                {"name": "reviews-v3", "port": 9080, "weight": 10}],
            }],
        },
    }


def create(api: client.ApiClient, namespace: str, obj: dict[str, Any],
           plural: str) -> dict[str, Any]:
    group, version = obj["apiVersion"].split("/")
    created: dict[str, Any] = client.CustomObjectsApi(api).create_namespaced_custom_object(
        group, version, namespace, plural, obj)
    return created


def read(api: client.ApiClient, namespace: str, api_version: str, plural: str,
         name: str) -> dict[str, Any]:
    group, version = api_version.split("/")
    obj: dict[str, Any] = client.CustomObjectsApi(api).get_namespaced_custom_object(
        group, version, namespace, plural, name)
    return obj


@cluster
def test_the_real_apiserver_answers_with_the_pinned_version(
        kube_cluster: Cluster, admin: client.ApiClient) -> None:
    info = client.VersionApi(admin).get_code()
    assert info.git_version == kube_cluster.versions.kubernetes
    assert kube_cluster.is_up()
    assert kube_cluster.server.startswith("https://127.0.0.1:")


@cluster
def test_gateway_api_experimental_httproute_crd_is_established(
        kube_cluster: Cluster, admin: client.ApiClient) -> None:
    crd = client.ApiextensionsV1Api(admin).read_custom_resource_definition(
        f"httproutes.{GATEWAY_GROUP}")
    established = [c for c in crd.status.conditions if c.type == "Established"]
    assert established and established[0].status == "True"
    annotations = crd.metadata.annotations
    assert annotations[f"{GATEWAY_GROUP}/channel"] == "experimental"
    assert annotations[f"{GATEWAY_GROUP}/bundle-version"] == kube_cluster.versions.gateway_api


@cluster
def test_httproute_with_service_parent_round_trips(admin: client.ApiClient,
                                                   namespace: str) -> None:
    sent = httproute("reviews")
    create(admin, namespace, copy.deepcopy(sent), "httproutes")
    got = read(admin, namespace, sent["apiVersion"], "httproutes", "reviews")
    assert got["spec"]["parentRefs"] == sent["spec"]["parentRefs"]
    backends = got["spec"]["rules"][0]["backendRefs"]
    assert [(b["name"], b["weight"]) for b in backends] == [("reviews-v2", 90), ("reviews-v3", 10)]
    # The CRD schema's defaults were applied by the server, as a real cluster does.
    assert all(b["group"] == "" and b["kind"] == "Service" for b in backends)


@cluster
def test_cel_rule_rejects_a_relative_path_with_422(admin: client.ApiClient,
                                                   namespace: str) -> None:
    with pytest.raises(ApiException) as caught:
        create(admin, namespace, httproute("relative", path_value="api"), "httproutes")
    assert caught.value.status == 422
    assert "must be an absolute path" in caught.value.body


@cluster
def test_istio_virtualservice_can_be_created(admin: client.ApiClient, namespace: str) -> None:
    vs = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "reviews"},
        "spec": {
            "hosts": ["reviews"],
            "http": [{"route": [
                {"destination": {"host": "reviews", "subset": "v2"}, "weight": 75},
                {"destination": {"host": "reviews", "subset": "v3"}, "weight": 25}]}],
        },
    }
    create(admin, namespace, vs, "virtualservices")
    got = read(admin, namespace, vs["apiVersion"], "virtualservices", "reviews")
    assert got["spec"]["http"] == vs["spec"]["http"]


@cluster
def test_unprivileged_token_is_forbidden_to_create(kube_cluster: Cluster,
                                                   namespace: str) -> None:
    with api_client(kube_cluster.unprivileged_kubeconfig) as api, \
            pytest.raises(ApiException) as caught:
        create(api, namespace, httproute("sneaky"), "httproutes")
    assert caught.value.status == 403


REPO_SAMPLES: list[tuple[str, dict[str, Any]]] = [
    ("serviceprofiles", {
        "apiVersion": "linkerd.io/v1alpha2", "kind": "ServiceProfile",
        "metadata": {"name": "reviews.default.svc.cluster.local"},
        "spec": {"routes": [{"name": "GET /books", "condition": {
            "method": "GET", "pathRegex": "/books"}, "timeout": "300ms"}],
            "dstOverrides": [{"authority": "reviews-v2.default.svc.cluster.local:9080",
                              "weight": "500m"}]}}),
    ("trafficsplits", {
        "apiVersion": "split.smi-spec.io/v1alpha4", "kind": "TrafficSplit",
        "metadata": {"name": "reviews"},
        "spec": {"service": "reviews", "matches": [{"kind": "HTTPRouteGroup", "name": "api"}],
                 "backends": [{"service": "reviews-v2", "weight": 90},
                              {"service": "reviews-v3", "weight": 10}]}}),
    ("trafficsplits", {
        "apiVersion": "split.smi-spec.io/v1alpha1", "kind": "TrafficSplit",
        "metadata": {"name": "ratings"},
        "spec": {"service": "ratings", "backends": [{"service": "ratings-v1", "weight": "500m"},
                                                    {"service": "ratings-v2", "weight": "500m"}]}}),
    ("httproutegroups", {
        "apiVersion": "specs.smi-spec.io/v1alpha4", "kind": "HTTPRouteGroup",
        "metadata": {"name": "api"},
        "spec": {"matches": [{"name": "books", "pathRegex": "/books", "methods": ["GET"],
                              "headers": {"x-debug": "1"}}]}}),
    ("servicerouters", {
        "apiVersion": "consul.hashicorp.com/v1alpha1", "kind": "ServiceRouter",
        "metadata": {"name": "reviews"},
        "spec": {"routes": [{"match": {"http": {"pathPrefix": "/api"}},
                             "destination": {"service": "reviews", "serviceSubset": "v2",
                                             "numRetries": 3}}]}}),
    ("servicesplitters", {
        "apiVersion": "consul.hashicorp.com/v1alpha1", "kind": "ServiceSplitter",
        "metadata": {"name": "reviews"},
        "spec": {"splits": [{"weight": 66.6, "serviceSubset": "v2"},
                            {"weight": 33.4, "serviceSubset": "v3"}]}}),
    ("serviceresolvers", {
        "apiVersion": "consul.hashicorp.com/v1alpha1", "kind": "ServiceResolver",
        "metadata": {"name": "reviews"},
        "spec": {"defaultSubset": "v2",
                 "subsets": {"v2": {"filter": "Service.Meta.version == v2"},
                             "v3": {"filter": "Service.Meta.version == v3"}}}}),
    ("virtualrouters", {
        "apiVersion": "appmesh.k8s.aws/v1beta2", "kind": "VirtualRouter",
        "metadata": {"name": "reviews"},
        "spec": {"listeners": [{"portMapping": {"port": 9080, "protocol": "http"}}],
                 "routes": [{"name": "api", "httpRoute": {
                     "match": {"prefix": "/api"},
                     "action": {"weightedTargets": [
                         {"virtualNodeRef": {"name": "reviews-v2"}, "weight": 90},
                         {"virtualNodeRef": {"name": "reviews-v3"}, "weight": 10}]}}}]}}),
    ("virtualservices", {
        "apiVersion": "appmesh.k8s.aws/v1beta2", "kind": "VirtualService",
        "metadata": {"name": "reviews"},
        "spec": {"awsName": "reviews.default.svc.cluster.local",
                 "provider": {"virtualRouter": {"virtualRouterRef": {"name": "reviews"}}}}}),
    ("virtualnodes", {
        "apiVersion": "appmesh.k8s.aws/v1beta2", "kind": "VirtualNode",
        "metadata": {"name": "reviews-v2"},
        "spec": {"listeners": [{"portMapping": {"port": 9080, "protocol": "http"}}],
                 "serviceDiscovery": {"dns": {"hostname": "reviews-v2.default.svc.cluster.local"}},
                 "podSelector": {"matchLabels": {"app": "reviews", "version": "v2"}}}}),
]


@cluster
def test_every_repo_crd_is_established(admin: client.ApiClient) -> None:
    names = [doc["metadata"]["name"] for path in sorted(CRD_DIR.glob("*.yaml"))
             for doc in yaml.safe_load_all(path.read_text()) if doc]
    assert len(names) == 9
    ext = client.ApiextensionsV1Api(admin)
    for name in names:
        conditions = ext.read_custom_resource_definition(name).status.conditions
        assert any(c.type == "Established" and c.status == "True" for c in conditions), name


@cluster
@pytest.mark.parametrize(("plural", "obj"), REPO_SAMPLES,
                         ids=[f"{o['kind']}-{o['apiVersion']}" for _, o in REPO_SAMPLES])
def test_repo_crd_sample_round_trips(admin: client.ApiClient, namespace: str, plural: str,
                                     obj: dict[str, Any]) -> None:
    create(admin, namespace, copy.deepcopy(obj), plural)
    got = read(admin, namespace, obj["apiVersion"], plural, obj["metadata"]["name"])
    assert got["spec"] == obj["spec"]  # nothing pruned by the schema


@cluster
def test_repo_crd_schema_is_enforced(admin: client.ApiClient, namespace: str) -> None:
    bad = {"apiVersion": "appmesh.k8s.aws/v1beta2", "kind": "VirtualRouter",
           "metadata": {"name": "bad"},
           "spec": {"routes": [{"name": "r", "httpRoute": {"match": {"prefix": "/"},
                    "action": {"weightedTargets": [{"virtualNodeRef": {"name": "n"},
                                                    "weight": 101}]}}}]}}
    with pytest.raises(ApiException) as caught:
        create(admin, namespace, bad, "virtualrouters")
    assert caught.value.status == 422


@cluster
def test_restarting_the_apiserver_keeps_the_data(kube_cluster: Cluster,
                                                 namespace: str) -> None:
    with api_client(kube_cluster.kubeconfig) as api:
        create(api, namespace, httproute("survivor"), "httproutes")
    kube_cluster.stop_apiserver()
    try:
        assert not kube_cluster.running("kube-apiserver")
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", kube_cluster.apiserver_port), timeout=2)
    finally:
        kube_cluster.start_apiserver()
    with api_client(kube_cluster.kubeconfig) as api:
        got = read(api, namespace, f"{GATEWAY_GROUP}/v1", "httproutes", "survivor")
    assert got["spec"]["parentRefs"][0]["kind"] == "Service"


@cluster
def test_a_killed_apiserver_comes_back_with_the_same_etcd(kube_cluster: Cluster,
                                                          namespace: str) -> None:
    kube_cluster.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "before-crash"},
        "data": {"k": "v"}})
    kube_cluster.kill_apiserver()
    kube_cluster.start_apiserver()
    got = kube_cluster.request("GET", f"/api/v1/namespaces/{namespace}/configmaps/before-crash")
    assert got["data"] == {"k": "v"}


@cluster
def test_cli_reports_status_and_reuses_a_running_cluster(kube_cluster: Cluster) -> None:
    status = subprocess.run([str(SCRIPT), "status", "--dir", str(kube_cluster.dir)],
                            capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout.startswith(f"up: {kube_cluster.server}")
    again = subprocess.run([str(SCRIPT), "up", "--dir", str(kube_cluster.dir)],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert again.stdout == f"export KUBECONFIG={kube_cluster.kubeconfig}\n"
    assert "already up" in again.stderr and "building" not in again.stderr


def test_cli_status_of_an_empty_dir_is_down(tmp_path: Path) -> None:
    status = subprocess.run([str(SCRIPT), "status", "--dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert status.returncode == 1
    assert status.stdout.startswith("down")


GOMOD_SAMPLE = """module k8s.io/kubernetes

go 1.26.0

require (
\tgithub.com/spf13/cobra v1.10.0
\tk8s.io/api v0.0.0
\tk8s.io/kube-openapi v0.0.0-20260319190234-28399d86e0b5
)

require (
\tk8s.io/apiserver v0.0.0 // indirect
)

require k8s.io/client-go v0.0.0

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/sample-controller => ./staging/src/k8s.io/sample-controller
)
"""


def test_staging_replacements_are_derived_from_go_mod() -> None:
    modules = testcluster.staging_modules(GOMOD_SAMPLE)
    assert modules == ["k8s.io/api", "k8s.io/apiserver", "k8s.io/client-go"]
    assert testcluster.go_directive(GOMOD_SAMPLE) == "1.26.0"
    assert testcluster.staging_version("v1.36.3") == "v0.36.3"
    text = testcluster.render_gomod("1.26.0", {"k8s.io/kubernetes": "v1.36.3"},
                                    {m: f"{m} v0.36.3" for m in modules})
    assert "require k8s.io/kubernetes v1.36.3" in text
    assert "\tk8s.io/client-go => k8s.io/client-go v0.36.3" in text
    with pytest.raises(ValueError):
        testcluster.staging_version("1.36")
