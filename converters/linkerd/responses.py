"""ServiceProfile ``responseClasses`` -> the HTTP statuses Linkerd counts as failures.

Only used as retry input: a retryable route retries the responses classified as failures.
The proxy takes the first class whose condition matches; when none matches, a 5xx status
is a failure (its default classifier). Conditions mirror request conditions (``status``
``{min, max}``, ``all``, ``any``, ``not``; set fields are ANDed). The proxy silently drops
a class whose condition it cannot build — a status bound of 0 (i.e. omitted), an empty
``all``/``any`` — (``linkerd2-proxy linkerd/service-profiles/src/proto.rs``
``convert_rsp_match``), so those classes are ignored here as well.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from converters.linkerd.viewutil import has_list, kind_of, mappings
from meshmigrate.fields import View

Predicate = Callable[[int], bool]
STATUSES = range(100, 600)


def failure_codes(route: View) -> tuple[int, ...]:
    """Every status in 100..599 that the route's response classes make a failure."""
    classes: list[tuple[Predicate, bool]] = []
    for item in mappings(route, "responseClasses"):
        cond = item.map("condition")
        if cond is None:
            raise item.error("a response class needs a condition", "condition")
        predicate = _predicate(cond)
        if predicate is not None:
            classes.append((predicate, bool(item.bool("isFailure", False))))
    return tuple(code for code in STATUSES if _is_failure(code, classes))


def _is_failure(code: int, classes: list[tuple[Predicate, bool]]) -> bool:
    for predicate, failure in classes:
        if predicate(code):
            return failure
    return code >= 500


def _predicate(cond: View) -> Predicate | None:
    """The condition as a predicate, or None when the proxy would drop it."""
    if not isinstance(cond.node, dict):
        raise cond.error(f"expected a mapping, got {kind_of(cond.node)}")
    parts = [*_status(cond), *_lists(cond), *_negation(cond)]
    if not parts:
        raise cond.error("a response condition must set status, all, any or not")
    if any(p is None for p in parts):
        return None
    preds = [p for p in parts if p is not None]
    return lambda code: all(p(code) for p in preds)


def _status(cond: View) -> list[Predicate | None]:
    status = cond.map("status")
    if status is None:
        return []
    low, high = status.int("min", 0) or 0, status.int("max", 0) or 0
    for key, value in (("min", low), ("max", high)):
        if value and not 100 <= value <= 599:
            raise status.error("a status bound must be between 100 and 599", key)
    if low and high and high < low:
        raise status.error("max cannot be smaller than min", "max")
    if not (low and high):
        return [None]  # the proxy rejects status code 0 and drops the class
    return [lambda code: low <= code <= high]


def _lists(cond: View) -> list[Predicate | None]:
    out: list[Predicate | None] = []
    for key, combine in (("all", all), ("any", any)):
        if not has_list(cond, key):
            continue
        children = [_predicate(child) for child in mappings(cond, key)]
        kept = [c for c in children if c is not None]  # the proxy filters dropped children
        out.append(_combined(kept, combine) if kept else None)
    return out


def _combined(preds: list[Predicate], combine: Callable[[Iterable[object]], bool]) -> Predicate:
    return lambda code: combine(p(code) for p in preds)


def _negation(cond: View) -> list[Predicate | None]:
    inner = cond.map("not")
    if inner is None:
        return []
    predicate = _predicate(inner)
    return [None if predicate is None else (lambda code: not predicate(code))]
