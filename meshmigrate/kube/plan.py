"""The plan of a migration: per object, create / change / unchanged (targets) and delete
(cutover sources), computed from the objects to apply and the live objects (pure)."""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from meshmigrate.kube.cutover import cutover_order, kept_reason
from meshmigrate.kube.objects import Obj, ObjRef, is_subset


class Action(enum.Enum):
    CREATE = "create"
    CHANGE = "change"
    UNCHANGED = "unchanged"
    DELETE = "delete"


class Phase(enum.Enum):
    APPLY = "apply"
    CUTOVER = "cutover"


@dataclass
class Step:
    """One object: what to do, what to send (``desired``), what is there now (``prior``)."""

    ref: ObjRef
    action: Action
    phase: Phase
    desired: Obj | None = None
    prior: Obj | None = None

    @property
    def touches(self) -> bool:
        return self.action is not Action.UNCHANGED


@dataclass
class Plan:
    steps: list[Step]
    kept: list[tuple[ObjRef, str]] = field(default_factory=list)
    absent: list[ObjRef] = field(default_factory=list)  # cutover sources not in the cluster

    def phase(self, phase: Phase) -> list[Step]:
        return [s for s in self.steps if s.phase is phase and s.touches]

    def counts(self) -> dict[str, int]:
        found = Counter(s.action.value for s in self.steps)
        return {a.value: found.get(a.value, 0) for a in Action}

    @property
    def empty(self) -> bool:
        return not any(s.touches for s in self.steps)


def make_plan(targets: Iterable[Obj], sources: Iterable[ObjRef], live: Mapping[ObjRef, Obj],
              cutover: bool) -> Plan:
    """Targets in the order given (Services before routes), then, with ``cutover``, the
    live sources in deletion order; sources not in ``live`` are listed as absent."""
    steps = [target_step(obj, live) for obj in targets]
    plan = Plan(steps)
    if not cutover:
        return plan
    refs = list(dict.fromkeys(sources))
    plan.kept = [(r, reason) for r in refs if (reason := kept_reason(r)) is not None]
    for ref in cutover_order(refs):
        if ref in live:
            plan.steps.append(Step(ref, Action.DELETE, Phase.CUTOVER, None, live[ref]))
        else:
            plan.absent.append(ref)
    return plan


def target_step(obj: Obj, live: Mapping[ObjRef, Obj]) -> Step:
    ref = ObjRef.of(obj)
    current = live.get(ref)
    if current is None:
        action = Action.CREATE
    elif is_subset(_body(obj), current):
        action = Action.UNCHANGED
    else:
        action = Action.CHANGE
    return Step(ref, action, Phase.APPLY, obj, current)


def _body(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}


def changed_fields(want: Any, have: Any, path: str = "", depth: int = 2) -> list[str]:
    """Dotted paths (at most ``depth`` deep) where applying ``want`` changes ``have``."""
    if is_subset(want, have):
        return []
    if depth == 0 or not isinstance(want, dict) or not isinstance(have, dict):
        return [path or "."]
    out: list[str] = []
    for key, value in want.items():
        out += changed_fields(value, have.get(key), f"{path}.{key}" if path else key, depth - 1)
    return out


SIGNS = {Action.CREATE: "+", Action.CHANGE: "~", Action.DELETE: "-", Action.UNCHANGED: "="}


def render_plan(plan: Plan) -> str:
    """The plan as text, one object per line."""
    counts = plan.counts()
    lines = [f"Plan: {counts['create']} to create, {counts['change']} to change, "
             f"{counts['delete']} to delete, {counts['unchanged']} unchanged"]
    for step in plan.steps:
        lines.append(f"  {SIGNS[step.action]} {step.action.value:<9} {step.ref}{_detail(step)}")
    lines += [f"  ! keep      {ref}: {why}" for ref, why in plan.kept]
    lines += [f"  ? absent    {ref}: not in the cluster, nothing to delete" for ref in plan.absent]
    return "\n".join(lines) + "\n"


def _detail(step: Step) -> str:
    if step.action is Action.CHANGE and step.desired is not None:
        fields = changed_fields(_body(step.desired), step.prior or {})
        return f"  ({', '.join(fields)})"
    return "  (cutover)" if step.phase is Phase.CUTOVER else ""
