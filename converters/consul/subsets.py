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

import hashlib
import re
from collections.abc import Mapping

from meshmigrate.model import ServiceInfo, ServiceRef

_AND = re.compile(r"\s+and\s+")
_VALUE = r'"(?P<dq>[^"\\]*)"|`(?P<bq>[^`]*)`|(?P<bare>[A-Za-z0-9_.\-/]+)'
_TERM = re.compile(
    r'\s*Service\.Meta(?:\.(?P<key>[A-Za-z0-9_\-]+)|\["(?P<qkey>[^"]+)"\])\s*==\s*'
    rf'(?:{_VALUE})\s*')
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_MAX_NAME = 63


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


def subset_service(parent: ServiceInfo, subset: str, labels: tuple[tuple[str, str], ...],
                   services: Mapping[ServiceRef, ServiceInfo]) -> tuple[ServiceRef, bool]:
    """The per-subset Service ``<parent>-<subset>`` and whether it must be created. A
    Service of that name already in the input is used as it is when it selects exactly the
    subset's pods (the parent's selector plus ``labels``); otherwise the name gets a hash."""
    selector = tuple(sorted({**dict(parent.selector or ()), **dict(labels)}.items()))
    ref = parent.ref
    for hashed in (False, True):
        ref = ServiceRef(parent.ref.namespace, _name(parent.ref.name, subset, hashed))
        existing = services.get(ref)
        if existing is None:
            return ref, True
        if existing.selector == selector:
            return ref, False
    return ref, True


def _name(parent: str, subset: str, hashed: bool) -> str:
    """``reviews`` + ``v1`` -> ``reviews-v1`` (lower-cased, other characters -> ``-``), cut to
    a DNS label; a hash of the raw name when cut or when told to."""
    raw = f"{parent}-{subset}"
    name = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]", "-", raw.lower())).strip("-")
    if not hashed and len(name) <= _MAX_NAME:
        return name
    digest = hashlib.sha256(raw.encode()).hexdigest()[:8]
    return f"{name[:_MAX_NAME - 9].rstrip('-')}-{digest}"
