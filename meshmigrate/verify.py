"""Semantic verification: which requests behave differently between a source configuration
(the routing model, evaluated with the source mesh's own semantics) and Gateway API objects
(parsed back and evaluated with Gateway API semantics) — or proof that none do, over the
witness requests that cover every condition either side tests (issue 3).

:func:`verify_model` is the driver; :func:`attach_to_findings` turns every difference that no
finding explains into an ``UNREPORTED_DIFFERENCE`` error, so a conversion can never change
behaviour silently. Both run inside every ``convert``, so they stay linear in the number of
Services.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from itertools import islice
from typing import Any

from meshmigrate.findings import Findings, Severity
from meshmigrate.linkerd_annotations import read_policy
from meshmigrate.model import Provenance, RouteTable, RoutingModel, ServiceInfo, ServiceRef
from meshmigrate.semantics.gateway import GatewayEvaluator
from meshmigrate.semantics.outcome import Outcome, Request, Retry, ServiceKey, differences
from meshmigrate.semantics.source import SourceEvaluator, rule_label
from meshmigrate.targets import Profile
from meshmigrate.verify_cells import (
    EVERY_HEADER,
    PathReaders,
    evaluated,
    source_atoms,
    source_match_atoms,
    source_modified_headers,
    source_path_conditions,
    source_path_readers,
)
from meshmigrate.verify_memo import Memo

#: A namespace no configuration mentions: stands for "any other client".
UNRELATED_NAMESPACE = "meshmigrate-other-clients"

#: Aspects a timeout/retry-class finding (a WARNING) may explain; every other aspect changes
#: which requests match, where they go or how they are transformed, so it needs an ERROR.
SOFT_ASPECTS = frozenset({"timeout", "retry"})


@dataclass(slots=True)
class Difference:
    """Requests whose outcome differs between the source and the target *the same way*:
    the same Service port, decided by the same rule on each side, the same aspects differ.
    ``request`` (with its two outcomes) is the first of them in evaluation order; ``count``
    says how many witness requests differed this way."""

    service: ServiceKey
    request: Request
    source: Outcome
    target: Outcome
    aspects: tuple[str, ...]
    count: int = 1

    def group(self) -> tuple[ServiceKey, str | None, str | None, tuple[str, ...]]:
        return (self.service, self.source.rule, self.target.rule, self.aspects)

    def to_json(self) -> dict[str, Any]:
        return {"service": str(self.service), "request": request_json(self.request),
                "aspects": list(self.aspects), "count": self.count,
                "source": self.source.to_json(), "target": self.target.to_json()}


@dataclass
class VerifyReport:
    """Every difference found (deterministic order) and how much was checked."""

    differences: list[Difference] = field(default_factory=list)
    services: list[ServiceKey] = field(default_factory=list)
    services_checked: int = 0
    requests_evaluated: int = 0
    #: Service ports proven equivalent because an identical one (up to names) was
    #: (:mod:`meshmigrate.verify_memo`); their requests are not counted as evaluated.
    services_by_symmetry: int = 0
    #: Differences a finding already explains (counted, not listed; self-check only).
    explained: int = 0
    _groups: dict[tuple[Any, ...], Difference] = field(default_factory=dict, repr=False)

    @property
    def equivalent(self) -> bool:
        return not self.differences

    @property
    def differing_requests(self) -> int:
        """Witness requests that differ (every request of every listed difference)."""
        return sum(d.count for d in self.differences)

    def add(self, diff: Difference) -> None:
        """List ``diff``, or count it in the listed difference of its group."""
        known = self._groups.get(diff.group())
        if known is None:
            self._groups[diff.group()] = diff
            self.differences.append(diff)
        else:
            known.count += diff.count

    def add_request(self, service: ServiceKey, request: Request, source: Outcome,
                    target: Outcome, aspects: tuple[str, ...]) -> Difference:
        """:meth:`add` without building a Difference for a group already listed; the listed
        difference of the request's group."""
        known = self._groups.get((service, source.rule, target.rule, aspects))
        if known is None:
            known = Difference(service, request, source, target, aspects)
            self.add(known)
        else:
            known.count += 1
        return known

    def to_json(self) -> dict[str, Any]:
        return {"equivalent": self.equivalent, "services_checked": self.services_checked,
                "requests_evaluated": self.requests_evaluated,
                "differing_requests": self.differing_requests,
                "services_by_symmetry": self.services_by_symmetry,
                "differences": [d.to_json() for d in self.differences]}


