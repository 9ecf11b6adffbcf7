"""HTTPRoute actions other than destinations and retries (semantics.md §3.3)."""

from __future__ import annotations

import re

from converters.istio.context import Env, mappings
from converters.istio.durations import duration_ms
from converters.istio.matches import port_number, string_match
from meshmigrate.fields import View
from meshmigrate.model import Cors, PathRewrite, Redirect, RewriteKind, StrKind
from meshmigrate.regexes import check_regex

_DERIVE_PORT = {"FROM_PROTOCOL_DEFAULT": False, "FROM_REQUEST_PORT": True}
# An origin regex of the shape Gateway API can say with a wildcard: scheme://*.domain
_WILDCARD_ORIGIN = re.compile(r"\^?(https?)://(?:\.\*|\.\+|\[\^\./\]\+)\\\.((?:[a-z0-9-]+\\\.)*"
                              r"[a-z0-9-]+)\$?")


def convert_redirect(rule: View, env: Env) -> Redirect | None:
    """HTTPRedirect. Istio's default code is 301 and Gateway API's 302, so the code is
    always made explicit (REDIRECT_CODE_EXPLICIT when defaulted). ``uri`` replaces the whole
    path ("irrespective of the request URI being matched as an exact path or prefix")."""
    view = rule.map("redirect") if "redirect" in rule.node else None
    if view is None:
        return None
    code = view.int("redirectCode")
    if code is None:
        code = 301
        env.report("REDIRECT_CODE_EXPLICIT", view,
                   "redirect code not set: Istio answers 301 (Gateway API would default to 302)")
    if not 300 <= code <= 399:
        raise view.error(f"{code} is not a valid redirect code, must be 3xx", "redirectCode")
    uri = view.str("uri")
    return Redirect(code=code, scheme=_redirect_scheme(view), host=view.str("authority") or None,
                    port=port_number(view, "port"),
                    path=PathRewrite(RewriteKind.FULL, uri) if uri else None,
                    derive_port_from_request=_derive_port(view))


def _redirect_scheme(view: View) -> str | None:
    scheme = view.str("scheme")
    if scheme and scheme not in ("http", "https"):
        raise view.error(f'invalid redirect scheme {scheme!r}, must be "http" or "https"',
                         "scheme")
    return scheme or None


def _derive_port(view: View) -> bool:
    value = view.str("derivePort")
    if value is None:
        return False
    if value not in _DERIVE_PORT:
        raise view.error(f"derivePort must be one of {', '.join(_DERIVE_PORT)}", "derivePort")
    return _DERIVE_PORT[value]


def convert_rewrite(rule: View, env: Env) -> tuple[PathRewrite | None, str | None]:
    """HTTPRewrite -> (path rewrite, host rewrite).

    ``uri`` is Envoy ``prefix_rewrite``: it replaces the *matched string prefix* (the whole
    path for exact and regex matches; ``/`` when the match has no uri), hence
    PREFIX_STRING. ``uriRegexRewrite`` is a regex substitution with no Gateway API
    equivalent.
    """
    view = rule.map("rewrite") if "rewrite" in rule.node else None
    if view is None:
        return None, None
    uri, regex = view.str("uri"), view.map("uriRegexRewrite")
    if uri and regex is not None:
        raise view.error("set only one of uri and uriRegexRewrite", "uriRegexRewrite")
    path = PathRewrite(RewriteKind.PREFIX_STRING, uri) if uri else None
    if regex is not None:
        path = _regex_rewrite(regex, env)
    return path, view.str("authority") or None


def _regex_rewrite(view: View, env: Env) -> PathRewrite:
    pattern, replacement = view.req_str("match"), view.str("rewrite")
    if replacement is None:
        raise view.error("required field is missing", "rewrite")
    check_regex(view, "match", pattern)
    env.report("REWRITE_NOT_SUPPORTED", view,
               f"regex rewrite {pattern!r} -> {replacement!r} has no Gateway API equivalent")
    return PathRewrite(RewriteKind.REGEX, replacement, pattern=pattern)


def convert_timeout(rule: View) -> int | None:
    """``timeout``; absent or ``0s`` both mean "no timeout" in Istio -> None."""
    return duration_ms(rule, "timeout") or None


def convert_direct_response(rule: View, env: Env) -> int | None:
    view = rule.map("directResponse") if "directResponse" in rule.node else None
    if view is None:
        return None
    status = view.int("status")
    if status is None:
        raise view.error("required field is missing", "status")
    if not 200 <= status <= 599:
        raise view.error(f"HTTP status {status} is not in range 200-599", "status")
    body = " with a body" if view.raw("body") else ""
    env.report("DIRECT_RESPONSE_DROPPED", view,
               f"direct response {status}{body} (answered by the proxy) cannot be expressed")
    return status


def convert_fault(rule: View, env: Env) -> bool:
    fault = rule.raw("fault") if "fault" in rule.node else None
    if not fault:
        return False
    kinds = " and ".join(k for k in ("delay", "abort") if isinstance(fault, dict) and k in fault)
    env.report("FAULT_INJECTION_DROPPED", rule.at("fault"),
               f"fault injection ({kinds or 'empty'}) cannot be expressed")
    return True


def convert_cors(rule: View, env: Env) -> Cors | None:
    """CorsPolicy. Exact origins carry over; ``*`` and ``scheme://*.domain``-shaped regexes
    become Gateway API wildcards; other prefix/regex origins cannot (CORS_APPROXIMATED)."""
    view = rule.map("corsPolicy") if "corsPolicy" in rule.node else None
    if view is None:
        return None
    origins = [*_origins(view, env), *view.str_list("allowOrigin")]
    max_age = duration_ms(view, "maxAge")
    return Cors(allow_origins=tuple(origins), allow_methods=tuple(view.str_list("allowMethods")),
                allow_headers=tuple(view.str_list("allowHeaders")),
                expose_headers=tuple(view.str_list("exposeHeaders")),
                max_age_s=None if max_age is None else max_age // 1000,
                allow_credentials=view.bool("allowCredentials"))


def _origins(view: View, env: Env) -> list[str]:
    out = []
    for item in mappings(view, "allowOrigins"):
        found = string_match(item)
        origin = _origin(*found) if found else None
        if found and origin not in (found[1], "*"):
            what = f"kept as {origin!r}" if origin else "dropped"
            env.report("CORS_APPROXIMATED", item,
                       f"allowed origin {found[0].value} {found[1]!r} {what}")
        if origin:
            out.append(origin)
    return out


def _origin(kind: StrKind, value: str) -> str | None:
    if kind is StrKind.EXACT:
        return value
    if kind is StrKind.REGEX and value in (".*", "^.*$", "*"):
        return "*"
    wildcard = _WILDCARD_ORIGIN.fullmatch(value) if kind is StrKind.REGEX else None
    if wildcard:
        return f"{wildcard[1]}://*.{wildcard[2].replace(chr(92), '')}"
    return None
