"""ServiceProfile ``dstOverrides`` -> weighted destinations.

The overrides split *all* traffic to the Service: every route's requests and the requests no
route classifies. The destination controller sends each weight as ``MilliValue() * 10``
(``profile_translator.go`` ``toDstOverrides``) and appends the requested port to an
authority without one; the proxy drops overrides of weight 0 and, with none left, sends
traffic to the Service itself (``proto.rs`` ``convert_dst_override``).
"""

from __future__ import annotations

from fractions import Fraction

from converters.linkerd.matches import Report
from converters.linkerd.names import parse_authority
from converters.linkerd.quantity import integer_weights, milli_value, parse_quantity
from converters.linkerd.viewutil import mappings
from meshmigrate.fields import View
from meshmigrate.model import Destination, ServiceRef


def dst_overrides(spec: View, report: Report) -> tuple[Destination, ...]:
    """The weighted destinations (empty: the Service itself)."""
    targets: list[tuple[ServiceRef, int | None, int]] = []
    for item in mappings(spec, "dstOverrides"):
        authority = item.req_str("authority")
        weight = _weight(item)
        target = parse_authority(authority)
        if target is None:
            report("HOST_NOT_A_SERVICE", (*item.path, "authority"),
                   f"authority {authority!r} is not a Kubernetes Service FQDN "
                   "(name.namespace.svc.cluster.local[:port]); this override was dropped")
        elif weight > 0:
            targets.append((*target, weight))
    if not targets:
        return ()
    weights, rounded = integer_weights([Fraction(w) for _, _, w in targets])
    if rounded:
        report("WEIGHT_ROUNDED", (*spec.path, "dstOverrides"),
               "dstOverrides weights were scaled to integers of at most 1000000 and rounded")
    return tuple(Destination(ref, port, weight)
                 for (ref, port, _), weight in zip(targets, weights, strict=True))


def _weight(item: View) -> int:
    """The override's weight in thousandths, as Linkerd computes it."""
    raw = item.scalar("weight")
    if raw is None:
        raise item.error("required field is missing", "weight")
    quantity = parse_quantity(raw)
    if quantity is None:
        raise item.error(f"weight {raw!r} is not a Kubernetes quantity (e.g. 1, 500m, 10k)",
                         "weight")
    if quantity < 0:
        raise item.error("weight must not be negative", "weight")
    return milli_value(quantity)
