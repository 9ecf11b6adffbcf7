"""Kubernetes resource quantities as exact fractions, and weights scaled to integers.

Linkerd ``dstOverrides[].weight`` and SMI ``TrafficSplit`` v1alpha1 ``backends[].weight``
are ``resource.Quantity`` values (``500m``, ``1``, ``10k``, ``1Ki``, ``1e3``). The grammar is
the one documented in ``k8s.io/apimachinery/pkg/api/resource/quantity.go``::

    <quantity> ::= <signedNumber><suffix>
    <suffix>   ::= <binarySI> | <decimalExponent> | <decimalSI>
    <binarySI> ::= Ki | Mi | Gi | Ti | Pi | Ei
    <decimalSI> ::= n | u | m | "" | k | M | G | T | P | E
    <decimalExponent> ::= "e" <signedNumber> | "E" <signedNumber>

Gateway API ``backendRef.weight`` is an integer in [0, 1000000].
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from fractions import Fraction

MAX_WEIGHT = 1_000_000

_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)"
_QUANTITY = re.compile(rf"({_NUMBER})(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|[numkMGTPE])?")
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def parse_quantity(value: str | int | float) -> Fraction | None:
    """The exact value of a quantity, or None when ``value`` is not one."""
    if isinstance(value, bool):
        return None
    text = repr(value) if isinstance(value, float) else str(value).strip()
    match = _QUANTITY.fullmatch(text)
    if match is None:
        return None
    number, suffix = Fraction(match.group(1)), match.group(2) or ""
    if suffix in _BINARY:
        return number * Fraction(1024) ** _BINARY[suffix]
    if suffix[:1] in "eE" and len(suffix) > 1:
        return number * Fraction(10) ** int(suffix[1:])
    return number * Fraction(10) ** _DECIMAL.get(suffix, 0)


def milli_value(quantity: Fraction) -> int:
    """``Quantity.MilliValue()``: the value in thousandths, rounded up (Linkerd's
    destination controller sends dstOverride weights as ``MilliValue() * 10``)."""
    return math.ceil(quantity * 1000)


def integer_weights(values: Sequence[Fraction],
                    limit: int = MAX_WEIGHT) -> tuple[tuple[int, ...], bool]:
    """Integers with the same ratios as ``values`` (all >= 0), reduced to lowest terms.

    Returns ``(weights, rounded)``: ``rounded`` is True only when the exact ratios need
    integers above ``limit`` and had to be approximated; a non-zero value never becomes 0.
    """
    if not values or not any(values):
        return tuple(0 for _ in values), False
    scale = math.lcm(*(v.denominator for v in values))
    ints = [int(v * scale) for v in values]
    divisor = math.gcd(*ints)
    ints = [i // divisor for i in ints]
    top = max(ints)
    if top <= limit:
        return tuple(ints), False
    approx = [max(1, round(Fraction(i * limit, top))) if i else 0 for i in ints]
    return tuple(approx), True
