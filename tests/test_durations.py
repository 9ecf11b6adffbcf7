"""Duration parsing and canonical GEP-2257 formatting."""

from __future__ import annotations

import pytest

from meshmigrate.semantics.durations import (
    DurationError,
    canonical_duration,
    format_duration,
    is_gep2257,
    parse_duration_ms,
)


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("0s", 0),
        ("0", 0),
        ("100ms", 100),
        ("1s", 1000),
        ("1s500ms", 1500),
        ("1.5s", 1500),
        ("0.5s", 500),
        (".25s", 250),
        ("2m", 120_000),
        ("90s", 90_000),
        ("1m30s", 90_000),
        ("1h30m", 5_400_000),
        ("1h0m0s", 3_600_000),
        ("0.025h", 90_000),
        ("1000us", 1),
        ("2000000ns", 2),
        ("1.000s", 1000),
        ("1s1s", 2000),  # Go and GEP-2257 both sum repeated units
    ],
)
def test_parse_duration_ms(text: str, ms: int) -> None:
    assert parse_duration_ms(text) == ms


@pytest.mark.parametrize("text", ["", "s", "1", "1x", "1.5", "-1s", "1s-", "1 s", "abc", "1.0005s",
                                  "1us", "10ns"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration_ms(text)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("90s", "1m30s"),
        ("1m30s", "1m30s"),
        ("1.5s", "1s500ms"),
        ("1500ms", "1s500ms"),
        ("0.5s", "500ms"),
        ("0s", "0s"),
        ("0ms", "0s"),
        ("3600s", "1h"),
        ("25h", "25h"),
        ("1h1m1s1ms", "1h1m1s1ms"),
        ("61m", "1h1m"),
    ],
)
def test_canonical_duration(text: str, canonical: str) -> None:
    assert canonical_duration(text) == canonical
    assert is_gep2257(canonical)


def test_equal_durations_compare_equal() -> None:
    assert canonical_duration("90s") == canonical_duration("1m30s") == canonical_duration("1.5m")


def test_format_duration_bounds() -> None:
    assert format_duration(1) == "1ms"
    with pytest.raises(DurationError):
        format_duration(-1)
    with pytest.raises(DurationError):
        format_duration(100_000 * 3_600_000)


@pytest.mark.parametrize(
    ("text", "valid"),
    [("1s", True), ("1s500ms", True), ("1h2m3s4ms", True), ("1.5s", False), ("123456s", False),
     ("1h1h1h1h1h", False), ("", False), ("10", False)],
)
def test_is_gep2257(text: str, valid: bool) -> None:
    assert is_gep2257(text) is valid
