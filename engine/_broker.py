"""The shared rate-limit broker: per-host limits that hold across every worker, as one limit.

Each request takes a permit for its host before it is sent and gives it back when the response
has been read (or failed). A host's permits are limited two ways at once:

* concurrency: at most ``per_host_concurrency`` permits out at any moment;
* rate: permits are handed out at least ``interval`` seconds apart, where ``interval`` is the
  larger of ``1 / rate`` and the host's robots.txt ``Crawl-delay``; a 429/503 with
  ``Retry-After`` pauses the host until then. With ``--rate R`` there is also a sliding window:
  no more than R grants in any ``1 s + margin``, the margin being half the spacing (at most
  100 ms). Exact spacing alone would let the server see R + 1 requests in some 1-second
  window as soon as delivery jitter bunches two of them; the margin absorbs that jitter at a
  cost of ``margin`` seconds per R requests (20/s: 2.5 %).

The broker lives in the supervisor. Workers reach it over IPC (``Acquire``/``Grant``/``Release``
messages, batched per event-loop tick); the supervisor turns those into :meth:`submit` and
:meth:`release` calls. The async :meth:`acquire`/:meth:`release` pair is the small interface a
Redis implementation will share.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

import msgspec

__all__ = ["BrokerStats", "LocalBroker", "RateLimits", "window_margin"]


def window_margin(rate: float) -> float:
    """Extra seconds on the 1-second rate window, to absorb grant-to-request jitter."""
    return min(0.1, 0.5 / rate)


class RateLimits(msgspec.Struct, frozen=True):
    """Limits applied to every host. ``rate`` is requests per second; 0 means no rate limit."""

    per_host_concurrency: int = 8
    rate: float = 0.0


class BrokerStats(msgspec.Struct):
    hosts: int = 0
    permits_out: int = 0
    waiting: int = 0
    granted: int = 0


@dataclass
class _Host:
    concurrency: int
    interval: float
    in_use: int = 0
    next_at: float = 0.0  # monotonic time before which no permit may be granted
    waiters: collections.deque[tuple[Hashable, Callable[[], None]]] = field(
        default_factory=collections.deque
    )
    timer: asyncio.TimerHandle | None = None
    #: Grant times of the last ``window`` grants (only with a rate limit).
    recent: collections.deque[float] = field(default_factory=collections.deque)
    window: int = 0


class LocalBroker:
    """In-process broker. Invariant: a key is either waiting or holding, never both."""

    def __init__(self, limits: RateLimits, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._limits = limits
        self._clock = clock
        self._hosts: dict[str, _Host] = {}
        self._holding: dict[Hashable, str] = {}
        self._granted = 0
        self._margin = window_margin(limits.rate) if limits.rate > 0 else 0.0

    # --- callback form, used by the supervisor for IPC requests ------------------------------

    def submit(self, host: str, key: Hashable, on_grant: Callable[[], None]) -> None:
        """Queue a request for a permit on ``host``; ``on_grant()`` runs when it is granted."""
        state = self._host(host)
        state.waiters.append((key, on_grant))
        self._pump(host, state)

    def release(self, key: Hashable) -> None:
        """Give back the permit held under ``key`` (unknown keys are ignored)."""
        host = self._holding.pop(key, None)
        if host is None:
            return
        state = self._hosts[host]
        state.in_use -= 1
        self._pump(host, state)

    def cancel(self, predicate: Callable[[Hashable], bool]) -> int:
        """Drop waiting requests and held permits whose key matches (a worker died)."""
        dropped = 0
        for host, state in self._hosts.items():
            before = len(state.waiters)
            state.waiters = collections.deque(w for w in state.waiters if not predicate(w[0]))
            dropped += before - len(state.waiters)
            held = [k for k, h in self._holding.items() if h == host and predicate(k)]
            for key in held:
                del self._holding[key]
                state.in_use -= 1
            dropped += len(held)
            self._pump(host, state)
        return dropped

    # --- async form: the interface a distributed broker shares -------------------------------

    async def acquire(self, host: str, key: Hashable) -> None:
        """Wait for a permit on ``host``, held under ``key`` until :meth:`release`."""
        loop = asyncio.get_running_loop()
        granted: asyncio.Future[None] = loop.create_future()

        def grant() -> None:
            if not granted.done():
                granted.set_result(None)

        self.submit(host, key, grant)
        try:
            await granted
        except asyncio.CancelledError:
            # Either still waiting (drop the request) or granted in the same tick (give it back).
            self.cancel(lambda k: k == key)
            raise

    # --- host-level adjustments -----------------------------------------------------------

    def set_crawl_delay(self, host: str, seconds: float) -> None:
        """Space this host's requests at least ``seconds`` apart (robots.txt Crawl-delay)."""
        state = self._host(host)
        state.interval = max(self._base_interval(), seconds)

    def pause(self, host: str, seconds: float) -> None:
        """Grant nothing for ``host`` during the next ``seconds`` (Retry-After)."""
        state = self._host(host)
        state.next_at = max(state.next_at, self._clock() + seconds)

    def stats(self) -> BrokerStats:
        return BrokerStats(
            hosts=len(self._hosts),
            permits_out=len(self._holding),
            waiting=sum(len(s.waiters) for s in self._hosts.values()),
            granted=self._granted,
        )

    def in_use(self, host: str) -> int:
        state = self._hosts.get(host)
        return state.in_use if state is not None else 0

    # --- internals ----------------------------------------------------------------------------

    def _base_interval(self) -> float:
        return 1.0 / self._limits.rate if self._limits.rate > 0 else 0.0

    def _host(self, host: str) -> _Host:
        state = self._hosts.get(host)
        if state is None:
            state = _Host(self._limits.per_host_concurrency, self._base_interval())
            if self._limits.rate > 0:
                state.window = max(1, int(self._limits.rate))
            self._hosts[host] = state
        return state

    def _pump(self, host: str, state: _Host) -> None:
        while state.waiters and state.in_use < state.concurrency:
            now = self._clock()
            ready_at = state.next_at
            if state.window and len(state.recent) >= state.window:
                ready_at = max(ready_at, state.recent[0] + 1.0 + self._margin)
            if now < ready_at:
                self._wake_at(host, state, ready_at)
                return
            key, on_grant = state.waiters.popleft()
            state.in_use += 1
            if state.interval > 0:
                state.next_at = now + state.interval
            if state.window:
                state.recent.append(now)
                if len(state.recent) > state.window:
                    state.recent.popleft()
            self._holding[key] = host
            self._granted += 1
            on_grant()

    def _wake_at(self, host: str, state: _Host, when: float) -> None:
        if state.timer is not None:
            return
        loop = asyncio.get_running_loop()

        def fire() -> None:
            state.timer = None
            self._pump(host, state)

        # The clock is time.monotonic, which is also what the event loop's call_at uses.
        state.timer = loop.call_at(loop.time() + max(0.0, when - self._clock()), fire)
