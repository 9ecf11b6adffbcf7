"""The conversion pipeline: documents -> converters -> model -> compile -> emit (-> verify).

Library entry points used by the CLI, the tests and the benchmarks.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from meshmigrate import emit
from meshmigrate.compile import compile_model
from meshmigrate.findings import Findings
from meshmigrate.model import RoutingModel
from meshmigrate.registry import ConvertContext, Converter, converters, dispatch, select
from meshmigrate.schema import SERVICE, Spec, check_documents
from meshmigrate.services import index_services, is_service
from meshmigrate.sources import Document, load
from meshmigrate.targets import DEFAULT_VERSION, Profile, make_profile


@dataclass
class ConvertOptions:
    source: str = "auto"
    target: str = "generic"
    gateway_api: str = DEFAULT_VERSION
    channel: str = "standard"
    verify: bool = True

    def profile(self) -> Profile:
        return make_profile(self.target, self.gateway_api, self.channel)


@dataclass
class ConvertResult:
    model: RoutingModel
    objects: list[dict[str, Any]]
    findings: Findings
    docs: list[Document] = field(default_factory=list)
    verify_report: Any = None


def build_model(docs: list[Document], source: str, findings: Findings) -> RoutingModel:
    """Run the selected converters over ``docs`` into one RoutingModel."""
    installed = converters()
    groups = dispatch(docs, select(source))
    check_input(docs, groups, installed)
    model = RoutingModel(services=index_services(docs), objects_in=len(docs))
    ctx = ConvertContext(model, findings)
    for name, group in groups.items():
        if group:
            installed[name].convert(group, ctx)
    return model


def check_input(docs: list[Document], groups: dict[str, list[Document]],
                installed: dict[str, Converter]) -> None:
    """Type-check Services and every object a converter claims against its kind's
    description (:mod:`meshmigrate.schema`) before anything is converted."""
    owner = {id(doc): installed[name] for name, group in groups.items() for doc in group}

    def spec_of(doc: Document) -> Spec | None:
        conv = owner.get(id(doc))
        return SERVICE if is_service(doc) else conv.schema_for(doc) if conv else None

    check_documents(docs, spec_of)


def convert_documents(docs: list[Document], options: ConvertOptions) -> ConvertResult:
    """Convert source documents to Gateway API objects, with findings; verify unless told
    not to (the self-check, DESIGN §4)."""
    profile = options.profile()
    findings = Findings()
    model = build_model(docs, options.source, findings)
    routes = compile_model(model, profile, findings)
    objects = emit.emit(routes, model, profile, findings)
    result = ConvertResult(model, objects, findings, docs)
    if options.verify:
        result.verify_report = _self_check(result, profile)
    return result


def _self_check(result: ConvertResult, profile: Profile) -> Any:
    from meshmigrate import verify  # the semantic diff is optional while it is being built

    coverage = verify.Coverage(result.findings, result.model)
    report = verify.verify_model(result.model, result.objects, profile=profile,
                                 covered=coverage.covers)
    verify.attach_to_findings(report, result.findings, result.model)
    return report


def load_and_convert(files: Sequence[str], options: ConvertOptions,
                     stdin: IO[str] | None = None) -> ConvertResult:
    return convert_documents(load(files, stdin), options)


def render(objects: Sequence[dict[str, Any]], fmt: str = "yaml") -> str:
    """Deterministic serialization: YAML documents separated by ``---``, or a JSON List."""
    if fmt == "json":
        return json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)},
                          indent=2, sort_keys=False) + "\n"
    return emit.dump_yaml_stream(objects)
