"""Kubernetes Service names as Linkerd and SMI write them.

A ServiceProfile is named after the Service's FQDN, ``name.ns.svc.<cluster domain>``
(``linkerd profile`` templates ``{{.ServiceName}}.{{.ServiceNamespace}}.svc.{{.ClusterZone}}``);
a ``dstOverrides`` authority is the same FQDN with an optional ``:port`` (the destination
controller appends the requested port when there is none, ``profile_translator.go``).
SMI names a Service by its short name (in the TrafficSplit's namespace) or its FQDN.
"""

from __future__ import annotations

import re

from meshmigrate.model import ServiceRef

_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def parse_fqdn(name: str) -> ServiceRef | None:
    """``name.ns.svc[.<cluster domain>]`` -> the Service, else None."""
    labels = name.rstrip(".").split(".")
    if len(labels) < 3 or labels[2] != "svc" or not all(_LABEL.fullmatch(x) for x in labels):
        return None
    return ServiceRef(labels[1], labels[0])


def parse_authority(authority: str) -> tuple[ServiceRef, int | None] | None:
    """``name.ns.svc.cluster.local[:port]`` -> (Service, port or None), else None."""
    host, sep, port_text = authority.strip().rpartition(":")
    if not sep:
        host, port_text = port_text, ""
    if port_text and not (port_text.isdigit() and 0 < int(port_text) < 65536):
        return None
    ref = parse_fqdn(host)
    if ref is None:
        return None
    return ref, int(port_text) if port_text else None


def resolve_name(name: str, namespace: str) -> ServiceRef | None:
    """A short name (resolved in ``namespace``) or an FQDN -> the Service, else None."""
    if _LABEL.fullmatch(name):
        return ServiceRef(namespace, name)
    return parse_fqdn(name)
