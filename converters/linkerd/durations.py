"""Go ``time.ParseDuration`` strings (Linkerd ServiceProfile ``timeout`` and
``retryBudget.ttl`` are parsed with it) -> milliseconds.

Go's grammar: an optional sign, then one or more ``<decimal><unit>`` parts, units ``ns``,
``us``/``µs``/``μs``, ``ms``, ``s``, ``m``, ``h``; the bare string ``0`` is also valid.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from meshmigrate.fields import View

_UNIT_MS = {"ns": Fraction(1, 1_000_000), "us": Fraction(1, 1000), "µs": Fraction(1, 1000),
            "μs": Fraction(1, 1000), "ms": Fraction(1), "s": Fraction(1000),
            "m": Fraction(60_000), "h": Fraction(3_600_000)}
_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_WHOLE = re.compile(rf"([+-]?)((?:{_PART.pattern})+)")


def parse_go_duration(text: str) -> Fraction | None:
    """Exact milliseconds for a Go duration, or None when Go would reject it."""
    if text in ("0", "+0", "-0"):
        return Fraction(0)
    whole = _WHOLE.fullmatch(text)
    if whole is None:
        return None
    total = sum((Fraction(num) * _UNIT_MS[unit] for num, unit in _PART.findall(whole[2])),
                Fraction(0))
    return -total if whole[1] == "-" else total


def duration_ms(view: View, key: str) -> int | None:
    """The non-negative Go duration ``key`` of ``view`` in whole milliseconds (absent ->
    None). A positive duration below 1 ms rounds up to 1 ms so it never becomes 0."""
    text = view.str(key)
    if text is None:
        return None
    value = parse_go_duration(text.strip())
    if value is None:
        raise view.error(f"invalid duration {text!r} (expected a Go duration such as "
                         "10s, 1.5s, 300ms or 1m30s)", key)
    if value < 0:
        raise view.error(f"negative duration {text!r}", key)
    return math.ceil(value)
