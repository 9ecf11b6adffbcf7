"""Cutover: delete the source routing objects once their routes are applied (and accepted,
when waiting), in the order each mesh needs.

Order (lowest rank first):

1. Linkerd ``ServiceProfile`` — while a ServiceProfile exists for a Service, Linkerd's proxy
   uses it and ignores HTTPRoutes for that Service (Linkerd docs, "HTTPRoute" reference:
   "ServiceProfiles take precedence"), so the routes only take effect once it is gone.
2. Istio ``VirtualService`` — for one host, mixing a VirtualService and an HTTPRoute is
   undefined in Istio, so the VirtualService goes right after its routes are applied (and
   accepted with ``--wait``): the overlap is as short as the apiserver allows.
3. SMI ``TrafficSplit`` and other routing objects (Consul, App Mesh).
4. Objects only *referenced* by the above (SMI ``HTTPRouteGroup``): last, so nothing ever
   refers to a missing object.

Kept, never deleted: Istio ``DestinationRule``. Istio applies a DestinationRule's traffic
policy (load balancing, connection pools, outlier detection, TLS) to traffic routed by an
HTTPRoute too, and the per-subset Services replace only its ``subsets``; deleting it would
change behaviour the routes do not describe. Each kept object gets a
``SOURCE_KEPT_AT_CUTOVER`` finding; delete it by hand once you have moved its policy.
"""

from __future__ import annotations

from collections.abc import Iterable

from meshmigrate.kube.objects import ObjRef

RANK: dict[tuple[str, str], int] = {
    ("linkerd.io", "ServiceProfile"): 0,
    ("networking.istio.io", "VirtualService"): 1,
    ("split.smi-spec.io", "TrafficSplit"): 2,
    ("specs.smi-spec.io", "HTTPRouteGroup"): 4,
    ("specs.smi-spec.io", "TCPRoute"): 4,
}
DEFAULT_RANK = 3

KEPT: dict[tuple[str, str], str] = {
    ("networking.istio.io", "DestinationRule"):
        "Istio still applies its traffic policy to HTTPRoute traffic; delete it by hand once "
        "its policy is no longer wanted",
}


def kept_reason(ref: ObjRef) -> str | None:
    """Why cutover keeps this source, or None when it is deleted."""
    return KEPT.get((ref.group, ref.kind))


def cutover_order(refs: Iterable[ObjRef]) -> list[ObjRef]:
    """Sources to delete, in deletion order (rank, then namespace/name for determinism)."""
    chosen = {r for r in refs if kept_reason(r) is None}
    return sorted(chosen, key=lambda r: (RANK.get((r.group, r.kind), DEFAULT_RANK),
                                         r.namespace, r.kind, r.name))
