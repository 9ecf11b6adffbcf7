"""Reading Istio duration fields (Go / protobuf durations: ``10s``, ``1.5s``, ``100ms``)."""

from __future__ import annotations

from meshmigrate.fields import View
from meshmigrate.semantics.durations import DurationError, parse_duration_ms


def duration_ms(view: View, key: str) -> int | None:
    """The duration field ``key`` of ``view`` in milliseconds (absent -> None; malformed ->
    InputError naming the field)."""
    text = view.str(key)
    if text is None:
        return None
    try:
        return parse_duration_ms(text)
    except DurationError as exc:
        raise view.error(f"{exc} (expected e.g. 10s, 1.5s, 100ms, 1m)", key) from None
