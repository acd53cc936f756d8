"""The supervisor: owns the crawl state, runs the workers, hosts the rate-limit broker.

The data flow is described step by step in docs/architecture.md; in short:

1. Start URLs are normalised and queued in the state backend (SQLite by default).
2. N worker processes are spawned; each says ``Hello`` when it is ready.
3. The dispatcher leases batches of due URLs to workers with room, breadth-first per host,
   never more than ``2 × per_host_concurrency`` leased for one host at a time.
4. Workers ask the broker for a permit before every request (robots.txt and redirects included),
   so per-host concurrency and rate hold across all workers as one limit.
5. Each origin's robots.txt is fetched by one worker and broadcast to all.
6. Results come back in batches; one committer task writes each batch (pages done, records into
   the outbox, new links into the frontier) in one transaction, then appends the records to
   the output file. Only then is a lease over.
7. A worker that dies is restarted at once; the leases it held go back to the queue.
8. When nothing is queued or leased (or ``--max-pages`` is reached, or a signal arrives), the
   workers are told to stop, hand back what they hold, and the state is closed consistently.

The supervisor's event loop never touches the disk or parses anything: SQLite and the output
file live on the state backend's own thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import signal
import socket
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from ..ipc.channel import Channel, open_channel
from ..ipc.messages import (
    Acquire,
    Bye,
    FromWorker,
    Grant,
    Hello,
    Lease,
    Outcome,
    Release,
    Request,
    Results,
    RobotsAssign,
    RobotsFetched,
    RobotsRules,
    RobotsWanted,
    Shutdown,
    WorkerConfig,
    WorkerStats,
)
from ..plugins.api import Plugin
from ._broker import LocalBroker, RateLimits
from ._looplag import LoopLagMonitor
from ._options import CrawlOptions, default_parse_processes, default_workers
from ._plugins import load_plugin, resolve_plugin
from ._proc import start_quiet_resource_tracker, worker_entry
from ._sqlite_state import SQLiteState
from ._ssrf import AddressPolicy
from ._state import Caps, StateBackend
from ._stats import CrawlStats, Progress, StatsCollector
from ._urls import Scope, host_key, validate_start_url
from .errors import PluginError, ShoalError, UsageError

__all__ = ["Supervisor"]

log = logging.getLogger("shoal")

_HELLO_TIMEOUT = 60.0
# A slot whose worker dies this many times in a row before saying Hello is hopeless.
_MAX_START_FAILURES = 3
_COMMIT_QUEUE = 64
_ROBOTS_RETRY_MAX = 600.0  # seconds: the longest wait between tries of an unavailable robots.txt


@dataclass
class _Slot:
    """One worker position. Its process may be replaced; ``generation`` counts the starts."""

    id: int
    generation: int = 0
    process: multiprocessing.process.BaseProcess | None = None
    channel: Channel[FromWorker] | None = None
    ready: bool = False
    said_bye: bool = False
    leases: dict[str, Request] = field(default_factory=dict)
    #: The supervisor's end of a worker started ahead of the crawl, until the slot takes it.
    spawned: socket.socket | None = None
    grants: list[int] = field(default_factory=list)
    grant_flush_scheduled: bool = False
    stats: WorkerStats | None = None
    lag_max_ms: float = 0.0
    pool_restarts: int = 0


@dataclass
class _Commit:
    """Results of one worker process; ``leases`` is that process's lease table."""

    leases: dict[str, Request]
    outcomes: list[Outcome]
    worker: int


@dataclass
class _HandBack:
    """Return leases to the queue: ``requests``, or all still in ``leases`` when ``None``.

    It goes through the commit queue so that a worker's results, sent before it died or said
    Bye, are committed first; what is handed back is exactly what was never finished.
    """

    leases: dict[str, Request]
    requests: list[Request] | None
    crashed: bool


