"""The request and outcome types shared by every evaluator.

A :class:`Request` is one HTTP (or gRPC, or TCP) request addressed to a Service port by a
client in a namespace. An :class:`Outcome` is what the data plane does with it, in the shape
of the ``trace -o json`` contract (DESIGN §3). The source evaluators (the routing model with
each mesh's own semantics) and the Gateway API evaluator (which parses route YAML back and
never looks at the model) both produce Outcomes, and :func:`differences` compares them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any


@dataclass(frozen=True, slots=True, order=True)
class ServiceKey:
    """A Service port as addressed by a client: ``name.namespace:port``."""

    namespace: str
    name: str
    port: int

    def __str__(self) -> str:
        return f"{self.name}.{self.namespace}:{self.port}"


@dataclass(frozen=True, slots=True)
class Request:
    """One request. Header names are lower-case; repeated headers are kept in order."""

    service: ServiceKey
    path: str = "/"
    method: str = "GET"
    scheme: str = "http"
    query: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    client_namespace: str = "default"
    protocol: str = "http"  # "http" | "grpc" | "tcp"

    @property
    def host(self) -> str:
        """The Host/:authority a client sends: explicit ``host`` header, else the Service name."""
        for name, value in self.headers:
            if name == "host":
                return value
        return self.service.name

    def header(self, name: str) -> str | None:
        """First value of a header (name case-insensitive), or None."""
        lname = name.lower()
        for key, value in self.headers:
            if key == lname:
                return value
        return None

    def query_param(self, name: str) -> str | None:
        """First value of a query parameter (exact, case-sensitive name), or None."""
        for key, value in self.query:
            if key == name:
                return value
        return None


@dataclass(frozen=True, slots=True, order=True)
class Backend:
    """A destination Service port and its weight within the rule."""

    namespace: str
    name: str
    port: int | None
    weight: int = 1

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "namespace": self.namespace, "port": self.port,
                "weight": self.weight}


@dataclass(frozen=True, slots=True)
class Redirect:
    location: str
    status: int

    def to_json(self) -> dict[str, Any]:
        return {"location": self.location, "status": self.status}


@dataclass(frozen=True, slots=True)
class Retry:
    """Retries: ``attempts`` is the maximum number of retries (not tries)."""

    attempts: int
    codes: tuple[int, ...] = ()
    per_try_timeout: str | None = None
    backoff: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"attempts": self.attempts, "codes": list(self.codes)}
        if self.per_try_timeout is not None:
            out["per_try_timeout"] = self.per_try_timeout
        if self.backoff is not None:
            out["backoff"] = self.backoff
        return out


@dataclass(frozen=True, slots=True, order=True)
class Mirror:
    namespace: str
    name: str
    port: int | None
    percent: float = 100.0

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "namespace": self.namespace, "port": self.port,
                "percent": self.percent}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happens to a request. ``rule`` names the rule that decided it (for humans only;
    it is never compared). Timeouts are canonical Gateway API durations (``10s``, ``1s500ms``)
    or None for "no timeout"."""

    status: int
    rule: str | None = None
    backends: tuple[Backend, ...] = ()
    path: str | None = None
    host: str | None = None
    request_headers: tuple[tuple[str, str], ...] = ()
    response_headers: tuple[tuple[str, str], ...] = ()
    redirect: Redirect | None = None
    timeout: str | None = None
    retry: Retry | None = None
    mirrors: tuple[Mirror, ...] = ()
    notes: tuple[str, ...] = field(default=(), compare=False)

    def to_json(self) -> dict[str, Any]:
        """The ``trace -o json`` outcome object (DESIGN §3)."""
        return {
            "status": self.status,
            "rule": self.rule,
            "backends": [b.to_json() for b in self.backends],
            "path": self.path,
            "host": self.host,
            "request_headers": dict(self.request_headers),
            "response_headers": dict(self.response_headers),
            "redirect": self.redirect.to_json() if self.redirect else None,
            "timeout": self.timeout,
            "retry": self.retry.to_json() if self.retry else None,
            "mirrors": [m.to_json() for m in self.mirrors],
        }


