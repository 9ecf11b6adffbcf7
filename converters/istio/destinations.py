"""Route destinations, weights, subsets and mirrors (semantics.md §3.3, §3.5).

A short destination host resolves by the VirtualService's namespace. A ``subset`` becomes a
per-subset Service (parent selector plus the subset's labels) so that it can be a
backendRef. ``port`` absent means the Service's only port when it has exactly one, else
"the port the request was addressed to" (None), as pilot's ``GetDestinationCluster`` does.
"""

from __future__ import annotations

from converters.istio.context import Env, mappings
from converters.istio.headers import NO_OPS, headers_block
from converters.istio.hosts import resolve_host
from converters.istio.matches import port_number
from converters.istio.subsets import Subset, subset_service_name
from meshmigrate.fields import View
from meshmigrate.model import (
    Destination,
    MirrorPolicy,
    ServiceInfo,
    ServiceRef,
    SubsetService,
)

Target = tuple[ServiceRef, int | None, str | None]  # (Service to send to, port, subset)


def route_destinations(rule: View, env: Env, *, http: bool = True) -> tuple[Destination, ...]:
    """``route[]`` -> weighted destinations.

    virtual_service.proto: "If there is only one destination in a rule, it will receive all
    traffic" whatever its weight; with several, a destination receives weight/sum and one
    without a weight gets nothing (pilot route.go skips 0-weight clusters). Istio's
    validation rejects several destinations whose weights add up to 0, so that is an input
    error here too.
    """
    items = list(mappings(rule, "route"))
    weights = [_weight(item) for item in items]
    if len(items) > 1 and sum(weights) == 0:
        raise rule.error("several destinations but no weights: Istio rejects a total "
                         "destination weight of 0", "route")
    if len(items) == 1:
        weights = [weights[0] or 1]
    out = []
    for item, weight in zip(items, weights, strict=True):
        dest = destination(_required(item, "destination"), env)
        if dest is not None:
            request, response = headers_block(item) if http else (NO_OPS, NO_OPS)
            out.append(Destination(dest[0], dest[1], weight, dest[2], request, response))
    return tuple(out)


def destination(view: View, env: Env) -> Target | None:
    """A ``Destination`` (host, subset, port.number); None when the host is no Service."""
    host = view.req_str("host")
    parent = resolve_host(host, env.namespace, env.model.services)
    if parent is None:
        env.report("HOST_NOT_A_SERVICE", view.at("host"),
                   f"destination {host!r} is not a Kubernetes Service; it was dropped")
        return None
    info = env.service(parent)
    if info is None:
        env.report("SERVICE_UNKNOWN", view.at("host"),
                   f"Service {parent} is not in the input; its ports and selector are unknown")
    node = view.node
    port_view = view.map("port") if "port" in node else None
    port = port_number(port_view, "number") if port_view is not None else None
    if port is None and info is not None and len(info.ports) == 1:
        port = info.ports[0].port  # pilot GetDestinationCluster: a single port is implied
    subset = view.str("subset") or None if "subset" in node else None
    target = _subset_target(parent, subset, view, env) if subset else parent
    return target, port, subset


def mirrors(rule: View, env: Env) -> tuple[MirrorPolicy, ...]:
    """``mirror`` (+ ``mirrorPercentage`` or the deprecated integer ``mirrorPercent``) or
    ``mirrors[]``. An explicit 0 % disables the mirror (pilot ``MirrorPercent``); absent
    means 100 %."""
    if "mirror" not in rule.node and "mirrors" not in rule.node:
        return ()
    single = rule.map("mirror")
    listed = list(mappings(rule, "mirrors"))
    if single is not None and listed:
        raise rule.error("set only one of mirror and mirrors", "mirrors")
    if single is not None:
        return _mirror(single, _legacy_percent(rule), env)
    return tuple(m for item in listed for m in _mirror(
        _required(item, "destination"), _percentage(item, "percentage"), env))


