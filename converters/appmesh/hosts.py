"""DNS names -> Kubernetes Services, and App Mesh listener ports -> Service ports.

``name`` resolves in the namespace of the object that names it; ``name.ns``,
``name.ns.svc`` and ``name.ns.svc.cluster.local`` name Service ``ns/name``. ``name.ns`` is
also the shape of an external two-label name (``colorapp.local``), so it counts only when
the input has that Service or another Service in namespace ``ns``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from meshmigrate.model import ServiceInfo, ServiceRef

_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_SUFFIXES = (["svc"], ["svc", "cluster", "local"])


def resolve_host(host: str, namespace: str,
                 services: Mapping[ServiceRef, ServiceInfo]) -> ServiceRef | None:
    labels = host.lower().rstrip(".").split(".")
    if not all(_LABEL.fullmatch(part) for part in labels):
        return None
    if len(labels) == 1:
        return ServiceRef(namespace, labels[0])
    ref = ServiceRef(labels[1], labels[0])
    if labels[2:] in _SUFFIXES:
        return ref
    if len(labels) == 2 and any(r.namespace == ref.namespace for r in services):
        return ref
    return None


def service_port(info: ServiceInfo | None, port: int) -> int | None:
    """The Service port that reaches container port ``port`` (App Mesh listeners name the
    pods' port): the one whose target port is ``port`` (an absent targetPort is the port
    itself), else a Service port of that number. None when there is neither; ``port``
    itself when the Service is unknown."""
    if info is None:
        return port
    for p in info.ports:
        target = p.port if p.target_port is None else p.target_port
        if target == port:
            return p.port
    return port if info.port(port) is not None else None
