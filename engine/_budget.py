"""Budgets for paid API calls (an LLM provider's requests/min and tokens/min) and a circuit breaker.

:class:`RateBudget` is the broker's budget for API calls: one per provider key (one account's
limits), shared by every caller in the process that uses that key, so two analyzers on the same
key cannot together exceed it. Get it with :func:`shared_budget`. It keeps two sliding 60-second
windows, the way providers count:

* requests: at most ``requests_per_min`` grants in any window;
* tokens: the tokens of the calls granted in the window (their estimate at first, corrected by
  :meth:`RateBudget.settle` with the provider's reported usage) stay within ``tokens_per_min``.

Grants are strictly first come, first served: a large request at the head of the queue is not
overtaken by small ones behind it, so it cannot starve. A 429's ``Retry-After`` goes to
:meth:`RateBudget.pause`, which holds every caller, because the provider throttles the key, not
the one request.

The budget is per process. The crawl runs workers in several processes, each with its own
budget: whoever builds them divides the account's limits among the processes that make calls.

:class:`CircuitBreaker` stops calls to a provider that keeps failing (closed → open after N
consecutive failures; open rejects at once; after ``reset_after`` one probe goes through, and
its outcome closes or re-opens the circuit). Both take an injectable clock for tests.
"""

from __future__ import annotations

import asyncio
import collections
import math
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Literal

import msgspec

from .errors import FetchError, UsageError

__all__ = [
    "BreakerAttempt",
    "BreakerStats",
    "BudgetStats",
    "CircuitBreaker",
    "CircuitOpenError",
    "RateBudget",
    "Reservation",
    "shared_budget",
]

BreakerState = Literal["closed", "open", "half_open"]


class BudgetStats(msgspec.Struct):
    requests_per_min: float | None = None
    tokens_per_min: float | None = None
    #: Calls granted.
    granted: int = 0
    #: Calls that had to wait for their grant, and the seconds they waited in all.
    waits: int = 0
    waited_s: float = 0.0
    #: Pauses asked for (Retry-After), and callers waiting now.
    pauses: int = 0
    waiting: int = 0
    #: Tokens counted in the current token window (estimates until settled).
    tokens_in_window: int = 0


class Reservation:
    """One grant's share of the token window, to be corrected by :meth:`RateBudget.settle`."""

    __slots__ = ("at", "counted", "tokens")

    def __init__(self, at: float, tokens: int) -> None:
        self.at = at
        self.tokens = tokens
        #: False once the grant has left the token window (or was never in one).
        self.counted = False


class _Waiter:
    __slots__ = ("poke", "tokens")

    def __init__(self, tokens: int) -> None:
        self.tokens = tokens
        #: Resolved to make a parked or sleeping waiter look at the queue again.
        self.poke: asyncio.Future[None] | None = None


