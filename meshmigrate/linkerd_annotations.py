"""Linkerd's retry and timeout annotations for ``--target linkerd`` (semantics.md §4.2).

Since 2.16 Linkerd configures retries and timeouts with annotations on the Service or on an
HTTPRoute/GRPCRoute (``reference/retries.md``, ``reference/timeouts.md``); it does not
implement the Gateway API ``retry`` field. Annotations apply to a whole route, not to one
rule, so rules that need different values must go to different routes.

:func:`annotations_for` renders one rule's policy; :func:`annotation_groups` groups the
rules of a table by the annotation set they need. Grouping is all it does: putting the
groups into separate routes changes how Gateway API breaks precedence ties (across routes:
oldest ``creationTimestamp``, then ``namespace/name``; within a route: rule order). The
compiler must keep the source's relative order safe — e.g. only split when no earlier rule
of one group can tie with a later rule of another, or name/create the routes so the tie-break
follows the groups' order — and report ``ROUTE_SPLIT_LIMITS``/``ORDER_NOT_PRESERVED``
when it cannot.

Only what Linkerd accepts is written: ``retry.linkerd.io/http`` (``xxx``, ``xxx-yyy``,
``gateway-error``, ``5xx``; not on GRPCRoute), ``retry.linkerd.io/grpc`` (gRPC status names;
not on HTTPRoute), ``retry.linkerd.io/limit``, ``retry.linkerd.io/timeout`` and
``timeout.linkerd.io/request``. Backoff has no annotation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from meshmigrate.model import RetryPolicy, Rule
from meshmigrate.semantics.durations import canonical_duration
from meshmigrate.semantics.outcome import Retry

RETRY_HTTP = "retry.linkerd.io/http"
RETRY_GRPC = "retry.linkerd.io/grpc"
RETRY_LIMIT = "retry.linkerd.io/limit"
RETRY_TIMEOUT = "retry.linkerd.io/timeout"
TIMEOUT_REQUEST = "timeout.linkerd.io/request"

#: gRPC status names ``retry.linkerd.io/grpc`` accepts.
GRPC_CONDITIONS = ("cancelled", "deadline-exceeded", "internal", "resource-exhausted",
                   "unavailable")

#: Ranges Linkerd has names for (``reference/retries.md``).
_NAMED_RANGES = {(500, 599): "5xx", (502, 504): "gateway-error"}


def annotations_for(retry: RetryPolicy | None, timeout_ms: int | None,
                    grpc: bool) -> dict[str, str]:
    """The annotations that give one rule's retry and timeout behaviour, keys sorted.

    A retry with ``attempts`` 0 retries nothing and writes no retry annotation. The limit is
    always written, although 1 is Linkerd's default, so the intent is visible.
    """
    out: dict[str, str] = {}
    if retry is not None and retry.attempts > 0:
        out.update(_retry(retry, grpc))
    if timeout_ms is not None:
        out[TIMEOUT_REQUEST] = format_duration(timeout_ms)
    return dict(sorted(out.items()))


def _retry(retry: RetryPolicy, grpc: bool) -> dict[str, str]:
    out = {RETRY_LIMIT: str(retry.attempts)}
    if grpc:
        names = [c.lower() for c in retry.conditions if c.lower() in GRPC_CONDITIONS]
        if names:
            out[RETRY_GRPC] = ",".join(dict.fromkeys(names))
    elif retry.codes:
        out[RETRY_HTTP] = http_codes(retry.codes)
    if retry.per_try_timeout_ms is not None:
        out[RETRY_TIMEOUT] = format_duration(retry.per_try_timeout_ms)
    return out


def http_codes(codes: Iterable[int]) -> str:
    """Status codes as Linkerd's list: ``5xx``, ``gateway-error``, ``xxx`` or ``xxx-yyy``,
    comma-separated, ascending. ``5xx`` is used only for the whole 500–599 range."""
    parts: list[str] = []
    for low, high in _ranges(sorted(set(codes))):
        named = _NAMED_RANGES.get((low, high))
        parts.append(named or (str(low) if low == high else f"{low}-{high}"))
    return ",".join(parts)


def _ranges(codes: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for code in codes:
        if out and out[-1][1] == code - 1:
            out[-1] = (out[-1][0], code)
        else:
            out.append((code, code))
    return out


def format_duration(ms: int) -> str:
    """``10s``, ``1500ms``: one unit, which Linkerd's duration parser accepts."""
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def annotation_groups(rules: Sequence[Rule],
                      grpc: bool = False) -> list[tuple[dict[str, str], list[int]]]:
    """Rules grouped by the annotations they need: ``[(annotations, [rule index…])…]``.

    Groups come in the order of their first rule, indexes ascending, so the result never
    depends on dict iteration. Rules without retry or timeout form a group with ``{}``.
    """
    groups: dict[tuple[tuple[str, str], ...], list[int]] = {}
    for index, rule in enumerate(rules):
        key = tuple(annotations_for(rule.retry, rule.timeout_ms, grpc).items())
        groups.setdefault(key, []).append(index)
    return [(dict(key), indexes) for key, indexes in groups.items()]


# --- reading them back (for the target side of the semantic diff) -----------------------
def parse_http_codes(text: str) -> tuple[int, ...]:
    """The inverse of :func:`http_codes`: ``5xx``, ``gateway-error``, ``xxx``, ``xxx-yyy``."""
    spans = {name: span for span, name in _NAMED_RANGES.items()}
    codes: set[int] = set()
    for part in (p.strip() for p in text.split(",") if p.strip()):
        if part in spans:
            low, high = spans[part]
        else:
            first, _, last = part.partition("-")
            low, high = int(first), int(last or first)
        codes.update(range(low, high + 1))
    return tuple(sorted(codes))


def read_policy(annotations: dict[str, str]) -> tuple[str | None, Retry | None] | None:
    """What Linkerd does with a route's annotations: (request timeout in canonical GEP-2257
    form or None, retry or None); None when the route carries no policy annotation at all.
    Linkerd ignores the Gateway API ``retry`` field, so no annotation means no retries."""
    if not any(k.startswith(("retry.linkerd.io/", "timeout.linkerd.io/")) for k in annotations):
        return None
    timeout = annotations.get(TIMEOUT_REQUEST)
    retry: Retry | None = None
    if RETRY_HTTP in annotations or RETRY_GRPC in annotations:
        per_try = annotations.get(RETRY_TIMEOUT)
        retry = Retry(attempts=int(annotations.get(RETRY_LIMIT, "1")),
                      codes=parse_http_codes(annotations.get(RETRY_HTTP, "")),
                      per_try_timeout=canonical_duration(per_try) if per_try else None)
    return (canonical_duration(timeout) if timeout else None), retry