# --- requests as text -------------------------------------------------------------------

def request_url(request: Request) -> str:
    """``scheme://name.namespace:port/path?query`` for messages and reports."""
    svc = request.service
    query = "&".join(f"{k}={v}" if v else k for k, v in request.query)
    url = f"{request.scheme}://{svc.name}.{svc.namespace}:{svc.port}{request.path}"
    return f"{url}?{query}" if query else url


def describe_request(request: Request) -> str:
    """``GET http://a.ns:80/x (header x-a: 1) from namespace ns`` — one line."""
    parts = [request.method if request.protocol != "tcp" else "TCP", request_url(request)]
    if request.headers:
        parts.append("(" + ", ".join(f"{k}: {v}" for k, v in request.headers) + ")")
    if request.protocol == "grpc":
        parts.append("[grpc]")
    parts.append(f"from namespace {request.client_namespace}")
    return " ".join(parts)


def request_json(request: Request) -> dict[str, Any]:
    return {"method": request.method, "url": request_url(request),
            "headers": dict(request.headers), "client_namespace": request.client_namespace,
            "protocol": request.protocol}


# --- the driver -------------------------------------------------------------------------

def verify_model(model: RoutingModel, target_objects: Sequence[dict[str, Any]], *,
                 client_namespaces: Sequence[str] | None = None,
                 max_witnesses_per_service: int | None = None,
                 profile: Profile | None = None,
                 covered: Callable[[ServiceKey, tuple[str, ...]], bool] | None = None,
                 exhaustive: bool = False,
                 ) -> VerifyReport:
    """Compare the model (source semantics) with Gateway API objects on witness requests
    for every Service port either side routes (one path per path class unless
    ``exhaustive``: :mod:`meshmigrate.verify_cells`).

    The input's Services are added to the target objects when missing (the Gateway API
    evaluator needs them to know which ports a port-less parentRef attaches to). With a
    ``profile`` whose implementation applies its own default retries to routes without a
    ``retry`` (Istio's GAMMA path), the target's outcomes include them.

    ``covered`` (the self-check of ``convert``) says which differences a finding already
    explains: those are counted, not listed, and a Service port whose differences are all
    explained counts as settled for the symmetry shortcut, so a mesh-wide known loss (say,
    default retries the target drops) is not re-proven on every Service.
    """
    objects = [*target_objects, *missing_services(model, target_objects)]
    target = TargetView(GatewayEvaluator(objects), implicit_retry(profile),
                        annotation_policies(objects, profile))
    gateway = target.evaluator
    run = _Run(SourceEvaluator(model), target, consumer_index(objects), client_namespaces,
               gateway.path_reader_labels(), exhaustive,
               gateway.modified_header_names() | source_modified_headers(model.tables))
    memo = (Memo(model, objects, constants=client_namespaces or ())
            if max_witnesses_per_service is None else None)
    report = VerifyReport()
    for key in sorted(set(run.source.services()) | set(target.evaluator.services())):
        report.services.append(key)
        report.services_checked += 1
        signature = memo.signature(key, run.source.tables_for(key)) if memo else None
        if signature is not None and covered is not None:
            # what the findings explain is part of what is reused
            signature = (signature, covered(key, ("retry",)), covered(key, ("status",)))
        if memo is not None and memo.lookup(signature):
            report.services_by_symmetry += 1
            continue
        found = _check(key, run, report, max_witnesses_per_service, covered)
        if memo is not None and signature is not None:
            memo.equivalent[signature] = not found
    return report


def _check(key: ServiceKey, run: _Run, report: VerifyReport, limit: int | None,
           covered: Callable[[ServiceKey, tuple[str, ...]], bool] | None = None) -> bool:
    """Evaluate ``key``'s witness requests on both sides; True when some differ (and are
    not ``covered``)."""
    found = False
    # the evaluators hand out the same Outcome objects for requests decided alike, so the
    # comparison is remembered per pair of objects (kept alive here, so ids stay unique)
    seen: dict[tuple[int, int], tuple[Outcome, Outcome, tuple[str, ...], bool]] = {}
    groups: dict[tuple[str | None, str | None, tuple[str, ...]], Difference] = {}
    covers: dict[tuple[str, ...], bool] = {}  # ``covered`` for this port, by aspects
    evaluated = 0
    for request, src, tgt in islice(run.evaluated(key), limit):
        evaluated += 1
        known = seen.get((id(src), id(tgt)))
        if known is None:
            aspects = _aspects(src, tgt)
            if aspects and covered is not None and aspects not in covers:
                covers[aspects] = covered(key, aspects)
            explained = bool(aspects) and covers.get(aspects, False)
            known = seen[(id(src), id(tgt))] = (src, tgt, aspects, explained)
        if not known[2]:
            continue
        if known[3]:
            report.explained += 1
            continue
        found = True
        group = (src.rule, tgt.rule, known[2])  # the port is fixed: the rest of the group
        listed = groups.get(group)
        if listed is None:
            groups[group] = report.add_request(key, request, src, tgt, known[2])
        else:
            listed.count += 1
    report.requests_evaluated += evaluated
    return found


