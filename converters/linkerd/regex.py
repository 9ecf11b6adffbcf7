"""Regular expressions of the source meshes: validation and Linkerd's anchoring.

Linkerd compiles ServiceProfile ``pathRegex`` with the Rust ``regex`` crate after trimming
it and adding ``^`` / ``$`` only where missing (``linkerd2-proxy
linkerd/service-profiles/src/proto.rs`` ``convert_req_match``), then tests it with
``is_match`` (a search). The anchors are added without a group, so ``/a|/b`` becomes
``^/a|/b$``: "starts with /a OR ends with /b", not a full match. SMI implementations use Go
``regexp`` (RE2 syntax).

Python's ``re`` validates the syntax as an approximation; constructs neither RE2 nor Rust
support (look-around, back-references) are rejected explicitly.
"""

from __future__ import annotations

from meshmigrate.regexes import check_regex

__all__ = ["check_regex", "linkerd_path_regex"]

def linkerd_path_regex(raw: str) -> tuple[str, bool]:
    """The full-match regex equivalent to what the Linkerd proxy matches for ``raw``.

    Returns ``(pattern, partial)``. Usually ``pattern`` is ``raw`` without the anchors the
    proxy would add (``partial`` False). When the proxy's anchors do not cover the whole
    expression (a top-level ``|``, or an escaped trailing ``\\$``), ``pattern`` wraps the
    proxy's searched regex as ``(?s:.*)(?:^…$)(?s:.*)``, which full-matches exactly the
    paths the search finds (``^``/``$`` assert the text's ends), and ``partial`` is True.
    """
    text = raw.strip()
    head = "" if text.startswith("^") else "^"
    tail = "" if text.endswith("$") else "$"
    searched = f"{head}{text}{tail}"
    inner = searched[1:-1]
    if _ends_with_escape(inner) or has_top_level_alternation(inner):
        return f"(?s:.*)(?:{searched})(?s:.*)", True
    return inner, False


def _ends_with_escape(text: str) -> bool:
    """True when the character after ``text`` would be escaped (odd trailing backslashes)."""
    return (len(text) - len(text.rstrip("\\"))) % 2 == 1


def has_top_level_alternation(pattern: str) -> bool:
    """True when ``pattern`` has a ``|`` outside every group and character class."""
    depth = klass = 0
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if klass:
            klass += {"[": 1, "]": -1}.get(char, 0)
        elif char == "[":
            klass, i = 1, _skip_class_start(pattern, i + 1)
            continue
        else:
            depth += {"(": 1, ")": -1}.get(char, 0)
            if char == "|" and depth == 0:
                return True
        i += 1
    return False


def _skip_class_start(pattern: str, i: int) -> int:
    """Skip a leading ``^`` and a leading literal ``]`` of a character class."""
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1
    return i
