"""HTTPRetry -> RetryPolicy, including Istio's default policy (semantics.md §8.4).

pilot ``route/retry/retry.go`` ``ConvertPolicy``: no ``retries`` block -> the default policy
(2 retries on connect-failure, refused-stream, unavailable, cancelled,
retriable-status-codes; 503 left out of the retriable codes since Istio 1.24);
``attempts: 0`` -> no retries; otherwise the default with the given fields overriding it,
status codes in ``retryOn`` adding ``retriable-status-codes``.
"""

from __future__ import annotations

from converters.istio.context import Env
from converters.istio.durations import duration_ms
from meshmigrate.fields import View
from meshmigrate.model import RetryPolicy

DEFAULT_CONDITIONS = ("connect-failure", "refused-stream", "unavailable", "cancelled",
                      "retriable-status-codes")
DEFAULT_RETRY = RetryPolicy(attempts=2, codes=(), conditions=DEFAULT_CONDITIONS,
                            is_source_default=True)
#: ``attempts: 0``. Not None: a rule without a policy falls back to the table's default
#: (``RouteTable.default_retry``), and disabled is the opposite of that default.
NO_RETRY = RetryPolicy(attempts=0)

#: retryOn names that stand for HTTP status codes (Envoy x-envoy-retry-on).
_CODE_GROUPS: dict[str, tuple[int, ...]] = {
    "5xx": tuple(range(500, 600)), "gateway-error": (502, 503, 504), "retriable-4xx": (409,)}
#: Connection-level conditions: implicit in Gateway API retries.
_CONNECTION = {"connect-failure", "refused-stream", "retriable-status-codes"}
#: Kept for the report but with no Gateway API counterpart.
_OTHER_HTTP = {"reset", "reset-before-request", "retriable-headers", "envoy-ratelimited",
               "http3-post-connect-failure"}
_GRPC = {"cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable"}
_EXTRAS = ("retryRemoteLocalities", "retryIgnorePreviousHosts")


def convert_retries(rule: View, env: Env) -> RetryPolicy:
    """The rule's retry policy (attempts 0 = retries disabled)."""
    view = rule.map("retries") if "retries" in rule.node else None
    if view is None:
        return DEFAULT_RETRY
    attempts = view.int("attempts", 0) or 0
    if attempts < 0:
        raise view.error("attempts cannot be negative", "attempts")
    if attempts == 0:
        _check_disabled(view)
        return NO_RETRY
    codes, conditions = parse_retry_on(view, env)
    _report_extras(view, env)
    return RetryPolicy(attempts=attempts, codes=codes, conditions=conditions,
                       per_try_timeout_ms=duration_ms(view, "perTryTimeout"),
                       backoff_ms=duration_ms(view, "backoff"))


def parse_retry_on(view: View, env: Env) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """``retryOn`` -> (retried status codes, condition names). Absent -> the default list."""
    text = view.str("retryOn")
    if not text:
        return (), DEFAULT_CONDITIONS
    codes: set[int] = set()
    conditions: list[str] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        codes.update(_codes(view, part))
        if not part.isdigit() and part not in conditions:
            conditions.append(part)
    if codes and "retriable-status-codes" not in conditions:
        conditions.append("retriable-status-codes")
    _report_conditions(view, conditions, env)
    return tuple(sorted(codes)), tuple(conditions)


def _codes(view: View, part: str) -> tuple[int, ...]:
    if part.isdigit():
        if not 100 <= int(part) <= 599:
            raise view.error(f"{part!r} is not an HTTP status code", "retryOn")
        return (int(part),)
    if part in _CODE_GROUPS:
        return _CODE_GROUPS[part]
    if part in _CONNECTION | _OTHER_HTTP | _GRPC:
        return ()
    raise view.error(f"{part!r} is not a valid retryOn policy", "retryOn")


def _report_conditions(view: View, conditions: list[str], env: Env) -> None:
    lost = [c for c in conditions if c in _GRPC | _OTHER_HTTP]
    if lost:
        env.report("RETRY_APPROXIMATED", view.at("retryOn"),
                   f"retry conditions {', '.join(lost)} have no Gateway API equivalent "
                   "(only HTTP status codes and connection errors carry over)")


def _report_extras(view: View, env: Env) -> None:
    for key in _EXTRAS:
        value = view.bool(key)
        if value is not None:
            env.report("RETRY_APPROXIMATED", view.at(key),
                       f"{key}: {str(value).lower()} (retry host selection) cannot be expressed")


def _check_disabled(view: View) -> None:
    """Istio's validation: "http retry policy configured when attempts are set to 0"."""
    for key in ("perTryTimeout", "retryOn", "retryRemoteLocalities", "backoff"):
        if key in view:
            raise view.error(f"retries sets {key} but attempts is 0 or missing "
                             "(retries disabled)", "attempts")