@dataclass
class _Run:
    """One verification: both evaluators, the consumer-route index and which rules of the
    target read the request path."""

    source: SourceEvaluator
    target: TargetView
    consumers: dict[tuple[str, str], set[str]]
    fixed_namespaces: Sequence[str] | None
    target_readers: frozenset[str]
    exhaustive: bool = False
    #: request headers some rule of either side modifies (see verify_cells.evaluated)
    modified: frozenset[str] = EVERY_HEADER

    def evaluated(self, key: ServiceKey) -> Iterator[tuple[Request, Outcome, Outcome]]:
        """Witness requests for ``key`` with both outcomes, from each relevant client
        namespace, the Service's own namespace first."""
        tables = self.source.tables_for(key)
        blocks = source_match_atoms(tables)
        atoms = source_atoms(tables, blocks) | self.target.evaluator.atoms(key)
        readers = PathReaders(source_path_readers(tables), self.target_readers)
        matches = [*blocks,
                   *((block, None, None) for block in self.target.evaluator.match_atoms(key))]
        return evaluated(key, atoms, self.namespaces(key), self.evaluate, readers,
                         source_paths=source_path_conditions(tables), matches=matches,
                         modified=self.modified, exhaustive=self.exhaustive)

    def evaluate(self, request: Request) -> tuple[Outcome, Outcome]:
        return self.source.evaluate(request), self.target.evaluate(request)

    def namespaces(self, key: ServiceKey) -> list[str]:
        """The Service's namespace, every consumer namespace either side involves, and one
        namespace nobody mentions. With no consumer on either side the client's namespace
        cannot change an outcome, so the Service's own namespace stands for all."""
        if self.fixed_namespaces:
            return list(self.fixed_namespaces)
        found = {*self.source.consumer_namespaces(key),
                 *self.consumers.get((key.namespace, key.name), ())} - {key.namespace}
        if not found:
            return [key.namespace]
        return [key.namespace, *sorted(found), UNRELATED_NAMESPACE]


@dataclass(frozen=True, slots=True)
class TargetView:
    """The Gateway API evaluator plus what the target implementation adds by default."""

    evaluator: GatewayEvaluator
    default_retry: Retry | None = None
    annotation_policies: dict[str, tuple[str | None, Retry | None] | None] | None = None

    def evaluate(self, request: Request) -> Outcome:
        """The route's outcome; a forwarded request that some route rule decided gets the
        implementation's default retries when the rule sets none. Traffic no route applies
        to stays untouched on both sides (the source evaluator adds no defaults to it)."""
        outcome = self.evaluator.evaluate(request)
        if outcome.status != 200 or outcome.rule is None:
            return outcome
        if self.annotation_policies is not None:
            return self._annotated(outcome)
        if self.default_retry is None or outcome.retry is not None:
            return outcome
        return replace(outcome, retry=self.default_retry)

    def _annotated(self, outcome: Outcome) -> Outcome:
        """Linkerd: retries and timeouts come from the deciding route's annotations, which
        beat the ``timeouts`` field; the ``retry`` field is ignored (semantics.md §4.2)."""
        assert self.annotation_policies is not None and outcome.rule is not None
        policy = self.annotation_policies.get(outcome.rule.partition("#")[0])
        if policy is None:
            return replace(outcome, retry=None)
        timeout, retry = policy
        return replace(outcome, timeout=timeout or outcome.timeout, retry=retry)


