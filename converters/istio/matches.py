"""HTTPMatchRequest / L4MatchAttributes -> model :class:`Match` (semantics.md §3.2, §11).

Blocks in ``match`` are ORed and the conditions inside one block are ANDed; a rule without
``match`` matches every request. ``uri.prefix`` is a plain *string* prefix (Envoy
``prefix``: ``/api`` matches ``/apiary``), never a segment prefix. Regexes are RE2 and must
match the whole value (Envoy ``safe_regex``).
"""

from __future__ import annotations

import re

from converters.istio.context import Env, map_entries, mappings
from converters.istio.hosts import MESH
from meshmigrate.fields import View
from meshmigrate.model import Match, PathKind, PathMatch, StringMatch, StrKind
from meshmigrate.regexes import check_regex

#: The Gateway API method enum; Istio method prefix/regex matches are expanded over it.
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")

_KINDS = ((StrKind.EXACT, "exact"), (StrKind.PREFIX, "prefix"), (StrKind.REGEX, "regex"))
_PATH_KINDS = {StrKind.EXACT: PathKind.EXACT, StrKind.PREFIX: PathKind.PREFIX,
               StrKind.REGEX: PathKind.REGEX}
_JWT_PREFIX = "@request.auth.claims."




def string_match(view: View | None) -> tuple[StrKind, str] | None:
    """An Istio ``StringMatch`` (oneof exact / prefix / regex), None when empty or absent."""
    if view is None:
        return None
    node = view.node  # a mapping (View.map and mappings() check it)
    found = [(kind, value) for kind, key in _KINDS
             if key in node and (value := view.str(key)) is not None]
    if len(found) > 1:
        raise view.error("set only one of exact, prefix, regex")
    if found and found[0][0] is StrKind.REGEX:
        check_regex(view, "regex", found[0][1])
    return found[0] if found else None


def http_matches(rule: View, env: Env) -> tuple[Match, ...] | None:
    """The rule's ORed matches. None when every block is bound to gateways other than
    ``mesh``: the rule then does not exist for sidecars (it must not become a catch-all)."""
    blocks = list(mappings(rule, "match"))
    matches = [m for m in (http_match(block, env) for block in blocks) if m is not None]
    if blocks and not matches:
        return None
    return tuple(matches)


def http_match(view: View, env: Env) -> Match | None:
    """One HTTPMatchRequest block (all conditions ANDed); None if not for the mesh."""
    if not _for_mesh(view, env):
        return None
    _cosmetic_names(view, env)
    headers = (*_headers(view, "headers", env), *_authority(view, env),
               *_headers(view, "withoutHeaders", env, invert=True))
    return Match(path=_path(view), methods=_methods(view, env), headers=headers,
                 query=_query(view), port=port_number(view, "port"),
                 source_namespace=view.str("sourceNamespace") or None,
                 source_labels=_source_labels(view, env, "SOURCE_SELECTOR_DROPPED"),
                 scheme=_scheme(view, env), origin=view.path)


def l4_matches(rule: View, env: Env) -> tuple[Match, ...] | None:
    """TCP ``match`` blocks (L4MatchAttributes): port, sourceNamespace and sourceLabels are
    kept; subnets have no model field and are reported (TCP_MATCH_DROPPED)."""
    blocks = list(mappings(rule, "match"))
    matches = [m for m in (_l4_match(block, env) for block in blocks) if m is not None]
    if blocks and not matches:
        return None
    return tuple(matches)


def _l4_match(view: View, env: Env) -> Match | None:
    if not _for_mesh(view, env):
        return None
    for key in ("destinationSubnets", "sourceSubnet"):
        if key in view:
            view.raw(key)
            env.report("TCP_MATCH_DROPPED", view.at(key),
                       f"{key} cannot be expressed; the rule applies to every address")
    return Match(port=port_number(view, "port"),
                 source_namespace=view.str("sourceNamespace") or None,
                 source_labels=_source_labels(view, env, "TCP_MATCH_DROPPED"),
                 origin=view.path)


def port_number(view: View, key: str) -> int | None:
    port = view.int(key)
    if port is not None and not 1 <= port <= 65535:
        raise view.error(f"port {port} is out of range 1-65535", key)
    return port


