"""Validating the regular expressions of source configs, per dialect.

Python's ``re`` checks the syntax as an approximation of RE2 (Envoy, Istio, Consul, App
Mesh; Go ``regexp`` for SMI) and Rust ``regex`` (Linkerd); constructs none of those
engines support (look-around, back-references, atomic groups, conditionals) are rejected
explicitly, since Python would accept them.
"""

from __future__ import annotations

import re
import warnings

from meshmigrate.fields import View

#: Python-only syntax: look-around, atomic groups, conditionals, named and numbered
#: back-references, ``\Z`` (RE2 and Rust spell it ``\z``).
_UNSUPPORTED = re.compile(r"\(\?(?:<?[=!]|>|\(|P=)|(?<!\\)(?:\\\\)*\\(?:[1-9]|Z)")
_UNICODE_CLASS = re.compile(r"\\[pP](?:\{[^}]*\}|[A-Za-z])")
_NAMED_GROUP = re.compile(r"\(\?<(?=[A-Za-z_])")


def check_regex(view: View, key: str, pattern: str, engine: str = "RE2") -> None:
    """Raise an InputError at ``view.key`` when ``pattern`` is not a valid regex for
    ``engine`` (\"RE2\", \"Rust regex\" or \"Go regexp\")."""
    if _UNSUPPORTED.search(pattern):
        raise view.error(f"regular expression {pattern!r} uses look-around, a "
                         f"back-reference or other syntax {engine} does not support", key)
    approx = _NAMED_GROUP.sub("(?P<", _UNICODE_CLASS.sub("x", pattern)).replace(r"\z", r"\Z")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            re.compile(approx)
    except re.error as exc:
        raise view.error(f"invalid regular expression {pattern!r}: {exc}", key) from None
