"""systemd notifications against real AF_UNIX datagram sockets, as systemd's notify socket is.

Every test binds its own receiver (a filesystem path under tmp_path or an abstract name), hands
its address to the code through NOTIFY_SOCKET, and reads back the exact datagrams. The receiver
asks for SCM_CREDENTIALS, as systemd does, to see which pid each datagram came from (systemd's
NotifyAccess=main drops those not from the main process).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import struct
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvloop

from shoal.engine._sdnotify import LoopHealth, Notifier, watchdog

_UCRED = struct.Struct("iII")  # struct ucred: pid, uid, gid


class _Receiver:
    """A bound notify socket and the NOTIFY_SOCKET value that names it."""

    def __init__(self, sock: socket.socket, address: str) -> None:
        self.sock = sock
        self.address = address

    def env(self, **extra: str) -> dict[str, str]:
        return {"NOTIFY_SOCKET": self.address, **extra}

    def recv(self, timeout: float = 2.0) -> tuple[str, int]:
        """The next datagram and its sender's pid."""
        self.sock.settimeout(timeout)
        data, ancillary, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(_UCRED.size))
        pids = [
            _UCRED.unpack(cdata[: _UCRED.size])[0]
            for level, kind, cdata in ancillary
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS
        ]
        assert len(pids) == 1
        return data.decode(), pids[0]

    def drain(self) -> list[str]:
        """Every datagram queued now, without waiting."""
        self.sock.setblocking(False)
        got = []
        while True:
            try:
                got.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return got


def _bind(address: str) -> _Receiver:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    sock.bind("\0" + address[1:] if address.startswith("@") else address)
    return _Receiver(sock, address)


@pytest.fixture(params=["path", "abstract"])
def receiver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[_Receiver]:
    if request.param == "path":
        address = str(tmp_path / "notify.sock")
    else:
        address = f"@shoal-test-{secrets.token_hex(8)}"
    rx = _bind(address)
    try:
        yield rx
    finally:
        rx.sock.close()


@pytest.fixture
def path_receiver(tmp_path: Path) -> Iterator[_Receiver]:
    rx = _bind(str(tmp_path / "notify.sock"))
    try:
        yield rx
    finally:
        rx.sock.close()


def _block_the_loop(seconds: float) -> None:
    """The bug LoopHealth exists to catch: a blocking call on the event loop."""
    time.sleep(seconds)


def _usec() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


