"""Benchmark: apply 1,000 generated HTTPRoutes with meshmigrate and with
``kubectl apply --server-side``, against the same real kube-apiserver in the same run, and
print the ratio (target: meshmigrate no slower, ratio <= 1.0).

    python bench/bench_apply.py [--count 1000] [--repeat 1] [--cluster-dir DIR]

meshmigrate's time covers everything ``meshmigrate apply --yes`` does after conversion:
planning against the live objects, the RBAC preflight, writing the migration record locally
and in the cluster, the server-side applies, and the record's final state. Each tool applies
into its own fresh namespace. Uses the test cluster (scripts/test-cluster): a running one
named by ``--cluster-dir`` or ``MESHMIGRATE_TEST_CLUSTER_DIR``, else one started for the run.
Not a timed test: it prints, it does not assert.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

import testcluster  # noqa: E402

from meshmigrate.kube.apply import ApplyOptions, execute, prepare  # noqa: E402
from meshmigrate.kube.client import connect  # noqa: E402
from meshmigrate.kube.journal import ClusterStore, Journal, LocalStore  # noqa: E402
from meshmigrate.progress import Progress  # noqa: E402


def routes(namespace: str, count: int) -> list[dict[str, Any]]:
    """``count`` HTTPRoutes, each for its own Service name, with a few matches."""
    out = []
    for i in range(count):
        name = f"svc-{i:04d}"
        out.append({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": namespace,
                         "labels": {"app.kubernetes.io/managed-by": "meshmigrate"}},
            "spec": {"parentRefs": [{"group": "", "kind": "Service", "name": name,
                                     "port": 8080}],
                     "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/v2"}},
                                            {"headers": [{"name": "x-canary",
                                                          "value": "true"}]}],
                                "backendRefs": [{"name": f"{name}-v2", "port": 8080}]},
                               {"backendRefs": [{"name": f"{name}-v1", "port": 8080,
                                                 "weight": 90},
                                                {"name": f"{name}-v2", "port": 8080,
                                                 "weight": 10}]}]}})
    return out


def run_meshmigrate(kubeconfig: Path, objects: list[dict[str, Any]], state: Path) -> float:
    start = time.perf_counter()
    kube = connect(str(kubeconfig))
    options = ApplyOptions()
    plan = prepare(kube, objects, [], options)
    journal = Journal(LocalStore(state), ClusterStore(kube))
    execute(kube, journal, plan, options, lambda n, label: Progress(sys.stderr, n, label))
    return time.perf_counter() - start


def run_kubectl(kubectl: str, kubeconfig: Path, objects: list[dict[str, Any]],
                workdir: Path) -> float:
    path = workdir / "routes.yaml"
    path.write_text(yaml.safe_dump_all(objects))
    start = time.perf_counter()
    subprocess.run([kubectl, "apply", "--server-side", "--field-manager", "kubectl-bench",
                    "-f", str(path), "--kubeconfig", str(kubeconfig)], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def cluster(directory: str | None) -> tuple[Any, bool]:
    chosen = directory or os.environ.get("MESHMIGRATE_TEST_CLUSTER_DIR")
    if chosen:
        found = testcluster.Cluster.load(Path(chosen).resolve())
        if found is None or not found.is_up():
            sys.exit(f"no running test cluster in {chosen}")
        return found, False
    return testcluster.up(Path(tempfile.mkdtemp(prefix="mm-bench-"))), True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=1, help="runs per tool (best is kept)")
    parser.add_argument("--cluster-dir")
    args = parser.parse_args(argv)
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        print("kubectl is not installed: install it to compare (meshmigrate alone is timed)")
    test_cluster, owned = cluster(args.cluster_dir)
    try:
        return report(test_cluster, kubectl, args.count, args.repeat)
    finally:
        if owned:
            test_cluster.down()


def report(test_cluster: Any, kubectl: str | None, count: int, repeat: int) -> int:
    ours, theirs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeat):
            if kubectl:
                ns = test_cluster.create_namespace("bench-kubectl")
                theirs.append(run_kubectl(kubectl, test_cluster.kubeconfig,
                                          routes(ns, count), Path(tmp)))
            ns = test_cluster.create_namespace("bench-mm")
            ours.append(run_meshmigrate(test_cluster.kubeconfig, routes(ns, count),
                                        Path(tmp) / "state"))
    best = min(ours)
    print(f"meshmigrate apply: {count} HTTPRoutes in {best:.2f}s "
          f"({count / best:.0f} objects/s)")
    if theirs:
        print(f"kubectl apply --server-side: {count} HTTPRoutes in {min(theirs):.2f}s")
        print(f"ratio meshmigrate/kubectl: {best / min(theirs):.2f} (target <= 1.00)")
    return 0


if __name__ == "__main__":
    sys.stderr = io.TextIOWrapper(sys.stderr.buffer, line_buffering=True)
    sys.exit(main())