class _Robots:
    """Which origins' robots.txt are known, being fetched, or wanted by whom."""

    def __init__(self) -> None:
        self.known: dict[str, RobotsRules] = {}
        self.fetching: dict[str, int] = {}  # origin -> slot id fetching it
        self.waiting: dict[str, set[int]] = {}  # origin -> slot ids waiting for it
        self.failures: dict[str, int] = {}  # origin -> unavailable fetches in a row

    def fresh(self, origin: str) -> RobotsRules | None:
        """The origin's rules if they have not expired; expired ones are forgotten."""
        rules = self.known.get(origin)
        if rules is not None and rules.expires_at <= time.time():
            del self.known[origin]
            return None
        return rules


class Supervisor:
    """Runs one crawl to the end. ``await run()`` returns the stats; see module docstring."""

    def __init__(
        self,
        options: CrawlOptions,
        *,
        progress: Callable[[Progress], None] | None = None,
        handle_signals: bool = False,
        show_progress: bool = False,
    ) -> None:
        self.options = options
        self._progress_cb = progress
        self._handle_signals = handle_signals
        self._show_progress = show_progress
        self._stats = StatsCollector()
        self._slots: list[_Slot] = []
        self._robots = _Robots()
        self._broker = LocalBroker(
            RateLimits(per_host_concurrency=options.per_host_concurrency, rate=options.rate)
        )
        self._state: StateBackend | None = None
        self._wake = asyncio.Event()
        self._done = asyncio.Event()
        self._stopping = False
        self._stopped_by = "complete"
        self._leased_per_host: dict[str, int] = {}
        self._commits: asyncio.Queue[_Commit | _HandBack | None] = asyncio.Queue(_COMMIT_QUEUE)
        self._mp = multiprocessing.get_context("spawn")
        self._interrupts = 0
        self._lag = LoopLagMonitor()
        #: The signal that interrupted the crawl, if one did (the CLI exits with 128 + it).
        self.signal_number: int | None = None
        self._fatal: BaseException | None = None

    # --- the whole crawl ----------------------------------------------------------------------

    async def run(self) -> CrawlStats:
        opts = self.options
        AddressPolicy.parse(opts.allow_private, opts.ports)  # a malformed entry: usage error now
        # Loaded here too, so a plugin that cannot start fails once, not in every worker.
        seeds = _seeds(load_plugin(opts.plugin, opts.plugin_options), opts.urls)
        # Workers get the plugin as module:Class and import it without an entry-point scan.
        self._plugin_path = resolve_plugin(opts.plugin)
        start_urls = [seed.url for seed in seeds]
        self._scope = Scope.from_option(opts.scope, start_urls)
        workers = opts.workers or default_workers()
        self._worker_configs = self._make_configs(workers)
        output = Path(opts.output) if opts.output else None
        if opts.refresh and not opts.state:
            raise UsageError("--refresh needs --state: the state file of the crawl to refresh")
        if output is not None and str(output) == "-" and opts.resume:
            raise UsageError("--resume needs an output file (-o FILE), not standard output")
        config = {"plugin": opts.plugin, "scope": self._scope.to_spec()}
        # Workers start now: their start-up (a spawn and its imports, a few hundred ms, most
        # of a short crawl's start) overlaps with opening the state.
        self._slots = [_Slot(i) for i in range(workers)]
        start_quiet_resource_tracker()
        for slot in self._slots:
            slot.spawned = self._spawn(slot)
        state_path, temp_dir = _state_path(opts.state)
        try:
            self._state = await SQLiteState.open(
                state_path,
                output=output,
                resume=opts.resume,
                config=config,
                caps=Caps(per_host=opts.max_pages_per_host, per_pattern=opts.max_pages_per_pattern),
            )
        except BaseException:
            await self._drop_spawned()
            if temp_dir is not None:
                _remove_tree(temp_dir)
            raise
        interrupted = False
        try:
            if opts.refresh:
                again = await self._state.refresh()
                log.info("refresh: %d pages of the earlier crawl queued again", again)
            added = await self._state.add(seeds)
            log.info("queued %d start URL(s) (%d new); %d workers", len(start_urls), added, workers)
            await self._state.flush_output()  # records a crashed run left in the outbox
            with self._signal_handlers():
                await self._run_workers()
            interrupted = self._stopped_by == "interrupted"
        finally:
            await self._drop_spawned()
            stats = await self._final_stats(workers, state_path, output, temp_dir is not None)
            await self._state.aclose()
            if temp_dir is not None and not interrupted:
                _remove_tree(temp_dir)
        if self._fatal is not None:
            raise self._fatal
        return stats

    async def _run_workers(self) -> None:
        async with asyncio.TaskGroup() as tg:
            slot_tasks = [tg.create_task(self._run_slot(slot)) for slot in self._slots]
            committer = tg.create_task(self._committer())
            dispatcher = tg.create_task(self._dispatcher())
            reporter = tg.create_task(self._report_progress())
            lag = tg.create_task(self._lag.run())
            await self._done.wait()
            dispatcher.cancel()
            await self._stop_workers(slot_tasks)
            await self._commits.put(None)
            await committer
            reporter.cancel()
            if self._progress_cb is not None:
                self._progress_cb(self.progress())  # the final figures, every result committed
            lag.cancel()

    async def _stop_workers(self, slot_tasks: list[asyncio.Task[None]]) -> None:
        self._stopping = True
        grace = self.options.shutdown_grace
        for slot in self._slots:
            if slot.channel is not None and slot.ready:
                with contextlib.suppress(ShoalError):
                    slot.channel.send_nowait(Shutdown(grace=grace))
        _, pending = await asyncio.wait(slot_tasks, timeout=grace + 1.5)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=1.0)
        # Every worker has said Bye or is being killed now; reap them all before returning.
        loop = asyncio.get_running_loop()
        for slot in self._slots:
            process = slot.process
            if process is None or process.pid is None:
                continue
            await loop.run_in_executor(None, process.join, 2.0 if slot.said_bye else 0.0)
            if process.is_alive():
                log.debug("worker %d did not exit; killing it", slot.id)
                process.kill()
                await loop.run_in_executor(None, process.join, 2.0)
        log.debug("all workers stopped")

    # --- worker slots -------------------------------------------------------------------------

    def _make_configs(self, workers: int) -> list[bytes]:
        opts = self.options
        parse_processes = opts.parse_processes or default_parse_processes(workers)
        return [
            msgspec.msgpack.encode(
                WorkerConfig(
                    worker_id=i,
                    plugin=self._plugin_path,
                    plugin_options=opts.plugin_options,
                    scope=self._scope.to_spec(),
                    allow_private=opts.allow_private,
                    user_agent=opts.user_agent,
                    concurrency=opts.concurrency,
                    per_host_concurrency=opts.per_host_concurrency,
                    timeout=opts.timeout,
                    connect_timeout=min(opts.connect_timeout, opts.timeout),
                    max_bytes=opts.max_bytes,
                    min_rate=opts.min_rate,
                    max_url_length=opts.max_url_length,
                    max_path_repeats=opts.max_path_repeats,
                    ports=opts.ports,
                    remember_pages=opts.state is not None,
                    max_redirects=opts.max_redirects,
                    max_attempts=opts.retries + 1,
                    max_depth=opts.max_depth,
                    ignore_robots=opts.ignore_robots,
                    parse_processes=parse_processes,
                    log_level=logging.getLogger("shoal").getEffectiveLevel(),
                )
            )
            for i in range(workers)
        ]

    async def _run_slot(self, slot: _Slot) -> None:
        """Keep one worker running until the crawl stops; restart it whenever it dies."""
        start_failures = 0
        while not self._stopping:
            await self._start_worker(slot)
            try:
                await self._read_worker(slot)
            finally:
                if slot.channel is not None:
                    await slot.channel.aclose()
            if slot.said_bye:
                return
            await self._worker_died(slot)
            start_failures = 0 if slot.ready else start_failures + 1
            slot.ready = False
            if start_failures >= _MAX_START_FAILURES:
                self._fail(ShoalError(f"worker {slot.id} dies at start; run with -v for why"))
                return

    def _spawn(self, slot: _Slot) -> socket.socket:
        """Start the slot's next worker process; the supervisor's end of its socket pair."""
        parent, child = socket.socketpair()
        slot.generation += 1
        slot.said_bye = False
        slot.process = self._mp.Process(
            target=worker_entry,
            args=(self._worker_configs[slot.id], child),
            name=f"shoal-worker-{slot.id}",
        )
        slot.process.start()
        child.close()
        log.debug("worker %d started (pid %s)", slot.id, slot.process.pid)
        return parent

    async def _start_worker(self, slot: _Slot) -> None:
        parent, slot.spawned = slot.spawned or self._spawn(slot), None
        slot.channel = await open_channel(parent, FromWorker)

    async def _drop_spawned(self) -> None:
        """Stop workers started ahead that the crawl never took up (it failed to start)."""
        for slot in self._slots:
            if slot.spawned is None:
                continue
            slot.spawned.close()
            slot.spawned = None
            if slot.process is not None:
                slot.process.kill()
                await asyncio.get_running_loop().run_in_executor(None, slot.process.join, 5.0)

    async def _read_worker(self, slot: _Slot) -> None:
        assert slot.channel is not None
        channel = slot.channel
        started = time.monotonic()
        while True:
            try:
                if slot.ready:
                    msg = await channel.recv()
                else:
                    async with asyncio.timeout(_HELLO_TIMEOUT):
                        msg = await channel.recv()
            except (EOFError, TimeoutError, ShoalError) as exc:
                if not slot.said_bye:
                    log.debug("worker %d channel ended: %r", slot.id, exc)
                return
            if isinstance(msg, Results):
                await self._commits.put(_Commit(slot.leases, msg.outcomes, slot.id))
            elif isinstance(msg, Acquire):
                for token, host in zip(msg.tokens, msg.hosts, strict=True):
                    self._broker.submit(
                        host, (slot.id, slot.generation, token), _granter(self, slot, token)
                    )
            elif isinstance(msg, Release):
                for token in msg.tokens:
                    self._broker.release((slot.id, slot.generation, token))
            elif isinstance(msg, Hello):
                slot.ready = True
                if self._stopping:  # started during the stop: it holds nothing, let it go
                    channel.send_nowait(Shutdown(grace=0))
                log.debug("worker %d ready after %.2f s", slot.id, time.monotonic() - started)
                for rules in self._robots.known.values():
                    channel.send_nowait(rules)
                self._wake.set()
            elif isinstance(msg, RobotsWanted):
                self._robots_wanted(slot, msg.origin)
            elif isinstance(msg, RobotsFetched):
                self._robots_fetched(msg)
            elif isinstance(msg, WorkerStats):
                slot.stats = msg
                slot.lag_max_ms = max(slot.lag_max_ms, msg.loop_lag_max_ms)
            elif isinstance(msg, Bye):
                log.debug("worker %d said bye, handing back %d", slot.id, len(msg.returned))
                slot.said_bye = True
                await self._commits.put(_HandBack(slot.leases, msg.returned, crashed=False))
                return

    async def _worker_died(self, slot: _Slot) -> None:
        process = slot.process
        if process is not None:
            await asyncio.get_running_loop().run_in_executor(None, process.join, 5.0)
            if process.is_alive():
                process.kill()
            log.warning(
                "worker %d (pid %s) died with exit code %s%s",
                slot.id,
                process.pid,
                process.exitcode,
                "" if self._stopping else "; restarting it",
            )
        if slot.stats is not None:
            slot.pool_restarts += slot.stats.parse_pool_restarts
            slot.stats = None
        self._stats.worker_restarts += 0 if self._stopping else 1
        self._broker.cancel(lambda key: _key_of(key, slot))
        # The next process of this slot starts with a fresh lease table; whatever the dead one
        # still holds once its last results are committed goes back to the queue.
        lost, slot.leases = slot.leases, {}
        await self._commits.put(_HandBack(lost, None, crashed=True))
        for origin, fetcher in list(self._robots.fetching.items()):
            if fetcher == slot.id:
                del self._robots.fetching[origin]
                self._assign_robots(origin)
        for waiters in self._robots.waiting.values():
            waiters.discard(slot.id)

    def _fail(self, exc: BaseException) -> None:
        if self._fatal is None:
            self._fatal = exc
        self.stop("error")

    # --- robots.txt coordination --------------------------------------------------------------

    def _robots_wanted(self, slot: _Slot, origin: str) -> None:
        known = self._robots.fresh(origin)
        if known is not None:
            self._send(slot, known)
            return
        self._robots.waiting.setdefault(origin, set()).add(slot.id)
        if origin not in self._robots.fetching:
            self._assign_robots(origin)

    def _assign_robots(self, origin: str) -> None:
        for slot_id in self._robots.waiting.get(origin, ()):
            slot = self._slots[slot_id]
            if slot.ready:
                self._robots.fetching[origin] = slot_id
                self._send(slot, RobotsAssign(origin=origin))
                return

    def _robots_fetched(self, msg: RobotsFetched) -> None:
        opts = self.options
        if msg.refused or 0 < msg.status < 500:
            self._robots.failures.pop(msg.origin, None)
            ttl = opts.robots_cache
        else:
            # Unavailable: "disallow all" until a retry, sooner than a day (RFC 9309 2.3.1.4);
            # its pages wait for that retry rather than fail (engine/_fetcher.py).
            failures = self._robots.failures.get(msg.origin, 0)
            self._robots.failures[msg.origin] = failures + 1
            ttl = min(opts.robots_retry * 2**failures, _ROBOTS_RETRY_MAX, opts.robots_cache)
        rules = RobotsRules(
            origin=msg.origin,
            status=msg.status,
            body=msg.body,
            refused=msg.refused,
            reason=msg.reason,
            expires_at=time.time() + ttl,
        )
        self._robots.known[msg.origin] = rules
        self._robots.fetching.pop(msg.origin, None)
        self._robots.waiting.pop(msg.origin, None)
        if msg.crawl_delay:
            self._broker.set_crawl_delay(host_key(msg.origin + "/"), msg.crawl_delay)
        log.debug("robots.txt of %s: HTTP %d, %d bytes", msg.origin, msg.status, len(msg.body))
        for slot in self._slots:
            if slot.ready:
                self._send(slot, rules)

    def _send(self, slot: _Slot, msg: msgspec.Struct) -> None:
        if slot.channel is not None:
            with contextlib.suppress(ShoalError):
                slot.channel.send_nowait(msg)

    # --- leasing ------------------------------------------------------------------------------

    async def _dispatcher(self) -> None:
        assert self._state is not None
        opts = self.options
        host_cap = 8 * opts.per_host_concurrency
        worker_cap = 8 * opts.concurrency
        retry_armed = False

        def retry_due() -> None:
            nonlocal retry_armed
            retry_armed = False
            self._wake.set()

        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._lease_round(host_cap, worker_cap)
            counts = self._state.counts_nowait()
            if counts.leased == 0 and self._commits.empty():
                if counts.queued == 0:
                    self.stop("complete")
                elif counts.done >= opts.max_pages:
                    self.stop("max_pages")
                elif not retry_armed:
                    # Only retries that are not due yet are queued: sleep until the first one.
                    due = await self._state.next_due()
                    if due is not None:
                        retry_armed = True
                        asyncio.get_running_loop().call_later(
                            max(0.0, due - time.time()) + 0.01, retry_due
                        )

    async def _lease_round(self, host_cap: int, worker_cap: int) -> None:
        """Top up every ready worker, in small batches to the least loaded first, so that
        workers share a host's room instead of the first one taking all of it."""
        assert self._state is not None
        batch_size = max(4, worker_cap // 4)
        progress = True
        while progress and not self._stopping:
            progress = False
            ready = [s for s in self._slots if s.ready and not s.said_bye]
            for slot in sorted(ready, key=lambda s: len(s.leases)):
                counts = self._state.counts_nowait()
                budget = self.options.max_pages - counts.done - counts.leased
                room = min(worker_cap - len(slot.leases), budget, batch_size)
                if room <= 0 or counts.queued == 0:
                    continue
                host_room = {h: host_cap - n for h, n in self._leased_per_host.items()}
                batch = await self._state.lease(slot.id, room, host_room, host_cap)
                if not batch:
                    continue
                if slot.channel is None or not slot.ready or self._stopping:
                    await self._state.hand_back(batch, crashed=False)
                    continue
                progress = True
                for req in batch:
                    slot.leases[req.url] = req
                    host = host_key(req.url)
                    self._leased_per_host[host] = self._leased_per_host.get(host, 0) + 1
                self._send(slot, Lease(requests=batch))

    def _unlease_host(self, url: str) -> None:
        host = host_key(url)
        left = self._leased_per_host.get(host, 0) - 1
        if left > 0:
            self._leased_per_host[host] = left
        else:
            self._leased_per_host.pop(host, None)

    async def _committer(self) -> None:
        """Commit result batches and hand-backs in arrival order, one transaction each."""
        while True:
            item = await self._commits.get()
            try:
                if item is None:
                    return
                if isinstance(item, _Commit):
                    await self._commit(item)
                else:
                    await self._hand_back(item)
                self._wake.set()
            except ShoalError as exc:
                self._fail(exc)
            finally:
                self._commits.task_done()

    async def _commit(self, item: _Commit) -> None:
        assert self._state is not None
        for outcome in item.outcomes:
            if outcome.retry_after is not None:
                self._broker.pause(host_key(outcome.url), outcome.retry_after)
        summary = await self._state.commit(item.worker, item.outcomes)
        self._stats.tally.merge(summary.tally)
        await self._state.flush_output()
        for outcome in item.outcomes:
            if item.leases.pop(outcome.url, None) is not None:
                self._unlease_host(outcome.url)

    async def _hand_back(self, item: _HandBack) -> None:
        assert self._state is not None
        requests = list(item.leases.values()) if item.requests is None else item.requests
        for req in requests:
            if item.leases.pop(req.url, None) is not None:
                self._unlease_host(req.url)
        if requests:
            await self._state.hand_back(requests, crashed=item.crashed)

    # --- stopping -----------------------------------------------------------------------------

    def stop(self, reason: str) -> None:
        """Stop leasing and wind the crawl down (idempotent; the first reason is kept)."""
        if not self._done.is_set():
            log.debug("stopping: %s", reason)
            self._stopped_by = reason
            self._done.set()

    @contextlib.contextmanager
    def _signal_handlers(self) -> Any:
        if not self._handle_signals:
            yield
            return
        loop = asyncio.get_running_loop()
        main = asyncio.current_task()

        def on_signal(signum: int) -> None:
            self._interrupts += 1
            if self._interrupts == 1:
                self.signal_number = signum
                log.warning(
                    "%s: finishing what is in flight (again to stop at once)",
                    signal.Signals(signum).name,
                )
                self.stop("interrupted")
            else:
                # Second signal: stop at once. Leases not committed simply stay leased in the
                # state file and return to the queue on --resume.
                for slot in self._slots:
                    if slot.process is not None and slot.process.is_alive():
                        slot.process.kill()
                if main is not None:
                    main.cancel()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal, sig)
        try:
            yield
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    # --- progress and stats -------------------------------------------------------------------

    def progress(self) -> Progress:
        counts = self._state.counts_nowait() if self._state is not None else None
        return Progress(
            pages=self._stats.pages,
            queued=counts.queued if counts else 0,
            in_flight=counts.leased if counts else 0,
            errors=self._stats.errors,
            elapsed_s=round(self._stats.elapsed, 1),
            pages_per_s=round(self._stats.rate(), 1),
        )

    async def _report_progress(self) -> None:
        every = 0.5 if self._show_progress or self._progress_cb else 5.0
        last_log = 0.0
        try:
            while True:
                await asyncio.sleep(every)
                snap = self.progress()
                if self._progress_cb is not None:
                    self._progress_cb(snap)
                if self._show_progress:
                    _write_progress_line(snap)
                elif time.monotonic() - last_log >= 5.0:
                    last_log = time.monotonic()
                    log.info(
                        "progress: %d pages, %d queued, %d in flight, %.1f pages/s, %d errors",
                        snap.pages,
                        snap.queued,
                        snap.in_flight,
                        snap.pages_per_s,
                        snap.errors,
                    )
        finally:
            if self._show_progress:
                _write_progress_line(None)

    async def _final_stats(
        self, workers: int, state_path: Path, output: Path | None, temp_state: bool
    ) -> CrawlStats:
        stats = self._stats.snapshot()
        assert self._state is not None
        counts = self._state.counts_nowait()
        stats.queued_left = counts.queued + counts.leased
        stats.pages_in_state = counts.done
        stats.workers = workers
        stats.loop_lag_max_ms = round(max([s.lag_max_ms for s in self._slots] or [0.0]), 1)
        stats.supervisor_loop_lag_max_ms = round(self._lag.max_ms, 1)
        stats.parse_pool_restarts = sum(
            s.pool_restarts + (s.stats.parse_pool_restarts if s.stats else 0) for s in self._slots
        )
        stats.stopped_by = self._stopped_by
        stats.totals = self._state.totals_nowait()
        stats.state = None if temp_state and self._stopped_by != "interrupted" else str(state_path)
        stats.output = str(output) if output else None
        return stats


