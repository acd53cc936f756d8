"""The SSRF rule, judged on addresses and then enforced on real loopback connections."""

from __future__ import annotations

import re

import aiohttp
import pytest
from aiohttp import web

from shoal.engine._ssrf import AddressPolicy, forbidden_cause, is_forbidden_ip, open_connector
from shoal.engine.errors import ForbiddenAddressError, UsageError


@pytest.mark.parametrize(
    "ip",
    [
        "127.0.0.1", "127.1.2.3", "0.0.0.0", "10.1.2.3", "172.16.0.1", "172.31.255.255",
        "192.168.1.1", "169.254.169.254", "100.64.0.1", "100.127.255.254", "224.0.0.1",
        "255.255.255.255", "198.18.0.1", "::1", "::", "fc00::1", "fd12:3456::1", "fe80::1",
        "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::",
        "fe80::1%eth0",
    ],
)  # fmt: skip
def test_forbidden_addresses(ip: str) -> None:
    assert is_forbidden_ip(ip)


# Judged only: nothing here is ever dialled.
@pytest.mark.parametrize("ip", ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses(ip: str) -> None:
    assert not is_forbidden_ip(ip)


@pytest.mark.parametrize("entry", ["[::1", "host:port", "a:1:2x", "127.0.0.1:0", "", "a/b"])
def test_bad_allow_entries(entry: str) -> None:
    with pytest.raises(UsageError, match="allow-private"):
        AddressPolicy.parse([entry])


def test_allow_entries() -> None:
    policy = AddressPolicy.parse(["127.0.0.1", "[::1]:8080", "10.0.0.5:443"])
    policy.check("127.0.0.1", 1234)
    policy.check("::ffff:127.0.0.1", 1234)  # the mapped form is the same address
    policy.check("::1", 8080)
    with pytest.raises(ForbiddenAddressError):
        policy.check("::1", 8081)
    with pytest.raises(ForbiddenAddressError):
        policy.check("10.0.0.5", 80)
    with pytest.raises(ForbiddenAddressError, match=re.escape("--allow-private 127.0.0.2")):
        policy.check("127.0.0.2", 80)


async def _serve() -> tuple[web.AppRunner, int, list[str]]:
    hits: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, runner.addresses[0][1], hits


async def _get(policy: AddressPolicy, url: str) -> str | ForbiddenAddressError:
    connector = open_connector(policy, limit=4, limit_per_host=2)
    async with aiohttp.ClientSession(connector=connector) as session:
        try:
            async with session.get(url) as resp:
                return await resp.text()
        except aiohttp.ClientError as exc:
            cause = forbidden_cause(exc)
            assert cause is not None, exc
            return cause


async def test_connections_are_checked_where_they_are_made() -> None:
    runner, port, hits = await _serve()
    try:
        url = f"http://127.0.0.1:{port}/"
        assert isinstance(await _get(AddressPolicy.parse([]), url), ForbiddenAddressError)
        assert isinstance(
            await _get(AddressPolicy.parse(["127.0.0.1:1"]), url), ForbiddenAddressError
        )
        assert hits == []  # refused before connecting: the server saw nothing
        assert await _get(AddressPolicy.parse(["127.0.0.1"]), url) == "ok"
        assert await _get(AddressPolicy.parse([f"127.0.0.1:{port}"]), url) == "ok"
        # A hostname entry works through the resolver.
        assert await _get(AddressPolicy.parse(["localhost"]), f"http://localhost:{port}/") == "ok"
        refused = await _get(AddressPolicy.parse([]), f"http://localhost:{port}/")
        assert isinstance(refused, ForbiddenAddressError)
        assert hits == ["/", "/", "/"]
    finally:
        await runner.cleanup()
