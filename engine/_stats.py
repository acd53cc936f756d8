"""Crawl figures: one record that the CLI summary, ``--stats-json`` and the API all reuse."""

from __future__ import annotations

import collections
import time

import msgspec

from ..ipc.messages import Outcome

__all__ = ["CrawlStats", "Progress", "StatsCollector"]


class Progress(msgspec.Struct):
    """A snapshot handed to progress callbacks about twice a second."""

    pages: int
    queued: int
    in_flight: int
    errors: int
    elapsed_s: float
    pages_per_s: float


class CrawlStats(msgspec.Struct):
    pages: int = 0
    pages_per_s: float = 0.0
    bytes: int = 0
    elapsed_s: float = 0.0
    status_counts: dict[str, int] = msgspec.field(default_factory=dict)
    errors: dict[str, int] = msgspec.field(default_factory=dict)
    retries: int = 0
    robots_disallowed: int = 0
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


class StatsCollector:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.pages = 0
        self.bytes = 0
        self.retries = 0
        self.robots_disallowed = 0
        self.status = collections.Counter[int]()
        self.errors = collections.Counter[str]()
        self.worker_restarts = 0

    def add(self, outcome: Outcome) -> None:
        if outcome.retry_at is not None:
            self.retries += 1
            return
        if outcome.error == "robots_disallowed":
            self.robots_disallowed += 1
            return
        self.pages += 1
        self.bytes += outcome.nbytes
        if outcome.status:
            self.status[outcome.status] += 1
        if outcome.error is not None:
            self.errors[outcome.error] += 1

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def rate(self) -> float:
        elapsed = self.elapsed
        return self.pages / elapsed if elapsed > 0 else 0.0

    def snapshot(self) -> CrawlStats:
        return CrawlStats(
            pages=self.pages,
            pages_per_s=round(self.rate(), 2),
            bytes=self.bytes,
            elapsed_s=round(self.elapsed, 3),
            status_counts={str(k): v for k, v in sorted(self.status.items())},
            errors=dict(self.errors.most_common()),
            retries=self.retries,
            robots_disallowed=self.robots_disallowed,
            worker_restarts=self.worker_restarts,
        )
