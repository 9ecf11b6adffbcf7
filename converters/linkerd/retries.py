"""ServiceProfile retries and timeouts (semantics.md §4.1, §8.4–8.5).

- ``timeout``: a Go duration; a route without one gets the destination controller's
  ``DefaultRouteTimeout`` of 10 s (``pkg/profiles``), written explicitly.
- ``isRetryable``: the proxy retries failures (see :mod:`.responses`) for as long as the
  profile's ``retryBudget`` allows — no per-request limit. Gateway API and Linkerd's
  annotations only count retries, so the budget becomes Linkerd's default limit of one retry
  (``retry.linkerd.io/limit``, reference/retries.md) and ``RETRY_APPROXIMATED`` says so.
- ``retryBudget``: Gateway API's XBackendTrafficPolicy budget is not implemented by Linkerd,
  so it is reported, not converted. The proxy ignores a budget outside its limits (ratio in
  [0, 1000], ttl in [1 s, 60 s]) and then retries nothing (``convert_retry_budget``).
"""

from __future__ import annotations

from dataclasses import dataclass

from converters.linkerd.durations import duration_ms
from converters.linkerd.matches import Report
from converters.linkerd.responses import failure_codes
from meshmigrate.fields import View
from meshmigrate.model import RetryPolicy

DEFAULT_TIMEOUT_MS = 10_000
DEFAULT_RETRY_LIMIT = 1
_I32_MAX = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Budget:
    """The profile's retry budget (Linkerd's defaults when ``explicit`` is False)."""

    ratio: float = 0.2
    min_per_second: int = 10
    ttl_ms: int = 10_000
    explicit: bool = False

    @property
    def usable(self) -> bool:
        """False when the proxy would reject the budget and disable retries."""
        return (0.0 <= self.ratio <= 1000.0 and 1_000 <= self.ttl_ms <= 60_000
                and self.min_per_second <= _I32_MAX)

    def describe(self) -> str:
        return (f"{self.ratio:g} of requests plus {self.min_per_second}/s over "
                f"{self.ttl_ms / 1000:g}s")


def read_budget(spec: View) -> Budget:
    """``spec.retryBudget`` (required fields as the CRD and Linkerd's validation say)."""
    view = spec.map("retryBudget")
    if view is None:
        return Budget()
    ratio = view.num("retryRatio")
    minimum = view.int("minRetriesPerSecond")
    ttl = duration_ms(view, "ttl")
    for key, value in (("retryRatio", ratio), ("minRetriesPerSecond", minimum), ("ttl", ttl)):
        if value is None:
            raise view.error("required field is missing", key)
    assert ratio is not None and minimum is not None and ttl is not None
    if ratio < 0:
        raise view.error("retryRatio must be non-negative", "retryRatio")
    if minimum < 0:
        raise view.error("minRetriesPerSecond must be non-negative", "minRetriesPerSecond")
    return Budget(ratio, minimum, ttl, explicit=True)


def route_timeout(route: View) -> tuple[int, bool]:
    """(timeout in ms, True when it is the 10 s default)."""
    value = duration_ms(route, "timeout")
    return (DEFAULT_TIMEOUT_MS, True) if value is None else (value, False)


def route_retry(route: View, budget: Budget, report: Report) -> RetryPolicy | None:
    """The retry policy of a route (None when it is not retryable or retries are off)."""
    if not route.bool("isRetryable", False):
        route.use("responseClasses")  # without retries they only label metrics
        return None
    codes = failure_codes(route)
    if not budget.usable:
        return None
    report("RETRY_APPROXIMATED", (*route.path, "isRetryable"),
           f"Linkerd retries this route while the retry budget ({budget.describe()}) "
           f"allows, with no per-request limit; converted to at most {DEFAULT_RETRY_LIMIT} "
           f"retry on {_describe_codes(codes)} (Linkerd's default retry limit)")
    conditions = ("isRetryable", "responseClasses") if "responseClasses" in route else (
        "isRetryable",)
    return RetryPolicy(attempts=DEFAULT_RETRY_LIMIT, codes=codes, conditions=conditions)


def report_budget(spec: View, budget: Budget, retryable: bool, report: Report) -> None:
    """One finding for an explicit or unusable budget."""
    where = (*spec.path, "retryBudget")
    if retryable and not budget.usable:
        report("RETRY_BUDGET_INVALID", where,
               f"the Linkerd proxy rejects this retry budget ({budget.describe()}; the ratio "
               "must be within [0, 1000] and the ttl within [1s, 60s]) and retries nothing; "
               "no retries were converted")
    elif budget.explicit:
        report("RETRY_APPROXIMATED", where,
               f"retryBudget ({budget.describe()}) is not converted: Linkerd does not "
               "implement Gateway API's XBackendTrafficPolicy retry budget")


def _describe_codes(codes: tuple[int, ...]) -> str:
    if not codes:
        return "no status code (connection errors only)"
    if codes == tuple(range(500, 600)):
        return "5xx"
    return f"{len(codes)} status codes ({codes[0]}…{codes[-1]})"
