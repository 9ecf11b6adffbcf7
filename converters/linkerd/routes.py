"""One ServiceProfile route -> one first-match :class:`Rule`."""

from __future__ import annotations

from dataclasses import dataclass

from converters.linkerd.conditions import MAX_CONJUNCTIONS, TooComplex, normal_form
from converters.linkerd.matches import Report, rule_matches
from converters.linkerd.retries import Budget, route_retry, route_timeout
from meshmigrate.fields import View
from meshmigrate.model import Destination, Provenance, Rule


@dataclass(frozen=True, slots=True)
class RouteContext:
    """What every route of one profile shares."""

    budget: Budget
    destinations: tuple[Destination, ...]
    report: Report


def build_rule(route: View, ctx: RouteContext) -> tuple[Rule | None, bool]:
    """The rule for ``route`` (None when it can never match or cannot be converted) and
    whether it relies on the default timeout."""
    name = route.req_str("name")
    cond = route.map("condition")
    if cond is None:
        raise route.error("required field is missing", "condition")
    timeout, defaulted = route_timeout(route)
    retry = route_retry(route, ctx.budget, ctx.report)
    try:
        conjunctions = normal_form(cond)
    except TooComplex:
        ctx.report("MATCH_NOT_SUPPORTED", cond.path,
                   f"route {name!r}: the condition expands to more than {MAX_CONJUNCTIONS} "
                   "alternatives; the route was not converted")
        return None, defaulted
    matches = rule_matches(conjunctions, ctx.report)
    if not matches:
        ctx.report("RULE_SHADOWED", cond.path,
                   f"route {name!r}: the condition can never hold; the route was dropped")
        return None, defaulted
    rule = Rule(matches=matches, destinations=ctx.destinations, name=name,
                timeout_ms=timeout, retry=retry, origin=Provenance(route.doc, route.path))
    return rule, defaulted
