"""Route matches -> model :class:`Match` (controller ``HTTPRouteMatch``, ``GRPCRouteMatch``).

- ``prefix`` is an Envoy ``prefix``: a plain *string* prefix (``/api`` matches ``/apiary``);
  ``path.exact`` / ``path.regex`` are Envoy ``path`` / ``safe_regex`` (RE2, whole path).
- Header (and gRPC metadata) matches: ``exact``, ``prefix``, ``suffix``, ``regex``,
  ``range`` (``[start, end)`` on the integer value), ``invert``; no ``match`` = present.
- gRPC ``serviceName`` / ``methodName`` are the request path ``/<service>/<method>``.
- ``match.port`` selects a router listener, not a Service port: it is handled where routes
  are grouped per listener (:mod:`converters.appmesh.routers`).
"""

from __future__ import annotations

from converters.appmesh.env import Env, Obj, mappings
from meshmigrate.fields import View
from meshmigrate.model import Match, PathKind, PathMatch, StringMatch, StrKind
from meshmigrate.regexes import check_regex

_KINDS = (("exact", StrKind.EXACT), ("prefix", StrKind.PREFIX), ("suffix", StrKind.SUFFIX),
          ("regex", StrKind.REGEX))
_MAX_RANGE = 64  # larger integer ranges are not spelled out as a regex


def http_match(route: View, obj: Obj, env: Env) -> tuple[Match, ...]:
    """``httpRoute.match`` / ``http2Route.match``; () when it matches every request."""
    view = route.map("match") or route.at("match")
    method, scheme = view.str("method"), view.str("scheme")
    if scheme:
        env.report("SCHEME_MATCH_DROPPED", obj, view.at("scheme"),
                   f"scheme {scheme!r} cannot be expressed; the route matches any scheme")
    found = Match(path=_http_path(view), methods=frozenset({method}) if method else None,
                  headers=tuple(_headers(view, "headers", obj, env)),
                  query=tuple(_query(view)), scheme=scheme, origin=view.path)
    return _non_empty(found)


def grpc_match(route: View, obj: Obj, env: Env) -> tuple[Match, ...]:
    view = route.map("match") or route.at("match")
    service, method = view.str("serviceName"), view.str("methodName")
    if method and not service:
        raise view.error("methodName needs serviceName", "methodName")
    path = (PathMatch(PathKind.EXACT, f"/{service}/{method}") if method else
            PathMatch(PathKind.PREFIX, f"/{service}/") if service else None)
    found = Match(path=path, headers=tuple(_headers(view, "metadata", obj, env)),
                  origin=view.path)
    return _non_empty(found)


def _non_empty(found: Match) -> tuple[Match, ...]:
    return () if found == Match(origin=found.origin) else (found,)


def _http_path(view: View) -> PathMatch | None:
    prefix, path = view.str("prefix"), view.map("path")
    exact, regex = (path.str("exact"), path.str("regex")) if path is not None else (None, None)
    if sum(v is not None for v in (prefix, exact, regex)) > 1:
        raise view.error("set only one of prefix, path.exact, path.regex")
    if regex is not None and path is not None:
        check_regex(path, "regex", regex)
        return PathMatch(PathKind.REGEX, regex)
    if exact is not None:
        return PathMatch(PathKind.EXACT, exact)
    return PathMatch(PathKind.PREFIX, prefix) if prefix is not None else None


def _headers(view: View, key: str, obj: Obj, env: Env) -> list[StringMatch]:
    out = []
    for item in mappings(view, key):
        name = str(item.req_str("name")).lower()
        invert = bool(item.bool("invert"))
        kind, value = _string_match(item.map("match"), obj, env)
        if kind is None:
            continue
        out.append(StringMatch(name, kind, value, invert=invert))
        if invert:
            env.report("NEGATIVE_MATCH_DROPPED", obj, item.at("invert"),
                       f"{'header' if key == 'headers' else 'metadata'} {name} with invert "
                       "(match only when it does NOT match) cannot be expressed")
    return out


def _query(view: View) -> list[StringMatch]:
    """Query parameters (case-sensitive names): ``match.exact``, or presence."""
    out = []
    for item in mappings(view, "queryParameters"):
        match = item.map("match")
        exact = match.str("exact") if match is not None else None
        out.append(StringMatch(str(item.req_str("name")), StrKind.EXACT, exact)
                   if exact is not None else StringMatch(str(item.req_str("name")),
                                                         StrKind.PRESENT))
    return out


def _string_match(view: View | None, obj: Obj, env: Env) -> tuple[StrKind | None, str]:
    """(kind, value); kind None when the condition is dropped (an unexpressible range)."""
    if view is None:
        return StrKind.PRESENT, ""
    found = [(key, kind, value) for key, kind in _KINDS if (value := view.str(key)) is not None]
    ranged = view.map("range")
    if len(found) + (ranged is not None) != 1:
        raise view.error("set exactly one of exact, prefix, suffix, regex, range")
    if ranged is not None:
        return _range(ranged, obj, env)
    key, kind, value = found[0]
    if kind is StrKind.REGEX:
        check_regex(view, key, value)
    return kind, value


def _range(view: View, obj: Obj, env: Env) -> tuple[StrKind | None, str]:
    """Envoy ``range_match``: the value parsed as an integer in ``[start, end)``. Small
    non-negative ranges become an alternation of the numbers (HEADER_MATCH_APPROXIMATED:
    leading zeros or a sign no longer match); others cannot be expressed."""
    start, end = view.int("start") or 0, view.int("end") or 0
    if 0 <= start < end <= start + _MAX_RANGE:
        env.report("HEADER_MATCH_APPROXIMATED", obj, view,
                   f"range [{start}, {end}) spelled out as a regular expression; values "
                   "with leading zeros or a sign no longer match")
        return StrKind.REGEX, "|".join(str(n) for n in range(start, end))
    env.report("MATCH_NOT_SUPPORTED", obj, view,
               f"range [{start}, {end}) cannot be expressed; the condition is dropped, so "
               "the route matches more requests")
    return None, ""


