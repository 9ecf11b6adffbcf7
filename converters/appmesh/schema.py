"""What AWS App Mesh VirtualService, VirtualRouter and VirtualNode fields must hold before
conversion (:mod:`meshmigrate.schema`).

Shapes follow aws-app-mesh-controller-for-k8s ``apis/appmesh/v1beta2`` and the App Mesh API
limits: listener ports 1-65535 and protocols ``http``/``http2``/``grpc``/``tcp``; route
priorities 0-1000 and names unique within a router; exactly one route kind per route and one
provider per virtual service; target weights 0-100; durations ``{unit: s|ms, value}``;
regexes RE2 (Envoy ``safe_regex``); one criterion per header match.
"""

from __future__ import annotations

from meshmigrate.schema import (
    PORT,
    AnyValue,
    Bool,
    Int,
    Obj,
    Regex,
    Seq,
    Spec,
    Str,
    StrMap,
    kind,
)

GROUP = "appmesh.k8s.aws"
REF = Obj({"name": Str(), "namespace": Str()}, required=("name",))
DURATION = Obj({"unit": Str(enum=("s", "ms")), "value": Int(0)}, required=("unit", "value"))
STRINGS = Seq(Str())
LISTENER = Obj({
    "portMapping": Obj({"port": PORT, "protocol": Str(enum=("http", "http2", "grpc", "tcp"))},
                       required=("port", "protocol")),
    "healthCheck": AnyValue(), "outlierDetection": AnyValue(), "connectionPool": AnyValue(),
    "tls": AnyValue(), "timeout": AnyValue(),
}, required=("portMapping",))

HEADER_MATCH = Obj({
    "name": Str(), "invert": Bool(),
    "match": Obj({"exact": Str(), "prefix": Str(), "suffix": Str(), "regex": Regex("re2"),
                  "range": Obj({"start": Int(), "end": Int()}, required=("start", "end"))},
                 one_of=(("exact", "prefix", "suffix", "regex", "range"),)),
}, required=("name",))
HTTP_MATCH = Obj({
    "prefix": Str(), "path": Obj({"exact": Str(), "regex": Regex("re2")},
                                 exclusive=(("exact", "regex"),)),
    "method": Str(), "scheme": Str(), "headers": Seq(HEADER_MATCH), "port": PORT,
    "queryParameters": Seq(Obj({"name": Str(), "match": Obj({"exact": Str()})},
                               required=("name",))),
}, exclusive=(("prefix", "path"),))
GRPC_MATCH = Obj({"serviceName": Str(), "methodName": Str(), "metadata": Seq(HEADER_MATCH),
                  "port": PORT})
TARGET = Obj({"virtualNodeRef": REF, "virtualNodeARN": Str(), "weight": Int(0, 100),
              "port": PORT}, required=("weight",))
ACTION = Obj({"weightedTargets": Seq(TARGET)})
RETRY = Obj({"maxRetries": Int(0), "perRetryTimeout": DURATION,
             "httpRetryEvents": Seq(Str(enum=("server-error", "gateway-error", "client-error",
                                              "stream-error"))),
             "tcpRetryEvents": STRINGS, "grpcRetryEvents": STRINGS})
TIMEOUT = Obj({"perRequest": DURATION, "idle": DURATION})


def _route(match: Spec) -> Obj:
    return Obj({"match": match, "action": ACTION, "retryPolicy": RETRY, "timeout": TIMEOUT})


ROUTE = Obj({
    "name": Str(), "priority": Int(0, 1000), "httpRoute": _route(HTTP_MATCH),
    "http2Route": _route(HTTP_MATCH), "grpcRoute": _route(GRPC_MATCH),
    "tcpRoute": Obj({"action": ACTION, "timeout": Obj({"idle": DURATION}),
                     "match": Obj({"port": PORT})}),
}, required=("name",), one_of=(("httpRoute", "http2Route", "grpcRoute", "tcpRoute"),))

VIRTUAL_SERVICE = kind(Obj({
    "awsName": Str(), "meshRef": AnyValue(),
    "provider": Obj({"virtualRouter": Obj({"virtualRouterRef": REF, "virtualRouterARN": Str()}),
                     "virtualNode": Obj({"virtualNodeRef": REF, "virtualNodeARN": Str()})},
                    one_of=(("virtualRouter", "virtualNode"),)),
}, required=("provider",)))
VIRTUAL_ROUTER = kind(Obj({"awsName": Str(), "meshRef": AnyValue(),
                           "listeners": Seq(LISTENER), "routes": Seq(ROUTE, unique="name")}))
VIRTUAL_NODE = kind(Obj({
    "awsName": Str(), "meshRef": AnyValue(), "logging": AnyValue(),
    "serviceDiscovery": Obj({"dns": Obj({"hostname": Str(), "responseType": Str(),
                                         "ipPreference": Str()}, required=("hostname",)),
                             "awsCloudMap": AnyValue()}),
    "listeners": Seq(LISTENER),
    "podSelector": Obj({"matchLabels": StrMap(), "matchExpressions": AnyValue()}),
    "backends": Seq(Obj({"virtualService": Obj({"virtualServiceRef": REF,
                                                "virtualServiceARN": Str(),
                                                "clientPolicy": AnyValue()})})),
    "backendDefaults": AnyValue(), "backendGroups": AnyValue(),
}))

SCHEMAS: dict[tuple[str, str], Spec] = {
    (GROUP, "VirtualService"): VIRTUAL_SERVICE,
    (GROUP, "VirtualRouter"): VIRTUAL_ROUTER,
    (GROUP, "VirtualNode"): VIRTUAL_NODE,
    (GROUP, "VirtualGateway"): kind(Obj()),
    (GROUP, "GatewayRoute"): kind(Obj()),
}
