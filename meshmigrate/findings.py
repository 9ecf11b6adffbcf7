"""The closed catalogue of finding codes and the collector converters report into.

Severity is defined once, here, never at the call site (DESIGN §2). Rule: anything that
changes which requests match, where they go, or how they are transformed is an ERROR;
a behaviour that is kept but approximated or implementation-specific is a WARNING; cosmetic
loss is INFO.
"""

from __future__ import annotations

import enum
from typing import Any, NamedTuple

from meshmigrate.sources import Document, FieldPath, display_name, format_path


class Severity(enum.IntEnum):
    INFO = 0
    WARNING = 1
    ERROR = 2

    def __str__(self) -> str:
        return self.name.lower()


E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO  # noqa: E741

#: code -> (severity, one-line description). The catalogue is closed: an unknown code is a bug.
CATALOGUE: dict[str, tuple[Severity, str]] = {
    # ordering and matching
    "ORDER_PRESERVED_BY_SPLIT": (I, "extra higher-precedence matches keep first-match order"),
    "ORDER_NOT_PRESERVED": (E, "first-match order cannot be encoded; a request changes rule"),
    "RULE_SHADOWED": (W, "a rule can never match in the source; it was dropped"),
    "PREFIX_STRING_SEMANTICS": (I, "string prefix encoded as PathPrefix plus a regex"),
    "PREFIX_TRAILING_SLASH": (I, "trailing-slash prefix encoded exactly"),
    "REGEX_DIALECT": (W, "regular expression dialect differs between source and target"),
    "CASE_INSENSITIVE_MATCH": (W, "case-insensitive match encoded as a (?i) regex"),
    "MATCH_NOT_SUPPORTED": (E, "a match condition has no Gateway API equivalent"),
    "NEGATIVE_MATCH_DROPPED": (E, "negated match (withoutHeaders/invert/not) cannot be expressed"),
    "SOURCE_SELECTOR_DROPPED": (E, "source-workload selection cannot be expressed; match skipped"),
    "SOURCE_NAMESPACE_AS_CONSUMER": (I, "sourceNamespace encoded as a consumer route"),
    "AUTHORITY_MATCH": (W, "authority match encoded as a Host header match"),
    "SCHEME_MATCH_DROPPED": (E, "scheme match cannot be expressed"),
    "METHOD_EXPANDED": (I, "method prefix/regex expanded over the method enum"),
    "METHOD_NEGATION_CLOSED": (E, "not(method) expanded over the nine Gateway API methods: "
                                  "requests with any other method stop matching"),
    "HEADER_MATCH_APPROXIMATED": (W, "header match encoded as a regular expression"),
    "JWT_CLAIM_MATCH_DROPPED": (E, "JWT-claim routing cannot be expressed"),
    "MATCH_NAME_DROPPED": (I, "match name/statPrefix dropped (access-log and stats naming only)"),
    "PORT_MATCH_SPLIT": (I, "port match encoded as a route per Service port"),
    "SHADOWED_CATCH_ALL": (I, "catch-all rule added for unmatched requests (source falls through)"),
    # hosts and scope
    "HOST_NOT_A_SERVICE": (E, "host is not a Kubernetes Service (wildcard, external name or IP)"),
    "GATEWAY_ONLY_SKIPPED": (I, "object is bound to gateways only (not mesh); skipped"),
    "DUPLICATE_HOST_IGNORED": (E, "another object for the same host is in effect; not merged"),
    "EXPORT_TO_CONSUMER": (I, "exportTo encoded as consumer routes"),
    "EXPORT_TO_WIDENED": (E, "exportTo limit cannot be kept; the route applies more widely"),
    "SERVICE_UNKNOWN": (W, "the Service is not in the input; ports and subsets were assumed"),
    "SERVICE_PORT_UNKNOWN": (E, "backend port could not be determined"),
    # actions
    "REDIRECT_CODE_EXPLICIT": (I, "redirect code written explicitly (defaults differ)"),
    "REDIRECT_CODE_UNSUPPORTED": (E, "redirect status code not available in this version"),
    "REDIRECT_NOT_SUPPORTED": (E, "redirect field cannot be expressed"),
    "REWRITE_PREFIX_SEMANTICS": (E, "prefix rewrite differs on non-segment boundaries"),
    "REWRITE_NOT_SUPPORTED": (E, "rewrite cannot be expressed"),
    "DIRECT_RESPONSE_DROPPED": (E, "direct response cannot be expressed"),
    "FAULT_INJECTION_DROPPED": (E, "fault injection cannot be expressed"),
    "DELEGATE_NOT_SUPPORTED": (E, "delegate VirtualServices are not converted"),
    "HEADER_MODIFIER_DROPPED": (E, "header modification not available for this target"),
    "HOST_REWRITE": (I, "Host header set encoded as a hostname rewrite"),
    "TIMEOUT_DROPPED": (W, "timeout not available for this target"),
    "TIMEOUT_DEFAULT_EXPLICIT": (I, "the source's default timeout written explicitly"),
    "PER_TRY_TIMEOUT_DROPPED": (W, "per-try timeout not available for this target"),
    "RETRY_DROPPED": (W, "retry policy not available for this target"),
    "RETRY_APPROXIMATED": (W, "retry conditions approximated"),
    "DEFAULT_RETRIES_LOST": (W, "the source mesh's default retries are not kept by this target"),
    "TARGET_DEFAULT_RETRIES_ADDED": (W, "the target retries by default where the source did not"),
    "MIRROR_DROPPED": (E, "mirroring not available for this target"),
    "CORS_DROPPED": (W, "CORS policy not available for this target"),
    "CORS_APPROXIMATED": (W, "CORS policy approximated"),
    "GRPC_AS_HTTPROUTE": (W, "gRPC port routed with HTTPRoute (rules need HTTPRoute features)"),
    "WEIGHT_ROUNDED": (W, "weights rounded to integers"),
    "SUBSET_SERVICE_CREATED": (I, "per-subset Service created for a DestinationRule subset"),
    "SUBSET_UNKNOWN": (E, "subset is not defined by any DestinationRule"),
    "SUBSET_NOT_CONVERTIBLE": (E, "subset cannot become a Service (parent Service unknown)"),
    "TRAFFIC_POLICY_DROPPED": (W, "traffic policy (LB, pool, outlier…) has no Gateway API field"),
    "TLS_ROUTE_NOT_CONVERTED": (E, "tls[] routes are not converted (no mesh TLSRoute semantics)"),
    "TCP_MATCH_DROPPED": (E, "TCP match condition cannot be expressed"),
    "MESH_TLS_DROPPED": (I, "mesh mTLS setting dropped (the mesh provides it)"),
    "BACKEND_TLS_NOT_CONVERTED": (W, "backend TLS settings not converted"),
    "ROUTE_SPLIT_LIMITS": (W, "rules split over several routes (16-rule/128-match limits)"),
    "FEATURE_CHANNEL": (W, "field needs the experimental channel or a newer version"),
    "FIELD_IGNORED": (W, "source field was not converted"),
    "RULE_NAME_SANITIZED": (I, "rule name changed to fit Gateway API naming"),
    "SERVICEPROFILE_OVERRIDES": (I, "the source object must be deleted for the route to apply"),
    "UNREPORTED_DIFFERENCE": (E, "verification found a request whose outcome changes"),
    "UNSUPPORTED_SOURCE": (W, "object kind or version not converted"),
    # Consul and AWS App Mesh sources
    "SOURCE_MESH_HAS_NO_GAMMA": (I, "the source mesh has no GAMMA support: converting means "
                                    "switching meshes"),
    "SUBSET_FILTER_AS_LABELS": (W, "Consul subset filter on service metadata assumed to equal "
                                   "pod labels"),
    "REMOTE_TARGET_DROPPED": (E, "target in another partition, peer, datacenter or sameness "
                                 "group cannot be expressed"),
    "IDLE_TIMEOUT_DROPPED": (W, "idle timeout has no Gateway API field"),
    "RETRY_NEVER_TRIGGERS": (I, "retry count without retry conditions: the source never retries"),
    "SOURCE_ORDER_ASSUMED": (W, "the source does not define the rule order; an order was assumed"),
    "SOURCE_DEFAULT_RETRY_ASSUMED": (I, "the source mesh's default retry policy assumed to apply"),
    "CLIENT_SCOPE_WIDENED": (W, "source routes apply only to declared clients; GAMMA: to all"),
    "SHARED_HOSTNAME_SPLIT": (W, "virtual nodes sharing a DNS hostname got a Service each"),
    "REFERENCE_UNRESOLVED": (E, "referenced object is missing from the input or given by ARN"),
    "OBJECT_UNUSED": (I, "object is not referenced by any converted object; skipped"),
    # Linkerd and SMI sources
    "REGEX_ANCHOR_PARTIAL": (W, "the source anchors only part of the regex (top-level '|'); "
                                "encoded exactly"),
    "RETRY_BUDGET_INVALID": (W, "the source rejects its retry budget and retries nothing"),
    "SPLIT_BACKEND_PORT_MISSING": (W, "a split backend lacks the root Service's port and gets "
                                      "no traffic on it"),
    # live cluster (meshmigrate.kube)
    "SOURCE_KIND_NOT_INSTALLED": (I, "a source kind is not served by the cluster (CRD not "
                                     "installed); skipped"),
    "SOURCE_KEPT_AT_CUTOVER": (I, "source object kept at cutover: it still has an effect "
                                  "the routes do not replace"),
}


