"""DestinationRule subsets, indexed by the Service they belong to, and the per-subset
Services that stand in for them (semantics.md §3.5: "A Service per subset")."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from meshmigrate.model import Provenance, ServiceRef

_MAX_NAME = 63  # DNS-1035 label, what a Service name must be


@dataclass(frozen=True, slots=True)
class Subset:
    name: str
    labels: tuple[tuple[str, str], ...]
    origin: Provenance


class SubsetIndex:
    """Subsets by Service. Rules are added oldest first; the first definition of a subset
    name wins, as when Istio merges DestinationRules for one host."""

    def __init__(self) -> None:
        self._by_service: dict[ServiceRef, dict[str, Subset]] = {}

    def add(self, service: ServiceRef, subset: Subset) -> None:
        self._by_service.setdefault(service, {}).setdefault(subset.name, subset)

    def get(self, service: ServiceRef, name: str) -> Subset | None:
        return self._by_service.get(service, {}).get(name)


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
    if not hashed and len(name) <= _MAX_NAME:
        return name
    digest = hashlib.sha256(raw.encode()).hexdigest()[:8]
    return f"{name[:_MAX_NAME - 9].rstrip('-')}-{digest}"
