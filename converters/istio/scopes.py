"""Who a VirtualService applies to, as producer and consumer route tables (semantics.md §3.1).

- ``exportTo`` absent or ``*``: every client -> a producer table.
- ``exportTo`` listing namespaces: only clients there -> one consumer table per namespace,
  each with every rule. A consumer route in the Service's own namespace is a producer
  route (GEP-1294), so that limit cannot be kept (EXPORT_TO_WIDENED).
- ``sourceNamespace`` X on a match: that match applies to clients in X only. The producer
  table keeps the matches without it; a consumer table for X holds every match that applies
  to clients in X, in order. ``Match.source_namespace`` stays set in both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from converters.istio.context import Env
from meshmigrate.fields import View
from meshmigrate.model import Match, Rule, ServiceRef

Scoped = tuple[str | None, tuple[Rule, ...]]  # (consumer namespace or None, rules)


def export_scopes(spec: View, service: ServiceRef, env: Env) -> list[str | None]:
    """Client namespaces the VirtualService is exported to; [None] = every namespace."""
    names = spec.str_list("exportTo")
    if not names or "*" in names:
        return [None]
    namespaces = list(dict.fromkeys(env.namespace if ns == "." else ns for ns in names))
    if service.namespace in namespaces:
        index = [env.namespace if ns == "." else ns for ns in names].index(service.namespace)
        env.report("EXPORT_TO_WIDENED", spec.at("exportTo").at(index),
                   f"exportTo {names[index]!r} is namespace {service.namespace!r}, where "
                   f"Service {service} is: a route there applies to every client")
        return [None]
    env.report("EXPORT_TO_CONSUMER", spec.at("exportTo"),
               f"exportTo {', '.join(namespaces)}: consumer routes for {service} in "
               "each namespace")
    return list(namespaces)


def split_scopes(rules: tuple[Rule, ...], service: ServiceRef, scopes: list[str | None],
                 env: Env) -> list[Scoped]:
    """Tables (consumer namespace, rules) for one Service; empty tables are left out (a
    VirtualService without a route for some clients leaves their traffic untouched)."""
    out: list[Scoped] = []
    for scope in scopes:
        out.extend(_by_source(rules, service, scope, env))
    return [(scope, scoped) for scope, scoped in out if scoped]


def _by_source(rules: tuple[Rule, ...], service: ServiceRef, scope: str | None,
               env: Env) -> list[Scoped]:
    _report_sources(rules, service, scope, env)
    if scope is not None:
        return [(scope, restrict(rules, from_namespace(scope)))]
    # A sourceNamespace equal to the Service's namespace cannot become a consumer table
    # (it would be a producer route); it stays in the producer table, still limited.
    own = service.namespace
    out: list[Scoped] = [(None, restrict(rules, from_namespace(own)))]
    for ns in source_namespaces(rules):
        if ns != own:
            out.append((ns, restrict(rules, from_namespace(ns))))
    return out


def from_namespace(namespace: str) -> Callable[[Match], bool]:
    """Matches that apply to clients in ``namespace``: without sourceNamespace, or naming
    it."""
    return lambda match: match.source_namespace in (None, namespace)


def restrict(rules: tuple[Rule, ...], keep: Callable[[Match], bool]) -> tuple[Rule, ...]:
    """The rules with only the matches ``keep`` accepts, in order. A rule that had matches
    and lost them all is dropped (it must not become a match-everything rule)."""
    out = []
    for rule in rules:
        kept = tuple(m for m in rule.matches if keep(m))
        if not rule.matches or kept:
            out.append(rule if kept == rule.matches else replace(rule, matches=kept))
    return tuple(out)


def source_namespaces(rules: tuple[Rule, ...]) -> list[str]:
    """Namespaces named by ``sourceNamespace``, in order of first appearance."""
    found = (m.source_namespace for r in rules for m in r.matches if m.source_namespace)
    return list(dict.fromkeys(found))


def _report_sources(rules: tuple[Rule, ...], service: ServiceRef, scope: str | None,
                    env: Env) -> None:
    for match in (m for r in rules for m in r.matches if m.source_namespace):
        where = (*match.origin, "sourceNamespace")
        ns = match.source_namespace
        if scope is None and ns == service.namespace:
            env.report("SOURCE_SELECTOR_DROPPED", where,
                       f"sourceNamespace {ns!r} is the namespace of Service {service}: a route "
                       "there applies to every client, so the match cannot be limited")
        elif scope in (None, ns):
            env.report("SOURCE_NAMESPACE_AS_CONSUMER", where,
                       f"sourceNamespace {ns!r}: a consumer route for {service} in {ns!r} "
                       "holds every rule that applies to its clients")
