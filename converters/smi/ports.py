"""Which Service ports carry HTTP: SMI has no ports, so the Service's own say.

A port is treated as TCP when its ``appProtocol`` (or, without one, its name (``<proto>`` or
``<proto>-<suffix>``, the Istio/OSM naming convention)) says ``tcp``, ``tls`` or a common
non-HTTP protocol; every other TCP port is HTTP (gRPC included — the compiler picks
GRPCRoute from the port). UDP and SCTP ports cannot be routed and are left alone.
"""

from __future__ import annotations

from meshmigrate.model import Protocol, ServiceInfo, ServicePort

_NON_HTTP = ("tcp", "tls", "mongo", "mysql", "redis", "postgres", "postgresql", "kafka",
             "amqp", "zookeeper", "nats")


def port_protocol(port: ServicePort) -> Protocol | None:
    """HTTP or TCP for a Service port; None for UDP/SCTP."""
    if port.protocol.upper() != "TCP":
        return None
    app = (port.app_protocol or "").lower().rpartition("/")[2]
    hint = app or port.name.lower().partition("-")[0]
    return Protocol.TCP if hint in _NON_HTTP else Protocol.HTTP


def ports_by_protocol(service: ServiceInfo | None) -> dict[int, Protocol] | None:
    """Routable ports and their protocol, sorted by port; None when the Service is
    unknown."""
    if service is None:
        return None
    out: dict[int, Protocol] = {}
    for port in sorted(service.ports, key=lambda p: p.port):
        proto = port_protocol(port)
        if proto is not None:
            out[port.port] = proto
    return out
