"""ServiceProfile ``opaquePorts``: ports whose traffic Linkerd proxies as opaque TCP.

The destination controller marks the profile of such a port ``opaqueProtocol``
(``profile_translator.go``), so the proxy does no HTTP routing there: the routes do not
apply, while the ``dstOverrides`` still split the connections (the proxy's opaque logical
stack uses the profile's targets — unverified beyond the linkerd-smi TCP splits). The
table is therefore split per Service port: HTTP on the others, TCP on the opaque ones.
"""

from __future__ import annotations

import dataclasses

from converters.linkerd.matches import Report
from converters.linkerd.viewutil import kind_of
from meshmigrate.fields import View
from meshmigrate.model import Protocol, Provenance, RouteTable, Rule, ServiceInfo


def opaque_ports(spec: View) -> frozenset[int]:
    """The ports listed (a list of ports or ``a-b`` ranges, or a map keyed by port)."""
    raw = spec.raw("opaquePorts")
    items = list(raw) if isinstance(raw, dict | list) else [] if raw is None else None
    if items is None:
        raise spec.error(f"expected a list, got {kind_of(raw)}", "opaquePorts")
    ports: set[int] = set()
    for item in items:
        ports |= _port_range(spec, str(item).strip())
    return frozenset(ports)


def _port_range(spec: View, text: str) -> set[int]:
    low, _, high = text.partition("-")
    if not (low.isdigit() and (high.isdigit() or not high)):
        raise spec.error(f"{text!r} is not a port or a port range", "opaquePorts")
    return set(range(int(low), int(high or low) + 1))


def by_port(table: RouteTable, opaque: frozenset[int], service: ServiceInfo | None,
            report: Report) -> list[RouteTable]:
    """``table`` as is, or one table per Service port when some ports are opaque."""
    if not opaque:
        return [table]
    if service is None:
        report("SERVICE_PORT_UNKNOWN", ("spec", "opaquePorts"),
               "the Service is not in the input, so its opaque ports cannot be told apart: "
               "the HTTP routes were applied to every port")
        return [table]
    out: list[RouteTable] = []
    for port in sorted(p.port for p in service.ports):
        if port not in opaque:
            out.append(dataclasses.replace(table, port=port))
        elif table.fallback:
            out.append(_tcp_split(table, port))
    return out


def _tcp_split(table: RouteTable, port: int) -> RouteTable:
    origin = table.origin.doc if table.origin else None
    rule = Rule(destinations=table.fallback,
                origin=Provenance(origin, ("spec", "dstOverrides")) if origin else None)
    return dataclasses.replace(table, rules=(rule,), protocol=Protocol.TCP, port=port)
