"""Linkerd retry/timeout annotations (--target linkerd) and rule grouping."""

from __future__ import annotations

import pytest

from meshmigrate.linkerd_annotations import (
    annotation_groups,
    annotations_for,
    format_duration,
    http_codes,
)
from meshmigrate.model import RetryPolicy, Rule


@pytest.mark.parametrize(("codes", "expected"), [
    (range(500, 600), "5xx"),
    ((502, 503, 504), "gateway-error"),
    ((503,), "503"),
    ((500, 501, 502, 503), "500-503"),
    ((429, *range(500, 600)), "429,5xx"),
    ((504, 502, 503, 503), "gateway-error"),
    ((409, 500, 502, 503, 504), "409,500,gateway-error"),
    ((500, 502, 503, 504), "500,gateway-error"),
    (range(500, 599), "500-598"),
])
def test_http_codes_compressed(codes: tuple[int, ...], expected: str) -> None:
    assert http_codes(codes) == expected


@pytest.mark.parametrize(("ms", "text"), [(10_000, "10s"), (1_500, "1500ms"), (0, "0s"),
                                          (60_000, "60s"), (1, "1ms")])
def test_format_duration(ms: int, text: str) -> None:
    assert format_duration(ms) == text


def test_annotations_http_retry_and_timeout() -> None:
    retry = RetryPolicy(attempts=2, codes=tuple(range(500, 600)), per_try_timeout_ms=250)
    assert annotations_for(retry, 10_000, grpc=False) == {
        "retry.linkerd.io/http": "5xx",
        "retry.linkerd.io/limit": "2",
        "retry.linkerd.io/timeout": "250ms",
        "timeout.linkerd.io/request": "10s",
    }


def test_annotations_keys_sorted_and_limit_explicit() -> None:
    out = annotations_for(RetryPolicy(attempts=1, codes=(503,)), None, grpc=False)
    assert list(out) == sorted(out)
    assert out == {"retry.linkerd.io/http": "503", "retry.linkerd.io/limit": "1"}


def test_annotations_grpc_uses_grpc_key_only() -> None:
    retry = RetryPolicy(attempts=3, codes=(503,), conditions=("unavailable", "Cancelled",
                                                              "connect-failure"))
    assert annotations_for(retry, None, grpc=True) == {
        "retry.linkerd.io/grpc": "unavailable,cancelled",
        "retry.linkerd.io/limit": "3",
    }


def test_annotations_zero_attempts_and_none() -> None:
    assert annotations_for(RetryPolicy(attempts=0, codes=(503,)), None, grpc=False) == {}
    assert annotations_for(None, None, grpc=False) == {}
    assert annotations_for(None, 1_000, grpc=True) == {"timeout.linkerd.io/request": "1s"}


def test_annotations_retry_without_codes_keeps_limit() -> None:
    assert annotations_for(RetryPolicy(attempts=1), None, grpc=False) == {
        "retry.linkerd.io/limit": "1"}


def test_groups_by_uniform_values_in_first_rule_order() -> None:
    retry = RetryPolicy(attempts=1, codes=tuple(range(500, 600)))
    rules = [Rule(name="a", timeout_ms=10_000), Rule(name="b", timeout_ms=10_000, retry=retry),
             Rule(name="c", timeout_ms=10_000), Rule(name="d"), Rule(name="e", retry=retry,
                                                                     timeout_ms=10_000)]
    groups = annotation_groups(rules)
    assert groups == [
        ({"timeout.linkerd.io/request": "10s"}, [0, 2]),
        ({"retry.linkerd.io/http": "5xx", "retry.linkerd.io/limit": "1",
          "timeout.linkerd.io/request": "10s"}, [1, 4]),
        ({}, [3]),
    ]


def test_groups_single_group_when_uniform() -> None:
    rules = [Rule(name=str(i), timeout_ms=2_000) for i in range(3)]
    assert annotation_groups(rules) == [({"timeout.linkerd.io/request": "2s"}, [0, 1, 2])]


def test_groups_empty() -> None:
    assert annotation_groups([]) == []


def test_groups_grpc_flag() -> None:
    retry = RetryPolicy(attempts=1, codes=(503,), conditions=("unavailable",))
    rules = [Rule(retry=retry), Rule(retry=RetryPolicy(attempts=1, codes=(500,),
                                                       conditions=("unavailable",)))]
    assert len(annotation_groups(rules)) == 2
    assert annotation_groups(rules, grpc=True) == [
        ({"retry.linkerd.io/grpc": "unavailable", "retry.linkerd.io/limit": "1"}, [0, 1])]
