"""Per-subset Services: the Service that stands for a subset of a parent's pods.

Istio DestinationRule subsets, Consul resolver subsets and App Mesh virtual nodes that share
a DNS name all become a Service ``<parent>-<subset>`` selecting the parent's pods plus the
subset's labels (semantics.md §3.5). The name and the reuse of an existing Service are
decided here, once, for every converter.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping

from meshmigrate.model import ServiceInfo, ServiceRef

MAX_NAME = 63  # DNS-1035 label, what a Service name must be


@functools.lru_cache(maxsize=1 << 16)
def subset_service_name(parent: str, subset: str, *, hashed: bool = False) -> str:
    """``reviews`` + ``v1.2`` -> ``reviews-v1-2``: a valid DNS-1035 label, deterministic.

    Characters outside ``[a-z0-9-]`` become ``-``. A name over 63 characters (or one that
    must be told apart from a colliding one, ``hashed``) is cut and ends in a short hash of
    the unsanitized name, so it stays unique and stable.
    """
    raw = f"{parent}-{subset}"
    name = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]", "-", raw.lower())).strip("-")
    if not name[:1].isalpha():
        name = f"s-{name}"
    if not hashed and len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(raw.encode()).hexdigest()[:8]
    return f"{name[:MAX_NAME - 9].rstrip('-')}-{digest}"


def place_subset_service(parent: ServiceInfo, subset: str, labels: tuple[tuple[str, str], ...],
                         services: Mapping[ServiceRef, ServiceInfo]) -> tuple[ServiceRef, bool]:
    """The per-subset Service and whether it must be created. A Service of that name already
    in the input is used as it is when it selects exactly the subset's pods (the parent's
    selector plus ``labels``); otherwise the name gets a hash."""
    selector = tuple(sorted({**dict(parent.selector or ()), **dict(labels)}.items()))
    ref = parent.ref
    for hashed in (False, True):
        ref = ServiceRef(parent.ref.namespace,
                         subset_service_name(parent.ref.name, subset, hashed=hashed))
        existing = services.get(ref)
        if existing is None:
            return ref, True
        if existing.selector == selector:
            return ref, False
    return ref, True
