"""Route retry policies and timeouts (App Mesh user guide ``routes.md``,
``envoy-defaults.md``; controller ``HTTPRetryPolicy``, ``GRPCRetryPolicy``,
``HTTPTimeout``).

- ``httpRetryEvents``: ``server-error`` = 500-508, 510, 511; ``gateway-error`` = 502-504;
  ``client-error`` = 409; ``stream-error`` = a refused or reset stream (no status code).
  ``server-error`` and ``gateway-error`` also include Envoy ``reset``.
- ``tcpRetryEvents``: ``connection-error`` (Envoy ``connect-failure``).
- ``timeout.perRequest`` defaults to 15 s for HTTP, HTTP/2 and gRPC routes; 0 disables it
  (Envoy). ``timeout.idle`` has no Gateway API field.
- With no ``retryPolicy``, meshes created since 2020-07-29 get App Mesh's default policy:
  2 retries on 503, gRPC ``UNAVAILABLE``, ``connect-failure``, ``refused-stream`` and
  ``reset`` (invisible through the API; older meshes need a support ticket).
"""

from __future__ import annotations

from converters.appmesh.env import Env, Obj
from meshmigrate.fields import View
from meshmigrate.model import RetryPolicy

DEFAULT_TIMEOUT_MS = 15_000
DEFAULT_RETRY = RetryPolicy(attempts=2, codes=(503,),
                            conditions=("503", "connect-failure", "refused-stream", "reset"),
                            is_source_default=True)
GRPC_DEFAULT_RETRY = RetryPolicy(attempts=2, codes=(503,), conditions=(
    "503", "unavailable", "connect-failure", "refused-stream", "reset"), is_source_default=True)

_HTTP_EVENTS: dict[str, tuple[int, ...]] = {
    "server-error": (500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511),
    "gateway-error": (502, 503, 504),
    "client-error": (409,),
    "stream-error": (),
}
_UNITS = {"s": 1000, "ms": 1}


def duration_ms(parent: View, key: str) -> int | None:
    """An App Mesh ``Duration`` ``{unit: s|ms, value}``; None when absent."""
    view = parent.map(key)
    if view is None:
        return None
    unit, value = view.req_str("unit"), view.int("value")
    if unit not in _UNITS:
        raise view.error(f"unit must be s or ms, got {unit!r}", "unit")
    if value is None or value < 0:
        raise view.error("value must be a number of units, 0 or more", "value")
    return value * _UNITS[str(unit)]


def request_timeout(route: View, obj: Obj, env: Env) -> tuple[int | None, bool]:
    """``(timeout_ms, is_default)`` of an HTTP, HTTP/2 or gRPC route."""
    timeout = route.map("timeout")
    if timeout is None:
        return DEFAULT_TIMEOUT_MS, True
    idle_timeout(timeout, obj, env)
    value = duration_ms(timeout, "perRequest")
    if value is None:
        return DEFAULT_TIMEOUT_MS, True
    return (value or None), False


def idle_timeout(timeout: View, obj: Obj, env: Env) -> None:
    if duration_ms(timeout, "idle") is not None:
        env.report("IDLE_TIMEOUT_DROPPED", obj, timeout.at("idle"),
                   "timeout.idle has no Gateway API field")


def retry_policy(route: View, obj: Obj, env: Env) -> RetryPolicy | None:
    """The route's ``retryPolicy``; None when absent (the default policy then applies)."""
    view = route.map("retryPolicy")
    if view is None:
        return None
    http, tcp = view.str_list("httpRetryEvents"), view.str_list("tcpRetryEvents")
    grpc = view.str_list("grpcRetryEvents")
    for event in http:
        if event not in _HTTP_EVENTS:
            raise view.error(f"unknown httpRetryEvents value {event!r}", "httpRetryEvents")
    codes = sorted({code for event in http for code in _HTTP_EVENTS[event]})
    _report_approximation(view, obj, env, http, tcp, grpc)
    return RetryPolicy(attempts=view.int("maxRetries") or 0, codes=tuple(codes),
                       per_try_timeout_ms=duration_ms(view, "perRetryTimeout"),
                       conditions=(*http, *tcp, *grpc))


def _report_approximation(view: View, obj: Obj, env: Env, http: list[str], tcp: list[str],
                          grpc: list[str]) -> None:
    """The model retries the listed statuses and always connection failures."""
    notes = []
    if "stream-error" in http:
        notes.append("stream-error (refused or reset streams) has no status code")
    if grpc:
        notes.append(f"gRPC events {', '.join(grpc)} have no HTTP status equivalent")
    if "connection-error" not in tcp:
        notes.append("connection errors are not retried by this policy but always are by a "
                     "Gateway API retry")
    if notes:
        env.report("RETRY_APPROXIMATED", obj, view, "; ".join(notes))
