"""Small helpers over :class:`meshmigrate.fields.View` shared by the Linkerd and SMI
converters."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from meshmigrate.fields import View


def mappings(view: View, key: str) -> Iterator[View]:
    """Items of the list ``key``, each checked to be a mapping (typed getters on anything
    else would silently read nothing)."""
    for item in view.list(key):
        if not isinstance(item.node, dict):
            raise item.error(f"expected a mapping, got {kind_of(item.node)}")
        yield item


def has_list(view: View, key: str) -> bool:
    """True when ``key`` holds a list, even an empty one (Go's ``!= nil``); type-checked."""
    if not isinstance(view.node, dict) or view.node.get(key) is None:
        return False
    if not isinstance(view.node[key], list):
        raise view.error(f"expected a list, got {kind_of(view.node[key])}", key)
    return True


def kind_of(value: Any) -> str:
    names = {str: "a string", int: "an integer", bool: "a boolean", list: "a list",
             float: "a number", dict: "a mapping"}
    return names.get(type(value), type(value).__name__)
