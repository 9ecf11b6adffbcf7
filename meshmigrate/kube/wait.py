"""``--wait DUR``: wait until the mesh controller accepts every route.

A route is accepted when, for each of its ``spec.parentRefs``, ``status.parents[]`` holds an
entry for that parent whose ``Accepted`` condition is ``True`` and not stale
(``observedGeneration`` >= the route's ``metadata.generation``; Gateway API
``RouteParentStatus``/``metav1.Condition``). ``Accepted=False`` fails at once. A route with no
``status.parents`` at all when time runs out means no controller is looking at it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from meshmigrate.errors import ClusterError, UsageError
from meshmigrate.kube.client import Kube
from meshmigrate.kube.live import read_live
from meshmigrate.kube.objects import Obj, ObjRef
from meshmigrate.semantics.durations import DurationError, parse_duration_ms

ACCEPTED, REJECTED, PENDING, SILENT = "accepted", "rejected", "pending", "silent"
ROUTE_KINDS = ("HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute", "UDPRoute")


def parse_wait(text: str) -> float:
    """``--wait`` as seconds (Go durations: ``0s``, ``90s``, ``2m``, ``1m30s``)."""
    try:
        return parse_duration_ms(text) / 1000
    except DurationError as exc:
        raise UsageError(f"--wait {text!r}: {exc}") from None


def route_state(obj: Obj) -> tuple[str, str]:
    """(ACCEPTED | REJECTED | PENDING | SILENT, detail) for one route."""
    parents = (obj.get("status") or {}).get("parents") or []
    if not parents:
        return SILENT, "no status.parents"
    generation = (obj.get("metadata") or {}).get("generation")
    states = [_parent_state(ref, parents, generation, obj) for ref in _parent_refs(obj)]
    for wanted in (REJECTED, PENDING):
        hit = next((s for s in states if s[0] == wanted), None)
        if hit:
            return hit
    return ACCEPTED, ""


def _parent_refs(obj: Obj) -> list[dict[str, Any]]:
    return list((obj.get("spec") or {}).get("parentRefs") or [])


def _same_parent(a: dict[str, Any], b: dict[str, Any], route_ns: str) -> bool:
    keys = ("name", "kind", "group", "sectionName", "port")
    return all(a.get(k) == b.get(k) for k in keys if k in a) and (
        (a.get("namespace") or route_ns) == (b.get("namespace") or route_ns))


def _parent_state(ref: dict[str, Any], parents: list[dict[str, Any]], generation: Any,
                  obj: Obj) -> tuple[str, str]:
    route_ns = (obj.get("metadata") or {}).get("namespace", "")
    entries = [p for p in parents if _same_parent(ref, p.get("parentRef") or {}, route_ns)]
    for entry in entries:
        cond = next((c for c in entry.get("conditions") or [] if c.get("type") == "Accepted"),
                    None)
        if cond is None or _stale(cond, generation):
            continue
        detail = (f"{entry.get('controllerName', 'controller')}: {cond.get('reason', '')}: "
                  f"{cond.get('message', '')}")
        return (ACCEPTED, "") if cond.get("status") == "True" else (REJECTED, detail)
    return PENDING, f"parent {ref.get('name')}: no current Accepted condition"


def _stale(cond: dict[str, Any], generation: Any) -> bool:
    seen = cond.get("observedGeneration")
    return isinstance(seen, int) and isinstance(generation, int) and seen < generation


def wait_accepted(kube: Kube, refs: list[ObjRef], timeout_s: float,
                  tick: Callable[[int], None] | None = None, poll_s: float = 0.5) -> None:
    """Poll until every route in ``refs`` is accepted; raise ClusterError otherwise."""
    pending = [r for r in refs if r.kind in ROUTE_KINDS]
    deadline = time.monotonic() + timeout_s
    last: dict[ObjRef, tuple[str, str]] = {}
    while pending:
        live = read_live(kube, pending)
        last = {r: route_state(live[r]) if r in live else (PENDING, "route is gone")
                for r in pending}
        _raise_rejected(last)
        done = [r for r in pending if last[r][0] == ACCEPTED]
        pending = [r for r in pending if r not in done]
        if tick and done:
            tick(len(done))
        if pending and time.monotonic() >= deadline:
            raise ClusterError(_timeout_message(pending, last, timeout_s))
        if pending:
            time.sleep(poll_s)


def _raise_rejected(states: dict[ObjRef, tuple[str, str]]) -> None:
    for ref, (state, detail) in sorted(states.items()):
        if state == REJECTED:
            raise ClusterError(f"{ref} was not accepted ({detail})")


def _timeout_message(pending: list[ObjRef], states: dict[ObjRef, tuple[str, str]],
                     timeout_s: float) -> str:
    ref = sorted(pending)[0]
    more = f" (and {len(pending) - 1} more)" if len(pending) > 1 else ""
    state, detail = states.get(ref, (SILENT, ""))
    if state == SILENT:
        return (f"no mesh controller answered for {ref}{more} within {timeout_s:g}s: is the "
                "mesh's Gateway API support enabled?")
    return f"{ref}{more} not accepted within {timeout_s:g}s: {detail}"
