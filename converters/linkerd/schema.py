"""What Linkerd ServiceProfile fields must hold before conversion (:mod:`meshmigrate.schema`).

Shapes follow ``linkerd2`` ``controller/gen/apis/serviceprofile`` (v1alpha1, v1alpha2) and
the destination controller's validation: path regexes are Rust ``regex`` (the proxy's
engine), durations Go ``time.ParseDuration`` strings, ``dstOverrides`` weights Kubernetes
quantities, retry budgets with all three fields. Request and response conditions nest
(``all``/``any``/``not``), so their descriptions refer to themselves.
"""

from __future__ import annotations

from typing import Any

from meshmigrate.schema import (
    AnyValue,
    Bool,
    Duration,
    Int,
    Num,
    Obj,
    Quantity,
    Regex,
    Seq,
    Spec,
    Str,
    kind,
)

GROUP = "linkerd.io"

_request: dict[str, Spec] = {}
REQUEST_MATCH = Obj(_request)
_request.update(pathRegex=Regex("rust"), method=Str(), all=Seq(REQUEST_MATCH),
                any=Seq(REQUEST_MATCH), **{"not": REQUEST_MATCH})

_response: dict[str, Any] = {}
RESPONSE_MATCH = Obj(_response)
_response.update(status=Obj({"min": Int(0, 599), "max": Int(0, 599)}),
                 all=Seq(RESPONSE_MATCH), any=Seq(RESPONSE_MATCH), **{"not": RESPONSE_MATCH})

ROUTE = Obj({
    "name": Str(), "condition": REQUEST_MATCH, "isRetryable": Bool(),
    "timeout": Duration("go"),
    "responseClasses": Seq(Obj({"condition": RESPONSE_MATCH, "isFailure": Bool()},
                               required=("condition",))),
}, required=("name", "condition"))

SERVICE_PROFILE = kind(Obj({
    "routes": Seq(ROUTE),
    "retryBudget": Obj({"retryRatio": Num(0), "minRetriesPerSecond": Int(0),
                        "ttl": Duration("go")},
                       required=("retryRatio", "minRetriesPerSecond", "ttl")),
    "dstOverrides": Seq(Obj({"authority": Str(), "weight": Quantity()},
                            required=("authority", "weight"))),
    "opaquePorts": AnyValue(),
}))

SCHEMAS: dict[tuple[str, str], Spec] = {(GROUP, "ServiceProfile"): SERVICE_PROFILE}
