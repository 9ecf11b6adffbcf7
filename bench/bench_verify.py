"""Benchmark: verifying a conversion must cost no more than the conversion itself (issue 3).

Generates a mesh of N Services, converts it, verifies the conversion and prints both times
and their ratio. Two meshes:

- ``--mesh realistic`` (default): ``bench/generate.py``'s mesh, about six varied rules per
  VirtualService (exact/prefix/regex paths, header/method/query matches, rewrites,
  redirects, mirrors, gRPC), the one ``bench/run.py`` measures;
- ``--mesh templated``: each VirtualService a header canary rule, a string-prefix rule with
  a rewrite, an exact rule and a weighted catch-all, with seven path variants, so Service
  ports repeat up to names (the symmetry shortcut applies).

Python's cyclic garbage collector is off during both timings, as in the CLI (``cli.run``).

    python bench/bench_verify.py            # 10,000 Services
    python bench/bench_verify.py -n 500     # quicker

Input loading (YAML parsing) is excluded from both timings; conversion covers converters,
compiler and emitter; verification covers witness generation and both evaluators.
"""

from __future__ import annotations

import argparse
import gc
import io
import sys
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from meshmigrate.pipeline import ConvertOptions, convert_documents
from meshmigrate.sources import Document, parse_stream
from meshmigrate.verify import attach_to_findings, verify_model


def service_objects(i: int) -> list[dict[str, Any]]:
    """A Service, its DestinationRule and its VirtualService (bookinfo-like, varied)."""
    ns, name = f"team-{i % 50}", f"svc-{i}"
    version = f"v{i % 7}"
    return [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
         "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 8080}]}},
        {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
         "metadata": {"name": name, "namespace": ns},
         "spec": {"host": name, "subsets": [{"name": "v1", "labels": {"version": "v1"}},
                                           {"name": "v2", "labels": {"version": "v2"}}]}},
        {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
         "metadata": {"name": name, "namespace": ns},
         "spec": {"hosts": [name], "http": [
             {"match": [{"headers": {"x-canary": {"exact": "true"}}}],
              "route": [{"destination": {"host": name, "subset": "v2"}}]},
             {"match": [{"uri": {"prefix": f"/api/{version}/"}}],
              "rewrite": {"uri": "/"},
              "route": [{"destination": {"host": name, "subset": "v1"}}]},
             {"match": [{"uri": {"exact": "/healthz"}}], "timeout": "2s",
              "route": [{"destination": {"host": name, "subset": "v1"}}]},
             {"route": [{"destination": {"host": name, "subset": "v1"}, "weight": 90},
                        {"destination": {"host": name, "subset": "v2"}, "weight": 10}]}]}},
    ]


def generate(n: int, kind: str) -> list[Document]:
    if kind == "templated":
        objects = [obj for i in range(n) for obj in service_objects(i)]
    else:
        from bench.generate import mesh

        objects = list(mesh(n, 1))
    text = yaml.dump_all(objects, Dumper=yaml.CSafeDumper)
    return list(parse_stream(io.StringIO(text), "bench.yaml"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--services", type=int, default=10_000)
    parser.add_argument("--target", default="generic")
    parser.add_argument("--mesh", choices=("realistic", "templated"), default="realistic")
    args = parser.parse_args()
    docs = generate(args.services, args.mesh)
    gc.collect()
    gc.disable()

    options = ConvertOptions(target=args.target, verify=False)
    start = time.process_time()  # CPU time: stable on a shared machine
    result = convert_documents(docs, options)
    converted = time.process_time()
    report = verify_model(result.model, result.objects, profile=options.profile())
    attach_to_findings(report, result.findings, result.model)
    verified = time.process_time()

    convert_s, verify_s = converted - start, verified - converted
    print(f"services:      {args.services}")
    print(f"objects out:   {len(result.objects)}")
    print(f"conversion:    {convert_s:8.2f} s CPU")
    print(f"verification:  {verify_s:8.2f} s CPU  ({report.services_checked} service ports, "
          f"{report.requests_evaluated} requests, {report.differing_requests} differing "
          f"in {len(report.differences)} ways; "
          f"{report.services_by_symmetry} proven by symmetry)")
    print(f"ratio:         {verify_s / convert_s:8.2f}  (verification / conversion; "
          "the goal is <= 1)")


if __name__ == "__main__":
    main()