# Fast construction for the evaluators' hot paths. A frozen dataclass's __init__ sets each
# field through object.__setattr__, and even the slot descriptors' __set__ called directly
# cost a call per field. Instead an object is filled in as an instance of a plain class
# with the same slots (so the same memory layout) and then given its real class: Python
# allows assigning __class__ between two such classes (and refuses it, TypeError, when the
# layouts differ). The result is the very object the dataclass constructor builds (same
# class, fields, equality, hash and frozenness: tests/test_source_eval.py checks it).


class _RequestFields:
    """A :class:`Request` being filled in (see above)."""

    __slots__ = (
        "client_namespace",
        "headers",
        "method",
        "path",
        "protocol",
        "query",
        "scheme",
        "service",
    )
    service: ServiceKey
    path: str
    method: str
    scheme: str
    query: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]
    client_namespace: str
    protocol: str


class _OutcomeFields:
    """An :class:`Outcome` being filled in (see above)."""

    __slots__ = (
        "backends",
        "host",
        "mirrors",
        "notes",
        "path",
        "redirect",
        "request_headers",
        "response_headers",
        "retry",
        "rule",
        "status",
        "timeout",
    )
    status: int
    rule: str | None
    backends: tuple[Backend, ...]
    path: str | None
    host: str | None
    request_headers: tuple[tuple[str, str], ...]
    response_headers: tuple[tuple[str, str], ...]
    redirect: Redirect | None
    timeout: str | None
    retry: Retry | None
    mirrors: tuple[Mirror, ...]
    notes: tuple[str, ...]


class _BackendFields:
    """A :class:`Backend` being filled in (see above)."""

    __slots__ = ("name", "namespace", "port", "weight")
    namespace: str
    name: str
    port: int | None
    weight: int


assert all(sorted(dataclass_slots) == list(fields_slots) for dataclass_slots, fields_slots in (
    (Request.__slots__, _RequestFields.__slots__), (Outcome.__slots__, _OutcomeFields.__slots__),
    (Backend.__slots__, _BackendFields.__slots__))), \
    "a field was added: update the *Fields classes and their fast constructors"


def request_at(shape: Request, service: ServiceKey, path: str, namespace: str) -> Request:
    """``shape`` sent to ``service`` with ``path`` from a client in ``namespace``: the same
    as ``Request(service=service, path=path, method=shape.method, scheme=shape.scheme,
    query=shape.query, headers=shape.headers, client_namespace=namespace,
    protocol=shape.protocol)``, faster (see above)."""
    out = _RequestFields()
    out.service = service
    out.path = path
    out.method = shape.method
    out.scheme = shape.scheme
    out.query = shape.query
    out.headers = shape.headers
    out.client_namespace = namespace
    out.protocol = shape.protocol
    out.__class__ = Request  # type: ignore[assignment]
    return out  # type: ignore[return-value]


def forwarded(template: Outcome, path: str, host: str,
              request_headers: tuple[tuple[str, str], ...]) -> Outcome:
    """``template`` with the parts of a forward that depend on the request: the same as
    ``dataclasses.replace(template, path=..., host=..., request_headers=...)``, faster."""
    out = _OutcomeFields()
    out.status = template.status
    out.rule = template.rule
    out.backends = template.backends
    out.path = path
    out.host = host
    out.request_headers = request_headers
    out.response_headers = template.response_headers
    out.redirect = template.redirect
    out.timeout = template.timeout
    out.retry = template.retry
    out.mirrors = template.mirrors
    out.notes = template.notes
    out.__class__ = Outcome  # type: ignore[assignment]
    return out  # type: ignore[return-value]


