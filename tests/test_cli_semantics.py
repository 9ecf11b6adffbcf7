"""``trace``, ``verify`` and ``diff`` through the CLI (DESIGN §3 contract)."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import jsonpatch  # type: ignore[import-untyped,unused-ignore]
import pytest
import yaml

from meshmigrate.cli import run
from meshmigrate.cliutil import AppContext
from meshmigrate.kube.client import Resource
from meshmigrate.trace import parse_request

ORDER = Path(__file__).resolve().parent.parent / "testdata" / "verify" / "order-sensitive"
SOURCE = str(ORDER / "source.yaml")
NAIVE = str(ORDER / "naive-httproute.yaml")
OUTCOME_KEYS = {"status", "rule", "backends", "path", "host", "request_headers",
                "response_headers", "redirect", "timeout", "retry", "mirrors"}


def cli(*args: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(args), AppContext(stdin=io.StringIO(stdin), stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


# --- trace ------------------------------------------------------------------------------

def test_trace_json_with_source_configs() -> None:
    code, out, err = cli("trace", "-f", SOURCE, "--request",
                         "GET http://reviews.bookinfo:9080/reviews/1?x=1",
                         "-H", "X-Canary: true", "-o", "json", "--target", "istio")
    assert code == 0, err
    result = json.loads(out)
    assert set(result) == {"source", "target", "equivalent"}
    assert result["equivalent"] is True
    for side in ("source", "target"):
        outcome = result[side]
        assert set(outcome) == OUTCOME_KEYS
        assert outcome["status"] == 200 and outcome["path"] == "/reviews/1"
        assert outcome["backends"] == [{"name": "ratings", "namespace": "bookinfo",
                                        "port": 9080, "weight": 1}]
        assert outcome["request_headers"] == {"x-canary": "true"}
        assert outcome["redirect"] is None and outcome["mirrors"] == []
    assert result["source"]["retry"] == {"attempts": 2, "codes": []}


def test_trace_json_gateway_objects_only_has_target_alone() -> None:
    code, out, _ = cli("trace", "-f", NAIVE, "--request",
                       "GET http://reviews.bookinfo:9080/reviews", "-H", "x-canary: true",
                       "-o", "json")
    assert code == 0
    result = json.loads(out)
    assert set(result) == {"target"} and set(result["target"]) == OUTCOME_KEYS
    assert result["target"]["backends"][0]["name"] == "reviews"
    assert result["target"]["rule"] == "bookinfo/reviews#1"


def test_trace_unrouted_service_goes_to_itself() -> None:
    code, out, _ = cli("trace", "-f", NAIVE, "--request", "POST http://other/x",
                       "--from-namespace", "team", "-o", "json")
    target = json.loads(out)["target"]
    assert code == 0 and target["rule"] is None and target["status"] == 200
    assert target["backends"] == [{"name": "other", "namespace": "team", "port": 80,
                                   "weight": 1}]


def test_trace_shows_a_flip_in_text() -> None:
    code, out, _ = cli("trace", "-f", SOURCE, "--request",
                       "GET http://reviews.bookinfo.svc.cluster.local:9080/reviewsx")
    assert code == 0
    assert "source:\n  status: 200" in out and "equivalent: " in out


@pytest.mark.parametrize("host", ["reviews", "reviews.bookinfo", "reviews.bookinfo.svc",
                                  "reviews.bookinfo.svc.cluster.local"])
def test_request_hosts_name_the_service(host: str) -> None:
    req = parse_request(f"get http://{host}:9080/a?b=1&c", ["X-A: 1"], "bookinfo")
    assert (req.service.namespace, req.service.name, req.service.port) == (
        "bookinfo", "reviews", 9080)
    assert req.method == "GET" and req.path == "/a" and req.query == (("b", "1"), ("c", ""))
    assert req.headers == (("x-a", "1"),)


def test_request_defaults() -> None:
    req = parse_request("GET http://web")
    assert req.service.port == 80 and req.service.namespace == "default" and req.path == "/"
    assert parse_request("GET tcp://db.data:5432").protocol == "tcp"
    assert parse_request("POST grpc://api.x:9090/pkg.Svc/M").protocol == "grpc"


@pytest.mark.parametrize("args", [
    ["--request", "http://web/"],                    # no method
    ["--request", "GET web/x"],                      # no scheme
    ["--request", "GET http://a.b.c.d/"],            # not a Service host
    ["--request", "GET http://web/", "-H", "novalue"],
    ["--request", "GET http://web:99999/"],
])
def test_trace_bad_requests_exit_2(args: list[str]) -> None:
    code, out, err = cli("trace", "-f", NAIVE, *args)
    assert code == 2 and out == "" and err.startswith("error: ")


# --- verify -----------------------------------------------------------------------------

def test_verify_exit_codes() -> None:
    assert cli("verify", "-f", SOURCE, "--target", "istio")[0] == 0
    assert cli("verify", "-f", SOURCE, "--against", NAIVE, "--target", "istio")[0] == 1
    assert cli("verify")[0] == 2
    assert cli("verify", "-f", "/nonexistent.yaml")[0] == 2


def test_verify_json_lists_each_difference() -> None:
    code, out, _ = cli("verify", "-f", SOURCE, "--against", NAIVE, "--target", "istio",
                       "-o", "json")
    doc = json.loads(out)
    assert code == 1 and doc["equivalent"] is False
    assert doc["services_checked"] == 1 and doc["requests_evaluated"] > 0
    first = doc["differences"][0]
    assert set(first) == {"service", "request", "aspects", "count", "source", "target"}
    # one entry per way of differing; count says how many witness requests differ that way
    assert doc["differing_requests"] == sum(d["count"] for d in doc["differences"])
    groups = {(d["service"], d["source"]["rule"], d["target"]["rule"], tuple(d["aspects"]))
              for d in doc["differences"]}
    assert len(groups) == len(doc["differences"])
    assert set(first["source"]) == OUTCOME_KEYS == set(first["target"])
    assert first["request"]["url"].startswith("http://reviews.bookinfo:9080/")


def test_verify_reads_stdin() -> None:
    text = Path(SOURCE).read_text()
    assert cli("verify", "-f", "-", "--target", "istio", stdin=text)[0] == 0


# --- diff -------------------------------------------------------------------------------

@pytest.fixture
def against(tmp_path: Path) -> Path:
    """The conversion written out (as a GitOps repository would hold it)."""
    out_dir = tmp_path / "gitops"
    code = cli("convert", "-f", SOURCE, "--target", "istio", "--out-dir", str(out_dir),
               "--no-verify")[0]
    assert code == 0
    return out_dir


def _edit_route(out_dir: Path) -> None:
    path = next(out_dir.rglob("httproute-*.yaml"))
    obj = yaml.safe_load(path.read_text())
    obj["spec"]["rules"][-1]["backendRefs"][0]["name"] = "ratings"
    path.write_text(yaml.safe_dump(obj))
    extra = out_dir / "bookinfo" / "httproute-old.yaml"
    extra.write_text(yaml.safe_dump({**obj, "metadata": {"name": "old",
                                                         "namespace": "elsewhere"}}))


def test_diff_clean(against: Path) -> None:
    code, out, _ = cli("diff", "-f", SOURCE, "--against", str(against), "--target", "istio",
                       "--exit-code")
    assert code == 0
    assert out.startswith("structural: 0 changed, 0 added, 0 removed, 1 unchanged")
    assert "semantic: equivalent" in out


def test_diff_text_and_exit_code(against: Path) -> None:
    _edit_route(against)
    args = ("diff", "-f", SOURCE, "--against", str(against), "--target", "istio")
    code, out, _ = cli(*args)
    assert code == 0  # without --exit-code a diff is not a failure
    assert cli(*args, "--exit-code")[0] == 1
    assert "~ HTTPRoute/bookinfo/reviews" in out and "- HTTPRoute/elsewhere/old" in out
    assert "changed from \"ratings\" to \"details\"" in out
    assert "semantic: " in out and "requests differ" in out


def test_diff_json_patch_applies(against: Path) -> None:
    path = next(against.rglob("httproute-*.yaml"))
    before = yaml.safe_load(path.read_text())
    _edit_route(against)
    edited = yaml.safe_load(path.read_text())
    code, out, _ = cli("diff", "-f", SOURCE, "--against", str(against), "--target", "istio",
                       "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["clean"] is False
    [changed] = doc["structural"]["changed"]
    assert all(op["op"] in ("add", "remove", "replace", "move", "copy", "test")
               for op in changed["patch"])
    assert jsonpatch.apply_patch(edited, changed["patch"]) == before
    assert [r["name"] for r in doc["structural"]["removed"]] == ["old"]
    assert doc["semantic"]["differences"]


def test_diff_markdown(against: Path) -> None:
    _edit_route(against)
    code, out, _ = cli("diff", "-f", SOURCE, "--against", str(against), "--format",
                       "markdown", "--target", "istio")
    assert code == 0 and out.startswith("### ")
    assert "| changed | `HTTPRoute/bookinfo/reviews` |" in out
    assert "```json" in out and "| request | differs in | source | target |" in out


def test_diff_junit_is_valid_xml(against: Path) -> None:
    _edit_route(against)
    code, out, _ = cli("diff", "-f", SOURCE, "--against", str(against), "--format", "junit",
                       "--target", "istio")
    root = ET.fromstring(out.split("\n", 1)[1])
    assert code == 0 and root.tag == "testsuites"
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert suites["structural"].get("failures") == "2"
    assert suites["semantic"].get("failures") == "2"  # the stray route routes elsewhere/reviews
    assert any(c.find("failure") is not None for c in suites["semantic"].iter("testcase"))


def test_diff_github_annotations(against: Path) -> None:
    _edit_route(against)
    code, out, _ = cli("diff", "-f", SOURCE, "--against", str(against), "--format", "github",
                       "--target", "istio")
    lines = out.splitlines()
    assert code == 0 and lines
    assert all(line.startswith(("::error ", "::warning ")) for line in lines)
    assert any(line.startswith("::warning file=") and "HTTPRoute/bookinfo/reviews changed"
               in line for line in lines)
    assert any(line.startswith("::error file=") and "source.yaml,line=" in line
               for line in lines)
    assert all("\n" not in line for line in lines)


def test_diff_github_clean_is_a_notice(against: Path) -> None:
    _, out, _ = cli("diff", "-f", SOURCE, "--against", str(against), "--format", "github",
                    "--target", "istio")
    assert out.startswith("::notice ")


def test_diff_usage_errors(tmp_path: Path) -> None:
    assert cli("diff", "-f", SOURCE)[0] == 2
    assert cli("diff", "-f", SOURCE, "--against", str(tmp_path), "--against-cluster")[0] == 2


class FakeKube:
    """Serves HTTPRoutes (v1) and Services from memory, like the Kube client's reads."""

    def __init__(self, objects: list[dict[str, Any]]) -> None:
        self.objects = objects
        self.listed: list[tuple[str, str | None, str]] = []

    def served_versions(self, group: str) -> tuple[str, list[str]] | None:
        return ("v1", ["v1"]) if group == "gateway.networking.k8s.io" else None

    def resource(self, api_version: str, kind: str) -> Resource | None:
        if kind not in ("HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute", "Service"):
            return None
        group, _, version = api_version.rpartition("/")
        return Resource(group, version, kind, kind.lower() + "s", True)

    def list_all(self, res: Resource, namespace: str | None, limit: int = 500,
                 selector: str = "") -> list[dict[str, Any]]:
        self.listed.append((res.kind, namespace, selector))
        return [o for o in self.objects if o["kind"] == res.kind
                and namespace in (None, o["metadata"].get("namespace"))]


