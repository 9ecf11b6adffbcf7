"""Checks made before anything changes: every kind is served, and the user may do every
write the migration (and its rollback) needs. A failure here leaves the cluster untouched."""

from __future__ import annotations

from collections.abc import Iterable

from meshmigrate.errors import ClusterError
from meshmigrate.kube.client import Kube
from meshmigrate.kube.journal import SYSTEM_NAMESPACE
from meshmigrate.kube.objects import ObjRef
from meshmigrate.kube.plan import Action, Plan

#: verbs an action needs: to do it, and to undo it in a rollback.
VERBS: dict[Action, tuple[str, ...]] = {
    Action.CREATE: ("create", "patch", "delete"),
    Action.CHANGE: ("patch", "update"),
    Action.DELETE: ("delete", "create", "update"),  # update: field owners restored
}
Check = tuple[str, str, str, str]  # verb, group, plural, namespace


def check_served(kube: Kube, refs: Iterable[ObjRef]) -> None:
    """Raise when a kind to apply or delete is not served (e.g. Gateway API CRDs missing)."""
    for ref in sorted({ObjRef(r.api_version, r.kind, "", "") for r in refs}):
        kube.require(ref)


def needed(kube: Kube, plan: Plan, journal: bool) -> list[Check]:
    checks: dict[Check, None] = {}
    for step in plan.steps:
        res = kube.require(step.ref)
        for verb in VERBS.get(step.action, ()):
            checks[(verb, res.group, res.plural, step.ref.namespace)] = None
    if journal:
        for verb in ("get", "create", "patch"):
            checks[(verb, "", "configmaps", SYSTEM_NAMESPACE)] = None
    return list(checks)


def check_access(kube: Kube, plan: Plan, journal: bool = True) -> None:
    """SelfSubjectAccessReview for each write; raise listing every one denied."""
    denied = [c for c in needed(kube, plan, journal) if kube.can(*c) is False]
    if not denied:
        return
    grouped: dict[tuple[str, str, str], list[str]] = {}
    for verb, group, plural, ns in denied:
        grouped.setdefault((plural + (f".{group}" if group else ""), ns, ""), []).append(verb)
    what = "; ".join(f"{'/'.join(verbs)} {resource} in namespace {ns}"
                     for (resource, ns, _), verbs in grouped.items())
    raise ClusterError(f"forbidden: your credentials may not {what} (RBAC: needed to apply "
                       "and to roll back); nothing was changed")
