"""Several VirtualServices for one host (semantics.md §8.8).

Sidecars do not merge them: configs are sorted by creation time and a later VirtualService
for a domain that is already taken is dropped ("duplicate domain", IST0109), so the oldest
wins. A table competes with the tables of other VirtualServices for the same Service,
protocol family and port whose clients include its own: a producer table with producer
tables; a consumer table for X with producer tables and consumer tables for X.
"""

from __future__ import annotations

from dataclasses import dataclass

from converters.istio.virtualservice import Candidate, VsResult
from meshmigrate.findings import Findings
from meshmigrate.model import Protocol


@dataclass(frozen=True, slots=True)
class Dropped:
    result: VsResult
    candidate: Candidate
    winner: VsResult


def resolve_duplicates(results: list[VsResult]) -> list[Dropped]:
    """Which candidate tables are not in effect, and which VirtualService is instead.

    Only tables for the same Service, protocol family and port can compete, so candidates
    are grouped by that first (linear in the number of VirtualServices, not quadratic)."""
    groups: dict[tuple[object, ...], list[tuple[VsResult, Candidate]]] = {}
    for res in results:
        for cand in res.candidates:
            groups.setdefault(_slot(cand), []).append((res, cand))
    dropped = []
    for res in results:
        for cand in res.candidates:
            entries = groups[_slot(cand)]
            rivals = [other for other, theirs in entries if _competes(theirs, cand)]
            winner = min(rivals, key=lambda r: r.age)
            if winner is not res:
                dropped.append(Dropped(res, cand, winner))
    return dropped


def _slot(cand: Candidate) -> tuple[object, ...]:
    """What two competing tables share (see :func:`_competes`)."""
    table = cand.table
    return (table.service, _family(table.protocol), table.port)


def report(drop: Dropped, findings: Findings) -> None:
    table = drop.candidate.table
    winner = drop.winner.env.doc
    findings.add(
        "DUPLICATE_HOST_IGNORED", drop.result.env.doc, drop.candidate.host_path,
        f"VirtualService {winner.namespace()}/{winner.name} is older and in effect for "
        f"{table.service}{_clients(drop)}; this one is ignored there (not merged)")


def _competes(theirs: Candidate, mine: Candidate) -> bool:
    a, b = theirs.table, mine.table
    return (a.service == b.service and _family(a.protocol) == _family(b.protocol)
            and a.port == b.port and a.consumer_namespace in (None, b.consumer_namespace))


def _family(protocol: Protocol) -> str:
    return "tcp" if protocol is Protocol.TCP else "http"


def _clients(drop: Dropped) -> str:
    ns = drop.candidate.table.consumer_namespace
    return f" for clients in {ns!r}" if ns else ""
