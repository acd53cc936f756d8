"""The rate-limit broker on its own: concurrency, spacing, Crawl-delay, pauses, dead holders."""

from __future__ import annotations

import asyncio
import time

from shoal.engine._broker import LocalBroker, RateLimits


async def test_concurrency_is_never_exceeded() -> None:
    broker = LocalBroker(RateLimits(per_host_concurrency=3))
    in_flight = peak = 0

    async def request(i: int) -> None:
        nonlocal in_flight, peak
        await broker.acquire("a.example", ("w", i))
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.005)
        in_flight -= 1
        broker.release(("w", i))

    await asyncio.gather(*(request(i) for i in range(30)))
    assert peak == 3
    assert broker.stats().permits_out == 0
    assert broker.stats().granted == 30


async def test_rate_spaces_grants_per_host_only() -> None:
    broker = LocalBroker(RateLimits(per_host_concurrency=10, rate=50))
    times: dict[str, list[float]] = {"a": [], "b": []}
    all_granted = asyncio.Event()

    def on_grant(host: str) -> None:
        # Stamped in the grant itself, not when a waiting task next gets to run: what is
        # measured is the broker's spacing, free of the event loop's scheduling delays.
        times[host].append(time.monotonic())
        if sum(map(len, times.values())) == 12:
            all_granted.set()

    for host in ("a", "b"):
        for i in range(6):
            broker.submit(host, (host, i), lambda host=host: on_grant(host))
    await asyncio.wait_for(all_granted.wait(), 5)
    for host in ("a", "b"):
        for i in range(6):
            broker.release((host, i))
    assert broker.stats().permits_out == 0
    for host in ("a", "b"):
        gaps = [y - x for x, y in zip(times[host], times[host][1:], strict=False)]
        assert min(gaps) >= 0.019  # 1/50 s apart, within timer resolution
    # The two hosts are limited independently: b did not wait for a.
    assert abs(times["a"][0] - times["b"][0]) < 0.01


async def test_crawl_delay_and_pause() -> None:
    broker = LocalBroker(RateLimits(per_host_concurrency=4))
    broker.set_crawl_delay("slow", 0.05)
    stamps = []
    for i in range(3):
        await broker.acquire("slow", i)
        stamps.append(time.monotonic())
        broker.release(i)
    assert stamps[2] - stamps[0] >= 0.099
    broker.pause("busy", 0.1)
    started = time.monotonic()
    await broker.acquire("busy", "x")
    assert time.monotonic() - started >= 0.095


async def test_cancel_frees_permits_of_a_dead_holder() -> None:
    broker = LocalBroker(RateLimits(per_host_concurrency=1))
    await broker.acquire("h", ("dead", 1))
    waiter = asyncio.create_task(broker.acquire("h", ("alive", 1)))
    await asyncio.sleep(0.01)
    assert not waiter.done()
    assert broker.cancel(lambda key: key[0] == "dead") == 1
    await asyncio.wait_for(waiter, 1)
    assert broker.in_use("h") == 1


async def test_cancelled_acquire_leaks_nothing() -> None:
    broker = LocalBroker(RateLimits(per_host_concurrency=1))
    await broker.acquire("h", 1)
    waiter = asyncio.create_task(broker.acquire("h", 2))
    await asyncio.sleep(0.01)
    waiter.cancel()
    broker.release(1)
    await asyncio.sleep(0)
    assert broker.in_use("h") == 0
    assert broker.stats().waiting == 0


async def test_worker_gives_back_a_permit_granted_as_its_request_is_cancelled() -> None:
    # The worker's side of the broker: a grant that resolves the wait in the same tick as a
    # cancellation (a shutdown, a timeout) must still be released, or the host loses a permit.
    from shoal.engine._worker import _BrokerClient
    from shoal.ipc.messages import Acquire, Release

    sent: list[object] = []
    client = _BrokerClient(sent.append)

    async def request() -> None:
        async with client.permit("a.example"):
            raise AssertionError("the cancelled request must not run")

    task = asyncio.create_task(request())
    await asyncio.sleep(0)  # the request asks
    await asyncio.sleep(0)  # the ask is flushed
    (ask,) = [m for m in sent if isinstance(m, Acquire)]
    client.on_grant(ask.tokens)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await asyncio.sleep(0)
    released = [t for m in sent if isinstance(m, Release) for t in m.tokens]
    assert released == ask.tokens
