"""Limits that keep hostile or broken input from hanging meshmigrate or exhausting memory.

Each limit has a default that no real mesh configuration comes near and an environment
variable that changes it (docs/bad-input.md). Input over a limit is refused whole: exit 2
with one line naming the file (and line), never a partial conversion.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from meshmigrate.errors import UsageError

KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
_SIZE = re.compile(r"(\d+)\s*([KMG]i?B?|B)?", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": KIB, "m": MIB, "g": GIB}


@dataclass(frozen=True, slots=True)
class Limits:
    """Sizes are in bytes (characters for text given as a string)."""

    #: One input file (or stdin). The objects take roughly ten times the text in memory.
    max_file_bytes: int = 256 * MIB
    #: All the input files of one command together.
    max_total_bytes: int = 512 * MIB
    #: One scalar (string or number). etcd stores a whole object in at most 1.5 MiB.
    max_scalar_bytes: int = 1 * MIB
    #: Nesting of mappings and sequences (Kubernetes objects nest about 10 deep).
    max_depth: int = 100
    #: Text that aliases (``*name``) may repeat, per file: a "billion laughs" file expands
    #: a few lines into gigabytes.
    max_alias_bytes: int = 16 * MIB
    #: Objects (after ``kind: List`` is flattened) in all the input.
    max_objects: int = 1_000_000
    #: YAML/JSON files found below the directories given with ``-f``.
    max_files: int = 100_000

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Limits:
        """The defaults, changed by ``MESHMIGRATE_MAX_FILE_BYTES`` and the like."""
        env = os.environ if environ is None else environ
        changes: dict[str, int] = {}
        for spec in fields(cls):
            raw = env.get(env_name(spec.name))
            if raw is not None and raw.strip():
                changes[spec.name] = _parse(spec.name, raw)
        return replace(cls(), **changes) if changes else cls()

    def describe(self, name: str) -> str:
        """``256 MiB (MESHMIGRATE_MAX_FILE_BYTES)``: the limit and how to change it."""
        value = getattr(self, name)
        shown = _size(value) if name.endswith("_bytes") else str(value)
        return f"{shown} ({env_name(name)})"


def env_name(name: str) -> str:
    return f"MESHMIGRATE_{name.upper()}"


def _parse(name: str, raw: str) -> int:
    found = _SIZE.fullmatch(raw.strip())
    unit = (found.group(2) or "")[:1].lower() if found else ""
    if found is None or (unit and not name.endswith("_bytes")):
        raise UsageError(f"{env_name(name)}={raw!r}: expected a whole number"
                         + (" (with an optional K, M or G suffix)" if name.endswith("_bytes")
                            else ""))
    return int(found.group(1)) * _UNITS[unit]


def _size(value: int) -> str:
    for unit, scale in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if value >= scale and value % scale == 0:
            return f"{value // scale} {unit}"
    return f"{value} bytes"