def test_diff_against_cluster(against: Path) -> None:
    live = [yaml.safe_load(p.read_text()) for p in sorted(against.rglob("*.yaml"))]
    live.append({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                 "metadata": {"name": "edge", "namespace": "bookinfo"},
                 "spec": {"parentRefs": [{"name": "gateway"}]}})  # not a mesh route
    kube = FakeKube(live)
    out, err = io.StringIO(), io.StringIO()
    context = AppContext(stdin=io.StringIO(""), stdout=out, stderr=err,
                         kube=lambda kubeconfig, context: kube)
    code = run(["diff", "-f", SOURCE, "--against-cluster", "--target", "istio",
                "--exit-code"], context)
    assert code == 0, err.getvalue()
    assert out.getvalue().startswith("structural: 0 changed, 0 added, 0 removed, 1 unchanged")
    assert ("HTTPRoute", "bookinfo", "") in kube.listed
    assert ("Service", "bookinfo", "app.kubernetes.io/managed-by=meshmigrate") in kube.listed


def test_diff_against_empty_dir_adds_everything(tmp_path: Path) -> None:
    shutil.copy(SOURCE, tmp_path / "unrelated.yaml")  # source kinds are not compared
    code, out, _ = cli("diff", "-f", SOURCE, "--against", str(tmp_path), "--format", "json",
                       "--target", "istio")
    doc = json.loads(out)
    assert [a["kind"] for a in doc["structural"]["added"]] == ["HTTPRoute"]
    assert doc["structural"]["removed"] == [] and code == 0
