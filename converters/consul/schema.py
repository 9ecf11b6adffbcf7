"""What Consul ServiceRouter, ServiceSplitter and ServiceResolver fields must hold before
conversion (:mod:`meshmigrate.schema`).

Shapes follow consul-k8s ``control-plane/api/v1alpha1`` (the CRDs of the config entries):
regexes are RE2 (Envoy ``safe_regex``), durations Kubernetes ``metav1.Duration`` strings
(Go syntax; a negative request timeout disables it), split weights 0-100, retried status
codes HTTP statuses, paths of ``pathExact``/``pathPrefix`` begin with ``/``, at most one
path match and one criterion per header or query condition.
"""

from __future__ import annotations

from meshmigrate.schema import (
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

GROUP = "consul.hashicorp.com"
DURATION = Duration("go-signed")
PATH = Str(pattern=r"/.*", label="a path beginning with /")
HEADER_MODIFIERS = Obj({"add": StrMap(), "set": StrMap(), "remove": Seq(Str())})
_TARGET = {"service": Str(), "serviceSubset": Str(), "namespace": Str(), "partition": Str(),
           "peer": Str(), "datacenter": Str(), "samenessGroup": Str()}

HEADER = Obj({"name": Str(), "present": Bool(), "exact": Str(), "prefix": Str(),
              "suffix": Str(), "regex": Regex("re2"), "invert": Bool()},
             required=("name",), exclusive=(("present", "exact", "prefix", "suffix", "regex"),))
QUERY = Obj({"name": Str(), "present": Bool(), "exact": Str(), "regex": Regex("re2")},
            required=("name",), exclusive=(("present", "exact", "regex"),))
HTTP_MATCH = Obj({"pathExact": PATH, "pathPrefix": PATH, "pathRegex": Regex("re2"),
                  "caseInsensitive": Bool(), "methods": Seq(Str()), "header": Seq(HEADER),
                  "queryParam": Seq(QUERY)},
                 exclusive=(("pathExact", "pathPrefix", "pathRegex"),))
DESTINATION = Obj({
    **_TARGET, "prefixRewrite": Str(), "requestTimeout": DURATION, "idleTimeout": DURATION,
    "numRetries": Int(0), "retryOnConnectFailure": Bool(), "retryOn": Seq(Str()),
    "retryOnStatusCodes": Seq(Int(100, 599)), "requestHeaders": HEADER_MODIFIERS,
    "responseHeaders": HEADER_MODIFIERS,
})
SERVICE_ROUTER = kind(Obj({"routes": Seq(Obj({"match": Obj({"http": HTTP_MATCH}),
                                               "destination": DESTINATION}))}))
SERVICE_SPLITTER = kind(Obj({"splits": Seq(Obj({
    **_TARGET, "weight": Num(0, 100), "requestHeaders": HEADER_MODIFIERS,
    "responseHeaders": HEADER_MODIFIERS}, required=("weight",)))}))
SERVICE_RESOLVER = kind(Obj({
    "defaultSubset": Str(), "requestTimeout": DURATION, "redirect": Obj(_TARGET),
    "subsets": MapOf(Obj({"filter": Str(), "onlyPassing": Bool()})),
    "connectTimeout": AnyValue(), "failover": AnyValue(), "loadBalancer": AnyValue(),
    "prioritizeByLocality": AnyValue(),
}))

SCHEMAS: dict[tuple[str, str], Spec] = {
    (GROUP, "ServiceRouter"): SERVICE_ROUTER,
    (GROUP, "ServiceSplitter"): SERVICE_SPLITTER,
    (GROUP, "ServiceResolver"): SERVICE_RESOLVER,
}