def _seeds(plugin: Plugin, urls: list[str]) -> list[Request]:
    """The plugin's start requests, validated and normalised, at depth 0."""
    try:
        given = list(plugin.start_requests(urls))
    except ShoalError:
        raise
    except Exception as exc:  # the plugin's own code failed
        raise PluginError(f"plugin {plugin.name!r} start_requests failed: {exc!r}") from exc
    seeds = []
    for seed in given:
        if isinstance(seed, str):
            seeds.append(Request(validate_start_url(seed)))
        else:
            url = validate_start_url(seed.url)
            seeds.append(Request(url, 0, 0, seed.meta, seed.etag, seed.last_modified))
    if not seeds:
        raise UsageError("give at least one start URL")
    return seeds


def _granter(sup: Supervisor, slot: _Slot, token: int) -> Callable[[], None]:
    """The broker's callback for one permit: batch the grant into this tick's Grant message."""
    generation = slot.generation

    def grant() -> None:
        if slot.generation != generation or slot.channel is None:
            return
        slot.grants.append(token)
        if not slot.grant_flush_scheduled:
            slot.grant_flush_scheduled = True
            asyncio.get_running_loop().call_soon(_flush_grants, sup, slot)

    return grant


def _flush_grants(sup: Supervisor, slot: _Slot) -> None:
    slot.grant_flush_scheduled = False
    if slot.grants:
        sup._send(slot, Grant(tokens=slot.grants))
        slot.grants = []


def _key_of(key: Hashable, slot: _Slot) -> bool:
    return isinstance(key, tuple) and key[0] == slot.id and key[1] == slot.generation


def _state_path(option: str | None) -> tuple[Path, Path | None]:
    if option:
        return Path(option), None
    import tempfile

    temp_dir = Path(tempfile.mkdtemp(prefix="shoal-state-"))
    return temp_dir / "crawl.sqlite", temp_dir


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _write_progress_line(snap: Progress | None) -> None:
    import sys

    if snap is None:
        sys.stderr.write("\r\033[K")
    else:
        sys.stderr.write(
            f"\r\033[K{snap.pages} pages  {snap.queued} queued  {snap.in_flight} in flight  "
            f"{snap.pages_per_s:.1f} pages/s  {snap.errors} errors"
        )
    sys.stderr.flush()
