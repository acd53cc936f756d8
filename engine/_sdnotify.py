"""systemd's readiness protocol (``sd_notify``), spoken directly over ``$NOTIFY_SOCKET``.

Under ``Type=notify`` systemd hands the service an ``AF_UNIX`` datagram socket in
``$NOTIFY_SOCKET`` (a filesystem path, or ``@name`` for the abstract namespace) and reads
newline-separated ``KEY=VALUE`` assignments from it: ``READY=1`` once the service serves,
``STATUS=`` for ``systemctl status``, ``RELOADING=1``/``STOPPING=1`` around reloads and
shutdown, ``WATCHDOG=1`` keep-alives when ``WatchdogSec=`` is set, ``EXTEND_TIMEOUT_USEC=`` to
push back a start/stop timeout. The protocol is a dozen lines of stdlib ``socket``, so no
library is pulled in for it.

Everything here is a no-op when ``$NOTIFY_SOCKET`` is unset, so the same daemon runs unchanged
in a terminal, under a test, or under systemd.

Who sends what: only the supervisor (the unit's main process) may notify — systemd's default
``NotifyAccess=main`` drops datagrams from any other pid. ``Notifier.from_environment(...,
unset=True)`` removes the variables so spawned workers do not even see them.

The ``systemd.md`` document in ``docs/`` has the unit file and how the daemon is meant to use
this module.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
import time
from collections.abc import Callable, Mapping, MutableMapping
from types import TracebackType

__all__ = ["LoopHealth", "Notifier", "watchdog"]

log = logging.getLogger("shoal.sdnotify")

# What systemd accepts as a field name; anything else is a caller's bug, and sending it would
# at best be ignored, at worst (an "=" or newline in the key) forge another assignment.
_KEY = re.compile(r"[A-Z][A-Z0-9_]*")

# A datagram to PID 1's notify socket practically never blocks (systemd drains it at once and
# sizes its receive buffer generously), but a wedged or hostile receiver must not be able to
# freeze the event loop that calls us: give up on a datagram after this long and log it.
_SEND_TIMEOUT = 1.0

# Variables systemd sets for the notify protocol and the watchdog; ``unset=True`` removes them.
_PROTOCOL_VARIABLES = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


def _one_line(text: str) -> str:
    # A newline inside a value would start a new assignment (``STATUS=x\nREADY=1``), and
    # ``systemctl status`` shows one line anyway.
    return " ".join(text.splitlines()) if ("\n" in text or "\r" in text) else text


def _monotonic_usec() -> int:
    # systemd compares MONOTONIC_USEC with its own CLOCK_MONOTONIC; ask for that clock by name
    # rather than trusting time.monotonic() to be the same one.
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def _address(value: str) -> str | bytes | None:
    """The ``sendto`` address for a ``$NOTIFY_SOCKET`` value; None if we cannot use it."""
    if value.startswith("/"):
        return value
    if value.startswith("@"):
        # Abstract namespace: the kernel name is a NUL byte followed by the rest, unterminated.
        return b"\0" + os.fsencode(value[1:])
    if value.startswith("vsock:"):
        # systemd ≥ 254 can hand a VM's service an AF_VSOCK address; shoal does not run as a
        # VM's init, so this is not supported rather than half-supported.
        log.info("NOTIFY_SOCKET=%s is an AF_VSOCK address; systemd notifications are off", value)
        return None
    log.warning("NOTIFY_SOCKET=%r is neither a path nor @abstract; notifications are off", value)
    return None


class Notifier:
    """sd_notify over ``NOTIFY_SOCKET``; every method is a no-op when the variable is unset.

    ``status()`` rate limit (the choice): an unchanged text is never re-sent; a changed one is
    sent at once unless a STATUS went out less than ``status_interval`` (0.5 s) ago, in which
    case it is held and the newest held text is sent when the interval is up (a timer on the
    running event loop). So a caller may report progress on every page without flooding PID 1,
    and the last word always arrives. Without a running loop there is nothing to schedule a
    later send on, so changed texts are sent at once. ``ready()``, ``stopping()`` and
    ``reloading()`` are never delayed: they drop any held text and carry their own STATUS.

    Not thread-safe: call it from the event loop's thread (signal handlers installed with
    ``loop.add_signal_handler`` qualify).
    """

    enabled: bool

    def __init__(
        self,
        address: str | None,
        *,
        watchdog_usec: int | None = None,
        watchdog_pid: int | None = None,
        status_interval: float = 0.5,
    ) -> None:
        """``address`` is the raw ``$NOTIFY_SOCKET`` value (None or "" for not under systemd)."""
        self._address = _address(address) if address else None
        self.enabled = self._address is not None
        self._watchdog_usec = watchdog_usec
        self._watchdog_pid = watchdog_pid
        self._status_interval = status_interval
        self._sock: socket.socket | None = None
        self._failure_logged = False
        self._last_status: str | None = None
        self._last_status_at = float("-inf")
        self._held_status: str | None = None
        self._held_timer: asyncio.TimerHandle | None = None

    @classmethod
    def from_environment(
        cls,
        environ: Mapping[str, str] = os.environ,
        *,
        unset: bool = False,
        status_interval: float = 0.5,
    ) -> Notifier:
        """A notifier for ``$NOTIFY_SOCKET``, ``$WATCHDOG_USEC`` and ``$WATCHDOG_PID``.

        ``unset=True`` removes the three variables from ``environ`` (when it is mutable, as
        ``os.environ`` is) so processes started afterwards — workers, parse pools — neither
        inherit the socket nor believe the watchdog is theirs.
        """
        watchdog_usec = _positive_int(environ, "WATCHDOG_USEC")
        watchdog_pid = _positive_int(environ, "WATCHDOG_PID")
        notifier = cls(
            environ.get("NOTIFY_SOCKET"),
            watchdog_usec=watchdog_usec,
            watchdog_pid=watchdog_pid,
            status_interval=status_interval,
        )
        if unset and isinstance(environ, MutableMapping):
            for name in _PROTOCOL_VARIABLES:
                environ.pop(name, None)
        return notifier

    # --- the protocol ---------------------------------------------------------------------------

    def notify(self, **fields: str | int) -> bool:
        """Send ``fields`` as one datagram (``KEY=VALUE`` lines, in the order given).

        Never raises: a failure is logged once as a warning (then at debug level, as a failing
        notify socket would otherwise flood the journal) and returns False. Returns whether the
        datagram was sent; always False when not under systemd or after :meth:`close`.
        """
        if self._address is None or not fields:
            return False
        lines = []
        for key, value in fields.items():
            if not _KEY.fullmatch(key):
                self._failed(f"invalid field name {key!r}")
                return False
            if isinstance(value, bool):
                value = int(value)  # READY=True would mean nothing to systemd; READY=1 does
            lines.append(f"{key}={_one_line(str(value))}")
        payload = "\n".join(lines).encode("utf-8", "replace")
        try:
            if self._sock is None:
                # Opened on first use and kept: one socket for the life of the service rather
                # than one per watchdog ping. Python's sockets are close-on-exec already.
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._sock.settimeout(_SEND_TIMEOUT)
            self._sock.sendto(payload, self._address)
        except OSError as exc:
            self._failed(f"{exc} (NOTIFY_SOCKET={self._describe_address()})")
            return False
        return True

    def ready(self, status: str) -> None:
        """The service is up and serving: ``READY=1`` with a ``STATUS`` line.

        Also the end of a reload: after :meth:`reloading`, send ``ready()`` again once the new
        configuration is in force.
        """
        self._send_status_now(status, READY=1)

    def status(self, text: str) -> None:
        """A one-line progress for ``systemctl status`` (newlines become spaces).

        Rate-limited, see the class docstring: unchanged texts are not re-sent, changed ones
        at most once per ``status_interval``, the newest held one sent when it is up.
        """
        if self._address is None:
            return
        text = _one_line(text)
        if text == (self._held_status if self._held_status is not None else self._last_status):
            return
        wait = self._last_status_at + self._status_interval - time.monotonic()
        if wait > 0:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is not None:
                self._held_status = text
                if self._held_timer is None:
                    self._held_timer = loop.call_later(wait, self._send_held_status)
                return
        self._cancel_held()
        self._send_status(text)

    def stopping(self, status: str = "stopping") -> None:
        """Shutdown has begun: ``STOPPING=1``.

        systemd marks the unit deactivating, times the rest of the shutdown against
        ``TimeoutStopSec=`` (:meth:`extend_timeout` buys more) and no longer enforces the
        watchdog.
        """
        self._send_status_now(status, STOPPING=1)

    def reloading(self, status: str = "reloading configuration") -> None:
        """A reload has begun: ``RELOADING=1`` with ``MONOTONIC_USEC`` and a ``STATUS`` line.

        ``MONOTONIC_USEC`` (systemd ≥ 253) lets systemd tell this reload's notification from a
        stale one; older systemd ignores it. Finish the reload with :meth:`ready`.
        """
        self._send_status_now(status, RELOADING=1, MONOTONIC_USEC=_monotonic_usec())

    def extend_timeout(self, seconds: float) -> None:
        """Ask for ``seconds`` more before a start, reload or stop timeout fires.

        For a start that must first recover a large state file, or a stop that drains many
        workers: systemd allows this much more time from now, and the call can be repeated.
        """
        self.notify(EXTEND_TIMEOUT_USEC=max(1, round(seconds * 1_000_000)))

    def watchdog_interval(self) -> float | None:
        """Half of ``WATCHDOG_USEC`` in seconds, if the watchdog is on for this process.

        systemd restarts the service when no ``WATCHDOG=1`` arrives within ``WATCHDOG_USEC``;
        pinging at half of it (what ``sd_watchdog_enabled(3)`` recommends) leaves one ping's
        slack. ``WATCHDOG_PID``, when set, names the process the watchdog is meant for (a
        forked child inherits the variables but not the duty).
        """
        if self._address is None or self._watchdog_usec is None:
            return None
        if self._watchdog_pid is not None and self._watchdog_pid != os.getpid():
            return None
        return self._watchdog_usec / 2_000_000

    def close(self) -> None:
        """Close the socket and drop any held status; the notifier is a no-op from now on."""
        self._cancel_held()
        self._address = None
        self.enabled = False
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    # --- helpers --------------------------------------------------------------------------------

    def _send_status_now(self, status: str, **fields: str | int) -> None:
        self._cancel_held()
        text = _one_line(status)
        if self.notify(**fields, STATUS=text):
            self._sent_status(text)

    def _send_status(self, text: str) -> None:
        if self.notify(STATUS=text):
            self._sent_status(text)

    def _sent_status(self, text: str) -> None:
        self._last_status = text
        self._last_status_at = time.monotonic()

    def _send_held_status(self) -> None:
        self._held_timer = None
        text, self._held_status = self._held_status, None
        if text is not None and text != self._last_status:
            self._send_status(text)

    def _cancel_held(self) -> None:
        if self._held_timer is not None:
            self._held_timer.cancel()
            self._held_timer = None
        self._held_status = None

    def _failed(self, what: str) -> None:
        if self._failure_logged:
            log.debug("systemd notification failed: %s", what)
        else:
            self._failure_logged = True
            log.warning("systemd notification failed: %s (further failures at debug level)", what)

    def _describe_address(self) -> str:
        if isinstance(self._address, bytes):
            return "@" + os.fsdecode(self._address[1:])
        return str(self._address)


def _positive_int(environ: Mapping[str, str], name: str) -> int | None:
    value = environ.get(name)
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        log.warning("ignoring %s=%r: not a number", name, value)
        return None
    return number if number > 0 else None


async def watchdog(
    notifier: Notifier, healthy: Callable[[], bool], interval: float | None = None
) -> None:
    """Send ``WATCHDOG=1`` every ``interval`` seconds while ``healthy()`` is true.

    ``interval`` defaults to :meth:`Notifier.watchdog_interval` (half of ``WatchdogSec=``);
    a given one only changes the period. When ``healthy()`` is false (or raises) the ping is
    skipped and that is logged once per unhealthy spell, so if it stays false systemd's
    watchdog fires and, with ``Restart=on-failure``, restarts the service. The first ping goes
    out at once. Runs until cancelled; returns at once if the watchdog is off (not under
    systemd, no ``WatchdogSec=``, or ``WATCHDOG_PID`` names another process).
    """
    default = notifier.watchdog_interval()
    if default is None:
        return
    period = default if interval is None else interval
    loop = asyncio.get_running_loop()
    unhealthy_since: float | None = None
    next_at = loop.time()
    while True:
        try:
            ok = healthy()
        except Exception:
            log.exception("watchdog health check failed; treating it as unhealthy")
            ok = False
        if ok:
            if unhealthy_since is not None:
                log.warning(
                    "healthy again after %.1f s; systemd watchdog pings resumed",
                    time.monotonic() - unhealthy_since,
                )
                unhealthy_since = None
            notifier.notify(WATCHDOG=1)
        elif unhealthy_since is None:
            unhealthy_since = time.monotonic()
            log.warning("unhealthy; withholding systemd watchdog pings")
        # Keep to the original schedule rather than drifting by each iteration's own lateness;
        # after a long stall, skip the missed slots instead of pinging in a burst.
        next_at += period
        now = loop.time()
        if next_at < now:
            next_at = now + period
        await asyncio.sleep(next_at - now)


class LoopHealth:
    """Whether the event loop is responsive, for :func:`watchdog`'s ``healthy``.

    A task sleeps ``period`` (0.25 s) and measures how late it wakes; ``healthy()`` is false
    while the last lateness exceeds ``threshold`` (2 s), or while the next measurement is
    overdue by more than ``threshold`` (the loop is stalled right now, or the task died). It is
    false when not started too: no measurement, no vouching for the loop — a watchdog wired to
    a monitor somebody forgot to start must fail loudly, not ping forever.

    A loop that is stalled for good stops the pings by itself (the watchdog task never runs);
    this catches the loop that still turns but is blocked for seconds at a time, which a
    bare ping task would paper over by getting a turn in between.

    Use ``start()``/``await stop()`` from a running loop, or ``async with LoopHealth():``.
    """

    def __init__(self, threshold: float = 2.0, period: float = 0.25) -> None:
        self.threshold = threshold
        self.period = period
        self.lag = 0.0
        """The last measured lateness in seconds."""
        self.max_lag = 0.0
        """The worst lateness since start."""
        self._sampled_at: float | None = None
        self._task: asyncio.Task[None] | None = None

    def healthy(self) -> bool:
        if self._sampled_at is None or self._task is None or self._task.done():
            return False
        overdue = time.monotonic() - (self._sampled_at + self.period)
        return overdue <= self.threshold and self.lag <= self.threshold

    def start(self) -> None:
        if self._task is not None and not self._task.done():
            return
        self.lag = 0.0
        self._sampled_at = time.monotonic()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="shoal-loop-health")

    async def stop(self) -> None:
        task, self._task = self._task, None
        self._sampled_at = None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def __aenter__(self) -> LoopHealth:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _run(self) -> None:
        # time.monotonic(), not loop.time(): uvloop's clock is cached per loop iteration, so
        # it would not see a stall inside the very callback that caused it.
        while True:
            due = time.monotonic() + self.period
            await asyncio.sleep(self.period)
            now = time.monotonic()
            self.lag = max(0.0, now - due)
            self.max_lag = max(self.max_lag, self.lag)
            self._sampled_at = now
