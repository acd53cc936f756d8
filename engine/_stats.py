"""Crawl figures: one record that the CLI summary, ``--stats-json`` and the API all reuse."""

from __future__ import annotations

import time

import msgspec

from ..ipc.messages import Outcome

__all__ = ["CrawlStats", "Progress", "StatsCollector", "Tally"]


class Progress(msgspec.Struct):
    """A snapshot handed to progress callbacks about twice a second (and, as JSON lines on
    SHOAL_PROGRESS_FD, to the daemon: zero until the first one comes)."""

    pages: int = 0
    queued: int = 0
    in_flight: int = 0
    errors: int = 0
    elapsed_s: float = 0.0
    pages_per_s: float = 0.0


class Tally(msgspec.Struct):
    """Counts of committed outcomes. The state keeps one over all runs (updated in the same
    transaction as the pages), and each commit returns the part it added."""

    pages: int = 0
    bytes: int = 0
    retries: int = 0
    robots_disallowed: int = 0
    status_counts: dict[str, int] = msgspec.field(default_factory=dict)
    errors: dict[str, int] = msgspec.field(default_factory=dict)
    #: Links not followed because of a crawler-trap limit, by reason.
    links_skipped: dict[str, int] = msgspec.field(default_factory=dict)
    #: Pages found as they were at the last fetch (--refresh: a 304, or the same body).
    unchanged: int = 0

    def skip(self, reason: str, n: int = 1) -> None:
        self.links_skipped[reason] = self.links_skipped.get(reason, 0) + n

    def add(self, outcome: Outcome) -> None:
        if outcome.skipped:
            for reason, n in outcome.skipped.items():
                self.skip(reason, n)
        if outcome.retry_at is not None:
            self.retries += 1
            return
        if outcome.error == "robots_disallowed":
            self.robots_disallowed += 1
            return
        self.pages += 1
        self.unchanged += outcome.unchanged
        self.bytes += outcome.nbytes
        if outcome.status:
            key = str(outcome.status)
            self.status_counts[key] = self.status_counts.get(key, 0) + 1
        if outcome.error is not None:
            self.errors[outcome.error] = self.errors.get(outcome.error, 0) + 1

    def merge(self, other: Tally) -> None:
        self.pages += other.pages
        self.bytes += other.bytes
        self.retries += other.retries
        self.robots_disallowed += other.robots_disallowed
        self.unchanged += other.unchanged
        for mine, theirs in (
            (self.status_counts, other.status_counts),
            (self.errors, other.errors),
            (self.links_skipped, other.links_skipped),
        ):
            for key, n in theirs.items():
                mine[key] = mine.get(key, 0) + n


class CrawlStats(Tally):
    """The figures of one run: its tally, its pace, and where its output and state are."""

    pages_per_s: float = 0.0
    elapsed_s: float = 0.0
    queued_left: int = 0
    pages_in_state: int = 0
    workers: int = 0
    worker_restarts: int = 0
    parse_pool_restarts: int = 0
    loop_lag_max_ms: float = 0.0  # worst over all workers' event loops
    supervisor_loop_lag_max_ms: float = 0.0
    stopped_by: str = "complete"
    state: str | None = None
    output: str | None = None
    #: All runs of this state file together (differs from the above after --resume).
    totals: Tally | None = None


class StatsCollector:
    """This run's figures: what was committed (a :class:`Tally`) and the clock."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.tally = Tally()
        self.worker_restarts = 0

    @property
    def pages(self) -> int:
        return self.tally.pages

    @property
    def errors(self) -> int:
        return sum(self.tally.errors.values())

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def rate(self) -> float:
        elapsed = self.elapsed
        return self.pages / elapsed if elapsed > 0 else 0.0

    def snapshot(self) -> CrawlStats:
        stats = CrawlStats(pages_per_s=round(self.rate(), 2), elapsed_s=round(self.elapsed, 3))
        stats.merge(self.tally)
        stats.status_counts = dict(sorted(stats.status_counts.items(), key=lambda kv: int(kv[0])))
        stats.errors = dict(sorted(stats.errors.items(), key=lambda kv: -kv[1]))
        stats.worker_restarts = self.worker_restarts
        return stats
