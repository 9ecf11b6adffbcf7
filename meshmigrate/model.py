"""The intermediate routing model: what a mesh's routing *means*.

Converters build it from source objects; the compiler turns it into Gateway API rules; the
source evaluator (:mod:`meshmigrate.semantics.source`) runs requests through it with the
source mesh's own semantics. It deliberately says things Gateway API cannot (string vs
segment prefixes, first-match order, case-insensitive and negated matches, source-workload
selection, fault injection, default retries) so that the loss is visible, never hidden.

Everything is frozen and made of tuples and enums, so it is hashable and cheap to compare.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from meshmigrate.sources import Document, FieldPath


class PathKind(enum.Enum):
    EXACT = "exact"
    PREFIX = "prefix"  # plain string prefix (Envoy/Istio/Consul): /api matches /apiary
    SEGMENT_PREFIX = "segment_prefix"  # Gateway API PathPrefix: whole '/'-separated segments
    REGEX = "regex"


class Dialect(enum.Enum):
    """Regex dialects. Anchoring is part of the dialect's use, see :class:`PathMatch`."""

    RE2 = "re2"  # Istio, Consul (Envoy safe_regex), App Mesh
    RUST = "rust"  # Linkerd
    GO = "go"  # SMI implementations (Go regexp, RE2 syntax)


class Anchor(enum.Enum):
    FULL = "full"  # must match the whole string
    START = "start"  # anchored at the start only (SMI pathRegex)


class StrKind(enum.Enum):
    EXACT = "exact"
    PREFIX = "prefix"
    SUFFIX = "suffix"
    REGEX = "regex"
    PRESENT = "present"


@dataclass(frozen=True, slots=True)
class PathMatch:
    kind: PathKind
    value: str
    ignore_case: bool = False
    dialect: Dialect = Dialect.RE2
    anchor: Anchor = Anchor.FULL


@dataclass(frozen=True, slots=True)
class StringMatch:
    """A header or query-parameter condition. ``invert`` negates it (absent also counts)."""

    name: str
    kind: StrKind
    value: str = ""
    invert: bool = False
    ignore_case: bool = False
    dialect: Dialect = Dialect.RE2


@dataclass(frozen=True, slots=True)
class Match:
    """All conditions ANDed. ``methods`` None means any method; a set means one of them.
    ``unsupported`` lists conditions the source has that nothing downstream can express
    (e.g. ``sourceLabels``); they are kept for the report and for the source evaluator."""

    path: PathMatch | None = None
    methods: frozenset[str] | None = None
    headers: tuple[StringMatch, ...] = ()
    query: tuple[StringMatch, ...] = ()
    port: int | None = None
    source_namespace: str | None = None
    source_labels: tuple[tuple[str, str], ...] = ()
    scheme: str | None = None
    negated_methods: bool = False
    origin: FieldPath = ()


@dataclass(frozen=True, slots=True)
class ServiceRef:
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class HeaderOps:
    set: tuple[tuple[str, str], ...] = ()
    add: tuple[tuple[str, str], ...] = ()
    remove: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.set or self.add or self.remove)


@dataclass(frozen=True, slots=True)
class Destination:
    """A weighted backend. ``service`` is the Service to send to; a ``subset`` is resolved by
    the converter into ``service`` (the per-subset Service) and kept here for the report."""

    service: ServiceRef
    port: int | None
    weight: int = 1
    subset: str | None = None
    request_headers: HeaderOps = HeaderOps()
    response_headers: HeaderOps = HeaderOps()


class RewriteKind(enum.Enum):
    PREFIX_STRING = "prefix_string"  # Envoy prefix_rewrite: replace the matched string prefix
    FULL = "full"  # replace the whole path
    REGEX = "regex"  # regex substitution (no Gateway API equivalent)


@dataclass(frozen=True, slots=True)
class PathRewrite:
    kind: RewriteKind
    value: str
    pattern: str = ""  # REGEX only


@dataclass(frozen=True, slots=True)
class Redirect:
    """A redirect. ``code`` is always explicit: converters resolve the source default."""

    code: int
    scheme: str | None = None
    host: str | None = None
    port: int | None = None
    path: PathRewrite | None = None
    derive_port_from_request: bool = False


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``attempts`` = maximum retries. ``codes`` are retried HTTP statuses; connection
    failures are always retried. ``conditions`` keeps the source's names for the report."""

    attempts: int
    codes: tuple[int, ...] = ()
    per_try_timeout_ms: int | None = None
    backoff_ms: int | None = None
    conditions: tuple[str, ...] = ()
    is_source_default: bool = False


