"""TrafficSplit ``spec.matches`` (v1alpha3+) -> the HTTPRouteGroups and TCPRoutes it names.

"If multiple HTTP route groups are specified, all routes will be merged into a single
group" (traffic-split v1alpha3/v1alpha4); the groups live in the TrafficSplit's namespace.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from converters.linkerd.matches import Report
from converters.linkerd.viewutil import mappings
from converters.smi.groups import RouteGroup
from meshmigrate.fields import View

HTTP_ROUTE_GROUP, TCP_ROUTE, UDP_ROUTE = "HTTPRouteGroup", "TCPRoute", "UDPRoute"
#: (namespace, kind, name) -> group
GroupIndex = Mapping[tuple[str, str, str], RouteGroup]
_VERSIONS_WITH_MATCHES = ("v1alpha3", "v1alpha4")


@dataclass
class Refs:
    http: list[RouteGroup] = field(default_factory=list)
    tcp: list[RouteGroup] = field(default_factory=list)


def resolve_refs(spec: View, version: str, namespace: str, index: GroupIndex,
                 report: Report) -> Refs | None:
    """The referenced groups, or None when one cannot be used (reported)."""
    refs = Refs()
    if version not in _VERSIONS_WITH_MATCHES:
        return refs  # no such field before v1alpha3: left for FIELD_IGNORED
    for item in mappings(spec, "matches"):
        group = _resolve(item, namespace, index, report)
        if group is None:
            return None
        group.used = True
        (refs.http if group.kind == HTTP_ROUTE_GROUP else refs.tcp).append(group)
    return refs


def _resolve(item: View, namespace: str, index: GroupIndex,
             report: Report) -> RouteGroup | None:
    kind, name = item.req_str("kind"), item.req_str("name")
    item.str("apiGroup")
    if kind == UDP_ROUTE:
        report("UNSUPPORTED_SOURCE", item.path,
               f"UDPRoute {name!r}: UDP traffic splits have no Gateway API mesh route; "
               "the TrafficSplit was not converted")
        return None
    if kind not in (HTTP_ROUTE_GROUP, TCP_ROUTE):
        raise item.error(f"unknown kind {kind!r} (expected HTTPRouteGroup, TCPRoute or "
                         "UDPRoute)", "kind")
    group = index.get((namespace, kind, name))
    if group is None:
        report("REFERENCE_UNRESOLVED", item.path,
               f"{kind} {namespace}/{name} is not in the input; the TrafficSplit was not "
               "converted")
    return group