async def _eventually(condition: Callable[[], bool], timeout: float = 2.0) -> bool:
    """Whether ``condition()`` holds within ``timeout`` seconds, the event loop running meanwhile.

    For "it recovers" checks: a fixed sleep would fail whenever the loaded machine stalls us.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def test_lifecycle_datagrams_in_order(receiver: _Receiver) -> None:
    notifier = Notifier.from_environment(receiver.env(), status_interval=0.0)
    try:
        assert notifier.enabled
        notifier.ready("serving on 127.0.0.1:8787")
        assert receiver.recv() == ("READY=1\nSTATUS=serving on 127.0.0.1:8787", os.getpid())

        notifier.status("2 jobs, 140 pages, 12.5 pages/s")
        assert receiver.recv()[0] == "STATUS=2 jobs, 140 pages, 12.5 pages/s"

        before = _usec()
        notifier.reloading()
        after = _usec()
        lines = receiver.recv()[0].split("\n")
        assert lines[0] == "RELOADING=1"
        assert lines[1].startswith("MONOTONIC_USEC=")
        assert before <= int(lines[1].removeprefix("MONOTONIC_USEC=")) <= after
        assert lines[2:] == ["STATUS=reloading configuration"]

        notifier.ready("serving on 127.0.0.1:8787; 3 jobs")
        assert receiver.recv()[0] == "READY=1\nSTATUS=serving on 127.0.0.1:8787; 3 jobs"

        notifier.extend_timeout(2.5)
        assert receiver.recv()[0] == "EXTEND_TIMEOUT_USEC=2500000"

        notifier.stopping()
        assert receiver.recv()[0] == "STOPPING=1\nSTATUS=stopping"
        assert receiver.drain() == []
    finally:
        notifier.close()
    assert notifier.notify(STATUS="after close") is False  # and enabled is False
    assert receiver.drain() == []


async def test_status_is_one_line_and_rate_limited(path_receiver: _Receiver) -> None:
    # An interval long enough that a stalled test machine cannot outlast it between two calls.
    notifier = Notifier.from_environment(path_receiver.env(), status_interval=0.5)
    try:
        notifier.status("first\nsecond\r\nthird")
        assert path_receiver.recv()[0] == "STATUS=first second third"
        notifier.status("first\nsecond\r\nthird")  # unchanged: not re-sent
        notifier.status("b")  # within the interval: held ...
        notifier.status("c")  # ... and replaced by the newest
        assert path_receiver.drain() == []
        # The held text goes out when the interval is up: its timer is due before this sleep ends.
        await asyncio.sleep(0.55)
        assert path_receiver.drain() == ["STATUS=c"]

        # READY, STOPPING and RELOADING are never delayed, and drop a held status.
        notifier.ready("up")
        notifier.status("d")  # held: a STATUS went out with READY just now
        notifier.stopping()
        await asyncio.sleep(0.55)  # past the time "d" would have gone out
        assert path_receiver.drain() == ["READY=1\nSTATUS=up", "STOPPING=1\nSTATUS=stopping"]

        # A value cannot smuggle in another assignment; a bad key is refused, not sent.
        assert notifier.notify(STATUS="x\nREADY=1") is True
        assert path_receiver.recv()[0] == "STATUS=x READY=1"
        assert notifier.notify(READY=True, X_SHOAL="é") is True
        assert path_receiver.recv()[0] == "READY=1\nX_SHOAL=é"
        assert notifier.notify(**{"bad=key": 1}) is False
        assert notifier.notify() is False
        assert path_receiver.drain() == []
    finally:
        notifier.close()


async def test_disabled_without_notify_socket() -> None:
    for environ in ({}, {"NOTIFY_SOCKET": ""}, {"WATCHDOG_USEC": "1000000"}):
        notifier = Notifier.from_environment(environ)
        assert not notifier.enabled
        assert notifier.notify(READY=1) is False
        notifier.ready("up")
        notifier.status("busy")
        notifier.reloading()
        notifier.extend_timeout(1)
        notifier.stopping()
        assert notifier.watchdog_interval() is None
        await asyncio.wait_for(watchdog(notifier, lambda: True, 0.01), 0.5)
        notifier.close()


def test_unusable_addresses_are_off_with_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "shoal.sdnotify")
    assert not Notifier.from_environment({"NOTIFY_SOCKET": "vsock:2:1234"}).enabled
    assert not Notifier.from_environment({"NOTIFY_SOCKET": "relative/notify"}).enabled
    assert ["AF_VSOCK" in m or "neither" in m for m in caplog.messages] == [True, True]


def test_send_failure_never_raises_and_logs_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier.from_environment({"NOTIFY_SOCKET": str(tmp_path / "nobody.sock")})
    assert notifier.enabled
    assert notifier.notify(READY=1) is False
    notifier.ready("up")
    notifier.stopping()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "nobody.sock" in warnings[0].getMessage()
    notifier.close()


def test_unset_removes_the_variables_for_children(path_receiver: _Receiver) -> None:
    environ = path_receiver.env(WATCHDOG_USEC="30000000", WATCHDOG_PID=str(os.getpid()), HOME="/")
    notifier = Notifier.from_environment(environ, unset=True)
    try:
        assert environ == {"HOME": "/"}
        assert notifier.watchdog_interval() == 15.0
        notifier.ready("up")
        assert path_receiver.recv()[0] == "READY=1\nSTATUS=up"
    finally:
        notifier.close()


async def test_watchdog_belongs_to_watchdog_pid(path_receiver: _Receiver) -> None:
    other = Notifier.from_environment(
        path_receiver.env(WATCHDOG_USEC="100000", WATCHDOG_PID=str(os.getpid() + 1))
    )
    mine = Notifier.from_environment(
        path_receiver.env(WATCHDOG_USEC="100000", WATCHDOG_PID=str(os.getpid()))
    )
    no_pid = Notifier.from_environment(path_receiver.env(WATCHDOG_USEC="100000"))
    no_usec = Notifier.from_environment(path_receiver.env(WATCHDOG_PID=str(os.getpid())))
    try:
        assert other.watchdog_interval() is None
        assert mine.watchdog_interval() == 0.05
        assert no_pid.watchdog_interval() == 0.05
        assert no_usec.watchdog_interval() is None
        # Off means off: returns at once and sends nothing, even with an interval given.
        await asyncio.wait_for(watchdog(other, lambda: True), 0.5)
        await asyncio.wait_for(watchdog(other, lambda: True, 0.01), 0.5)
        await asyncio.wait_for(watchdog(no_usec, lambda: True), 0.5)
        assert path_receiver.drain() == []
    finally:
        for notifier in (other, mine, no_pid, no_usec):
            notifier.close()


async def test_watchdog_pings_only_while_healthy(
    path_receiver: _Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier.from_environment(path_receiver.env(WATCHDOG_USEC="100000"))
    ok = True

    def healthy() -> bool:
        return ok

    task = asyncio.create_task(watchdog(notifier, healthy))
    try:
        await asyncio.sleep(0.3)  # 0.05 s interval, first ping at once: about 7
        pings = path_receiver.drain()
        assert set(pings) == {"WATCHDOG=1"}
        # At least the first and one more (a stalled machine skips slots, never bursts).
        assert 2 <= len(pings) <= 8

        ok = False
        path_receiver.drain()
        await asyncio.sleep(0.2)
        assert path_receiver.drain() == []
        withheld = [m for m in caplog.messages if "withholding" in m]
        assert len(withheld) == 1  # logged once per unhealthy spell, not per skipped ping

        ok = True
        await asyncio.sleep(0.15)
        resumed = path_receiver.drain()
        assert len(resumed) <= 5  # about 3: no burst of the withheld ones

        def resumed_twice() -> bool:
            resumed.extend(path_receiver.drain())
            return len(resumed) >= 2

        assert await _eventually(resumed_twice)
        assert any("healthy again" in m for m in caplog.messages)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        notifier.close()


async def test_watchdog_treats_a_failing_check_as_unhealthy(path_receiver: _Receiver) -> None:
    notifier = Notifier.from_environment(path_receiver.env(WATCHDOG_USEC="100000"))

    def broken() -> bool:
        raise RuntimeError("check failed")

    task = asyncio.create_task(watchdog(notifier, broken, interval=0.02))
    try:
        await asyncio.sleep(0.1)
        assert path_receiver.drain() == []
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        notifier.close()


# LoopHealth in these tests: a threshold well above a loaded CI machine's own stalls, and a
# block well above the threshold, so neither the healthy nor the stalled verdict is a close call.
_THRESHOLD = 0.3
_PERIOD = 0.05
_BLOCK = 0.6


async def test_loop_health_sees_a_blocked_loop() -> None:
    health = LoopHealth(threshold=_THRESHOLD, period=_PERIOD)
    assert not health.healthy()  # not started: nothing measured, nothing vouched for
    async with health:
        await asyncio.sleep(0.12)
        assert await _eventually(health.healthy)
        _block_the_loop(_BLOCK)
        assert not health.healthy()  # the measurement is overdue
        await asyncio.sleep(0.01)
        assert not health.healthy()  # and, once taken, late by about 0.55 s
        assert _BLOCK - _PERIOD - 0.05 <= health.lag <= 2 * _BLOCK
        assert await _eventually(health.healthy)  # the next measurement is on time again
        assert health.max_lag >= _BLOCK - _PERIOD - 0.05
    assert not health.healthy()


async def test_watchdog_withholds_pings_after_a_stall(
    path_receiver: _Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier.from_environment(path_receiver.env(WATCHDOG_USEC="40000"))
    async with LoopHealth(threshold=_THRESHOLD, period=_PERIOD) as health:
        task = asyncio.create_task(watchdog(notifier, health.healthy))
        try:
            pings: list[str] = []

            def pinged(times: int) -> bool:
                pings.extend(path_receiver.drain())
                return len(pings) >= times

            assert await _eventually(lambda: pinged(3))  # every 0.02 s: 3 in about 0.04 s
            assert not caplog.messages
            pings.clear()
            _block_the_loop(_BLOCK)
            assert await _eventually(lambda: any("healthy again" in m for m in caplog.messages))
            assert len([m for m in caplog.messages if "withholding" in m]) == 1
            assert await _eventually(lambda: pinged(2))  # resumed
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            notifier.close()


def test_loop_health_under_uvloop() -> None:
    # uvloop's loop.time() is cached per iteration; the monitor must not be fooled by it.
    async def main() -> tuple[bool, bool, bool]:
        async with LoopHealth(threshold=_THRESHOLD, period=_PERIOD) as health:
            await asyncio.sleep(0.15)
            before = await _eventually(health.healthy)
            _block_the_loop(_BLOCK)
            during = health.healthy()
            await asyncio.sleep(0.01)
            return before, during, health.healthy()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(main()) == (True, False, False)


def test_another_process_notifies(path_receiver: _Receiver) -> None:
    receiver = path_receiver
    script = textwrap.dedent(
        """
        from shoal.engine._sdnotify import Notifier

        notifier = Notifier.from_environment()
        assert notifier.enabled
        notifier.ready("child serving")
        notifier.status("child busy")
        notifier.reloading()
        notifier.stopping("child stopping")
        notifier.close()
        """
    )
    env = {**os.environ, "NOTIFY_SOCKET": receiver.address}
    child = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        assert child.wait(timeout=10) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    got = [receiver.recv() for _ in range(4)]
    assert {pid for _, pid in got} == {child.pid}
    texts = [text for text, _ in got]
    assert texts[0] == "READY=1\nSTATUS=child serving"
    # No event loop in the child: a changed status is sent at once rather than held.
    assert texts[1] == "STATUS=child busy"
    assert texts[2].startswith("RELOADING=1\nMONOTONIC_USEC=")
    assert texts[2].endswith("\nSTATUS=reloading configuration")
    assert texts[3] == "STOPPING=1\nSTATUS=child stopping"
    assert receiver.drain() == []