def template_outcome(status: int, rule: str | None, backends: tuple[Backend, ...],
                     response_headers: tuple[tuple[str, str], ...], timeout: str | None,
                     retry: Retry | None, mirrors: tuple[Mirror, ...],
                     notes: tuple[str, ...]) -> Outcome:
    """``Outcome(status=..., rule=..., backends=..., response_headers=..., timeout=...,
    retry=..., mirrors=..., notes=...)`` (no path, host, request headers or redirect: the
    template of :func:`forwarded`, or an outcome that reaches no backend), faster."""
    out = _OutcomeFields()
    out.status = status
    out.rule = rule
    out.backends = backends
    out.path = None
    out.host = None
    out.request_headers = ()
    out.response_headers = response_headers
    out.redirect = None
    out.timeout = timeout
    out.retry = retry
    out.mirrors = mirrors
    out.notes = notes
    out.__class__ = Outcome  # type: ignore[assignment]
    return out  # type: ignore[return-value]


# Interned Backends: both evaluators make them through backend(), so equal backends are
# usually one object and outcomes compare their backend tuples element by element without
# calling the dataclass ``__eq__`` (tuple comparison tries identity first). Bounded: the
# table starts over when full (equal Backends made on either side of that still compare
# equal, only more slowly).
_BACKENDS: dict[tuple[str, str, int | None, int], Backend] = {}
BACKENDS_KEPT = 1 << 16


def backend(namespace: str, name: str, port: int | None, weight: int) -> Backend:
    """``Backend(namespace, name, port, weight)``, faster (see above), and the same object
    for the same four values while the intern table keeps it. (Only a plain ``int`` port
    and weight are interned: ``True`` or ``1.0`` equal ``1`` as keys but print
    differently.)"""
    key = (namespace, name, port, weight)
    interned = weight.__class__ is int and (port is None or port.__class__ is int)
    if interned:
        found = _BACKENDS.get(key)
        if found is not None:
            return found
    fields = _BackendFields()
    fields.namespace = namespace
    fields.name = name
    fields.port = port
    fields.weight = weight
    fields.__class__ = Backend  # type: ignore[assignment]
    out: Backend = fields  # type: ignore[assignment]
    if interned:
        if len(_BACKENDS) >= BACKENDS_KEPT:
            _BACKENDS.clear()
        _BACKENDS[key] = out
    return out


def backend_shares(backends: tuple[Backend, ...]) -> dict[tuple[str, str, int | None], Fraction]:
    """Each backend's share of traffic (weight / total); zero-weight backends get nothing."""
    total = sum(b.weight for b in backends)
    shares: dict[tuple[str, str, int | None], Fraction] = {}
    if total <= 0:
        return shares
    for b in backends:
        if b.weight > 0:
            key = (b.namespace, b.name, b.port)
            shares[key] = shares.get(key, Fraction(0)) + Fraction(b.weight, total)
    return shares


def _mirror_set(mirrors: tuple[Mirror, ...]) -> list[tuple[str, str, int | None, float]]:
    return sorted((m.namespace, m.name, m.port, round(m.percent, 6)) for m in mirrors)


def differences(source: Outcome, target: Outcome) -> tuple[str, ...]:
    """Names of the outcome aspects that differ: status, backends (by share), path, host,
    request_headers, response_headers, redirect, timeout, retry, mirrors.

    When one side forwards the request and the other does not (a redirect, 404, 500: no
    path), the request headers differ too, whatever the request carried: the side that does
    not forward sends no header map at all, as it sends no path and no host. (Otherwise
    whether a request happened to carry a header would decide whether the aspect is named,
    and so how verification groups its differences.)"""
    forwards_alike = (source.path is None) == (target.path is None)
    checks: list[tuple[str, bool]] = [
        ("status", source.status == target.status),
        ("backends", backend_shares(source.backends) == backend_shares(target.backends)),
        ("path", source.path == target.path),
        ("host", source.host == target.host),
        ("request_headers", forwards_alike
         and dict(source.request_headers) == dict(target.request_headers)),
        ("response_headers", dict(source.response_headers) == dict(target.response_headers)),
        ("redirect", source.redirect == target.redirect),
        ("timeout", source.timeout == target.timeout),
        ("retry", source.retry == target.retry),
        ("mirrors", _mirror_set(source.mirrors) == _mirror_set(target.mirrors)),
    ]
    return tuple(name for name, same in checks if not same)
