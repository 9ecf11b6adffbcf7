"""TrafficSplit ``backends`` -> weighted destinations.

v1alpha1 weights are Kubernetes quantities (``500m``, ``1``); v1alpha2–v1alpha4 weights are
integers ("Weights must be whole numbers"). Both are kept as exact ratios and scaled to
Gateway API integers. Backends are Services in the TrafficSplit's namespace; SMI has no
ports, so a destination's port is the port the request was addressed to (``None``).
"""

from __future__ import annotations

from fractions import Fraction

from converters.linkerd.matches import Report
from converters.linkerd.names import resolve_name
from converters.linkerd.quantity import integer_weights, parse_quantity
from converters.linkerd.viewutil import mappings
from meshmigrate.fields import View
from meshmigrate.model import Destination, ServiceRef


def read_backends(spec: View, version: str, namespace: str,
                  report: Report) -> tuple[Destination, ...]:
    """The weighted backends (at least one; InputError otherwise)."""
    targets: list[tuple[ServiceRef, Fraction]] = []
    for item in mappings(spec, "backends"):
        name = item.req_str("service")
        ref = resolve_name(name, namespace)
        if ref is None:
            raise item.error(f"{name!r} is not a Service name", "service")
        targets.append((ref, _weight(item, version)))
    if not targets:
        raise spec.error("a TrafficSplit needs at least one backend", "backends")
    weights, rounded = integer_weights([w for _, w in targets])
    if rounded:
        report("WEIGHT_ROUNDED", (*spec.path, "backends"),
               "backend weights were scaled to integers of at most 1000000 and rounded")
    return tuple(Destination(ref, None, weight)
                 for (ref, _), weight in zip(targets, weights, strict=True))


def _weight(item: View, version: str) -> Fraction:
    if version == "v1alpha1":
        raw = item.scalar("weight")
        value = None if raw is None else parse_quantity(raw)
        if raw is not None and value is None:
            raise item.error(f"weight {raw!r} is not a Kubernetes quantity (e.g. 1, 500m)",
                             "weight")
    else:
        number = item.int("weight")
        value = None if number is None else Fraction(number)
    if value is None:
        raise item.error("required field is missing", "weight")
    if value < 0:
        raise item.error("weight must not be negative", "weight")
    return value
