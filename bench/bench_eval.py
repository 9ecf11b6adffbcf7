"""Micro-benchmark: the cost of one request in each evaluator (source and Gateway API).

Converts a mesh (a file, or one generated with ``bench/generate.py``), takes the requests to
evaluate, and times ``SourceEvaluator.evaluate`` and ``GatewayEvaluator.evaluate`` over all
of them with fresh evaluators (so compiling each Service port's view is paid for, as in one
``verify``), GC off as in the CLI, best of ``--repeat``. The requests are either every
witness request of every Service port (``--requests all``, the default: many requests per
port) or the ones ``verify_model`` itself evaluates (``--requests verify``, recorded from its
source evaluator: fewer per port, so view compilation weighs more).

    python bench/bench_eval.py -f /tmp/b/m200.yaml
    python bench/bench_eval.py -f /tmp/b/m200.yaml --requests verify
    python bench/bench_eval.py --services 200            # generate the mesh first
    python bench/bench_eval.py --golden                  # the testdata/ golden inputs
    python bench/bench_eval.py -f m.yaml --dump out.txt  # every outcome, for a before/after diff

Besides the evaluation (per side, compiling each port's view included), it reports each
side's *setup*: construction plus the atoms verify asks for on every port (``atoms``, and
``match_atoms`` of the Gateway API evaluator), with the evaluators' module caches emptied.

``--dump`` writes one line per request and side with the full ``repr`` of the Outcome (notes
included), so two versions of the evaluators can be compared byte for byte.
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from meshmigrate import verify
from meshmigrate.model import RoutingModel
from meshmigrate.pipeline import ConvertOptions, convert_documents
from meshmigrate.semantics import gateway as gateway_module
from meshmigrate.semantics import source as source_module
from meshmigrate.semantics.gateway import GatewayEvaluator
from meshmigrate.semantics.outcome import Outcome, Request, ServiceKey
from meshmigrate.semantics.source import SourceEvaluator
from meshmigrate.semantics.witness import witnesses
from meshmigrate.sources import load
from meshmigrate.verify import missing_services

ROOT = Path(__file__).resolve().parent.parent
_ANY = ServiceKey("meshmigrate-witness", "service", 0)
_OTHER_NAMESPACE = "meshmigrate-other-clients"
_CONVERTER_DIRS = ("istio", "linkerd", "smi", "consul", "appmesh")  # as tests/golden.py

Case = tuple[str, RoutingModel, list[dict[str, Any]], list[Request]]


def requests_for(source: SourceEvaluator, target: GatewayEvaluator) -> list[Request]:
    """Witness requests for every Service port either side routes (as ``verify`` builds
    them: shapes from the union of both sides' atoms, from each relevant namespace)."""
    out: list[Request] = []
    for key in sorted(set(source.services()) | set(target.services())):
        shapes = witnesses(_ANY, source.atoms(key) | target.atoms(key), [_ANY.namespace])
        consumers = set(source.consumer_namespaces(key)) - {key.namespace}
        namespaces = [key.namespace, *sorted(consumers), _OTHER_NAMESPACE] if consumers \
            else [key.namespace]
        out.extend(replace(r, service=key, client_namespace=ns)
                   for ns in namespaces for r in shapes)
    return out


def verify_requests(model: RoutingModel, objects: list[dict[str, Any]]) -> list[Request]:
    """The requests ``verify_model`` evaluates, in its order (recorded by swapping in a
    source evaluator that notes them)."""
    recorded: list[Request] = []

    class Recording(SourceEvaluator):
        def evaluate(self, request: Request) -> Outcome:
            recorded.append(request)
            return super().evaluate(request)

    names = vars(verify)  # the module's globals: what verify_model looks up
    original = names["SourceEvaluator"]
    names["SourceEvaluator"] = Recording
    try:
        verify.verify_model(model, objects)
    finally:
        names["SourceEvaluator"] = original
    if not recorded:
        raise SystemExit("verify_model evaluated nothing through verify.SourceEvaluator")
    return recorded


def case_from_files(name: str, files: Sequence[str], target: str = "generic",
                    which: str = "all") -> Case:
    result = convert_documents(load(list(files), None),
                               ConvertOptions(target=target, verify=False))
    objects = [*result.objects, *missing_services(result.model, result.objects)]
    if which == "verify":
        return name, result.model, objects, verify_requests(result.model, result.objects)
    source, gateway = SourceEvaluator(result.model), GatewayEvaluator(objects)
    return name, result.model, objects, requests_for(source, gateway)


def golden_cases() -> Iterable[Case]:
    """Every testdata golden case that converts (bad inputs are skipped)."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = (p for d in _CONVERTER_DIRS for p in (ROOT / "testdata" / d).glob("*.yaml"))
        for path in sorted(paths):
            case = yaml.safe_load(path.read_text())
            if not isinstance(case, dict) or "input" not in case:
                continue
            file = Path(tmp) / "in.yaml"
            file.write_text(case["input"])
            args = case.get("args") or []
            target = args[args.index("--target") + 1] if "--target" in args else "generic"
            try:
                yield case_from_files(str(path.relative_to(ROOT)), [str(file)], target)
            except Exception:  # inputs the converter rejects
                continue


def timed(make: Callable[[], Callable[[Request], Outcome]], requests: list[Request],
          repeat: int) -> float:
    """Best CPU time (seconds) of ``repeat`` passes over ``requests``, each with a fresh
    evaluator (so lazily built per-Service state is paid for, as in one ``verify``). The
    cyclic GC is off, as it is for a CLI command (``meshmigrate.cli``)."""
    best = float("inf")
    for _ in range(repeat):
        evaluate = make()
        gc.collect()
        gc.disable()
        start = time.process_time()
        for request in requests:
            evaluate(request)
        best = min(best, time.process_time() - start)
        gc.enable()
    return best


def timed_setup(setup: Callable[[], object], repeat: int) -> float:
    """Best CPU time (seconds) of ``setup`` (an evaluator's construction and the per-port
    atoms verify asks for), the evaluators' module caches emptied before each run (as in a
    fresh process), GC off."""
    best = float("inf")
    for _ in range(repeat):
        clear_caches()
        gc.collect()
        gc.disable()
        start = time.process_time()
        setup()
        best = min(best, time.process_time() - start)
        gc.enable()
    return best


def clear_caches() -> None:
    """Empty every ``functools`` cache of the evaluator modules."""
    for module in (gateway_module, source_module):
        for value in vars(module).values():
            clear = getattr(value, "cache_clear", None)
            if callable(clear):
                clear()


def _source_setup(model: RoutingModel, keys: list[ServiceKey]) -> None:
    evaluator = SourceEvaluator(model)
    for key in keys:
        evaluator.atoms(key)


def _gateway_setup(objects: list[dict[str, Any]], keys: list[ServiceKey]) -> None:
    """What verify asks of the Gateway API evaluator before evaluating a port."""
    evaluator = GatewayEvaluator(objects)
    for key in keys:
        evaluator.atoms(key)
        evaluator.match_atoms(key)


def dump(cases: Sequence[Case], path: str) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for name, model, objects, requests in cases:
            source, gateway = SourceEvaluator(model), GatewayEvaluator(objects)
            for request in requests:
                out.write(f"{name} {request!r}\n  S {source.evaluate(request)!r}\n"
                          f"  G {gateway.evaluate(request)!r}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-f", "--file", action="append", default=[])
    parser.add_argument("-n", "--services", type=int, default=0,
                        help="generate a mesh of this many Services (bench/generate.py)")
    parser.add_argument("--golden", action="store_true", help="the testdata golden inputs")
    parser.add_argument("--requests", choices=("all", "verify"), default="all",
                        help="every witness request, or those verify_model evaluates")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dump", help="write every outcome to this file")
    args = parser.parse_args()
    files: list[str] = list(args.file)
    if args.services:
        generated = Path(tempfile.gettempdir()) / f"bench-eval-{args.services}.yaml"
        subprocess.run([sys.executable, str(ROOT / "bench" / "generate.py"), "--services",
                        str(args.services), "-o", str(generated)], check=True)
        files.append(str(generated))
    cases: list[Case] = list(golden_cases()) if args.golden else []
    if files:
        cases.append(case_from_files("mesh", files, which=args.requests))
    if args.dump:
        dump(cases, args.dump)
    report(cases, args.repeat)


def _source(model: RoutingModel) -> Callable[[Request], Outcome]:
    return SourceEvaluator(model).evaluate


def _gateway(objects: list[dict[str, Any]]) -> Callable[[Request], Outcome]:
    return GatewayEvaluator(objects).evaluate


def report(cases: Sequence[Case], repeat: int) -> None:
    """Evaluation time per side (compiling each port's view included), and setup time:
    construction plus the atoms of every port (see :func:`timed_setup`)."""
    requests = sum(len(c[3]) for c in cases)
    times: dict[str, float] = {"source": 0.0, "gateway": 0.0}
    setups: dict[str, float] = {"source": 0.0, "gateway": 0.0}
    for _, model, objects, reqs in cases:
        keys = sorted({r.service for r in reqs})
        times["source"] += timed(partial(_source, model), reqs, repeat)
        times["gateway"] += timed(partial(_gateway, objects), reqs, repeat)
        setups["source"] += timed_setup(partial(_source_setup, model, keys), repeat)
        setups["gateway"] += timed_setup(partial(_gateway_setup, objects, keys), repeat)
    print(f"requests: {requests}")
    for side, seconds in times.items():
        print(f"{side:8s} {seconds:7.3f} s  {1e6 * seconds / max(requests, 1):6.2f} us/request"
              f"   setup {setups[side]:7.3f} s")


if __name__ == "__main__":
    main()
