"""ServiceResolver ``subsets`` -> per-subset Services (semantics.md §6 ``serviceSubset``).

A subset is a ``bexpr`` filter over the catalog entry of each instance
(``Service.Meta.version == v1``). Only a conjunction of ``Service.Meta.<key> == <value>``
terms can become a Service selector, and only under the assumption that the metadata
equals the pods' labels (consul-k8s fills ``Service.Meta`` from
``consul.hashicorp.com/service-meta-*`` annotations, not from labels): the converter says
so each time (SUBSET_FILTER_AS_LABELS). Tags, node fields, negations and disjunctions cannot
be expressed (SUBSET_NOT_CONVERTIBLE).
"""

from __future__ import annotations

import re

_AND = re.compile(r"\s+and\s+")
_VALUE = r'"(?P<dq>[^"\\]*)"|`(?P<bq>[^`]*)`|(?P<bare>[A-Za-z0-9_.\-/]+)'
_TERM = re.compile(
    r'\s*Service\.Meta(?:\.(?P<key>[A-Za-z0-9_\-]+)|\["(?P<qkey>[^"]+)"\])\s*==\s*'
    rf'(?:{_VALUE})\s*')
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")


def filter_labels(expr: str) -> tuple[tuple[str, str], ...] | None:
    """Labels equivalent to ``expr`` (``()`` for an empty filter: every instance), or None
    when the filter is not a conjunction of ``Service.Meta`` equalities."""
    if not expr.strip():
        return ()
    labels: dict[str, str] = {}
    for term in _AND.split(expr.strip()):
        found = _TERM.fullmatch(term)
        if found is None:
            return None
        key = found["key"] or found["qkey"]
        value = next(v for v in (found["dq"], found["bq"], found["bare"]) if v is not None)
        if not _LABEL_NAME.fullmatch(key) or labels.get(key, value) != value:
            return None
        labels[key] = value
    return tuple(sorted(labels.items()))