def annotation_policies(objects: Sequence[dict[str, Any]], profile: Profile | None
                        ) -> dict[str, tuple[str | None, Retry | None] | None] | None:
    """For targets that take retries and timeouts as annotations: each route's policy by
    ``namespace/name``."""
    if profile is None or not profile.annotations_for_policy:
        return None
    out: dict[str, tuple[str | None, Retry | None] | None] = {}
    for obj in objects:
        if obj.get("kind") in ("HTTPRoute", "GRPCRoute"):
            meta = obj.get("metadata") or {}
            key = f"{meta.get('namespace', 'default')}/{meta.get('name', '')}"
            out[key] = read_policy(dict(meta.get("annotations") or {}))
    return out


def implicit_retry(profile: Profile | None) -> Retry | None:
    """Istio applies its default retry policy (2 retries; connection failures and
    retriable gRPC conditions, no status codes since 1.24) to HTTPRoutes without
    ``retry`` (pilot ``route/retry/retry.go``; semantics.md §8.4)."""
    if profile is not None and profile.keeps_source_default_retries:
        return Retry(attempts=2)
    return None


def _aspects(a: Outcome, b: Outcome) -> tuple[str, ...]:
    """:func:`differences`, without its exact (fraction, map, set) comparisons when both
    sides forward (or both do not) and the backends, header maps and mirrors are identical
    as written."""
    if ((a.path is None) != (b.path is None) or a.backends != b.backends
            or a.request_headers != b.request_headers
            or a.response_headers != b.response_headers or a.mirrors != b.mirrors):
        return differences(a, b)
    checks = (("status", a.status == b.status), ("path", a.path == b.path),
              ("host", a.host == b.host), ("redirect", a.redirect == b.redirect),
              ("timeout", a.timeout == b.timeout), ("retry", a.retry == b.retry))
    return tuple(name for name, same in checks if not same)


