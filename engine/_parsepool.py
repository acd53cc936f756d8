"""A worker's parse processes: CPU work off the event loop, in batches, surviving crashes.

Every hand-off to a ``ProcessPoolExecutor`` costs a pickle, a pipe write, a lock and a wake-up
in both processes; per page that was more CPU on the worker's event loop than the fetch
itself. Responses waiting for a parse are therefore sent together: whatever is pending when
the loop gets round to it goes out in at most ``processes`` batches (each at most
``max_batch`` long), so all parse processes stay busy and no page waits for a batch to fill.

A parse process that dies (a parser crash, the OOM killer) breaks the whole pool, and every
page in flight on it fails with it. The pool is restarted and those pages are quarantined:
parsed again one at a time, with nothing else in flight, so that a page is recorded as
``parse_crashed`` only when it killed a process while it was the only page being parsed.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import psutil

from ._proc import die_with_parent, ignore_stop_signals

__all__ = ["ParseCrashedError", "ParsePool"]


class ParseCrashedError(Exception):
    """The page's parse process died while parsing it, on its own, after a restart."""


def _pool_init() -> None:
    die_with_parent()
    ignore_stop_signals()


def _run_batch(fn: Callable[[Any], Any], items: list[Any]) -> list[tuple[bool, Any]]:
    """In the parse process: ``(True, result)`` or ``(False, repr(error))`` per item, so one
    page's failure is that page's alone."""
    results: list[tuple[bool, Any]] = []
    for item in items:
        try:
            results.append((True, fn(item)))
        except Exception as exc:  # the plugin's parse failed on this page
            results.append((False, repr(exc)))
    return results


class _Job:
    __slots__ = ("fn", "future", "item")

    def __init__(self, fn: Callable[[Any], Any], item: Any, future: asyncio.Future[Any]) -> None:
        self.fn = fn
        self.item = item
        self.future = future


class ParsePool:
    """Use as ``async with ParsePool(n) as pool: result = await pool.parse(fn, item)``."""

    def __init__(self, processes: int, *, max_batch: int = 16) -> None:
        self.processes = processes
        self.max_batch = max_batch
        self.restarts = 0
        self._executor: ProcessPoolExecutor | None = None
        self._generation = 0
        self._pending: list[_Job] = []
        # Invariant: a job is pending, in flight, quarantined, or done; never two.
        self._in_flight: set[_Job] = set()
        self._quarantine: collections.deque[_Job] = collections.deque()
        self._flush_scheduled = False
        self._restarting: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ParsePool:
        await self._start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def parse(self, fn: Callable[[Any], Any], item: Any) -> Any:
        """``fn(item)`` in a parse process. Raises ``ValueError`` with the error's repr when
        ``fn`` failed, :class:`ParseCrashedError` when it killed its process."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append(_Job(fn, item, future))
        self._schedule_flush()
        return await future

    async def aclose(self) -> None:
        """Stop the parse processes: ask, wait a moment, then kill what is left.

        ``shutdown`` alone can leave the worker waiting at exit for a parse process that is
        slow to go (seen here: seconds), and a hung parse must never keep a worker alive.
        """
        if self._restarting is not None:
            self._restarting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._restarting
        for job in [*self._pending, *self._in_flight, *self._quarantine]:
            job.future.cancel()
        self._pending, self._in_flight, self._quarantine = [], set(), collections.deque()
        executor, self._executor = self._executor, None
        if executor is None:
            return
        executor.shutdown(wait=False, cancel_futures=True)
        children = []
        for child in psutil.Process().children():
            with contextlib.suppress(psutil.Error):
                if "resource_tracker" not in " ".join(child.cmdline()):
                    children.append(child)
        _, alive = await asyncio.to_thread(psutil.wait_procs, children, 1.0)
        for child in alive:
            with contextlib.suppress(psutil.Error):
                child.kill()

    # --- internals ----------------------------------------------------------------------------

    async def _start(self) -> None:
        self._executor = ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_pool_init,
        )
        # Start every process now, so "ready" means ready and no page waits for a spawn.
        loop = asyncio.get_running_loop()
        await asyncio.gather(
            *(loop.run_in_executor(self._executor, os.getpid) for _ in range(self.processes))
        )

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._executor is None or self._restarting is not None:
            return  # flushed again once the pool is back
        if self._quarantine:
            # One suspect at a time, alone on the pool; new work waits until they are cleared.
            if not self._in_flight:
                self._submit([self._quarantine.popleft()])
            return
        jobs = [job for job in self._pending if not job.future.done()]
        self._pending = []
        by_fn: dict[int, list[_Job]] = {}
        for job in jobs:
            by_fn.setdefault(id(job.fn), []).append(job)
        for group in by_fn.values():
            # Spread over all processes, at most max_batch per hand-off.
            size = max(1, min(self.max_batch, -(-len(group) // self.processes)))
            for i in range(0, len(group), size):
                self._submit(group[i : i + size])

    def _submit(self, batch: list[_Job]) -> None:
        assert self._executor is not None
        loop = asyncio.get_running_loop()
        generation = self._generation
        self._in_flight.update(batch)
        try:
            cf = self._executor.submit(_run_batch, batch[0].fn, [job.item for job in batch])
        except BrokenProcessPool:
            self._pool_broke(generation)
            return
        cf.add_done_callback(
            lambda f: loop.call_soon_threadsafe(self._on_done, f, batch, generation)
        )

    def _on_done(self, cf: Future[list[tuple[bool, Any]]], batch: list[_Job], gen: int) -> None:
        if gen != self._generation:
            return  # its pool broke; the jobs were quarantined or failed then
        if not cf.cancelled() and isinstance(cf.exception(), BrokenProcessPool):
            self._pool_broke(gen)
            return
        self._in_flight.difference_update(batch)
        if cf.cancelled():
            for job in batch:
                job.future.cancel()
        elif (exc := cf.exception()) is not None:
            # Pickling the result failed, or similar: the pages' own fault, not the pool's.
            for job in batch:
                if not job.future.done():
                    job.future.set_exception(ValueError(repr(exc)))
        else:
            for job, (ok, value) in zip(batch, cf.result(), strict=True):
                if not job.future.done():
                    if ok:
                        job.future.set_result(value)
                    else:
                        job.future.set_exception(ValueError(value))
        if self._quarantine or self._pending:
            self._schedule_flush()

    def _pool_broke(self, generation: int) -> None:
        if generation != self._generation or self._restarting is not None:
            return
        suspects = [job for job in self._in_flight if not job.future.done()]
        self._in_flight = set()
        if len(suspects) == 1:
            suspects[0].future.set_exception(ParseCrashedError("the parse process died"))
        else:
            self._quarantine.extend(suspects)
        self._restarting = asyncio.get_running_loop().create_task(self._restart())

    async def _restart(self) -> None:
        self.restarts += 1
        self._generation += 1
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        try:
            await self._start()
        except Exception as exc:  # cannot start processes at all: fail what waits, loudly
            for job in [*self._quarantine, *self._pending]:
                if not job.future.done():
                    job.future.set_exception(ParseCrashedError(f"parse pool restart: {exc!r}"))
            self._quarantine, self._pending = collections.deque(), []
            raise
        finally:
            self._restarting = None
        self._flush()
