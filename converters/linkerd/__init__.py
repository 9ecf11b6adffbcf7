"""Linkerd ServiceProfiles -> the routing model (semantics.md §4).

Pipeline: :mod:`.profile` (one table per ServiceProfile) -> :mod:`.routes` (one rule per
route) -> :mod:`.conditions` (condition tree to normal form) -> :mod:`.matches`; retries and
timeouts in :mod:`.retries` / :mod:`.responses`; ``dstOverrides`` in :mod:`.overrides`.
:mod:`.quantity`, :mod:`.names`, :mod:`.regex` are shared with the SMI converter.
"""

from converters.linkerd.converter import LinkerdConverter

CONVERTER = LinkerdConverter()

__all__ = ["CONVERTER", "LinkerdConverter"]
