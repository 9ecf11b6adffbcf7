"""What SMI TrafficSplit, HTTPRouteGroup and TCPRoute fields must hold before conversion
(:mod:`meshmigrate.schema`).

Shapes follow the SMI specs (``smi-spec`` traffic-split and traffic-specs v1alpha1-v1alpha4):
TrafficSplit v1alpha1 backend weights are Kubernetes quantities, later versions integers;
HTTPRouteGroup regexes are Go ``regexp`` (OSM and the SMI adapters compile them with Go);
HTTPRouteGroup ``matches`` live at the top level in v1alpha1/v1alpha2 and under ``spec``
later; ``headers`` is a name -> regex map, or (older documents) a list of such maps.
"""

from __future__ import annotations

from meshmigrate.schema import (
    PORT,
    ByVersion,
    Either,
    Int,
    MapOf,
    Num,
    Obj,
    Quantity,
    Regex,
    Seq,
    Spec,
    Str,
    kind,
)

SPLIT, SPECS, ACCESS = "split.smi-spec.io", "specs.smi-spec.io", "access.smi-spec.io"
VERSIONS = ("v1alpha1", "v1alpha2", "v1alpha3", "v1alpha4")


def _split(weight: Spec) -> Spec:
    backend = Obj({"service": Str(), "weight": weight}, required=("service", "weight"))
    return kind(Obj({
        "service": Str(), "backends": Seq(backend),
        "matches": Seq(Obj({"kind": Str(), "name": Str(), "apiGroup": Str()},
                           required=("kind", "name"))),
    }, required=("service", "backends")))


HEADER_VALUE = Either((Regex("go"), Int(), Num()))
HEADERS = Either((MapOf(HEADER_VALUE), Seq(MapOf(HEADER_VALUE))))
HTTP_MATCH = Obj({"name": Str(), "pathRegex": Regex("go"), "methods": Seq(Str()),
                  "headers": HEADERS}, required=("name",))
MATCHES = Seq(HTTP_MATCH)
_GROUP = kind(Obj({"matches": MATCHES}))
HTTP_ROUTE_GROUP = ByVersion({"v1alpha1": Obj({**_GROUP.fields, "matches": MATCHES},
                                              required=_GROUP.required),
                              "v1alpha2": Obj({**_GROUP.fields, "matches": MATCHES},
                                              required=_GROUP.required)},
                             default=_GROUP)
TCP_ROUTE = kind(Obj({"matches": Obj({"ports": Seq(PORT)})}))

SCHEMAS: dict[tuple[str, str], Spec] = {
    (SPLIT, "TrafficSplit"): ByVersion({"v1alpha1": _split(Quantity())},
                                       default=_split(Int(0))),
    (SPECS, "HTTPRouteGroup"): HTTP_ROUTE_GROUP,
    (SPECS, "TCPRoute"): TCP_ROUTE,
    (ACCESS, "TrafficTarget"): kind(Obj()),
}
