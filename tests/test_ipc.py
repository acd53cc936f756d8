"""Messages and channels: every message round-trips through a real socketpair."""

from __future__ import annotations

import asyncio
import socket

import msgspec
import pytest

from shoal.engine.errors import IPCError
from shoal.ipc import messages as m
from shoal.ipc import open_channel


async def test_messages_round_trip_over_a_socketpair() -> None:
    a, b = socket.socketpair()
    sup = await open_channel(a, m.FromWorker)
    wrk = await open_channel(b, m.FromSupervisor)
    try:
        outcome = m.Outcome(
            url="http://h/x",
            status=200,
            items=[b'{"a":1}'],
            links=[m.Request("http://h/y", 1, 0, {"k": "v"})],
            nbytes=5,
        )
        sent_up: list[msgspec.Struct] = [
            m.Hello(worker_id=1, pid=42),
            m.Acquire(tokens=[1, 2], hosts=["h", "h"]),
            m.Release(tokens=[1]),
            m.RobotsWanted(origin="http://h"),
            m.RobotsFetched(origin="http://h", status=200, body=b"User-agent: *", crawl_delay=1.5),
            m.Results(outcomes=[outcome]),
            m.WorkerStats(worker_id=1, loop_lag_max_ms=3.5),
            m.Bye(worker_id=1, returned=[m.Request("http://h/z")]),
        ]
        for msg in sent_up:
            await wrk.send(msg)
        assert [await sup.recv() for _ in sent_up] == sent_up
        sent_down: list[msgspec.Struct] = [
            m.Lease(requests=[m.Request("http://h/", 0)]),
            m.Grant(tokens=[2]),
            m.RobotsAssign(origin="http://h"),
            m.RobotsRules(origin="http://h", status=404),
            m.Shutdown(grace=1.0),
        ]
        for msg in sent_down:
            await sup.send(msg)
        assert [await wrk.recv() for _ in sent_down] == sent_down
    finally:
        await sup.aclose()
        await wrk.aclose()


async def test_closed_peer_is_eof_and_garbage_is_ipc_error() -> None:
    a, b = socket.socketpair()
    sup = await open_channel(a, m.FromWorker)
    b.sendall(b"\x00\x00\x00\x03abc")
    with pytest.raises(IPCError):
        await sup.recv()
    b.close()
    with pytest.raises(EOFError):
        await asyncio.wait_for(sup.recv(), 1)
    await sup.aclose()


def test_every_message_is_in_a_union() -> None:
    tagged = {
        cls
        for cls in vars(m).values()
        if isinstance(cls, type)
        and issubclass(cls, msgspec.Struct)
        and cls.__struct_config__.tag is not None
    }
    unions = set(m.FromWorker.__args__) | set(m.FromSupervisor.__args__)  # type: ignore[attr-defined]
    assert tagged == unions
