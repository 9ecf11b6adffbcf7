"""Kubernetes Services in the input: the context converters resolve hosts and ports against."""

from __future__ import annotations

from collections.abc import Iterable

from meshmigrate.fields import View
from meshmigrate.model import ServiceInfo, ServicePort, ServiceRef
from meshmigrate.sources import Document


def is_service(doc: Document) -> bool:
    return doc.kind == "Service" and doc.api_version == "v1"


def parse_service(doc: Document) -> ServiceInfo:
    """Read the fields of a v1 Service that routing depends on (type-checked)."""
    view = View(doc)
    spec = view.map("spec") or view.at("spec")
    ports = tuple(
        ServicePort(
            port=p.int("port") or 0,
            name=p.str("name") or "",
            protocol=p.str("protocol") or "TCP",
            app_protocol=p.str("appProtocol"),
            target_port=p.scalar("targetPort"),  # type: ignore[arg-type]
        )
        for p in spec.list("ports")
    )
    selector = spec.str_map("selector") if "selector" in spec else None
    return ServiceInfo(
        ref=ServiceRef(doc.namespace(), doc.name),
        ports=ports,
        selector=tuple(sorted(selector.items())) if selector is not None else None,
        cluster_ip=spec.str("clusterIP"),
        type=spec.str("type") or "ClusterIP",
    )


def index_services(docs: Iterable[Document]) -> dict[ServiceRef, ServiceInfo]:
    out: dict[ServiceRef, ServiceInfo] = {}
    for doc in docs:
        if is_service(doc):
            info = parse_service(doc)
            out[info.ref] = info
    return out
