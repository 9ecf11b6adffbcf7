"""SMI ``specs.smi-spec.io`` HTTPRouteGroup and TCPRoute -> matches and ports.

HTTPRouteGroup (traffic-specs v1alpha1–v1alpha4): a list of named matches, ORed; inside a
match ``pathRegex``, ``methods`` and ``headers`` are ANDed. "A regex is used to match against
the URI and is anchored (``^``) to the beginning of the URI" — so the path regex is anchored
at the start only. ``methods: ["*"]`` means every method. ``headers`` maps a header name to a
regex (v1alpha3+); older documents (and the traffic-split examples) write a list of
one-entry maps. Implementations matched header regexes with Envoy/Go RE2 as a whole-value
match (OSM), which is the model's regex header semantics. v1alpha1/v1alpha2 put ``matches``
at the top level of the object, later versions under ``spec``; both are read.

TCPRoute: v1alpha4 lists ``spec.matches.ports``; no ports (or an older version) means every
port of the Service.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from converters.linkerd.viewutil import kind_of, mappings
from meshmigrate.fields import View
from meshmigrate.model import Anchor, Dialect, Match, PathKind, PathMatch, StringMatch, StrKind
from meshmigrate.regexes import check_regex
from meshmigrate.sources import Document, FieldPath

ENGINE = "Go regexp"


@dataclass
class RouteGroup:
    """One HTTPRouteGroup or TCPRoute, parsed on first use (only referenced ones are read)."""

    doc: Document
    view: View = field(init=False)
    used: bool = False

    def __post_init__(self) -> None:
        self.view = View(self.doc)

    @property
    def kind(self) -> str:
        return self.doc.kind

    @property
    def roots(self) -> tuple[str, ...]:
        """Top-level keys holding this object's routing fields (for unconsumed checks)."""
        return ("spec", "matches")


def matches_view(group: RouteGroup) -> View:
    """Where the HTTPRouteGroup's match list lives (top level in v1alpha1/v1alpha2)."""
    if "matches" in group.view:
        return group.view
    return group.view.map("spec") or group.view.at("spec")


def http_matches(group: RouteGroup) -> tuple[tuple[Match, ...], FieldPath]:
    """The group's matches (ORed) and the field path of its match list."""
    parent = matches_view(group)
    out = tuple(_match(item) for item in mappings(parent, "matches"))
    return out, (*parent.path, "matches")


def _match(item: View) -> Match:
    item.req_str("name")
    return Match(path=_path(item), methods=_methods(item), headers=_headers(item),
                 origin=item.path)


def _path(item: View) -> PathMatch | None:
    regex = item.str("pathRegex")
    if not regex:
        return None
    check_regex(item, "pathRegex", regex, ENGINE)
    return PathMatch(PathKind.REGEX, regex, dialect=Dialect.GO, anchor=Anchor.START)


def _methods(item: View) -> frozenset[str] | None:
    methods = item.str_list("methods")
    if not methods or "*" in methods:
        return None
    return frozenset(methods)


def _headers(item: View) -> tuple[StringMatch, ...]:
    raw = item.node.get("headers")
    if raw is None:
        return ()
    if isinstance(raw, dict):
        return _header_map(item.at("headers"))
    if isinstance(raw, list):
        return tuple(h for entry in mappings(item, "headers") for h in _header_map(entry))
    raise item.error(f"expected a mapping, got {kind_of(raw)}", "headers")


def _header_map(view: View) -> tuple[StringMatch, ...]:
    out: list[StringMatch] = []
    for name in view.node:
        value = view.scalar(str(name))
        if value is None:
            continue
        check_regex(view, str(name), str(value), ENGINE)
        out.append(StringMatch(str(name).lower(), StrKind.REGEX, str(value),
                               dialect=Dialect.GO))
    return tuple(out)


def tcp_ports(group: RouteGroup) -> frozenset[int] | None:
    """The TCPRoute's ports, or None for every port."""
    spec = group.view.map("spec")
    matches = spec.map("matches") if spec is not None else None
    if matches is None:
        return None
    raw = matches.node.get("ports") or []
    if not isinstance(raw, list):
        raise matches.error(f"expected a list, got {kind_of(raw)}", "ports")
    ports: set[int] = set()
    for index, value in enumerate(raw):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
            raise matches.at("ports").error(f"expected a port number, got {value!r}", index)
    ports.update(raw)
    matches.use("ports")
    return frozenset(ports) or None
