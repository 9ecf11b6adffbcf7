"""The three config entries, read once into plain records (every field is read here, so the
chain walk in :mod:`converters.consul.chain` only follows references)."""

from __future__ import annotations

from dataclasses import dataclass, field

from converters.consul.durations import duration_ms
from converters.consul.env import Entry, Env, mappings
from converters.consul.headers import header_ops
from converters.consul.matches import route_matches
from converters.consul.retries import retry_policy
from meshmigrate.fields import View
from meshmigrate.model import HeaderOps, Match, RetryPolicy
from meshmigrate.sources import FieldPath

_REMOTE = ("partition", "peer", "datacenter", "samenessGroup")
_POLICIES = ("connectTimeout", "failover", "loadBalancer", "prioritizeByLocality")


@dataclass(frozen=True, slots=True)
class Hop:
    """A reference to a service: a router destination, a split or a resolver redirect.
    Empty fields keep the referrer's service, subset or namespace (Consul's defaults)."""

    service: str | None
    subset: str | None
    namespace: str | None
    path: FieldPath


@dataclass(frozen=True, slots=True)
class Destination:
    hop: Hop
    prefix_rewrite: str | None = None
    timeout: int | None = None
    retry: RetryPolicy | None = None
    request_headers: HeaderOps = field(default_factory=HeaderOps)
    response_headers: HeaderOps = field(default_factory=HeaderOps)


@dataclass(frozen=True, slots=True)
class Route:
    matches: tuple[Match, ...]
    destination: Destination
    path: FieldPath


@dataclass(frozen=True, slots=True)
class Split:
    hop: Hop
    weight: int  # hundredths of a percent, as Consul gives Envoy (weight * 100)
    request_headers: HeaderOps = field(default_factory=HeaderOps)
    response_headers: HeaderOps = field(default_factory=HeaderOps)


@dataclass(frozen=True, slots=True)
class Subset:
    name: str
    filter: str
    path: FieldPath


@dataclass
class Resolver:
    entry: Entry
    default_subset: str | None = None
    redirect: Hop | None = None
    timeout: int | None = None
    subsets: dict[str, Subset] = field(default_factory=dict)

    @property
    def routes_traffic(self) -> bool:
        """True when the resolver alone changes where or how requests go."""
        return bool(self.redirect or self.default_subset or self.timeout)


def read_hop(view: View, entry: Entry, env: Env, service_key: str = "service") -> Hop:
    for key in _REMOTE:
        if value := view.str(key):
            env.report("REMOTE_TARGET_DROPPED", entry.doc, view.at(key),
                       f"{key} {value!r} cannot be expressed; the Service in this cluster is "
                       "used")
    return Hop(view.str(service_key) or None, view.str("serviceSubset") or None,
               view.str("namespace") or None, view.path)


def read_routes(entry: Entry, env: Env) -> list[Route]:
    return [Route(route_matches(view, entry, env), _destination(view, entry, env), view.path)
            for view in mappings(entry.spec, "routes")]


def _destination(route: View, entry: Entry, env: Env) -> Destination:
    dest = route.map("destination") or route.at("destination")
    rewrite = dest.str("prefixRewrite") or None
    if rewrite and not _has_path_literal(route):
        raise dest.error("prefixRewrite requires match.http.pathPrefix or pathExact",
                         "prefixRewrite")
    if duration_ms(dest, "idleTimeout"):
        env.report("IDLE_TIMEOUT_DROPPED", entry.doc, dest.at("idleTimeout"),
                   "idleTimeout (stream idle timeout) has no Gateway API field")
    return Destination(read_hop(dest, entry, env), rewrite, duration_ms(dest, "requestTimeout"),
                       retry_policy(dest, entry, env), header_ops(dest, "requestHeaders"),
                       header_ops(dest, "responseHeaders"))


def _has_path_literal(route: View) -> bool:
    http = route.at("match").at("http")
    return bool(http.str("pathPrefix") or http.str("pathExact"))


def read_splits(entry: Entry, env: Env) -> list[Split]:
    splits = []
    for view in mappings(entry.spec, "splits"):
        weight = view.num("weight")
        if weight is None or not 0 <= weight <= 100:
            raise view.error("weight must be a number from 0 to 100", "weight")
        splits.append(Split(read_hop(view, entry, env), round(weight * 100),
                            header_ops(view, "requestHeaders"),
                            header_ops(view, "responseHeaders")))
    total = sum(s.weight for s in splits)
    if splits and total != 10_000:
        raise entry.spec.error(f"split weights add up to {total / 100:g}, not 100", "splits")
    return splits


def read_resolver(entry: Entry, env: Env) -> Resolver:
    spec = entry.spec
    for key in _POLICIES:
        if key in spec:
            spec.raw(key)
            env.report("TRAFFIC_POLICY_DROPPED", entry.doc, spec.at(key),
                       f"{key} has no Gateway API equivalent")
    redirect = spec.map("redirect")
    return Resolver(entry, spec.str("defaultSubset") or None,
                    read_hop(redirect, entry, env) if redirect is not None else None,
                    duration_ms(spec, "requestTimeout"), _subsets(spec))


def _subsets(spec: View) -> dict[str, Subset]:
    parent = spec.map("subsets")
    out: dict[str, Subset] = {}
    for name in parent.node if parent is not None else ():
        view = spec.at("subsets").map(str(name)) or spec.at("subsets").at(str(name))
        view.bool("onlyPassing")  # Kubernetes endpoints already hold only ready pods
        out[str(name)] = Subset(str(name), view.str("filter") or "", view.path)
    return out
