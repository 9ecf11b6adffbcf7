"""Agreement between the offline validator and the real kube-apiserver.

Every object of ``testdata/validate/`` (and seeded random mutations of them) is created
with ``dryRun=All`` and ``fieldValidation=Strict`` (kubectl's default) in the test cluster
(Gateway API experimental CRDs, tests/cluster_fixture.py); the apiserver's verdict must be
the offline validator's, both with the cluster's own CRDs (``--from-cluster``) and with the
same release's CRDs from the Go module.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from meshmigrate import crds
from meshmigrate.crds import CrdSet
from meshmigrate.validate import ValidationError, Validator
from tests.cluster_fixture import Cluster
from tests.test_validate_cli import run
from tests.test_validate_support import (
    CORPUS,
    corpus,
    crd_set,
    expected,
    field_matches,
    served,
)

pytestmark = pytest.mark.cluster

FieldPath = tuple[str | int, ...]


@pytest.fixture(scope="module")
def api(kube_cluster: Cluster) -> Iterator[client.ApiClient]:
    with config.new_client_from_config(config_file=str(kube_cluster.kubeconfig)) as api_client:
        yield api_client


@pytest.fixture(scope="module")
def cluster_crds(api: client.ApiClient) -> CrdSet:
    return crds.load_cluster(client.ApiextensionsV1Api(api))


@pytest.fixture(scope="module")
def module_crds(kube_cluster: Cluster) -> CrdSet:
    """The same CRDs, from the Go module the cluster installed them from."""
    versions = kube_cluster.versions
    return crd_set(versions.gateway_api, versions.gateway_api_channel)


@pytest.fixture(scope="module")
def namespace(kube_cluster: Cluster) -> str:
    return kube_cluster.create_namespace("validate")


def apiserver_rejection(api: client.ApiClient, crd_set_: CrdSet, obj: dict[str, Any],
                        namespace: str) -> str | None:
    """None if the apiserver would create ``obj`` (dry run), else its error message."""
    group, _, version = obj["apiVersion"].rpartition("/")
    crd = crd_set_.find(group, obj["kind"])
    assert crd is not None, obj["kind"]
    try:
        client.CustomObjectsApi(api).create_namespaced_custom_object(
            group, version, namespace, crd["spec"]["names"]["plural"], obj, dry_run="All",
            field_validation="Strict")
    except ApiException as exc:
        assert exc.status in (400, 422), exc.body
        return str(json.loads(exc.body)["message"])
    return None


def in_namespace(obj: dict[str, Any], namespace: str) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    obj["metadata"]["namespace"] = namespace
    return obj


CASES = [("valid", name, obj) for name, obj in corpus("valid")] + [
    ("invalid", name, obj) for name, obj in corpus("invalid")]


@pytest.mark.parametrize(("verdict", "name", "obj"), CASES,
                         ids=[f"{v}/{n}" for v, n, _ in CASES])
def test_offline_verdict_is_the_apiservers(api: client.ApiClient, cluster_crds: CrdSet,
                                            module_crds: CrdSet, namespace: str, verdict: str,
                                            name: str, obj: dict[str, Any]) -> None:
    adapted = served(in_namespace(obj, namespace), cluster_crds)
    assert adapted is not None, f"the test cluster has no CRD for {obj['kind']}"
    online = apiserver_rejection(api, cluster_crds, adapted, namespace)
    for crd_source in (cluster_crds, module_crds):
        offline = Validator(crd_source).validate(adapted)
        assert (offline == []) == (online is None), (
            f"offline: {[str(e) for e in offline]}\napiserver: {online}")
    assert (online is None) == (verdict == "valid"), online
    if verdict == "invalid":
        case = expected()["invalid"][name]
        assert case.get("apiserver", case["field"]) in str(online)
        assert any(field_matches(e.field, case["field"]) for e in offline)


# --------------------------------------------------------------------------------------------
# Seeded mutations of the corpus: the verdicts must agree on each one as well.


def _paths(node: Any, path: FieldPath = ()) -> Iterator[tuple[FieldPath, Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*path, index))


def _replacements(value: Any) -> list[Any]:
    if isinstance(value, bool):
        return ["yes"]
    if isinstance(value, int):
        return [-1, 0, 65536, 10_000_000, "80", 1.5]
    if isinstance(value, str):
        return ["", "Not Valid!", "/a//b", "/a/../b", "x" * 300, 7, "10.0.0.1", "*.Example.com",
                "Exact", "PathPrefix", "RequestRedirect", "%2F", "Service", "0s", "2h"]
    if isinstance(value, list):
        return [[], value + value[:1], "list", value[::-1]]
    return [{}, None, "map"]


def _set(obj: dict[str, Any], path: FieldPath, value: Any, delete: bool) -> None:
    parent: Any = obj
    for part in path[:-1]:
        parent = parent[part]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value


def _mutate(rng: random.Random, obj: dict[str, Any]) -> str:
    """Delete or replace one field below ``spec`` (or the name); describe the change."""
    paths = [p for p, _ in _paths(obj["spec"], ("spec",)) if len(p) > 1]
    path = rng.choice([*paths, ("metadata", "name")])
    value = dict(_paths(obj)).get(path)
    delete = rng.random() < 0.25 and isinstance(path[-1], str) and value is not None
    replacement = None if delete else rng.choice(_replacements(value))
    _set(obj, path, replacement, delete)
    return f"{'.'.join(map(str, path))} {'delete' if delete else json.dumps(replacement)[:20]}"


def mutants(count: int, seed: int = 20240611) -> list[tuple[str, dict[str, Any]]]:
    """``count`` objects of the corpus, each with one to three fields changed."""
    rng = random.Random(seed)
    out = []
    originals = corpus("valid") + corpus("invalid")
    while len(out) < count:
        name, original = rng.choice(originals)
        mutant = copy.deepcopy(original)
        changes = [_mutate(rng, mutant) for _ in range(rng.choice((1, 1, 2, 3)))]
        out.append((f"{name}:{', '.join(changes)}", mutant))
    return out


MUTANTS = mutants(200)


@pytest.mark.parametrize(("label", "obj"), MUTANTS, ids=[label for label, _ in MUTANTS])
def test_offline_verdict_is_the_apiservers_on_mutations(
        api: client.ApiClient, cluster_crds: CrdSet, namespace: str, label: str,
        obj: dict[str, Any]) -> None:
    adapted = served(in_namespace(obj, namespace), cluster_crds)
    assert adapted is not None
    online = apiserver_rejection(api, cluster_crds, adapted, namespace)
    offline = Validator(cluster_crds).validate(adapted)
    assert (offline == []) == (online is None), (
        f"offline: {[str(e) for e in offline]}\napiserver: {online}")
    if online is not None and "cannot be handled as" not in online:  # not a decoding error
        assert [str(e) for e in offline if not _reported(e, online)] == [], online


def _reported(error: ValidationError, online: str) -> bool:
    """The apiserver's message names the error's field and reason, and a CEL rule's message
    (not an evaluation error's: the CEL runtimes word those differently)."""
    rule_message = bool(error.rule and "self" in error.rule
                        and "evaluating rule:" not in error.message)
    return f"{error.field}: {error.reason}" in online and (
        not rule_message or error.message in online)


def test_validate_from_cluster_cli(kube_cluster: Cluster,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from meshmigrate.cli_validate import validate_cmd

    monkeypatch.setenv("KUBECONFIG", str(kube_cluster.kubeconfig))
    code, _, err = run(validate_cmd, "-f", str(CORPUS / "valid"), "--from-cluster")
    assert code == 0, err
    assert "against cluster: 0 error(s)" in err
    code, _, err = run(validate_cmd, "-f", str(CORPUS / "invalid"), "--from-cluster")
    assert code == 1 and "backendRequest timeout cannot be longer than request timeout" in err