def _mirror(view: View, percent: float, env: Env) -> tuple[MirrorPolicy, ...]:
    target = destination(view, env)
    if target is None or percent == 0:
        return ()
    return (MirrorPolicy(target[0], target[1], percent),)


def _legacy_percent(rule: View) -> float:
    if rule.map("mirrorPercentage") is not None:
        return _percentage(rule, "mirrorPercentage")
    for key in ("mirrorPercent", "mirror_percent"):
        value = rule.int(key)
        if value is not None:
            return _check_percent(rule, key, float(value))
    return 100.0


def _percentage(parent: View, key: str) -> float:
    """A ``Percent`` message ``{value: 12.5}``; absent -> 100."""
    view = parent.map(key)
    value = view.num("value") if view is not None else None
    return 100.0 if view is None else _check_percent(view, "value", float(value or 0))


def _check_percent(view: View, key: str, value: float) -> float:
    if not 0 <= value <= 100:
        raise view.error(f"percentage {value:g} is out of range 0-100", key)
    return value


def _weight(item: View) -> int:
    if "weight" not in item.node:  # a mapping (mappings() checked it)
        return 0
    weight = item.int("weight", 0) or 0
    if weight < 0:
        raise item.error(f"weight {weight} is negative", "weight")
    return weight


def _required(view: View, key: str) -> View:
    child = view.map(key)
    if child is None:
        raise view.error("required field is missing", key)
    return child


def _subset_target(parent: ServiceRef, name: str, view: View, env: Env) -> ServiceRef:
    """The Service that stands for ``parent``'s subset ``name``.

    Unknown subset: Istio routes to a cluster that does not exist and the request fails,
    so the destination names a per-subset Service that does not exist either (no
    SubsetService is created). Unknown or selector-less parent: no subset Service can be
    built; the destination stays on the parent, the closest thing.
    """
    subset = env.subsets.get(parent, name)
    where = view.at("subset")
    if subset is None:
        env.report("SUBSET_UNKNOWN", where, f"no DestinationRule defines subset {name!r} "
                   f"of {parent}; Istio fails these requests")
        return ServiceRef(parent.namespace, subset_service_name(parent.name, name))
    info = env.service(parent)
    if info is None or info.selector is None:
        why = "is not in the input" if info is None else "has no selector"
        env.report("SUBSET_NOT_CONVERTIBLE", where,
                   f"subset {name!r} needs the parent's selector, but Service {parent} {why}; "
                   "traffic goes to the whole parent Service")
        return parent
    return _subset_service(parent, subset, info, env)


def _subset_service(parent: ServiceRef, subset: Subset, info: ServiceInfo, env: Env) -> ServiceRef:
    """Register (or reuse) the per-subset Service. A Service of that name already in the
    input is reused when it selects exactly the subset's pods, else the name gets a hash.
    The choice depends only on the input and this object's earlier choices, so it is made
    once per (parent, subset)."""
    known = env.subset_refs.get((parent, subset.name))
    if known is not None:
        return known
    ref = _place_subset_service(parent, subset, info, env)
    env.subset_refs[(parent, subset.name)] = ref
    return ref


def _place_subset_service(parent: ServiceRef, subset: Subset, info: ServiceInfo,
                          env: Env) -> ServiceRef:
    selector = tuple(sorted({**dict(info.selector or ()), **dict(subset.labels)}.items()))
    ref = parent
    for hashed in (False, True):
        ref = ServiceRef(parent.namespace,
                         subset_service_name(parent.name, subset.name, hashed=hashed))
        existing = env.service(ref)
        if existing is not None:
            if existing.selector == selector:
                return ref
            continue
        taken = env.subset_services.get(ref) or env.model.subset_services.get(ref)
        if taken is None or (taken.parent, taken.subset) == (parent, subset.name):
            break
    env.subset_services[ref] = SubsetService(ref, parent, subset.name, subset.labels,
                                             origin=subset.origin)
    return ref
