"""Consul durations (Kubernetes ``metav1.Duration``: Go ``time.ParseDuration`` strings such
as ``10s``, ``1m30s``, ``-1s``) and the request-timeout rules of Consul's xDS generator.

``agent/xds/routes.go``: a positive ``RequestTimeout`` becomes the Envoy route timeout, a
negative one disables it (Envoy ``0s``), and zero/unset leaves Envoy's default route
timeout of **15 s** (the service-resolver reference lists ``RequestTimeout`` default ``15s``).
"""

from __future__ import annotations

from meshmigrate.fields import View
from meshmigrate.semantics.durations import DurationError, parse_duration_ms

DEFAULT_TIMEOUT_MS = 15_000
DISABLED = -1


def duration_ms(view: View, key: str) -> int | None:
    """The duration field ``key``: None when absent, :data:`DISABLED` when negative, else
    whole milliseconds (malformed -> InputError naming the field)."""
    text = view.str(key)
    if text is None:
        return None
    raw = text.strip()
    try:
        value = parse_duration_ms(raw.removeprefix("-"))
    except DurationError as exc:
        raise view.error(f"{exc} (expected a Go duration such as 10s, 1m30s, 500ms)",
                         key) from None
    return DISABLED if raw.startswith("-") and value else value


def effective_timeout(value: int | None) -> tuple[int | None, bool]:
    """``(timeout_ms, is_default)`` for a route whose configured timeout is ``value``."""
    if not value:
        return DEFAULT_TIMEOUT_MS, True
    if value == DISABLED:
        return None, False
    return value, False
