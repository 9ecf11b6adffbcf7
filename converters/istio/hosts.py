"""Istio host names -> Kubernetes Services (semantics.md §3.1, virtual_service.proto `hosts`).

The proto: "When short names are used (e.g. "reviews" instead of
"reviews.default.svc.cluster.local"), Istio will interpret the short name based on the
namespace of the rule, not the service." So a short name resolves in the namespace of the
object that names it (the VirtualService for its hosts and destinations, the
DestinationRule for its host).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Mapping

from meshmigrate.model import ServiceInfo, ServiceRef

_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_CLUSTER_SUFFIX = ("svc", "cluster", "local")

MESH = "mesh"  # the reserved gateway name for "every sidecar"


def resolve_host(host: str, namespace: str,
                 services: Mapping[ServiceRef, ServiceInfo]) -> ServiceRef | None:
    """The Service ``host`` names, or None for a wildcard, an IP or an external name.

    ``name`` -> ``namespace/name``; ``name.ns``, ``name.ns.svc`` and
    ``name.ns.svc.cluster.local`` -> ``ns/name``. ``name.ns`` is ambiguous with an
    external two-label name (``example.com``), so it counts as a Service only when the
    input has that Service or another Service in namespace ``ns``.
    """
    labels = _labels(host)
    if labels is None:
        return None
    if len(labels) == 1:
        return ServiceRef(namespace, labels[0])
    ref = ServiceRef(labels[1], labels[0])
    if labels[2:] in (_CLUSTER_SUFFIX[:1], _CLUSTER_SUFFIX):
        return ref
    if len(labels) == 2 and (ref in services or any(r.namespace == ref.namespace
                                                    for r in services)):
        return ref
    return None


@functools.lru_cache(maxsize=1 << 16)
def _labels(host: str) -> tuple[str, ...] | None:
    """The DNS labels of ``host`` (lower-cased), None for a wildcard, an IP or a name that is
    not made of DNS labels (cached: a mesh names the same hosts over and over)."""
    labels = tuple(host.lower().rstrip(".").split("."))
    if "*" in host or not all(_LABEL.fullmatch(part) for part in labels) or _is_ip(host):
        return None
    return labels


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("/")[0])
    except ValueError:
        return False
    return True


def applies_to_mesh(gateways: list[str]) -> bool:
    """``gateways`` omitted means ``mesh`` (every sidecar); otherwise it must name it."""
    return not gateways or MESH in gateways
