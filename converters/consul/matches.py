"""``routes[].match.http`` -> model :class:`Match` (consul ``agent/xds/routes.go``,
``makeRouteMatchForDiscoveryRoute``).

- ``pathPrefix`` is an Envoy ``prefix``: a plain *string* prefix (``/api`` matches
  ``/apiary``). ``pathRegex`` is Envoy ``safe_regex`` (RE2, whole path).
- ``caseInsensitive`` sets Envoy ``case_sensitive: false``, which Envoy applies to
  ``prefix`` and ``path`` only ("ignored for safe_regex").
- ``methods`` become one ``:method`` regex ``GET|POST`` (full match: one of them).
- A header or query condition with no criterion is skipped by Consul ("impossible
  situation"), so it matches anything.
"""

from __future__ import annotations

from converters.consul.env import Entry, Env, mappings
from meshmigrate.fields import View
from meshmigrate.model import Match, PathKind, PathMatch, StringMatch, StrKind
from meshmigrate.regexes import check_regex

_PATHS = (("pathExact", PathKind.EXACT), ("pathPrefix", PathKind.PREFIX),
          ("pathRegex", PathKind.REGEX))
_HEADER_KINDS = (("exact", StrKind.EXACT), ("prefix", StrKind.PREFIX),
                 ("suffix", StrKind.SUFFIX), ("regex", StrKind.REGEX))
_QUERY_KINDS = (("exact", StrKind.EXACT), ("regex", StrKind.REGEX))


def route_matches(route: View, entry: Entry, env: Env) -> tuple[Match, ...]:
    """The route's match; () (every request) when ``match`` or ``match.http`` is empty."""
    match = route.map("match")
    http = match.map("http") if match is not None else None
    if http is None:
        return ()
    found = http_match(http)
    for item in mappings(http, "header"):
        has_criterion = item.bool("present") or any(item.str(k) for k, _ in _HEADER_KINDS)
        if item.bool("invert") and has_criterion:
            env.report("NEGATIVE_MATCH_DROPPED", entry.doc, item.at("invert"),
                       f"header {item.str('name')} with invert (match only when it does NOT "
                       "match) cannot be expressed")
    empty = Match(origin=found.origin)
    return () if found == empty else (found,)


def http_match(view: View) -> Match:
    """One ServiceRouteHTTPMatch; all its conditions are ANDed."""
    methods = view.str_list("methods")
    return Match(path=_path(view), methods=frozenset(methods) if methods else None,
                 headers=tuple(_conditions(view, "header", _HEADER_KINDS, lower=True)),
                 query=tuple(_conditions(view, "queryParam", _QUERY_KINDS, lower=False)),
                 origin=view.path)


def _path(view: View) -> PathMatch | None:
    found = [(key, kind, value) for key, kind in _PATHS if (value := view.str(key))]
    ignore_case = bool(view.bool("caseInsensitive"))
    if len(found) > 1:
        raise view.error("at most one of pathExact, pathPrefix, pathRegex may be set")
    if not found:
        return None
    key, kind, value = found[0]
    if kind is PathKind.REGEX:
        check_regex(view, key, value)
    elif not value.startswith("/"):
        raise view.error(f"{key} must begin with '/'", key)
    return PathMatch(kind, value, ignore_case=ignore_case and kind is not PathKind.REGEX)


def _conditions(view: View, key: str, kinds: tuple[tuple[str, StrKind], ...],
                lower: bool) -> list[StringMatch]:
    out = []
    for item in mappings(view, key):
        name = item.req_str("name").lower() if lower else item.req_str("name")
        found = [(k, kind, value) for k, kind in kinds if (value := item.str(k))]
        present = bool(item.bool("present"))
        if len(found) + present > 1:
            raise item.error(f"set at most one of {', '.join(k for k, _ in kinds)}, present")
        invert = bool(item.bool("invert")) if key == "header" else False
        if found:
            k, kind, value = found[0]
            if kind is StrKind.REGEX:
                check_regex(item, k, value)
            out.append(StringMatch(name, kind, value, invert=invert))
        elif present:
            out.append(StringMatch(name, StrKind.PRESENT, invert=invert))
    return out


