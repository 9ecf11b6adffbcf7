"""DestinationRule subsets, indexed by the Service they belong to, and the per-subset
Services that stand in for them (semantics.md §3.5: "A Service per subset")."""

from __future__ import annotations

from dataclasses import dataclass

from meshmigrate.model import Provenance, ServiceRef
from meshmigrate.subsets import subset_service_name

__all__ = ["Subset", "subset_service_name"]



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