class Finding(NamedTuple):
    """One finding (immutable and hashable; a tuple, so thousands are cheap to make and to
    de-duplicate)."""

    code: str
    object: str
    field: str
    file: str
    line: int | None
    message: str

    @property
    def severity(self) -> Severity:
        return CATALOGUE[self.code][0]

    def sort_key(self) -> tuple[str, int, str, str, str]:
        return (self.file, self.line or 0, self.object, self.field, self.code)

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "severity": str(self.severity), "object": self.object,
                "field": self.field, "file": self.file, "line": self.line,
                "message": self.message}


class Findings:
    """Collects findings; de-duplicates identical ones; always reported sorted."""

    def __init__(self) -> None:
        self._items: dict[Finding, None] = {}

    def add(self, code: str, doc: Document | None, path: FieldPath, message: str) -> None:
        if code not in CATALOGUE:
            raise KeyError(f"finding code {code!r} is not in the catalogue")
        if doc is None:
            finding = Finding(code, "", format_path(path), "", None, message)
        else:
            finding = Finding(code, doc.ref(), format_path(path), display_name(doc.file),
                              doc.line_of(path), message)
        self._items[finding] = None

    def extend(self, other: Findings) -> None:
        self._items.update(other._items)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(sorted(self._items, key=Finding.sort_key))

    def __len__(self) -> int:
        return len(self._items)

    def codes(self) -> list[str]:
        return sorted({f.code for f in self._items})

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self._items if f.severity == severity)

    def worst(self) -> Severity | None:
        return max((f.severity for f in self._items), default=None)