class RateBudget:
    """Requests/min and tokens/min for one provider key; ``None`` leaves that limit off.

    ``window`` is the length of the sliding windows in seconds (60, as providers count; tests
    shorten it). ``clock`` and ``sleep`` are injectable together so tests can run on a fake
    clock whose ``sleep`` advances it.

    A ``requests_per_min`` below 1 (or not whole) is honoured on average: ``n = floor(rpm)``
    grants (at least 1) per ``n / rpm`` windows.
    """

    def __init__(
        self,
        requests_per_min: float | None,
        tokens_per_min: float | None,
        *,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        for name, value in (
            ("requests_per_min", requests_per_min),
            ("tokens_per_min", tokens_per_min),
        ):
            if value is not None and not value > 0:
                raise UsageError(f"{name} must be more than 0, not {value!r}")
        self._rpm = requests_per_min
        self._tpm = tokens_per_min
        self._window = window
        self._clock = clock
        self._sleep = sleep
        # Requests: the last ``_req_cap`` grant times; a grant may go when the oldest of them
        # is ``_req_window`` old.
        self._req_cap = max(1, math.floor(requests_per_min)) if requests_per_min else 0
        self._req_window = self._req_cap * window / requests_per_min if requests_per_min else 0.0
        self._granted_at: collections.deque[float] = collections.deque()
        # Tokens: every grant in the last ``window`` seconds with its (settled) token count.
        self._spent: collections.deque[Reservation] = collections.deque()
        self._spent_sum = 0
        self._paused_until = -math.inf
        self._queue: collections.deque[_Waiter] = collections.deque()
        self._stats = BudgetStats(requests_per_min=requests_per_min, tokens_per_min=tokens_per_min)

    async def acquire(self, tokens: int) -> Reservation:
        """Wait until a call estimated at ``tokens`` tokens fits both windows, and count it.

        Cancellation-safe: a waiter cancelled before its grant takes nothing and lets the next
        one go. A call estimated above the whole token budget is counted as exactly the budget
        (it goes alone, when the window is empty) rather than waiting forever.
        """
        tokens = max(0, int(tokens))
        if self._tpm is not None:
            tokens = min(tokens, math.floor(self._tpm))
        waiter = _Waiter(tokens)
        self._queue.append(waiter)
        started = self._clock()
        waited = False
        try:
            while True:
                if self._queue[0] is waiter:
                    now = self._clock()
                    ready = self._ready_at(tokens, now)
                    if ready <= now:
                        break
                    waited = True
                    await self._nap(waiter, ready - now)
                else:
                    waited = True
                    await self._park(waiter)
        except BaseException:
            was_head = self._queue[0] is waiter
            self._queue.remove(waiter)
            if was_head:
                self._poke_head()
            raise
        self._queue.popleft()
        reservation = self._grant(tokens)
        if waited:
            self._stats.waits += 1
            self._stats.waited_s += self._clock() - started
        self._poke_head()
        return reservation

    def settle(self, reservation: Reservation, actual: int) -> None:
        """Replace a grant's estimated tokens with what the provider reported it used.

        A grant already out of the window is left alone: the provider's window has let go of
        it too. Settling below the estimate frees tokens for the waiters at once.
        """
        actual = max(0, int(actual))
        if not reservation.counted:
            reservation.tokens = actual
            return
        self._spent_sum += actual - reservation.tokens
        freed = actual < reservation.tokens
        reservation.tokens = actual
        if freed:
            self._poke_head()

    def pause(self, seconds: float) -> None:
        """Grant nothing to anyone for the next ``seconds`` (a provider's Retry-After)."""
        if seconds <= 0:
            return
        self._stats.pauses += 1
        self._paused_until = max(self._paused_until, self._clock() + seconds)
        # The head's nap was computed without the pause; it re-checks when it wakes anyway,
        # so no poke is needed.

    def stats(self) -> BudgetStats:
        self._expire(self._clock())
        return msgspec.structs.replace(
            self._stats, waiting=len(self._queue), tokens_in_window=self._spent_sum
        )

    # --- internals ----------------------------------------------------------------------------

    def _expire(self, now: float) -> None:
        horizon = now - self._window
        while self._spent and self._spent[0].at <= horizon:
            old = self._spent.popleft()
            old.counted = False
            self._spent_sum -= old.tokens
        while len(self._granted_at) > self._req_cap:
            self._granted_at.popleft()

    def _ready_at(self, tokens: int, now: float) -> float:
        """The earliest time at which a call of ``tokens`` may be granted (``<= now``: at once)."""
        self._expire(now)
        ready = self._paused_until
        if self._req_cap and len(self._granted_at) >= self._req_cap:
            ready = max(ready, self._granted_at[0] + self._req_window)
        if self._tpm is not None:
            excess = self._spent_sum + tokens - self._tpm
            if excess > 0:
                # Wait until enough of the oldest grants have left the window.
                for old in self._spent:
                    excess -= old.tokens
                    if excess <= 0:
                        ready = max(ready, old.at + self._window)
                        break
        return ready

    def _grant(self, tokens: int) -> Reservation:
        now = self._clock()
        reservation = Reservation(now, tokens)
        if self._req_cap:
            self._granted_at.append(now)
        if self._tpm is not None:
            reservation.counted = True
            self._spent.append(reservation)
            self._spent_sum += tokens
        self._stats.granted += 1
        return reservation

    def _poke_head(self) -> None:
        if self._queue:
            poke = self._queue[0].poke
            if poke is not None and not poke.done():
                poke.set_result(None)

    async def _park(self, waiter: _Waiter) -> None:
        """Wait, behind the head, until poked (the queue moved)."""
        waiter.poke = asyncio.get_running_loop().create_future()
        try:
            await waiter.poke
        finally:
            waiter.poke = None

    async def _nap(self, waiter: _Waiter, delay: float) -> None:
        """As the head: wait ``delay`` seconds, or less if tokens were freed meanwhile."""
        waiter.poke = asyncio.get_running_loop().create_future()
        sleeper = asyncio.ensure_future(self._sleep(delay))
        try:
            await asyncio.wait((waiter.poke, sleeper), return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.poke = None
            sleeper.cancel()


_SHARED: dict[tuple[str, float | None, float | None], RateBudget] = {}


def shared_budget(
    key: str, requests_per_min: float | None, tokens_per_min: float | None
) -> RateBudget:
    """The process's budget for provider key ``key`` with these limits, made on first use.

    Every caller asking for the same key and limits shares one budget. (Asking with other
    limits gets another budget rather than silently the first caller's limits: the limits are
    the account's, so they should not differ.) The budget keeps no event-loop state between
    calls, so it survives a new loop.
    """
    slot = (key, requests_per_min, tokens_per_min)
    budget = _SHARED.get(slot)
    if budget is None:
        budget = _SHARED[slot] = RateBudget(requests_per_min, tokens_per_min)
    return budget


# --- circuit breaker --------------------------------------------------------------------------


class CircuitOpenError(FetchError):
    """The circuit breaker refused the call: the service failed too often lately.

    ``retry_in`` says when the breaker lets a probe through (0: a probe is already out).
    """

    kind = "circuit_open"

    def __init__(self, message: str, retry_in: float) -> None:
        super().__init__(message)
        self.retry_in = retry_in


class BreakerStats(msgspec.Struct):
    state: BreakerState = "closed"
    #: Times the circuit opened, calls it rejected, probes it let through in half-open.
    opens: int = 0
    rejected: int = 0
    probes: int = 0
    #: Failures in a row now (closed state), and failures/successes recorded in all.
    consecutive_failures: int = 0
    failures: int = 0
    successes: int = 0


class CircuitBreaker:
    """closed → open after ``failures_to_open`` consecutive failures; open rejects every call
    with :class:`CircuitOpenError` until ``reset_after`` seconds have passed; then half-open
    lets exactly one probe through: its success closes the circuit, its failure re-opens it
    (and restarts the timer).

    Use one :meth:`attempt` per request::

        with breaker.attempt() as attempt:   # raises CircuitOpenError when open
            response = await send()
            if response.ok: attempt.succeeded()
            elif provider_is_unwell(response): attempt.failed()

    An attempt that ends with neither verdict (a 429, a bad request, cancellation) leaves the
    state as it was and, if it was the probe, frees the probe slot for the next caller.
    """

    def __init__(
        self,
        failures_to_open: int = 5,
        reset_after: float = 30.0,
        *,
        name: str = "service",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failures_to_open < 1:
            raise UsageError(f"failures_to_open must be at least 1, not {failures_to_open}")
        self._threshold = failures_to_open
        self._reset_after = reset_after
        self._name = name
        self._clock = clock
        self._open = False
        self._opened_at = 0.0
        self._probe_out = False
        self._stats = BreakerStats()

    @property
    def state(self) -> BreakerState:
        if not self._open:
            return "closed"
        if self._probe_out or self._clock() - self._opened_at >= self._reset_after:
            return "half_open"
        return "open"

    def attempt(self) -> BreakerAttempt:
        """Admit one request, or raise :class:`CircuitOpenError` at once."""
        if self._open:
            wait = self._opened_at + self._reset_after - self._clock()
            if wait > 0 or self._probe_out:
                self._stats.rejected += 1
                raise CircuitOpenError(
                    f"{self._name}: circuit open after {self._threshold} failures in a row"
                    + (f"; next try in {wait:.1f} s" if wait > 0 else "; a probe is out"),
                    max(0.0, wait),
                )
            self._probe_out = True
            self._stats.probes += 1
            return BreakerAttempt(self, probe=True)
        return BreakerAttempt(self, probe=False)

    def stats(self) -> BreakerStats:
        return msgspec.structs.replace(self._stats, state=self.state)

    def _record(self, attempt: BreakerAttempt, ok: bool | None) -> None:
        if attempt.probe:
            self._probe_out = False
        if ok is None:
            return
        if ok:
            self._stats.successes += 1
        else:
            self._stats.failures += 1
        if attempt.probe:
            if ok:
                self._open = False
                self._stats.consecutive_failures = 0
            else:
                self._trip()
        elif not self._open:
            # Results of requests admitted before the circuit opened do not move an open one:
            # only the probe decides when it closes.
            if ok:
                self._stats.consecutive_failures = 0
            else:
                self._stats.consecutive_failures += 1
                if self._stats.consecutive_failures >= self._threshold:
                    self._trip()

    def _trip(self) -> None:
        self._open = True
        self._opened_at = self._clock()
        self._stats.opens += 1
        self._stats.consecutive_failures = 0


class BreakerAttempt:
    """One admitted request; say how it went with :meth:`succeeded` or :meth:`failed`."""

    __slots__ = ("_breaker", "_done", "probe")

    def __init__(self, breaker: CircuitBreaker, *, probe: bool) -> None:
        self._breaker = breaker
        self.probe = probe
        self._done = False

    def succeeded(self) -> None:
        self._finish(True)

    def failed(self) -> None:
        self._finish(False)

    def _finish(self, ok: bool | None) -> None:
        if not self._done:
            self._done = True
            self._breaker._record(self, ok)

    def __enter__(self) -> BreakerAttempt:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._finish(None)
