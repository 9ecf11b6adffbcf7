"""What Istio VirtualService and DestinationRule fields must hold before conversion
(:mod:`meshmigrate.schema`; checked by the pipeline before :mod:`converters.istio` runs).

Types and limits follow ``istio.io/api`` ``networking/v1`` and Istio's validation
(``pkg/config/validation``): regexes are RE2 (Envoy ``safe_regex``), durations protobuf
durations Envoy accepts (whole milliseconds), ports 1-65535, weights not negative,
percentages 0-100, redirect codes 3xx, direct-response statuses 200-599, subset names unique
within a DestinationRule. One ``http[]`` entry has exactly one action (``route``,
``redirect``, ``directResponse`` or ``delegate``).
"""

from __future__ import annotations

from meshmigrate.schema import (
    PORT,
    AnyValue,
    Bool,
    Duration,
    Int,
    MapOf,
    Num,
    Obj,
    Regex,
    Seq,
    Spec,
    Str,
    StrMap,
    kind,
)

GROUP = "networking.istio.io"
DURATION = Duration("protobuf")
STRING_MATCH = Obj({"exact": Str(), "prefix": Str(), "regex": Regex("re2")},
                   exclusive=(("exact", "prefix", "regex"),))
STRINGS = Seq(Str())
HEADER_OPS = Obj({"set": StrMap(), "add": StrMap(), "remove": STRINGS})
HEADERS = Obj({"request": HEADER_OPS, "response": HEADER_OPS})
PORT_SELECTOR = Obj({"number": PORT})
DESTINATION = Obj({"host": Str(), "subset": Str(), "port": PORT_SELECTOR}, required=("host",))
PERCENT = Obj({"value": Num(0, 100)})

_MATCH_COMMON = {"port": PORT, "sourceNamespace": Str(), "sourceLabels": StrMap(),
                 "gateways": STRINGS}
HTTP_MATCH = Obj({
    **_MATCH_COMMON,
    "uri": STRING_MATCH, "scheme": STRING_MATCH, "method": STRING_MATCH,
    "authority": STRING_MATCH, "headers": MapOf(STRING_MATCH),
    "withoutHeaders": MapOf(STRING_MATCH), "queryParams": MapOf(STRING_MATCH),
    "ignoreUriCase": Bool(), "name": Str(), "statPrefix": Str(),
})
L4_MATCH = Obj({**_MATCH_COMMON, "destinationSubnets": STRINGS, "sourceSubnet": Str()})

ROUTE_DESTINATION = Obj({"destination": DESTINATION, "weight": Int(0),
                         "headers": HEADERS}, required=("destination",))
REDIRECT = Obj({"uri": Str(), "authority": Str(), "port": PORT,
                "derivePort": Str(enum=("FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT")),
                "scheme": Str(enum=("http", "https")), "redirectCode": Int(300, 399)},
               exclusive=(("port", "derivePort"),))
REWRITE = Obj({"uri": Str(), "authority": Str(),
               "uriRegexRewrite": Obj({"match": Regex("re2"), "rewrite": Str()},
                                      required=("match",))},
              exclusive=(("uri", "uriRegexRewrite"),))
RETRIES = Obj({"attempts": Int(0), "perTryTimeout": DURATION, "retryOn": Str(),
               "retryRemoteLocalities": Bool(), "retryIgnorePreviousHosts": Bool(),
               "backoff": DURATION})
CORS = Obj({"allowOrigins": Seq(STRING_MATCH), "allowOrigin": STRINGS,
            "allowMethods": STRINGS, "allowHeaders": STRINGS, "exposeHeaders": STRINGS,
            "maxAge": DURATION, "allowCredentials": Bool()})
HTTP_ROUTE = Obj({
    "name": Str(), "match": Seq(HTTP_MATCH), "route": Seq(ROUTE_DESTINATION),
    "redirect": REDIRECT,
    "directResponse": Obj({"status": Int(200, 599), "body": AnyValue()},
                          required=("status",)),
    "delegate": Obj({"name": Str(), "namespace": Str()}),
    "rewrite": REWRITE, "timeout": DURATION, "retries": RETRIES, "fault": AnyValue(),
    "mirror": DESTINATION, "mirrorPercentage": PERCENT, "mirrorPercent": Int(0, 100),
    "mirror_percent": Int(0, 100),
    "mirrors": Seq(Obj({"destination": DESTINATION, "percentage": PERCENT},
                       required=("destination",))),
    "corsPolicy": CORS, "headers": HEADERS,
}, one_of=(("route", "redirect", "directResponse", "delegate"),),
    exclusive=(("mirror", "mirrors"),))
TCP_ROUTE = Obj({"match": Seq(L4_MATCH), "route": Seq(ROUTE_DESTINATION)},
                required=("route",))

VIRTUAL_SERVICE = kind(Obj({
    "hosts": STRINGS, "gateways": STRINGS, "exportTo": STRINGS,
    "http": Seq(HTTP_ROUTE), "tcp": Seq(TCP_ROUTE), "tls": AnyValue(),
}))

TLS = Obj({"mode": Str(enum=("DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"))})
_POLICY = {"loadBalancer": AnyValue(), "connectionPool": AnyValue(),
           "outlierDetection": AnyValue(), "tunnel": AnyValue(), "proxyProtocol": AnyValue(),
           "retryBudget": AnyValue(), "tls": TLS}
TRAFFIC_POLICY = Obj({**_POLICY, "portLevelSettings": Seq(Obj({**_POLICY,
                                                               "port": PORT_SELECTOR}))})
SUBSET = Obj({"name": Str(), "labels": StrMap(), "trafficPolicy": TRAFFIC_POLICY},
             required=("name",))
DESTINATION_RULE = kind(Obj({
    "host": Str(), "subsets": Seq(SUBSET, unique="name"), "trafficPolicy": TRAFFIC_POLICY,
    "exportTo": STRINGS, "workloadSelector": AnyValue(),
}, required=("host",)))

SCHEMAS: dict[tuple[str, str], Spec] = {
    (GROUP, "VirtualService"): VIRTUAL_SERVICE,
    (GROUP, "DestinationRule"): DESTINATION_RULE,
}
