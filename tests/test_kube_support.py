"""Helpers for the live-cluster tests (no tests here): source objects to seed, a CLI runner,
and snapshots of a namespace to compare before and after."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from meshmigrate.cli import run
from meshmigrate.cliutil import AppContext
from meshmigrate.kube.client import Kube, connect
from meshmigrate.kube.objects import Obj, ObjRef

ROOT = Path(__file__).resolve().parent.parent
KINDS = [("v1", "Service"), ("networking.istio.io/v1", "VirtualService"),
         ("networking.istio.io/v1", "DestinationRule"), ("linkerd.io/v1alpha2", "ServiceProfile"),
         ("gateway.networking.k8s.io/v1", "HTTPRoute"), ("v1", "ConfigMap")]

SOURCES = """
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: NS, labels: {app: reviews}}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080, targetPort: 9080}]
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: NS}
spec:
  selector: {app: ratings}
  ports: [{name: http, port: 9080}]
---
apiVersion: v1
kind: Service
metadata: {name: books, namespace: NS}
spec:
  selector: {app: books}
  ports: [{name: http, port: 7002}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: NS}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - {name: v3, labels: {version: v3}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: NS
  labels: {team: books}
  annotations: {example.com/owner: "reviews team"}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 50}
    - {destination: {host: reviews, subset: v3}, weight: 50}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: NS}
spec:
  hosts: [ratings]
  http:
  - route: [{destination: {host: ratings}}]
    timeout: 10s
---
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: {name: books.NS.svc.cluster.local, namespace: NS, labels: {app: books}}
spec:
  routes:
  - name: GET /books
    condition: {method: GET, pathRegex: /books}
    timeout: 2s
"""


def source_objects(namespace: str, text: str = SOURCES) -> list[Obj]:
    return [d for d in yaml.safe_load_all(text.replace("NS", namespace)) if d]


def seed(cluster: Any, namespace: str, text: str = SOURCES) -> list[Obj]:
    """Create the source objects with another field manager (as a person would)."""
    out = []
    for obj in source_objects(namespace, text):
        kube = connect(str(cluster.kubeconfig))
        res = kube.require(ObjRef.of(obj))
        out.append(cluster.apply(obj, res.path(namespace, obj["metadata"]["name"])))
    return out


def admin(cluster: Any) -> Kube:
    return connect(str(cluster.kubeconfig))


def snapshot(kube: Kube, namespace: str, exact: bool = False) -> dict[str, Obj]:
    """Every object of the test kinds in ``namespace``: spec, labels, annotations (and
    with ``exact`` the field owners)."""
    out: dict[str, Obj] = {}
    for api_version, kind in KINDS:
        res = kube.resource(api_version, kind)
        if res is None:  # e.g. the HTTPRoute CRD removed by a test
            continue
        for obj in kube.list_all(res, namespace):
            meta = obj["metadata"]
            if kind == "ConfigMap" and meta["name"] == "kube-root-ca.crt":
                continue
            view = {"spec": obj.get("spec"), "labels": meta.get("labels"),
                    "annotations": meta.get("annotations")}
            if exact:
                view["owners"] = sorted((m["manager"], m["operation"])
                                        for m in meta.get("managedFields") or [])
            out[f"{kind}/{meta['name']}"] = view
    return out


def cli(cluster: Any, *args: str, state_dir: Path, stdin: str = "",
        kubeconfig: Path | None = None) -> tuple[int, str, str]:
    """Run ``meshmigrate`` in-process; (exit code, stdout, stderr)."""
    ctx = AppContext(stdin=io.StringIO(stdin), stdout=io.StringIO(), stderr=io.StringIO())
    argv = [*args, "--kubeconfig", str(kubeconfig or cluster.kubeconfig),
            "--state-dir", str(state_dir)]
    code = run(argv, ctx)
    return code, ctx.stdout.getvalue(), ctx.stderr.getvalue()


def spawn(cluster: Any, *args: str, state_dir: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """``meshmigrate`` as a separate process (to kill it)."""
    argv = [sys.executable, "-c", "from meshmigrate.cli import main; main()", *args,
            "--kubeconfig", str(cluster.kubeconfig), "--state-dir", str(state_dir)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **env}, cwd=ROOT)


def wait_for_line(proc: subprocess.Popen[str], needle: str) -> list[str]:
    """Read stderr until a line containing ``needle`` (fail if the process ends first)."""
    seen: list[str] = []
    assert proc.stderr is not None
    for line in proc.stderr:
        seen.append(line)
        if needle in line:
            return seen
    raise AssertionError(f"process ended without {needle!r}: {''.join(seen)}")


def records_in_cluster(kube: Kube) -> list[str]:
    res = kube.resource("v1", "ConfigMap")
    assert res is not None
    return sorted(o["metadata"]["name"] for o in kube.list_all(
        res, "meshmigrate-system", selector="meshmigrate.io/part=0"))
