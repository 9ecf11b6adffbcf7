"""SMI (Service Mesh Interface, archived 2023) -> the routing model (semantics.md §5).

:mod:`.converter` dispatches; :mod:`.split` turns a TrafficSplit into tables,
:mod:`.backends` reads its weighted backends, :mod:`.refs` resolves its ``matches``,
:mod:`.groups` reads HTTPRouteGroups and TCPRoutes, :mod:`.ports` tells HTTP from TCP
ports. Quantities, names and regex checks are shared with :mod:`converters.linkerd`.
"""

from converters.smi.converter import SmiConverter

CONVERTER = SmiConverter()

__all__ = ["CONVERTER", "SmiConverter"]
