"""Smoke test of the benchmark's mesh generator (bench/generate.py): deterministic, and its
mesh converts into well-formed routes. No timing here: bench/run.py measures."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from meshmigrate.pipeline import ConvertOptions, convert_documents, render
from meshmigrate.sources import parse_stream

ROOT = Path(__file__).resolve().parent.parent
ROUTE_KINDS = {"HTTPRoute", "GRPCRoute"}


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_generate", ROOT / "bench" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _mesh(services: int, seed: int) -> str:
    out = io.StringIO()
    gen = _generator()
    gen.write_all(gen.mesh(services, seed), out)
    return out.getvalue()


def test_generator_is_deterministic() -> None:
    assert _mesh(20, 7) == _mesh(20, 7)
    assert _mesh(20, 7) != _mesh(20, 8)


def test_generated_mesh_has_every_kind_and_feature() -> None:
    docs = list(yaml.safe_load_all(_mesh(60, 1)))
    kinds = {d["kind"] for d in docs}
    assert kinds == {"Service", "DestinationRule", "VirtualService"}
    text = yaml.safe_dump_all(docs)
    for feature in ("exact:", "prefix:", "regex:", "queryParams", "method:", "rewrite:",
                    "redirect:", "mirror:", "retries:", "timeout:", "weight:", "name: grpc"):
        assert feature in text, feature


def _check_route(obj: dict[str, Any], backends: set[tuple[str, str]]) -> None:
    spec = obj["spec"]
    assert spec["parentRefs"] and all(
        ref["group"] == "" and ref["kind"] == "Service" for ref in spec["parentRefs"])
    assert 0 < len(spec["rules"]) <= 16
    for rule in spec["rules"]:
        assert "backendRefs" in rule or any(
            f["type"] == "RequestRedirect" for f in rule.get("filters", []))
        for ref in rule.get("backendRefs", []):
            ns = ref.get("namespace", obj["metadata"]["namespace"])
            assert (ns, ref["name"]) in backends, ref
            assert isinstance(ref["port"], int)


def test_generated_mesh_converts_to_well_formed_routes() -> None:
    text = _mesh(20, 3)
    docs = list(parse_stream(io.StringIO(text), "mesh.yaml"))
    result = convert_documents(docs, ConvertOptions(verify=False))
    objects = result.objects
    kinds = {o["kind"] for o in objects}
    assert kinds <= {"Service"} | ROUTE_KINDS and kinds & ROUTE_KINDS
    services = {(d.namespace(), d.name) for d in docs if d.kind == "Service"}
    services |= {(o["metadata"]["namespace"], o["metadata"]["name"])
                 for o in objects if o["kind"] == "Service"}
    for obj in objects:
        meta = obj["metadata"]
        assert meta["name"] and meta["namespace"]
        assert meta["labels"] == {"app.kubernetes.io/managed-by": "meshmigrate"}
        if obj["kind"] in ROUTE_KINDS:
            _check_route(obj, services)
    assert list(yaml.safe_load_all(render(objects))) == objects
