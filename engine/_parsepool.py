"""A worker's parse processes: CPU work off the event loop, in batches, surviving crashes.

Every hand-off to a ``ProcessPoolExecutor`` costs a pickle, a pipe write, a lock and a wake-up
in both processes, and several GIL hand-overs between the event loop and the executor's
threads; per page that was more CPU on the worker's event loop than the fetch itself. So at
most one batch per process (plus one queued) is in flight: while they are busy, pages waiting
for a parse gather and go out together in the next batch (at most ``max_batch`` long). An idle
pool takes a page at once; a busy one takes them in bigger batches, at a lower cost each.

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
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import psutil

from ._proc import die_with_parent, ignore_stop_signals

__all__ = ["ParseCrashedError", "ParsePool", "fork_parse_processes"]


class ParseCrashedError(Exception):
    """The page's parse process died while parsing it, on its own, after a restart."""


def _pool_init(close_fds: tuple[int, ...] = ()) -> None:
    die_with_parent()
    ignore_stop_signals()
    # A forked parse process inherits its worker's descriptors; holding the worker's channel
    # to the supervisor open would hide the worker's death from the supervisor. The objects
    # that own these fds are never collected here: the process ends with os._exit.
    for fd in close_fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def fork_parse_processes(processes: int, *, close_fds: tuple[int, ...] = ()) -> Executor | None:
    """Start a worker's parse processes by forking it, or ``None`` where that is not safe.

    A spawned parse process starts a new interpreter and imports lxml and the plugin again
    (about 0.2 s of CPU each, while the worker's first pages wait for their parse: the crawl
    cannot grow until the start page's links are known). A forked one is ready at once and
    shares the imported modules' memory. Forking is safe only while this process has a single
    thread and no event loop, so the worker calls this first thing; restarts after a crash
    spawn. ``close_fds`` are closed in the children.
    """
    if sys.platform != "linux" or threading.active_count() != 1:
        return None
    executor = ProcessPoolExecutor(
        max_workers=processes,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_pool_init,
        initargs=(close_fds,),
    )
    # With "fork", the first submit forks every process before the executor's own thread
    # starts (CPython 3.11+), so each fork copies this single thread.
    executor.submit(os.getpid)
    return executor


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


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class _Job:
    __slots__ = ("fn", "future", "item")

    def __init__(self, fn: Callable[[Any], Any], item: Any, future: asyncio.Future[Any]) -> None:
        self.fn = fn
        self.item = item
        self.future = future


class ParsePool:
    """Use as ``async with ParsePool(n) as pool: result = await pool.parse(fn, item)``."""

    def __init__(
        self, processes: int, *, max_batch: int = 16, started: Executor | None = None
    ) -> None:
        """``started``: processes already running (from :func:`fork_parse_processes`)."""
        self.processes = processes
        self.max_batch = max_batch
        self.restarts = 0
        self._executor: Executor | None = started
        self._generation = 0
        self._pending: list[_Job] = []
        # Invariant: a job is pending, in flight, quarantined, or done; never two.
        self._in_flight: set[_Job] = set()
        self._batches = 0  # hand-offs in flight (of the current generation)
        self._quarantine: collections.deque[_Job] = collections.deque()
        self._flush_scheduled = False
        self._restarting: asyncio.Task[None] | None = None
        self._warming: asyncio.Future[list[int]] | None = None

    async def __aenter__(self) -> ParsePool:
        if self._executor is None:
            # Not waited for: the processes start (a spawn and their imports, a few hundred
            # ms) while the worker says hello and fetches its first pages; their parses queue.
            self._warming = self._start()
            # A pool that cannot start shows in the first parse (it breaks, is restarted).
            self._warming.add_done_callback(_consume)
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
        if self._warming is not None:
            self._warming.cancel()
        if self._restarting is not None:
            self._restarting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._restarting
        for job in [*self._pending, *self._in_flight, *self._quarantine]:
            job.future.cancel()
        self._pending, self._in_flight, self._quarantine = [], set(), collections.deque()
        self._batches = 0
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

    def _start(self) -> asyncio.Future[list[int]]:
        """Create the executor and start every process now, not at the first parse; the
        future is done when they all run."""
        self._executor = ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_pool_init,
        )
        loop = asyncio.get_running_loop()
        return asyncio.gather(
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
        # At most one batch per process plus one queued behind them: while they are all
        # busy, new pages gather here and leave together, so the cost of a hand-off is
        # shared by more pages the busier the pool is.
        free = self.processes + 1 - self._batches
        if not jobs or free <= 0:
            self._pending = jobs
            return
        group = [job for job in jobs if job.fn is jobs[0].fn]
        rest = [job for job in jobs if job.fn is not jobs[0].fn]
        while group and free > 0:
            size = max(1, min(self.max_batch, -(-len(group) // free)))
            self._submit(group[:size])
            group = group[size:]
            free -= 1
        self._pending = group + rest
        if rest and free > 0:
            self._schedule_flush()

    def _submit(self, batch: list[_Job]) -> None:
        assert self._executor is not None
        loop = asyncio.get_running_loop()
        generation = self._generation
        self._in_flight.update(batch)
        self._batches += 1
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
        self._batches -= 1
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
        self._batches = 0
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
