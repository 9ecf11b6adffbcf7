"""Benchmark: conversion and verification cost against reading and writing the YAML.

For each mesh size it generates a synthetic Istio mesh (``bench/generate.py``) and runs,
each in a fresh Python process (so the peak RSS is that measurement's own):

- **baseline**: PyYAML's C loader reading the input, plus PyYAML's C dumper writing the
  conversion's output objects (read back beforehand, untimed) to a file;
- ``meshmigrate convert --no-verify``;
- ``meshmigrate convert`` (with the semantic self-check);
- ``meshmigrate verify -f INPUT --against OUTPUT``.

Times are measured inside the process around the operation (interpreter start and imports,
about 0.5 s, are left out of every row alike). CPU time (user + system of the process) is
the primary figure: this machine is shared, and wall time is reported beside it. The
``convert`` runs pass ``--no-validate`` (CRD schema validation is measured elsewhere).
Peak RSS is ``ru_maxrss`` of the measured process (``os.wait4``).

    python bench/run.py --sizes 1000,10000,50000
    python bench/run.py --quick            # 1,000 Services, a smoke run

Prints a Markdown table (ratios are of the baseline measured in the same run).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MODES = ("baseline", "convert-no-verify", "convert", "verify")
LABELS = {"convert-no-verify": "convert --no-verify", "convert": "convert",
          "verify": "verify"}


# --- the measured process ------------------------------------------------------------------
def _timed(work: Callable[[], Any]) -> dict[str, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}


def _baseline(source: str, output: str, sink: str) -> dict[str, float]:
    import yaml

    with open(output, encoding="utf-8") as fh:
        objects = list(yaml.load_all(fh, Loader=yaml.CSafeLoader))

    def read() -> None:
        with open(source, encoding="utf-8") as fh:
            for _ in yaml.load_all(fh, Loader=yaml.CSafeLoader):
                pass

    def write() -> None:
        with open(sink, "w", encoding="utf-8") as fh:
            yaml.dump_all(objects, fh, Dumper=yaml.CSafeDumper, sort_keys=False,
                          default_flow_style=False, allow_unicode=True, width=100)

    loaded, dumped = _timed(read), _timed(write)
    return {key: loaded[key] + dumped[key] for key in loaded} | {
        "read_cpu": loaded["cpu"], "write_cpu": dumped["cpu"]}


def _cli(args: list[str], sink: str) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    if os.environ.get("MESHMIGRATE_BENCH_GC_OFF"):
        import gc

        gc.disable()
    from meshmigrate.cli import run
    from meshmigrate.cliutil import AppContext

    codes: list[int] = []
    stderr = io.StringIO()
    with open(sink, "w", encoding="utf-8") as out:
        ctx = AppContext(stdin=io.StringIO(), stdout=out, stderr=stderr)
        result: dict[str, Any] = _timed(lambda: codes.append(run(args, ctx)))
    result["exit"] = codes[0]
    if codes[0] not in (0, 1):
        result["error"] = stderr.getvalue().strip().splitlines()[-1][:200]
    return result


def child(mode: str, source: str, output: str, scratch: str) -> None:
    """Run one measurement and print its numbers as one JSON line."""
    report = os.path.join(scratch, f"{mode}-report.json")
    sink = os.path.join(scratch, f"{mode}.out")
    if mode == "baseline":
        numbers = _baseline(source, output, sink)
    elif mode == "verify":
        numbers = _cli(["verify", "-f", source, "--against", output], sink)
    else:
        args = ["convert", "-f", source, "--no-validate", "--report", "json",
                "--report-file", report]
        if mode == "convert-no-verify":
            args.append("--no-verify")
        numbers = _cli(args, output if mode == "convert-no-verify" else sink)
    print(json.dumps(numbers))


# --- the driver ------------------------------------------------------------------------------
@dataclass
class Row:
    services: int
    rules: int = 0
    objects_in: int = 0
    objects_out: int = 0
    input_mb: float = 0.0
    output_mb: float = 0.0
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Limits:
    """Per measurement: CPU seconds and address space (GB); a run over them is reported
    as not finished rather than taking the shared machine down."""

    cpu_s: int = 1800
    memory_gb: float = 8.0
    gc_off: bool = False

    def apply(self) -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_CPU, (self.cpu_s, self.cpu_s + 5))
        size = int(self.memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (size, size))


def measure(mode: str, source: str, output: str, scratch: str,
            limits: Limits) -> dict[str, Any]:
    """One measurement in a fresh process; adds its peak RSS (MB), or ``failed``."""
    cmd = [sys.executable, __file__, "--child", mode, source, output, scratch]
    env = dict(os.environ, MESHMIGRATE_BENCH_GC_OFF="1" if limits.gc_off else "")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=ROOT, env=env,
                            preexec_fn=limits.apply)
    assert proc.stdout is not None
    text = proc.stdout.read().decode().strip()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    numbers: dict[str, Any] = {"rss_mb": usage.ru_maxrss / 1024, "cpu": cpu}
    if proc.returncode != 0 or not text:
        numbers["failed"] = _failure(proc.returncode, cpu, limits)
        return numbers
    numbers.update(json.loads(text.splitlines()[-1]))
    if numbers.get("exit") not in (None, 0, 1):
        numbers["failed"] = (f"failed after {numbers['cpu']:.0f} s CPU: exit {numbers['exit']}"
                             f" ({numbers.get('error', '')}; limit {limits.memory_gb:g} GB)")
    return numbers


def _failure(code: int, cpu: float, limits: Limits) -> str:
    if cpu >= limits.cpu_s - 1:
        return f"not finished in {limits.cpu_s} s CPU"
    return f"failed (exit {code}; memory limit {limits.memory_gb:g} GB)"


def mesh_facts(row: Row, source: str, scratch: str) -> None:
    import yaml

    with open(source, encoding="utf-8") as fh:
        docs = list(yaml.load_all(fh, Loader=yaml.CSafeLoader))
    row.objects_in = len(docs)
    row.rules = sum(len(d["spec"].get("http") or ()) for d in docs
                    if d["kind"] == "VirtualService")
    row.input_mb = os.path.getsize(source) / 1e6
    report = json.loads(Path(scratch, "convert-no-verify-report.json").read_text())
    row.objects_out = report["summary"]["objects_out"]


def run_size(services: int, seed: int, scratch: str, limits: Limits,
             modes: tuple[str, ...] = MODES) -> Row:
    source = os.path.join(scratch, f"mesh-{services}.yaml")
    output = os.path.join(scratch, f"out-{services}.yaml")
    subprocess.run([sys.executable, str(ROOT / "bench" / "generate.py"), "--services",
                    str(services), "--seed", str(seed), "-o", source], check=True)
    row = Row(services)
    for mode in ("convert-no-verify", "baseline", "convert", "verify"):
        if mode not in modes:
            row.runs[mode] = {"failed": "not run", "rss_mb": 0.0}
            continue
        print(f"  {services} services: {mode} ...", file=sys.stderr, flush=True)
        row.runs[mode] = measure(mode, source, output, scratch, limits)
    mesh_facts(row, source, scratch)
    row.output_mb = os.path.getsize(output) / 1e6
    return row


def table(rows: list[Row]) -> str:
    head = ("| Services | Rules | Objects in / out | YAML in / out (MB) | Baseline CPU s "
            "(read + write) | convert --no-verify | convert | verify | Peak RSS MB "
            "(baseline / no-verify / convert / verify) | CPU ms per Service "
            "(no-verify / convert) |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for row in rows:
        base = row.runs["baseline"]
        cells = [f"{row.services:,}", f"{row.rules:,}",
                 f"{row.objects_in:,} / {row.objects_out:,}",
                 f"{row.input_mb:.1f} / {row.output_mb:.1f}",
                 f"{base['cpu']:.1f} ({base['read_cpu']:.1f} + {base['write_cpu']:.1f})"]
        for mode in ("convert-no-verify", "convert", "verify"):
            run = row.runs[mode]
            if "failed" in run:
                cells.append("-" if run["failed"] == "not run" else run["failed"])
                continue
            cells.append(f"**{run['cpu'] / base['cpu']:.2f}×** ({run['cpu']:.1f} s CPU, "
                         f"{run['wall']:.1f} s wall)")
        cells.append(" / ".join("-" if row.runs[m].get("failed") == "not run"
                                else f"{row.runs[m]['rss_mb']:.0f}" for m in MODES))
        cells.append(" / ".join(
            "-" if "failed" in row.runs[m] else f"{1000 * row.runs[m]['cpu'] / row.services:.2f}"
            for m in ("convert-no-verify", "convert")))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000",
                        help="comma-separated numbers of Services")
    parser.add_argument("--quick", action="store_true", help="1,000 Services only")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", help="keep generated files here (default: a temp dir)")
    parser.add_argument("--json", help="also write the raw numbers to this file")
    parser.add_argument("--cpu-limit", type=int, default=1800,
                        help="CPU seconds per measurement (default 1800)")
    parser.add_argument("--memory-limit", type=float, default=8.0,
                        help="GB of address space per measurement (default 8)")
    parser.add_argument("--modes", default="convert,verify",
                        help="which of convert,verify to measure besides the baseline and "
                             "convert --no-verify (default: both)")
    parser.add_argument("--verify-max", type=int, default=10**9, metavar="N",
                        help="measure convert and verify only up to N Services")
    parser.add_argument("--gc-off", action="store_true",
                        help="what-if: meshmigrate runs with Python's cyclic GC disabled "
                             "(the baseline keeps the default)")
    parser.add_argument("--child", nargs=4, metavar=("MODE", "SOURCE", "OUTPUT", "SCRATCH"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return
    sizes = [1000] if args.quick else [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="meshmigrate-bench-") as tmp:
        scratch = args.workdir or tmp
        os.makedirs(scratch, exist_ok=True)
        limits = Limits(args.cpu_limit, args.memory_limit, args.gc_off)
        modes = ("convert-no-verify", "baseline", *(m for m in args.modes.split(",")
                                                     if m in MODES))
        rows = [run_size(n, args.seed, scratch, limits,
                         modes if n <= args.verify_max else modes[:2]) for n in sizes]
    print(table(rows))
    print(f"\n{os.cpu_count()} CPUs; Python {sys.version.split()[0]}; ratios are of the "
          "baseline's CPU time measured in the same run"
          + ("; meshmigrate with the cyclic GC off (what-if)" if args.gc_off else "") + ".")
    if args.json:
        Path(args.json).write_text(json.dumps([row.__dict__ for row in rows], indent=2))


if __name__ == "__main__":
    main()