def missing_services(model: RoutingModel,
                     objects: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The input's v1 Services (as the model recorded them) absent from ``objects``."""
    present = {_namespace_name(o) for o in objects if o.get("kind") == "Service"}
    return [service_object(info) for ref, info in sorted(model.services.items(),
                                                          key=lambda kv: str(kv[0]))
            if (ref.namespace, ref.name) not in present]


def _namespace_name(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return ("default", "")
    return (str(meta.get("namespace") or "default"), str(meta.get("name") or ""))


def service_object(info: ServiceInfo) -> dict[str, Any]:
    """A v1 Service manifest carrying what routing depends on."""
    ports = [{"port": p.port, "name": p.name, "protocol": p.protocol,
              **({"appProtocol": p.app_protocol} if p.app_protocol else {})}
             for p in info.ports]
    spec: dict[str, Any] = {"type": info.type, "ports": ports}
    if info.cluster_ip:
        spec["clusterIP"] = info.cluster_ip
    if info.selector is not None:
        spec["selector"] = dict(info.selector)
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": info.ref.name, "namespace": info.ref.namespace}, "spec": spec}


def consumer_index(objects: Sequence[dict[str, Any]]) -> dict[tuple[str, str], set[str]]:
    """(Service namespace, name) -> namespaces of routes naming it as a parent from
    elsewhere (GEP-1294 consumer routes). One pass over the objects."""
    index: dict[tuple[str, str], set[str]] = {}
    for obj in objects:
        route_ns = _namespace_name(obj)[0]
        for ns, name in _service_parents(obj, route_ns):
            if ns != route_ns:
                index.setdefault((ns, name), set()).add(route_ns)
    return index


def _service_parents(obj: dict[str, Any], route_ns: str) -> Iterable[tuple[str, str]]:
    spec = obj.get("spec")
    refs = spec.get("parentRefs") if isinstance(spec, dict) else None
    for ref in refs if isinstance(refs, list) else []:
        if isinstance(ref, dict) and ref.get("kind") == "Service":
            yield str(ref.get("namespace") or route_ns), str(ref.get("name") or "")


# --- findings ---------------------------------------------------------------------------

def attach_to_findings(report: VerifyReport, findings: Findings, model: RoutingModel) -> None:
    """Add an ``UNREPORTED_DIFFERENCE`` error for each difference that no finding explains.

    A finding explains a difference when it is about a source object defining the Service's
    routing and is severe enough: an ERROR for any aspect, a WARNING or worse when only the
    timeout or retry differs. Requests that differ the same way (same rules on both sides,
    same aspects) are reported once, naming the first of them.
    """
    coverage = Coverage(findings, model)
    seen: dict[tuple[Any, ...], list[Difference]] = {}
    for diff in report.differences:
        if not coverage.covers(diff.service, diff.aspects):
            group = (diff.service, diff.source.rule, diff.target.rule, diff.aspects)
            seen.setdefault(group, []).append(diff)
    for diffs in seen.values():
        _add_unreported(findings, diffs, coverage.tables.get(_ref(diffs[0].service), []))


class Coverage:
    """Which differences the findings explain (see :func:`attach_to_findings`)."""

    def __init__(self, findings: Findings, model: RoutingModel) -> None:
        self.tables = _tables_by_service(model)
        self._worst = _worst_severity_by_object(findings)
        self._memo: dict[tuple[ServiceKey, Severity], bool] = {}

    def covers(self, service: ServiceKey, aspects: tuple[str, ...]) -> bool:
        need = (service, required_severity(aspects))
        if need not in self._memo:
            self._memo[need] = _covered(need[1], self.tables.get(_ref(service), []),
                                        self._worst)
        return self._memo[need]


def _tables_by_service(model: RoutingModel) -> dict[ServiceRef, list[RouteTable]]:
    out: dict[ServiceRef, list[RouteTable]] = {}
    for table in model.tables:
        out.setdefault(table.service, []).append(table)
    return out


def _worst_severity_by_object(findings: Findings) -> dict[str, Severity]:
    worst: dict[str, Severity] = {}
    for finding in findings:
        if finding.object:
            worst[finding.object] = max(worst.get(finding.object, Severity.INFO),
                                        finding.severity)
    return worst


def _ref(key: ServiceKey) -> ServiceRef:
    return ServiceRef(key.namespace, key.name)


def source_objects(tables: Iterable[RouteTable]) -> set[str]:
    """``Kind/ns/name`` of every source object that defines these tables or their rules."""
    refs: set[str] = set()
    for table in tables:
        if table.origin is not None:
            refs.add(table.origin.ref)
        refs.update(rule.origin.ref for rule in table.rules if rule.origin is not None)
    return refs


def required_severity(aspects: Iterable[str]) -> Severity:
    return Severity.WARNING if set(aspects) <= SOFT_ASPECTS else Severity.ERROR


def _covered(need: Severity, tables: list[RouteTable],
             severity_by_object: dict[str, Severity]) -> bool:
    objects = source_objects(tables)
    return any(obj in severity_by_object and severity_by_object[obj] >= need
               for obj in objects)


def _add_unreported(findings: Findings, diffs: list[Difference],
                    tables: list[RouteTable]) -> None:
    first = diffs[0]
    origin = origin_in_tables(first.source.rule, tables)
    total = sum(d.count for d in diffs)
    more = f" (and {total - 1} more requests)" if total > 1 else ""
    message = (f"{describe_request(first.request)}{more}: {', '.join(first.aspects)} "
               f"differ{'s' if len(first.aspects) == 1 else ''} "
               f"(source {summarize(first.source)}; target {summarize(first.target)})")
    findings.add("UNREPORTED_DIFFERENCE", origin.doc if origin else None,
                 origin.path if origin else (), message)


def rule_origin(model: RoutingModel, diff: Difference) -> Provenance | None:
    """Where the source rule that decided ``diff``'s request is written (else the first
    table of the Service)."""
    ref = _ref(diff.service)
    return origin_in_tables(diff.source.rule, [t for t in model.tables if t.service == ref])


def origin_in_tables(label: str | None, tables: list[RouteTable]) -> Provenance | None:
    """The provenance of the rule named ``label`` (``table#index``), else of the first
    table that has one."""
    for table in tables:
        for index, rule in enumerate(table.rules):
            if rule_label(table, index) == label and rule.origin is not None:
                return rule.origin
    return next((t.origin for t in tables if t.origin is not None), None)


def summarize(outcome: Outcome) -> str:
    """A short, one-line account of an outcome."""
    if outcome.redirect is not None:
        return f"{outcome.status} redirect to {outcome.redirect.location}"
    if outcome.status != 200:
        return f"status {outcome.status}" + (f" by {outcome.rule}" if outcome.rule else "")
    targets = ", ".join(f"{b.namespace}/{b.name}:{b.port}" + (f"*{b.weight}" if len(
        outcome.backends) > 1 else "") for b in outcome.backends)
    where = f" path {outcome.path}" if outcome.path is not None else ""
    return f"200 to {targets}{where}" + (f" by {outcome.rule}" if outcome.rule else "")
