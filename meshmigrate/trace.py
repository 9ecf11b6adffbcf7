"""``trace``: follow one request through the source configuration and through the Gateway API
objects, and say whether the two agree (DESIGN §3 contract).

Also the helpers the other semantic commands share: parsing ``"METHOD URL"`` into a
:class:`Request`, splitting the input into source configs and Gateway API objects, and
turning loaded documents into the plain objects the Gateway API evaluator reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from meshmigrate.errors import UsageError
from meshmigrate.pipeline import ConvertOptions, convert_documents
from meshmigrate.registry import converters
from meshmigrate.semantics.gateway import GatewayEvaluator
from meshmigrate.semantics.outcome import Request, ServiceKey, differences
from meshmigrate.semantics.source import SourceEvaluator
from meshmigrate.services import is_service
from meshmigrate.sources import Document
from meshmigrate.verify import TargetView, implicit_retry, missing_services

CLUSTER_SUFFIX = ("svc", "cluster", "local")
_PROTOCOLS = {"http": ("http", "http"), "https": ("https", "http"), "grpc": ("http", "grpc"),
              "grpcs": ("https", "grpc"), "tcp": ("http", "tcp")}


# --- requests ---------------------------------------------------------------------------

def parse_request(text: str, headers: Iterable[str] = (),
                  from_namespace: str = "default") -> Request:
    """``"GET http://reviews.bookinfo:9080/v2?x=1"`` -> :class:`Request`. The host names the
    Service: ``name`` (in ``from_namespace``), ``name.ns``, ``name.ns.svc`` or
    ``name.ns.svc.cluster.local``; the port defaults to 80. A ``grpc://`` or ``tcp://``
    scheme sends a gRPC or TCP request."""
    method, _, url = text.strip().partition(" ")
    parts = urlsplit(url.strip())
    if not method or parts.scheme not in _PROTOCOLS or not parts.hostname:
        raise UsageError(f"--request {text!r}: expected \"METHOD URL\", e.g. "
                         "\"GET http://reviews.bookinfo:9080/path\"")
    scheme, protocol = _PROTOCOLS[parts.scheme]
    try:
        port = parts.port or 80
    except ValueError:
        raise UsageError(f"--request {text!r}: invalid port") from None
    name, namespace = service_of_host(parts.hostname, from_namespace)
    return Request(
        service=ServiceKey(namespace, name, port), path=parts.path or "/",
        method=method.upper(), scheme=scheme,
        query=tuple(parse_qsl(parts.query, keep_blank_values=True)),
        headers=tuple(parse_header(h) for h in headers),
        client_namespace=from_namespace, protocol=protocol)


def service_of_host(host: str, from_namespace: str) -> tuple[str, str]:
    """(name, namespace) of the Service a URL host names."""
    labels = host.lower().split(".")
    if len(labels) == 1:
        return labels[0], from_namespace
    if len(labels) == 2 or (len(labels) == 3 and labels[2] == "svc") or (
            len(labels) == 5 and tuple(labels[2:]) == CLUSTER_SUFFIX):
        return labels[0], labels[1]
    raise UsageError(f"host {host!r} does not name a Service (use name, name.namespace, "
                     "name.namespace.svc or name.namespace.svc.cluster.local)")


def parse_header(text: str) -> tuple[str, str]:
    """``"Name: value"`` -> ``("name", "value")``."""
    name, sep, value = text.partition(":")
    if not sep or not name.strip() or " " in name.strip():
        raise UsageError(f"-H {text!r}: expected \"Name: value\"")
    return name.strip().lower(), value.strip()


# --- input ------------------------------------------------------------------------------

def plain(value: Any) -> Any:
    """A loaded value as plain dicts and lists (drops the line-tracking types)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def has_source_configs(docs: Iterable[Document]) -> bool:
    """True when some installed converter reads one of the documents."""
    installed = list(converters().values())
    return any(conv.claims(doc) for doc in docs for conv in installed)


def with_input_services(objects: Sequence[dict[str, Any]],
                        docs: Iterable[Document]) -> list[dict[str, Any]]:
    """``objects`` plus the input's v1 Services they do not already contain (the Gateway
    API evaluator needs the parents' ports)."""
    present = {_identity(o) for o in objects}
    extra = [plain(d.obj) for d in docs if is_service(d)]
    return [*objects, *(o for o in extra if _identity(o) not in present)]


def _identity(obj: dict[str, Any]) -> tuple[str, str, str]:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    assert isinstance(meta, dict)
    return (str(obj.get("kind", "")), str(meta.get("namespace") or "default"),
            str(meta.get("name", "")))


# --- trace ------------------------------------------------------------------------------

def trace(docs: list[Document], request: Request, options: ConvertOptions) -> dict[str, Any]:
    """The ``trace -o json`` object: ``source``/``target``/``equivalent`` when the input
    holds source configs (target = their conversion), else ``target`` alone."""
    if not has_source_configs(docs):
        return {"target": GatewayEvaluator([plain(d.obj) for d in docs]).evaluate(
            request).to_json()}
    options.verify = False
    result = convert_documents(docs, options)
    source = SourceEvaluator(result.model).evaluate(request)
    objects = [*result.objects, *missing_services(result.model, result.objects)]
    target = TargetView(GatewayEvaluator(objects), implicit_retry(options.profile()))
    outcome = target.evaluate(request)
    return {"source": source.to_json(), "target": outcome.to_json(),
            "equivalent": not differences(source, outcome)}
