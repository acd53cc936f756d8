"""The crawl state behind one small interface: frontier, seen set, leases, committed output.

Invariant: every URL the crawl has seen is in exactly one of four states, *queued*, *leased*
(held by one worker), *done*, or *capped* (seen, over a crawler-trap cap, never fetched),
never two; and a page is *done* only in the same transaction that stores the records it
produced. Output records wait in an *outbox* until they are in the output file, so a crash
between the two loses nothing and duplicates nothing.

The embedded implementation is :class:`shoal.engine._sqlite_state.SQLiteState`; a Redis one will
implement the same protocol for crawls spread across machines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import msgspec

from ..ipc.messages import Outcome, Request
from ._stats import Tally

__all__ = ["Caps", "CommitSummary", "StateBackend", "StateCounts"]


class Caps(msgspec.Struct, frozen=True):
    """Crawler-trap caps the state applies as it admits new URLs (0: no cap).

    ``per_pattern`` counts per :func:`shoal.engine._traps.pattern_key`. A URL over a cap is
    kept as *capped*: seen, so it is not counted again each time it is linked, never leased.
    """

    per_host: int = 0
    per_pattern: int = 0


class StateCounts(msgspec.Struct):
    queued: int = 0
    leased: int = 0
    done: int = 0


class CommitSummary(msgspec.Struct):
    """What one commit did: pages finished, retries queued, new URLs added to the frontier,
    and the tally of the outcomes it applied (stale ones are neither applied nor counted)."""

    done: int = 0
    retried: int = 0
    new_urls: int = 0
    items: int = 0
    tally: Tally = msgspec.field(default_factory=Tally)


class StateBackend(Protocol):
    async def add(self, requests: Sequence[Request]) -> int:
        """Queue requests not seen before; returns how many were new."""

    async def lease(
        self, worker: int, limit: int, host_room: Mapping[str, int] | None, default_room: int
    ) -> list[Request]:
        """Lease up to ``limit`` queued requests that are due, breadth-first within each host.

        ``host_room`` says how many more a host may have leased right now (``default_room`` for
        hosts not named), so one slow host cannot take every worker's capacity.
        """

    async def commit(self, worker: int, outcomes: Sequence[Outcome]) -> CommitSummary:
        """Atomically: finish or re-queue each outcome's request, queue its new links, and put
        its records in the outbox."""

    async def refresh(self) -> int:
        """Queue every finished request again, keeping what was learnt of it (its validators
        and body hash), for a conditional re-crawl; returns how many."""

    async def hand_back(self, requests: Sequence[Request], *, crashed: bool) -> None:
        """Return leased requests to the queue (``crashed`` counts it as an attempt)."""

    async def flush_output(self) -> int:
        """Move the outbox into the output file; returns the number of records written."""

    def counts_nowait(self) -> StateCounts:
        """Queued, leased and done, as of the last finished call (no I/O)."""

    def totals_nowait(self) -> Tally:
        """Figures over every run of this crawl, as of the last commit (no I/O)."""

    async def next_due(self) -> float | None:
        """The earliest ``time.time()`` at which a queued-but-not-yet-due request is due."""

    async def aclose(self) -> None: ...
