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

Verification is timed as ``convert`` runs it (its self-check: differences a finding explains
are counted, not listed; ``--listing`` times it as ``meshmigrate verify`` does, every
difference listed) and covers witness generation, both evaluators and matching differences
to findings. Conversion is timed twice: converters, compiler and emitter alone, and with
reading the YAML and writing the output as ``convert --no-verify`` does; two ratios are
printed.
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

from meshmigrate.pipeline import ConvertOptions, convert_documents, render
from meshmigrate.sources import Document, parse_stream
from meshmigrate.verify import Coverage, attach_to_findings, verify_model


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


def source_text(n: int, kind: str) -> str:
    """The mesh as one YAML stream."""
    if kind == "templated":
        objects = [obj for i in range(n) for obj in service_objects(i)]
    else:
        from bench.generate import mesh

        objects = list(mesh(n, 1))
    return yaml.dump_all(objects, Dumper=yaml.CSafeDumper)


def generate(n: int, kind: str) -> list[Document]:
    return list(parse_stream(io.StringIO(source_text(n, kind)), "bench.yaml"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--services", type=int, default=10_000)
    parser.add_argument("--target", default="generic")
    parser.add_argument("--mesh", choices=("realistic", "templated"), default="realistic")
    parser.add_argument("--listing", action="store_true",
                        help="verify as `meshmigrate verify` does (every difference listed) "
                             "instead of as `convert`'s self-check (differences a finding "
                             "explains are counted)")
    args = parser.parse_args()
    text = source_text(args.services, args.mesh)
    gc.collect()
    gc.disable()

    options = ConvertOptions(target=args.target, verify=False)
    start = time.process_time()  # CPU time: stable on a shared machine
    docs = list(parse_stream(io.StringIO(text), "bench.yaml"))
    parsed = time.process_time()
    result = convert_documents(docs, options)
    converted = time.process_time()
    written = len(render(result.objects))
    rendered = time.process_time()
    if args.listing:
        report = verify_model(result.model, result.objects, profile=options.profile())
        attach_to_findings(report, result.findings, result.model)
    else:
        coverage = Coverage(result.findings, result.model)
        report = verify_model(result.model, result.objects, profile=options.profile(),
                              covered=coverage.covers)
        attach_to_findings(report, result.findings, result.model)
    verified = time.process_time()

    core_s, verify_s = converted - parsed, verified - rendered
    whole_s = (parsed - start) + core_s + (rendered - converted)
    print(f"services:      {args.services}")
    print(f"objects out:   {len(result.objects)} ({written / 1e6:.1f} MB of YAML)")
    print(f"conversion:    {core_s:8.2f} s CPU  (converters, compiler, emitter)")
    print(f"  with I/O:    {whole_s:8.2f} s CPU  (+ reading the YAML and writing the output: "
          "what `convert --no-verify` does)")
    print(f"verification:  {verify_s:8.2f} s CPU  "
          f"({'listing' if args.listing else 'self-check as in convert'}; "
          f"{report.services_checked} service ports, "
          f"{report.requests_evaluated} requests, {report.differing_requests} differing "
          f"in {len(report.differences)} ways, {report.explained} explained by findings; "
          f"{report.services_by_symmetry} proven by symmetry)")
    print(f"ratio:         {verify_s / core_s:8.2f}  (verification / conversion; "
          "the goal is <= 1)")
    print(f"  with I/O:    {verify_s / whole_s:8.2f}  (what verification adds to "
          "`convert --no-verify`)")


if __name__ == "__main__":
    main()
