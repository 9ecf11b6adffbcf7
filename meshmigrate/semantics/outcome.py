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


_SET_REQUEST_SERVICE, _SET_REQUEST_PATH, _SET_REQUEST_METHOD, _SET_REQUEST_SCHEME, \
    _SET_REQUEST_QUERY, _SET_REQUEST_HEADERS_OF, _SET_REQUEST_CLIENT, _SET_REQUEST_PROTOCOL = (
        getattr(Request, name).__set__ for name in Request.__slots__)
assert Request.__slots__ == ("service", "path", "method", "scheme", "query", "headers",
                             "client_namespace", "protocol"), "update request_at() with the fields"


def request_at(shape: Request, service: ServiceKey, path: str, namespace: str) -> Request:
    """``shape`` sent to ``service`` with ``path`` from a client in ``namespace``: the same
    as ``Request(service=service, path=path, method=shape.method, scheme=shape.scheme,
    query=shape.query, headers=shape.headers, client_namespace=namespace,
    protocol=shape.protocol)``, faster (see :func:`forwarded`)."""
    out: Request = object.__new__(Request)
    _SET_REQUEST_SERVICE(out, service)
    _SET_REQUEST_PATH(out, path)
    _SET_REQUEST_METHOD(out, shape.method)
    _SET_REQUEST_SCHEME(out, shape.scheme)
    _SET_REQUEST_QUERY(out, shape.query)
    _SET_REQUEST_HEADERS_OF(out, shape.headers)
    _SET_REQUEST_CLIENT(out, namespace)
    _SET_REQUEST_PROTOCOL(out, shape.protocol)
    return out


# Fast construction for the evaluators' hot paths: a frozen dataclass's __init__ sets each
# field through object.__setattr__ (about twice as slow for 12 fields). The same Outcome.
_SET_STATUS, _SET_RULE, _SET_BACKENDS, _SET_PATH, _SET_HOST, _SET_REQUEST_HEADERS, \
    _SET_RESPONSE_HEADERS, _SET_REDIRECT, _SET_TIMEOUT, _SET_RETRY, _SET_MIRRORS, \
    _SET_NOTES = (getattr(Outcome, name).__set__ for name in Outcome.__slots__)
assert Outcome.__slots__ == (
    "status", "rule", "backends", "path", "host", "request_headers", "response_headers",
    "redirect", "timeout", "retry", "mirrors", "notes"), "update forwarded() with the fields"


def forwarded(template: Outcome, path: str, host: str,
              request_headers: tuple[tuple[str, str], ...]) -> Outcome:
    """``template`` with the parts of a forward that depend on the request: the same as
    ``dataclasses.replace(template, path=..., host=..., request_headers=...)``, faster."""
    out: Outcome = object.__new__(Outcome)
    _SET_STATUS(out, template.status)
    _SET_RULE(out, template.rule)
    _SET_BACKENDS(out, template.backends)
    _SET_PATH(out, path)
    _SET_HOST(out, host)
    _SET_REQUEST_HEADERS(out, request_headers)
    _SET_RESPONSE_HEADERS(out, template.response_headers)
    _SET_REDIRECT(out, template.redirect)
    _SET_TIMEOUT(out, template.timeout)
    _SET_RETRY(out, template.retry)
    _SET_MIRRORS(out, template.mirrors)
    _SET_NOTES(out, template.notes)
    return out


def template_outcome(status: int, rule: str | None, backends: tuple[Backend, ...],
                     response_headers: tuple[tuple[str, str], ...], timeout: str | None,
                     retry: Retry | None, mirrors: tuple[Mirror, ...],
                     notes: tuple[str, ...]) -> Outcome:
    """``Outcome(status=..., rule=..., backends=..., response_headers=..., timeout=...,
    retry=..., mirrors=..., notes=...)`` (no path, host, request headers or redirect: the
    template of :func:`forwarded`, or an outcome that reaches no backend), faster."""
    out: Outcome = object.__new__(Outcome)
    _SET_STATUS(out, status)
    _SET_RULE(out, rule)
    _SET_BACKENDS(out, backends)
    _SET_PATH(out, None)
    _SET_HOST(out, None)
    _SET_REQUEST_HEADERS(out, ())
    _SET_RESPONSE_HEADERS(out, response_headers)
    _SET_REDIRECT(out, None)
    _SET_TIMEOUT(out, timeout)
    _SET_RETRY(out, retry)
    _SET_MIRRORS(out, mirrors)
    _SET_NOTES(out, notes)
    return out


_SET_BACKEND_NAMESPACE, _SET_BACKEND_NAME, _SET_BACKEND_PORT, _SET_BACKEND_WEIGHT = (
    getattr(Backend, name).__set__ for name in Backend.__slots__)
assert Backend.__slots__ == ("namespace", "name", "port", "weight"), \
    "update backend() with the fields"

# Interned Backends: both evaluators make them through backend(), so equal backends are
# usually one object and outcomes compare their backend tuples element by element without
# calling the dataclass ``__eq__`` (tuple comparison tries identity first). Bounded: the
# table starts over when full (equal Backends made on either side of that still compare
# equal, only more slowly).
_BACKENDS: dict[tuple[str, str, int | None, int], Backend] = {}
BACKENDS_KEPT = 1 << 16


def backend(namespace: str, name: str, port: int | None, weight: int) -> Backend:
    """``Backend(namespace, name, port, weight)``, faster (see :func:`forwarded`), and the
    same object for the same four values while the intern table keeps it. (Only a plain
    ``int`` port and weight are interned: ``True`` or ``1.0`` equal ``1`` as keys but
    print differently.)"""
    key = (namespace, name, port, weight)
    interned = weight.__class__ is int and (port is None or port.__class__ is int)
    if interned:
        found = _BACKENDS.get(key)
        if found is not None:
            return found
    out: Backend = object.__new__(Backend)
    _SET_BACKEND_NAMESPACE(out, namespace)
    _SET_BACKEND_NAME(out, name)
    _SET_BACKEND_PORT(out, port)
    _SET_BACKEND_WEIGHT(out, weight)
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
    request_headers, response_headers, redirect, timeout, retry, mirrors."""
    checks: list[tuple[str, bool]] = [
        ("status", source.status == target.status),
        ("backends", backend_shares(source.backends) == backend_shares(target.backends)),
        ("path", source.path == target.path),
        ("host", source.host == target.host),
        ("request_headers", dict(source.request_headers) == dict(target.request_headers)),
        ("response_headers", dict(source.response_headers) == dict(target.response_headers)),
        ("redirect", source.redirect == target.redirect),
        ("timeout", source.timeout == target.timeout),
        ("retry", source.retry == target.retry),
        ("mirrors", _mirror_set(source.mirrors) == _mirror_set(target.mirrors)),
    ]
    return tuple(name for name, same in checks if not same)