@dataclass(frozen=True, slots=True)
class MirrorPolicy:
    service: ServiceRef
    port: int | None
    percent: float = 100.0


@dataclass(frozen=True, slots=True)
class Cors:
    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age_s: int | None = None
    allow_credentials: bool | None = None


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a piece of the model came from: the source document and the field path."""

    doc: Document = field(compare=False, hash=False)
    path: FieldPath = ()

    @property
    def ref(self) -> str:
        return self.doc.ref()


@dataclass(frozen=True, slots=True)
class Rule:
    """One source rule. ``matches`` are ORed; empty means "every request".

    Exactly one of ``destinations`` / ``redirect`` / ``direct_status`` describes the action.
    ``fault`` is True when the source injects faults (no Gateway API equivalent).
    """

    matches: tuple[Match, ...] = ()
    destinations: tuple[Destination, ...] = ()
    redirect: Redirect | None = None
    direct_status: int | None = None
    name: str | None = None
    request_headers: HeaderOps = HeaderOps()
    response_headers: HeaderOps = HeaderOps()
    rewrite: PathRewrite | None = None
    rewrite_host: str | None = None
    timeout_ms: int | None = None
    retry: RetryPolicy | None = None
    mirrors: tuple[MirrorPolicy, ...] = ()
    cors: Cors | None = None
    fault: bool = False
    origin: Provenance | None = field(default=None, compare=False, hash=False)


class Protocol(enum.Enum):
    HTTP = "http"
    GRPC = "grpc"
    TCP = "tcp"


class Unmatched(enum.Enum):
    """What the source does with a request no rule matches."""

    NOT_FOUND = "not_found"  # Istio (Envoy NR -> 404), Gateway API
    PASS_THROUGH = "pass_through"  # Linkerd SP, SMI, Consul: goes to the Service itself


@dataclass(frozen=True, slots=True)
class RouteTable:
    """The routing for one Service (all its ports, or one ``port``) as one source defines it.

    ``consumer_namespace`` None: a producer table (applies to every client); otherwise it
    applies only to clients in that namespace (GEP-1294 consumer route).
    """

    service: ServiceRef
    rules: tuple[Rule, ...]
    protocol: Protocol = Protocol.HTTP
    port: int | None = None
    consumer_namespace: str | None = None
    unmatched: Unmatched = Unmatched.NOT_FOUND
    first_match: bool = True
    default_retry: RetryPolicy | None = None
    name: str = ""
    origin: Provenance | None = field(default=None, compare=False, hash=False)
    annotations: tuple[tuple[str, str], ...] = ()
    #: Where unmatched requests go under ``Unmatched.PASS_THROUGH``; empty means the Service
    #: itself (port = the request's port). Linkerd SP ``dstOverrides`` split *all* traffic for
    #: the Service, including requests no SP route classifies.
    fallback: tuple[Destination, ...] = ()

    @property
    def route_namespace(self) -> str:
        return self.consumer_namespace or self.service.namespace


@dataclass(frozen=True, slots=True)
class ServicePort:
    port: int
    name: str = ""
    protocol: str = "TCP"
    app_protocol: str | None = None
    target_port: int | str | None = None

    @property
    def is_grpc(self) -> bool:
        """gRPC by port name (``grpc``/``grpc-*``) or appProtocol (istio.io protocol
        selection)."""
        app = (self.app_protocol or "").lower()
        return (self.name == "grpc" or self.name.startswith("grpc-")
                or app in ("grpc", "grpc-web") or app.endswith("/grpc"))


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    """A Kubernetes Service known from the input (context for ports and subsets)."""

    ref: ServiceRef
    ports: tuple[ServicePort, ...]
    selector: tuple[tuple[str, str], ...] | None
    cluster_ip: str | None = None
    type: str = "ClusterIP"

    def port(self, number: int) -> ServicePort | None:
        return next((p for p in self.ports if p.port == number), None)


@dataclass(frozen=True, slots=True)
class SubsetService:
    """A Service to create so a subset (pods with extra labels) can be a backendRef."""

    ref: ServiceRef
    parent: ServiceRef
    subset: str
    labels: tuple[tuple[str, str], ...]
    origin: Provenance | None = field(default=None, compare=False, hash=False)


@dataclass(slots=True)
class RoutingModel:
    """Everything the converters produced. Mutable only while converters fill it in."""

    tables: list[RouteTable] = field(default_factory=list)
    services: dict[ServiceRef, ServiceInfo] = field(default_factory=dict)
    subset_services: dict[ServiceRef, SubsetService] = field(default_factory=dict)
    sources: list[Document] = field(default_factory=list)  # objects converted (for cutover)
    objects_in: int = 0
