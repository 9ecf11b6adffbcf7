"""``Headers`` blocks (virtual_service.proto ``Headers.HeaderOperations``) -> HeaderOps."""

from __future__ import annotations

from dataclasses import replace

from converters.istio.context import Env
from meshmigrate.fields import View
from meshmigrate.model import HeaderOps

#: Setting either of these rewrites the authority (Istio turns it into a host rewrite).
HOST_HEADERS = ("host", ":authority")
#: No operations: one shared value (most rules and destinations have none).
NO_OPS = HeaderOps()


def header_ops(view: View | None) -> HeaderOps:
    """set / add / remove, names lower-cased (HTTP header names are case-insensitive)."""
    if view is None:
        return NO_OPS
    ops = HeaderOps(set=_pairs(view.str_map("set")), add=_pairs(view.str_map("add")),
                    remove=tuple(name.lower() for name in view.str_list("remove")))
    return ops if ops else NO_OPS


def headers_block(parent: View) -> tuple[HeaderOps, HeaderOps]:
    """The (request, response) operations of ``parent.headers``."""
    if "headers" not in parent.node:  # a mapping (mappings() checked it)
        return NO_OPS, NO_OPS
    block = parent.map("headers")
    if block is None:
        return NO_OPS, NO_OPS
    return header_ops(block.map("request")), header_ops(block.map("response"))


def split_host_rewrite(ops: HeaderOps, rule: View, env: Env) -> tuple[HeaderOps, str | None]:
    """``headers.request.set`` of ``host`` / ``:authority`` is an authority rewrite in Istio
    (semantics.md §3.3), so it leaves the header set and becomes ``rewrite_host``."""
    host = next((value for name, value in ops.set if name in HOST_HEADERS), None)
    if host is None:
        return ops, None
    env.report("HOST_REWRITE", rule.at("headers").at("request").at("set"),
               f"setting the Host header to {host!r} is a hostname rewrite")
    kept = tuple((name, value) for name, value in ops.set if name not in HOST_HEADERS)
    return replace(ops, set=kept), host


def _pairs(values: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((name.lower(), value) for name, value in values.items())