def _for_mesh(view: View, env: Env) -> bool:
    """Per-match ``gateways`` override the VirtualService's: a block whose list leaves out
    ``mesh`` does not apply to sidecars."""
    if "gateways" not in view.node:
        return True
    gateways = view.str_list("gateways")
    if not gateways or MESH in gateways:
        return True
    view.use()
    env.report("GATEWAY_ONLY_SKIPPED", view.at("gateways"),
               f"match applies to gateways {', '.join(gateways)} only, not to the mesh")
    return False


def _cosmetic_names(view: View, env: Env) -> None:
    for key in ("name", "statPrefix"):
        value = view.str(key) if key in view.node else None
        if value:
            env.report("MATCH_NAME_DROPPED", view.at(key),
                       f"match {key} {value!r} only names access logs and stats")


def _path(view: View) -> PathMatch | None:
    """``uri`` + ``ignoreUriCase`` (which Istio applies to exact and prefix only)."""
    found = string_match(view.map("uri"))
    ignore_case = bool(view.bool("ignoreUriCase"))
    if found is None:
        return None
    kind, value = found
    return PathMatch(_PATH_KINDS[kind], value,
                     ignore_case=ignore_case and kind is not StrKind.REGEX)


def _methods(view: View, env: Env) -> frozenset[str] | None:
    """Exact -> that method; prefix/regex -> the enum methods it matches (an empty set
    never matches, as an unmatchable pattern never does)."""
    method = view.map("method") if "method" in view.node else None
    found = string_match(method)
    if method is None or found is None:
        return None
    kind, value = found
    if kind is StrKind.EXACT:
        return frozenset({value})
    expanded = frozenset(m for m in METHODS if (
        m.startswith(value) if kind is StrKind.PREFIX else re.fullmatch(value, m)))
    shown = ", ".join(m for m in METHODS if m in expanded) or "nothing (never matches)"
    env.report("METHOD_EXPANDED", method,
               f"method {kind.value} {value!r} expanded over the method enum to {shown}")
    return expanded


def _headers(view: View, key: str, env: Env, invert: bool = False) -> list[StringMatch]:
    """Header conditions; names are lower-cased; ``{}`` tests presence."""
    out: list[StringMatch] = []
    if key not in view.node:
        return out
    for name, spec in map_entries(view, key):
        kind, value = string_match(spec) or (StrKind.PRESENT, "")
        out.append(StringMatch(name.lower(), kind, value, invert=invert))
        where = view.at(key).at(name)
        if name.lower().startswith(_JWT_PREFIX):
            env.report("JWT_CLAIM_MATCH_DROPPED", where,
                       f"{name} matches a JWT claim, not a header; kept as a header condition")
        if invert:
            env.report("NEGATIVE_MATCH_DROPPED", where,
                       f"withoutHeaders {name} (match only when it does NOT match) "
                       "cannot be expressed")
    return out


def _authority(view: View, env: Env) -> tuple[StringMatch, ...]:
    if "authority" not in view.node:
        return ()
    authority = view.map("authority")
    found = string_match(authority)
    if authority is None or found is None:
        return ()
    env.report("AUTHORITY_MATCH", authority,
               f"authority {found[0].value} {found[1]!r} becomes a Host header condition")
    return (StringMatch("host", found[0], found[1]),)


def _query(view: View) -> tuple[StringMatch, ...]:
    """Query parameters (names are case-sensitive, so they keep their case)."""
    if "queryParams" not in view.node:
        return ()
    return tuple(StringMatch(name, *(string_match(spec) or (StrKind.PRESENT, "")))
                 for name, spec in map_entries(view, "queryParams"))


def _scheme(view: View, env: Env) -> str | None:
    if "scheme" not in view.node:
        return None
    scheme = view.map("scheme")
    found = string_match(scheme)
    if scheme is None or found is None:
        return None
    kind, value = found
    kept = kind is StrKind.EXACT
    env.report("SCHEME_MATCH_DROPPED", scheme,
               f"scheme {kind.value} {value!r} cannot be expressed" +
               ("" if kept else "; the model keeps only exact schemes, so it matches any"))
    return value if kept else None


def _source_labels(view: View, env: Env, code: str) -> tuple[tuple[str, str], ...]:
    if "sourceLabels" not in view.node:
        return ()
    labels = view.str_map("sourceLabels")
    if labels:
        shown = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        env.report(code, view.at("sourceLabels"),
                   f"sourceLabels {shown} select client workloads; no route can")
    return tuple(sorted(labels.items()))
