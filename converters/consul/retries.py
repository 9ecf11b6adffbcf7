"""Router destination retries -> :class:`RetryPolicy` (consul ``agent/xds/routes.go``,
``getRetryPolicyForDestination``).

Consul builds an Envoy retry policy only when a retry field is set: ``num_retries`` from
``numRetries`` (left unset when 0, so Envoy's default of 1 applies), ``retry_on`` from
``retryOn`` plus ``connect-failure`` (``retryOnConnectFailure``) plus
``retriable-status-codes`` (``retryOnStatusCodes``). With no condition at all ``retry_on`` is
empty and Envoy never retries, whatever ``numRetries`` says.
"""

from __future__ import annotations

from converters.consul.env import Entry, Env
from meshmigrate.fields import View
from meshmigrate.model import RetryPolicy

ENVOY_DEFAULT_RETRIES = 1
#: Envoy ``x-envoy-retry-on`` conditions that are HTTP status classes.
_STATUS_CONDITIONS: dict[str, tuple[int, ...]] = {
    "5xx": tuple(range(500, 600)),
    "gateway-error": (502, 503, 504),
    "retriable-4xx": (409,),
}
#: Conditions the model covers exactly: status classes, explicit codes, connect failures.
_EXACT = {*_STATUS_CONDITIONS, "retriable-status-codes", "connect-failure"}


def retry_policy(dest: View, entry: Entry, env: Env) -> RetryPolicy | None:
    attempts = dest.int("numRetries")
    conditions = [*dest.str_list("retryOn")]
    if dest.bool("retryOnConnectFailure") and "connect-failure" not in conditions:
        conditions.append("connect-failure")
    codes = set(_status_codes(dest))
    if codes:
        conditions.append("retriable-status-codes")
    if not conditions:
        if attempts:
            env.report("RETRY_NEVER_TRIGGERS", entry.doc, dest.at("numRetries"),
                       f"numRetries {attempts} without retryOn, retryOnConnectFailure or "
                       "retryOnStatusCodes: Envoy gets no retry condition and never retries")
        return None
    for name in conditions:
        codes.update(_STATUS_CONDITIONS.get(name, ()))
    _report_approximation(dest, entry, env, conditions)
    return RetryPolicy(attempts=attempts or ENVOY_DEFAULT_RETRIES, codes=tuple(sorted(codes)),
                       conditions=tuple(conditions))


def _status_codes(dest: View) -> list[int]:
    items = dest.raw("retryOnStatusCodes") or []
    if not isinstance(items, list) or not all(
            isinstance(c, int) and not isinstance(c, bool) for c in items):
        raise dest.error("expected a list of HTTP status codes", "retryOnStatusCodes")
    return list(items)


def _report_approximation(dest: View, entry: Entry, env: Env, conditions: list[str]) -> None:
    """The model retries listed statuses and always connection failures; anything else
    (``reset``, ``refused-stream``, gRPC statuses…) is approximated."""
    other = [c for c in conditions if c not in _EXACT]
    notes = []
    if other:
        notes.append(f"conditions {', '.join(other)} have no status-code equivalent")
    if "connect-failure" not in conditions:
        notes.append("connection failures are not retried by this policy but always are by "
                     "a Gateway API retry")
    if notes:
        env.report("RETRY_APPROXIMATED", entry.doc, dest, "; ".join(notes))
