"""A worker process: a uvloop event loop for I/O and a process pool for parsing.

The supervisor starts it through :func:`._proc.worker_entry`, which forks the parse processes
first. The worker says ``Hello`` once its HTTP session is open, takes ``Lease`` batches,
fetches each request (robots.txt, broker permit, redirects), hands HTML to the plugin's
``parse`` in the process pool, runs the plugin's ``handle`` on the loop, and sends ``Results``
back in batches.
Nothing CPU-heavy runs on the loop: the worst loop lag seen is reported in ``WorkerStats``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import hashlib
import itertools
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from typing import Any

import aiohttp
import msgspec
import orjson

from ..ipc.channel import Channel, open_channel
from ..ipc.messages import (
    Acquire,
    Bye,
    FromSupervisor,
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
from ..plugins.api import Context, Page, Plugin
from ._connector import open_connector
from ._fetcher import Fetcher, RetryPolicy
from ._looplag import LoopLagMonitor
from ._parsepool import ParseCrashedError, ParsePool
from ._plugins import load_plugin
from ._robots import ROBOTS_MAX_BYTES, RobotsCache, robots_policy
from ._ssrf import AddressPolicy, forbidden_cause
from ._traps import trap_reason
from ._urls import Scope, host_key, normalize_url, origin_of

__all__ = ["worker_main"]

log = logging.getLogger("shoal.worker")

_RESULT_BATCH = 64
_ROBOTS_REDIRECTS = 5
_RESULT_DELAY = 0.005
_STATS_EVERY = 1.0


def worker_main(config: WorkerConfig, sock: socket.socket, parse_pool: Executor | None) -> None:
    """Run a worker process (from :func:`._proc.worker_entry`); ``parse_pool``: its parse
    processes if they were started already."""
    logging.basicConfig(
        level=config.log_level,
        format=f"shoal[worker {config.worker_id}] %(levelname)s %(message)s",
    )
    import uvloop

    uvloop.run(_serve(config, sock, parse_pool))


async def _serve(config: WorkerConfig, sock: socket.socket, parse_pool: Executor | None) -> None:
    channel: Channel[FromSupervisor] = await open_channel(sock, FromSupervisor)
    try:
        async with _open_worker(config, channel, parse_pool) as worker:
            await worker.serve()
    finally:
        await channel.aclose()


@contextlib.asynccontextmanager
async def _open_worker(
    config: WorkerConfig, channel: Channel[FromSupervisor], parse_pool: Executor | None
) -> AsyncIterator[_Worker]:
    plugin = load_plugin(config.plugin, config.plugin_options)
    connector = open_connector(
        AddressPolicy.parse(config.allow_private, config.ports),
        limit=config.concurrency,
        limit_per_host=config.per_host_concurrency,
    )
    timeout = aiohttp.ClientTimeout(
        total=None, connect=config.connect_timeout, sock_read=config.timeout
    )
    headers = {"User-Agent": config.user_agent, "Accept-Encoding": "gzip, deflate"}
    async with (
        aiohttp.ClientSession(
            connector=connector, timeout=timeout, headers=headers, auto_decompress=True
        ) as session,
        ParsePool(config.parse_processes, started=parse_pool) as pool,
    ):
        yield _Worker(config, channel, session, plugin, pool)


def _remember(request: Request, page: Page, outcome: Outcome) -> None:
    """Note the response's validators and body hash for the next --refresh, and whether the
    page is as it was at the last fetch (a 304, or a 2xx with the same body)."""
    response = page.response
    assert response is not None
    if response.status == 304 and (request.etag or request.last_modified):
        page.unchanged = outcome.unchanged = True
        return
    if not 200 <= response.status < 300:
        return
    outcome.etag = response.headers.get("etag")
    outcome.last_modified = response.headers.get("last-modified")
    # SHA-1 for speed (hardware-assisted: 11 us per 20 KB against 23 for BLAKE2b, on the
    # worker's loop); it only tells "changed" from "not", nobody attacks it here.
    outcome.body_hash = hashlib.sha1(response.body, usedforsecurity=False).digest()
    if request.body_hash is not None and outcome.body_hash == request.body_hash:
        page.unchanged = outcome.unchanged = True


class _BrokerClient:
    """Permits from the supervisor's broker, requested and returned in per-tick batches."""

    def __init__(self, send: Callable[[msgspec.Struct], None]) -> None:
        self._send = send
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[None]] = {}
        self._abandoned: set[int] = set()
        self._acquire: list[tuple[int, str]] = []
        self._release: list[int] = []
        self._flush_scheduled = False

    @contextlib.asynccontextmanager
    async def permit(self, host: str) -> AsyncIterator[None]:
        token = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._waiting[token] = fut
        self._acquire.append((token, host))
        self._schedule()
        try:
            await fut
        except asyncio.CancelledError:
            # The grant may still arrive: give it back then, so the permit is never leaked.
            if self._waiting.pop(token, None) is not None:
                self._abandoned.add(token)
            elif fut.done() and not fut.cancelled():
                # Granted in the same tick as the cancellation, before this task resumed.
                self._release.append(token)
                self._schedule()
            raise
        try:
            yield
        finally:
            self._release.append(token)
            self._schedule()

    def on_grant(self, tokens: list[int]) -> None:
        for token in tokens:
            fut = self._waiting.pop(token, None)
            if fut is not None and not fut.done():
                fut.set_result(None)
            elif token in self._abandoned:
                self._abandoned.discard(token)
                self._release.append(token)
                self._schedule()

    def _schedule(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._acquire:
            tokens, hosts = zip(*self._acquire, strict=True)
            self._acquire = []
            self._send(Acquire(tokens=list(tokens), hosts=list(hosts)))
        if self._release:
            self._send(Release(tokens=self._release))
            self._release = []


class _RecentLinks:
    """Links this worker already sent to the supervisor, the most recent ``2 * size`` of them.

    Every page links to many pages the crawl already knows; sending each of them to be looked
    up in the state store was most of the supervisor's work per page. Dropping repeats here
    is safe because a link sent by a live worker is committed with its page (the lease stays
    this worker's until the results arrive); a new worker process starts with an empty set.
    """

    def __init__(self, size: int = 32_768) -> None:
        self._size = size
        self._new: set[str] = set()
        self._old: set[str] = set()

    def __contains__(self, url: str) -> bool:
        return url in self._new or url in self._old

    def add(self, url: str) -> bool:
        """Remember ``url``; ``False`` if it was already sent recently."""
        if url in self:
            return False
        self._new.add(url)
        if len(self._new) >= self._size:
            self._old, self._new = self._new, set()
        return True


class _PageContext(Context):
    def __init__(self, worker: _Worker, page: Page, outcome: Outcome) -> None:
        self.options = worker.plugin.options
        self._worker = worker
        self._page = page
        self._outcome = outcome

    def emit(self, item: Any) -> None:
        if isinstance(item, msgspec.Struct):
            self._outcome.items.append(msgspec.json.encode(item))
        else:
            self._outcome.items.append(orjson.dumps(item, default=msgspec.to_builtins))

    def enqueue(
        self,
        url: str,
        *,
        base: str | None = None,
        meta: dict[str, Any] | None = None,
        normalized: bool = False,
        scope_exempt: bool = False,
    ) -> bool:
        if normalized and base is None and url in self._worker.sent_links:
            return True  # in scope and queued when it was sent: most links end here
        normalised = url if normalized and base is None else normalize_url(url, base)
        depth = self._page.depth + 1
        config = self._worker.config
        if (
            normalised is None
            or depth > config.max_depth
            or not (scope_exempt or self._worker.scope.allows(normalised))
        ):
            return False
        trap = trap_reason(normalised, config.max_url_length, config.max_path_repeats)
        if trap is not None:
            skipped = self._outcome.skipped = self._outcome.skipped or {}
            skipped[trap] = skipped.get(trap, 0) + 1
            return False
        # Also drops a page's own repeats: they were added a moment ago.
        if self._worker.sent_links.add(normalised):
            self._outcome.links.append(Request(normalised, depth, 0, meta))
        return True

    def in_scope(self, url: str) -> bool:
        return url in self._worker.sent_links or self._worker.scope.allows(url)

    async def robots_sitemaps(self, url: str) -> list[str]:
        robots = self._worker.robots
        if robots is None:
            return []
        rules = await robots.rules_for(origin_of(url))
        found = (normalize_url(sitemap, url) for sitemap in rules.sitemaps)
        return list(dict.fromkeys(u for u in found if u is not None))


class _Worker:
    def __init__(
        self,
        config: WorkerConfig,
        channel: Channel[FromSupervisor],
        session: aiohttp.ClientSession,
        plugin: Plugin,
        pool: ParsePool,
    ) -> None:
        self.config = config
        self.plugin = plugin
        self.scope = Scope.from_spec(config.scope)
        self.sent_links = _RecentLinks()
        self._channel = channel
        self._broker = _BrokerClient(channel.send_nowait)
        self.robots = None if config.ignore_robots else RobotsCache(self._want_robots)
        self._fetcher = Fetcher(
            session,
            permit=self._permit,
            robots=self.robots,
            scope=self.scope,
            user_agent=config.user_agent,
            timeout=config.timeout,
            max_bytes=config.max_bytes,
            min_rate=config.min_rate,
            max_redirects=config.max_redirects,
            retry=RetryPolicy(max_attempts=config.max_attempts),
        )
        self._session = session
        self._pool = pool
        self._lag = LoopLagMonitor()
        self._slots = asyncio.Semaphore(config.concurrency)
        self._active: dict[asyncio.Task[None], Request] = {}
        self._robots_tasks: set[asyncio.Task[None]] = set()
        self._started: set[asyncio.Task[None]] = set()
        self._finished = asyncio.Event()
        self._shutdown_task: asyncio.Task[None] | None = None
        self._results: list[Outcome] = []
        self._flush_handle: asyncio.TimerHandle | None = None

    # --- parse pool ---------------------------------------------------------------------------

    async def _parse(self, page: Page) -> None:
        parse = type(self.plugin).parse
        response = page.response
        if parse is None or response is None or not self.plugin.wants_parse(response):
            return
        try:
            page.parsed = await self._pool.parse(parse, response)
        except ParseCrashedError as exc:
            log.warning("parse process died on %s", page.url)
            page.error, page.error_detail = "parse_crashed", str(exc)
        except ValueError as exc:  # the plugin's parse raised: recorded on the page
            log.warning("parse failed on %s: %s", page.url, exc)
            page.error, page.error_detail = "parse_error", str(exc)

    # --- main loop ----------------------------------------------------------------------------

    async def serve(self) -> None:
        """Run until the supervisor says Shutdown (then hand back and say Bye) or goes away."""
        tasks = [
            asyncio.create_task(self._read_loop(), name="read"),
            asyncio.create_task(self._lag.run(), name="loop-lag"),
            asyncio.create_task(self._report_stats(), name="stats"),
        ]
        try:
            self._channel.send_nowait(Hello(worker_id=self.config.worker_id, pid=os.getpid()))
            await self._finished.wait()
        finally:
            if self._shutdown_task is not None:
                tasks.append(self._shutdown_task)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._cancel_active()

    async def _read_loop(self) -> None:
        # Reading goes on during a shutdown: requests finishing in the grace period still need
        # their broker grants and robots rules.
        while True:
            try:
                msg = await self._channel.recv()
            except EOFError:
                # The supervisor is gone: nobody to hand work back to. Stop at once.
                self._finished.set()
                return
            if isinstance(msg, Lease):
                for request in msg.requests:
                    task = asyncio.create_task(self._process(request))
                    self._active[task] = request
                    task.add_done_callback(self._active.pop)
            elif isinstance(msg, Grant):
                self._broker.on_grant(msg.tokens)
            elif isinstance(msg, RobotsRules):
                if self.robots is not None:
                    self.robots.provide(msg)
            elif isinstance(msg, RobotsAssign):
                task = asyncio.create_task(self._fetch_robots(msg.origin))
                self._robots_tasks.add(task)
                task.add_done_callback(self._robots_tasks.discard)
            elif isinstance(msg, Shutdown) and self._shutdown_task is None:
                self._shutdown_task = asyncio.create_task(self._shutdown(msg.grace))

    async def _shutdown(self, grace: float) -> None:
        # Requests still waiting for a slot are handed back at once (cancelled here, before any
        # can start); those already on the wire get the grace period to finish, and whatever
        # is still running then is handed back too.
        returned = [r for t, r in self._active.items() if t not in self._started]
        for task in list(self._active):
            if task not in self._started:
                task.cancel()
        started = [t for t in self._active if t in self._started]
        if started:
            await asyncio.wait(started, timeout=grace)
        returned += [r for t, r in self._active.items() if not t.done()]
        await self._cancel_active()
        self._flush_results()
        self._channel.send_nowait(self._stats())
        await self._channel.send(Bye(worker_id=self.config.worker_id, returned=returned))
        self._finished.set()

    async def _cancel_active(self) -> None:
        tasks = [*self._active, *self._robots_tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- one request --------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _permit(self, host: str) -> AsyncIterator[None]:
        """The host's broker permit, then one of this worker's --concurrency slots.

        In that order: a request waiting for a busy host must not hold a slot that a request
        to an idle host could use (with many hosts and few slots, that starved the idle ones).
        The slot covers the exchange on the wire only, not the wait for a parse.
        """
        async with self._broker.permit(host), self._slots:
            task = asyncio.current_task()
            if task is not None and task in self._active and task not in self._started:
                self._started.add(task)
                task.add_done_callback(self._started.discard)
            yield

    async def _process(self, request: Request) -> None:
        outcome = Outcome(url=request.url)
        page = Page(url=request.url, depth=request.depth, response=None, meta=request.meta)
        if request.attempt >= self.config.max_attempts:
            # Every earlier attempt died with its worker: do not try a fourth crash.
            page.error, page.error_detail = "worker_crashed", "its worker died on every try"
        else:
            fetched = await self._fetcher.fetch(request)
            page.response = fetched.response
            page.error, page.error_detail = fetched.error, fetched.detail
            page.elapsed_ms = fetched.elapsed_ms
            outcome.status = page.status
            outcome.nbytes = len(fetched.response.body) if fetched.response else 0
            if fetched.retry_at is not None:
                outcome.error = fetched.error
                outcome.retry_at = fetched.retry_at
                outcome.retry_after = fetched.retry_after
                self._add_result(outcome)
                return
            if page.error == "robots_disallowed":
                outcome.error = page.error
                self._add_result(outcome)
                return
        page.fetched_at = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
        if page.error is None and page.response is not None:
            if self.config.remember_pages or request.etag or request.last_modified:
                _remember(request, page, outcome)
            if not page.unchanged:
                await self._parse(page)
        outcome.error = page.error
        try:
            await self.plugin.handle(page, _PageContext(self, page, outcome))
        except Exception as exc:  # a plugin bug must not lose the page or kill the worker
            log.exception("plugin %s failed on %s", self.plugin.name, request.url)
            outcome.error = "plugin_error"
            outcome.items.append(
                orjson.dumps({"url": request.url, "error": "plugin_error", "detail": repr(exc)})
            )
        self._add_result(outcome)

    async def _fetch_robots(self, origin: str) -> None:
        url = origin + "/robots.txt"
        status, body, refused, reason = 0, b"", False, ""
        for attempt in range(3):
            try:
                async with (
                    self._broker.permit(host_key(url)),
                    asyncio.timeout(self.config.timeout),
                    # RFC 9309: follow at least five redirects. aiohttp raises on reaching
                    # max_redirects, so 6 follows five; the SSRF rule checks every hop.
                    self._session.get(url, max_redirects=_ROBOTS_REDIRECTS + 1) as resp,
                ):
                    status = resp.status
                    body = await _read_prefix(resp.content, ROBOTS_MAX_BYTES)
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.debug("robots.txt of %s: %s", origin, exc)
                status = 0
                refused = forbidden_cause(exc) is not None
                reason = str(exc) or type(exc).__name__
            if status >= 500:
                reason = f"HTTP {status}"
            if refused or (status != 0 and status < 500) or attempt == 2:
                break
            await asyncio.sleep(0.5 * 2**attempt)
        delay = None
        if 200 <= status < 300:
            delay = robots_policy(status, body).crawl_delay(self.config.user_agent)
        await self._channel.send(
            RobotsFetched(
                origin=origin,
                status=status,
                body=body,
                crawl_delay=delay,
                refused=refused,
                reason=reason,
            )
        )

    def _want_robots(self, origin: str) -> None:
        self._channel.send_nowait(RobotsWanted(origin=origin))

    # --- results ------------------------------------------------------------------------------

    def _add_result(self, outcome: Outcome) -> None:
        self._results.append(outcome)
        if len(self._results) >= _RESULT_BATCH:
            self._flush_results()
        elif self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_later(
                _RESULT_DELAY, self._flush_results
            )

    def _flush_results(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self._results:
            self._channel.send_nowait(Results(outcomes=self._results))
            self._results = []

    async def _report_stats(self) -> None:
        while True:
            await asyncio.sleep(_STATS_EVERY)
            self._channel.send_nowait(self._stats())
            await self._channel.drain()

    def _stats(self) -> WorkerStats:
        return WorkerStats(
            worker_id=self.config.worker_id,
            loop_lag_max_ms=self._lag.max_ms,
            in_flight=len(self._active),
            parse_pool_restarts=self._pool.restarts,
        )


async def _read_prefix(content: aiohttp.StreamReader, limit: int) -> bytes:
    """Up to ``limit`` bytes of a body; the rest is never read (robots.txt past 500 KiB)."""
    parts: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await content.read(limit - size)
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)
