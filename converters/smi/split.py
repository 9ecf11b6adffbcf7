"""A TrafficSplit -> route tables for its root Service (semantics.md §5).

- Without ``matches`` every request to the root Service is split over the backends.
- With HTTPRouteGroup matches, the matched requests are split and "all the others will be
  routed to the *root* Kubernetes service" (traffic-split v1alpha4): one rule per group,
  ``Unmatched.PASS_THROUGH`` with the root Service as fallback.
- With TCPRoute matches (or on a Service whose ports are not HTTP) the split is a TCP
  table; a TCPRoute's ``ports`` restrict it to those ports.
- SMI has no ports: one table covers every port (``port=None``) and destinations keep the
  request's port — unless ports differ in protocol, or a backend lacks one of the root's
  ports ("the backend service is not included and will not receive traffic" on it), when
  there is one table per port.
- A TrafficSplit applies to every client of the root Service: a producer table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from converters.linkerd.matches import Report
from converters.smi.groups import RouteGroup, http_matches, tcp_ports
from converters.smi.ports import ports_by_protocol
from converters.smi.refs import Refs
from meshmigrate.fields import View
from meshmigrate.model import (
    Destination,
    Protocol,
    Provenance,
    RouteTable,
    Rule,
    ServiceInfo,
    ServiceRef,
    Unmatched,
)
from meshmigrate.sources import Document

Plan = list[tuple[int | None, Protocol]]


@dataclass(frozen=True, slots=True)
class Split:
    """One TrafficSplit, read."""

    doc: Document
    spec: View
    root: ServiceRef
    backends: tuple[Destination, ...]
    refs: Refs
    report: Report


def split_tables(split: Split, services: Mapping[ServiceRef, ServiceInfo]) -> list[RouteTable]:
    """The tables for one TrafficSplit."""
    if split.refs.http and split.refs.tcp:
        for group in split.refs.tcp:
            split.report("MATCH_NOT_SUPPORTED", (*split.spec.path, "matches"),
                         f"TCPRoute {group.doc.name!r} next to HTTPRouteGroups in one "
                         "TrafficSplit is not converted; only the HTTP matches were")
    ports = ports_by_protocol(services.get(split.root))
    plan = _expand(_plan(split, ports), split, ports, services)
    return [_table(split, port, proto, services) for port, proto in plan]


def _plan(split: Split, ports: dict[int, Protocol] | None) -> Plan:
    if split.refs.http:
        http = [p for p, proto in (ports or {}).items() if proto is Protocol.HTTP]
        uniform = ports is None or len(http) == len(ports)
        return [(None, Protocol.HTTP)] if uniform else [(p, Protocol.HTTP) for p in http]
    if split.refs.tcp:
        listed = [tcp_ports(group) for group in split.refs.tcp]
        if any(p is None for p in listed):
            return [(None, Protocol.TCP)]
        return [(p, Protocol.TCP) for p in sorted(set().union(*(s or () for s in listed)))]
    if ports is None or len(set(ports.values())) <= 1:
        return [(None, next(iter(set((ports or {}).values())), Protocol.HTTP))]
    return [(p, proto) for p, proto in ports.items()]


def _expand(plan: Plan, split: Split, ports: dict[int, Protocol] | None,
            services: Mapping[ServiceRef, ServiceInfo]) -> Plan:
    """Per-port entries instead of ``port=None`` when some backend lacks a root port."""
    if ports is None or not any(_missing(split, p, services) for p in ports):
        return plan
    out: Plan = []
    for port, proto in plan:
        out.extend([(port, proto)] if port is not None else
                   [(p, proto) for p, pr in ports.items() if pr is proto])
    return out


def _missing(split: Split, port: int,
             services: Mapping[ServiceRef, ServiceInfo]) -> list[Destination]:
    """Known backends without ``port`` (unknown backends are assumed to have it)."""
    out = []
    for dest in split.backends:
        info = services.get(dest.service)
        if info is not None and info.port(port) is None:
            out.append(dest)
    return out


def _destinations(split: Split, port: int | None,
                  services: Mapping[ServiceRef, ServiceInfo]) -> tuple[Destination, ...]:
    missing = _missing(split, port, services) if port is not None else []
    for dest in missing:
        split.report("SPLIT_BACKEND_PORT_MISSING", (*split.spec.path, "backends"),
                     f"backend {dest.service} has no port {port}: on that port of "
                     f"{split.root} it gets no traffic")
    kept = tuple(d for d in split.backends if d not in missing)
    return kept or (Destination(split.root, None),)


def _table(split: Split, port: int | None, proto: Protocol,
           services: Mapping[ServiceRef, ServiceInfo]) -> RouteTable:
    dests = _destinations(split, port, services)
    if proto is Protocol.HTTP and split.refs.http:
        rules = tuple(r for g in split.refs.http if (r := _group_rule(g, dests, split)))
    else:
        rules = (Rule(destinations=dests,
                      origin=Provenance(split.doc, (*split.spec.path, "backends"))),)
    return RouteTable(service=split.root, rules=rules, protocol=proto, port=port,
                      unmatched=Unmatched.PASS_THROUGH, name=split.doc.name,
                      origin=Provenance(split.doc, ()))


def _group_rule(group: RouteGroup, dests: tuple[Destination, ...],
                split: Split) -> Rule | None:
    matches, path = http_matches(group)
    if not matches:
        split.report("RULE_SHADOWED", (*split.spec.path, "matches"),
                     f"HTTPRouteGroup {group.doc.name!r} has no matches, so no request is "
                     "split by it")
        return None
    return Rule(matches=matches, destinations=dests, name=group.doc.name,
                origin=Provenance(group.doc, path))
