"""Durations: parse Gateway API (GEP-2257) and Go/protobuf durations, format canonically.

Gateway API durations (GEP-2257) must match ``^([0-9]{1,5}(h|m|s|ms)){1,4}$``: no fractions,
at most four components, each at most five digits. Meshes use Go ``time.ParseDuration`` or
protobuf JSON durations (``1.5s``, ``0.5s``, ``100ms``, ``2m``, ``1h30m``). Both parse here to
whole milliseconds, and :func:`format_duration` writes the one canonical GEP-2257 form
(largest units first, zero components left out, ``0s`` for zero), so that two equal durations
compare equal as strings: ``90s``, ``1m30s`` and ``0.025h`` all become ``1m30s``.

Sub-millisecond values cannot be written in GEP-2257 and raise :class:`DurationError`.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

__all__ = [
    "DurationError",
    "canonical_duration",
    "format_duration",
    "is_gep2257",
    "parse_duration_ms",
]

# GEP-2257, "Gateway API Duration Format": the exact validation regex of the CRDs.
_GEP2257 = re.compile(r"^([0-9]{1,5}(h|m|s|ms)){1,4}$")

# Go time.ParseDuration units (µ as U+00B5 or U+03BC), in milliseconds.
_UNIT_MS: dict[str, Decimal] = {
    "h": Decimal(3_600_000),
    "m": Decimal(60_000),
    "s": Decimal(1000),
    "ms": Decimal(1),
    "us": Decimal("0.001"),
    "\u00b5s": Decimal("0.001"),
    "\u03bcs": Decimal("0.001"),
    "ns": Decimal("0.000001"),
}
_GO_COMPONENT = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ms|us|\u00b5s|\u03bcs|ns|h|m|s)")

# Canonical output units, largest first.
_OUT_UNITS: tuple[tuple[str, int], ...] = (("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1))
_MAX_COMPONENT = 99_999  # GEP-2257: at most five digits per component


class DurationError(ValueError):
    """A duration string that cannot be parsed or cannot be written in GEP-2257 form."""


def is_gep2257(text: str) -> bool:
    """True if ``text`` is a valid Gateway API duration as written (GEP-2257 regex)."""
    return _GEP2257.fullmatch(text) is not None


def parse_duration_ms(text: str) -> int:
    """Milliseconds in a GEP-2257 or Go/protobuf duration (``1m30s``, ``1.5s``, ``0``).

    Raises :class:`DurationError` for malformed, negative or sub-millisecond durations.
    """
    raw = text.strip()
    if raw in ("0", "+0"):
        return 0
    if raw.startswith("-"):
        raise DurationError(f"negative duration {text!r}")
    total = _sum_components(raw.removeprefix("+"), text)
    if total != total.to_integral_value():
        raise DurationError(f"duration {text!r} is not a whole number of milliseconds")
    return int(total)


def _sum_components(raw: str, original: str) -> Decimal:
    """Sum ``<number><unit>`` components that must cover ``raw`` completely."""
    pos, total = 0, Decimal(0)
    while pos < len(raw):
        found = _GO_COMPONENT.match(raw, pos)
        if found is None:
            raise DurationError(f"invalid duration {original!r}")
        try:
            total += Decimal(found.group(1)) * _UNIT_MS[found.group(2)]
        except InvalidOperation as exc:  # pragma: no cover - the regex admits only numbers
            raise DurationError(f"invalid duration {original!r}") from exc
        pos = found.end()
    if pos == 0:
        raise DurationError(f"empty duration {original!r}")
    return total


def format_duration(milliseconds: int) -> str:
    """The canonical GEP-2257 form of a non-negative number of milliseconds (``1m30s``)."""
    if milliseconds < 0:
        raise DurationError(f"negative duration {milliseconds}ms")
    if milliseconds == 0:
        return "0s"
    parts: list[str] = []
    rest = milliseconds
    for unit, size in _OUT_UNITS:
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    if milliseconds // 3_600_000 > _MAX_COMPONENT:
        raise DurationError(f"{milliseconds}ms is too long for a Gateway API duration")
    return "".join(parts)


def canonical_duration(text: str) -> str:
    """Normalize any accepted duration to canonical GEP-2257 (``90s`` → ``1m30s``,
    ``1.5s`` → ``1s500ms``, ``0.5s`` → ``500ms``, ``0`` → ``0s``)."""
    return format_duration(parse_duration_ms(text))
