"""One ``http[]`` or ``tcp[]`` entry -> one model :class:`Rule` (semantics.md §3.2-§3.3).

Every Rule keeps its origin (``spec.http[i]``) so that findings and the semantic diff can
point at the source line.
"""

from __future__ import annotations

from converters.istio.actions import (
    convert_cors,
    convert_direct_response,
    convert_fault,
    convert_redirect,
    convert_rewrite,
    convert_timeout,
)
from converters.istio.context import Env
from converters.istio.destinations import mirrors, route_destinations
from converters.istio.headers import headers_block, split_host_rewrite
from converters.istio.matches import http_matches, l4_matches
from converters.istio.retries import convert_retries
from meshmigrate.fields import View
from meshmigrate.model import HeaderOps, Match, Provenance, Rule

_ACTIONS = ("route", "redirect", "directResponse", "delegate")


def http_rule(rule: View, env: Env) -> Rule | None:
    """An HTTPRoute, or None when it does not apply to the mesh or delegates (dropped)."""
    matches = http_matches(rule, env)
    if matches is None:
        rule.use()  # not for the mesh (reported per match)
        return None
    action = _action(rule)
    if action == "delegate":
        _report_delegate(rule, env)
        return None
    request, response = headers_block(rule)
    request, header_host = split_host_rewrite(request, rule, env)
    if action != "route":
        return _local_reply(rule, matches, request, response, env)
    path_rewrite, rewrite_host = convert_rewrite(rule, env)
    return Rule(matches=matches, destinations=route_destinations(rule, env),
                name=rule.str("name") or None, request_headers=request,
                response_headers=response, rewrite=path_rewrite,
                rewrite_host=rewrite_host or header_host, timeout_ms=convert_timeout(rule),
                retry=convert_retries(rule, env), mirrors=mirrors(rule, env),
                cors=convert_cors(rule, env), fault=convert_fault(rule, env),
                origin=Provenance(env.doc, rule.path))


def _local_reply(rule: View, matches: tuple[Match, ...], request: HeaderOps,
                 response: HeaderOps, env: Env) -> Rule:
    """A redirect or a direct response: answered by the proxy, so no upstream, no retries
    (``rewrite`` cannot be combined with a redirect: Istio's validation refuses it)."""
    if rule.map("rewrite") is not None:
        raise rule.error("rewrite cannot be used with redirect or directResponse", "rewrite")
    return Rule(matches=matches, redirect=convert_redirect(rule, env),
                direct_status=convert_direct_response(rule, env),
                name=rule.str("name") or None, request_headers=request,
                response_headers=response, retry=None, cors=convert_cors(rule, env),
                fault=convert_fault(rule, env), origin=Provenance(env.doc, rule.path))


def tcp_rule(rule: View, env: Env) -> Rule | None:
    """A TCPRoute: weighted destinations, matched on port (and source)."""
    matches = l4_matches(rule, env)
    if matches is None:
        rule.use()
        return None
    if not list(rule.list("route")):
        raise rule.error("required field is missing", "route")
    return Rule(matches=matches, destinations=route_destinations(rule, env, http=False),
                retry=None, origin=Provenance(env.doc, rule.path))


def _action(rule: View) -> str:
    """Exactly one of route / redirect / directResponse / delegate (Istio's validation)."""
    node = rule.node
    present = [key for key in _ACTIONS if key in node and key in rule]
    if len(present) > 1:
        raise rule.error(f"set only one of {', '.join(present)}", present[1])
    if not present:
        raise rule.error("one of route, redirect, directResponse or delegate is required")
    return present[0]


def _report_delegate(rule: View, env: Env) -> None:
    rule.use()
    target = rule.at("delegate")
    name = f"{target.str('namespace') or env.namespace}/{target.str('name') or '?'}"
    env.report("DELEGATE_NOT_SUPPORTED", target,
               f"rule delegates to VirtualService {name}; the rule was dropped")
