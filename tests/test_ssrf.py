"""The SSRF rule, judged on addresses and then enforced on real loopback connections.

Network rule for these tests: only 127.0.0.0/8 and [::1] are ever dialled. Every other
address appears only as a string that is judged, or in a fake resolver's answer.
"""

from __future__ import annotations

import ipaddress
import pickle
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from shoal.engine._connector import PolicyResolver, open_connector
from shoal.engine._ssrf import AddressPolicy, PortPolicy, forbidden_cause, is_forbidden_ip
from shoal.engine.errors import ForbiddenAddressError, ForbiddenPortError, UsageError


@pytest.mark.parametrize(
    "ip",
    [
        # IPv4
        "127.0.0.1", "127.255.255.254", "0.0.0.0", "0.1.2.3", "10.1.2.3", "172.16.0.1",
        "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1", "100.127.255.254",
        "192.0.0.1", "192.0.2.1", "198.51.100.7", "203.0.113.9", "198.18.0.1", "198.19.255.255",
        "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
        # IPv6
        "::1", "::", "fc00::1", "fd12:3456::1", "fe80::1", "fe80::1%eth0", "febf::1", "fec0::1",
        "ff02::1", "2001:db8::1", "100::1",
        # IPv4 inside IPv6: judged by the IPv4 address
        "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1",
        "64:ff9b::7f00:1", "64:ff9b::a00:1", "64:ff9b:1::a00:1", "2002:7f00:1::", "2002:a00:1::1",
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
    ],
)  # fmt: skip
def test_forbidden_addresses(ip: str) -> None:
    assert is_forbidden_ip(ip)
    assert is_forbidden_ip(ipaddress.ip_address(ip.partition("%")[0]))


# Judged only: nothing here is ever dialled.
@pytest.mark.parametrize(
    "ip",
    [
        "8.8.8.8", "1.1.1.1", "93.184.216.34", "100.63.255.255", "100.128.0.0", "172.32.0.1",
        "192.0.1.1", "192.169.0.1", "198.17.255.255", "198.20.0.1", "223.255.255.255",
        "2606:4700::1111", "2a00:1450:4001::200e", "::ffff:8.8.8.8", "64:ff9b::808:808",
        "2002:808:808::1", "::8.8.8.8",
    ],
)  # fmt: skip
def test_public_addresses(ip: str) -> None:
    assert not is_forbidden_ip(ip)
    assert not is_forbidden_ip(ipaddress.ip_address(ip))


def test_not_an_address() -> None:
    with pytest.raises(ValueError):
        is_forbidden_ip("localhost")


@pytest.mark.parametrize(
    "entry",
    [
        "", "  ", "[::1", "[::1]x", "[::1]:", "[nope]", "[127.0.0.1]", "host:port", "a:1:2x",
        "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:-1", "h:", "a/b", "a b", "user@host",
        "http://host", "[fe80::1%eth0]", "256.1.1.1", "a..b",
    ],
)  # fmt: skip
def test_bad_allow_entries(entry: str) -> None:
    with pytest.raises(UsageError, match=r"^--allow-private .*expected HOST") as info:
        AddressPolicy.parse([entry])
    assert "\n" not in str(info.value)


def test_allow_entries_by_address() -> None:
    policy = AddressPolicy.parse(["127.0.0.1", "[::1]:8080", "10.0.0.5:443", "fd00::7", "127.2"])
    policy.check("127.0.0.1", 1234)
    policy.check("::ffff:127.0.0.1", 1234)  # the mapped form is the same address
    policy.check("::1", 8080)
    policy.check("10.0.0.5", 443)
    policy.check("fd00::7", 1025)  # a bare IPv6 address, any port --ports allows
    policy.check("127.0.0.2", 80)  # "127.2" is 127.0.0.2, as in a URL
    for ip, port in [("::1", 8081), ("10.0.0.5", 80), ("127.0.0.3", 80), ("10.0.0.6", 443)]:
        with pytest.raises(ForbiddenAddressError):
            policy.check(ip, port)
    # A NAT64 address is a different destination (the translator), so it is not allowed by
    # the IPv4 entry, though it is judged by the IPv4 address it carries.
    with pytest.raises(ForbiddenAddressError):
        policy.check("64:ff9b::7f00:1", 80)
    policy.check("8.8.8.8", 80)  # public: no entry needed (judged only)


def test_allow_entries_by_hostname() -> None:
    policy = AddressPolicy.parse(["LocalHost.", "intranet.test:8080"])
    policy.check("127.0.0.1", 5000, "localhost")
    policy.check("::1", 5000, "LOCALHOST")
    policy.check("10.1.1.1", 8080, "intranet.test")
    with pytest.raises(ForbiddenAddressError):
        policy.check("10.1.1.1", 80, "intranet.test")
    with pytest.raises(ForbiddenAddressError):
        policy.check("127.0.0.1", 5000)  # the socket factory alone does not know the name
    with pytest.raises(ForbiddenAddressError):
        policy.check("127.0.0.1", 5000, "localhost.evil.test")


def test_refusal_message() -> None:
    policy = AddressPolicy.parse([])
    with pytest.raises(ForbiddenAddressError) as info:
        policy.check("127.0.0.2", 80)
    message = "refused to connect to 127.0.0.2:80 (loopback): not a public address; "
    assert str(info.value) == message + "allow it with --allow-private 127.0.0.2"
    # aiohttp's ClientConnectorError shows strerror; it must not read "[None]".
    assert info.value.strerror == str(info.value)
    with pytest.raises(ForbiddenAddressError, match=r"\[::1\]:443 \(loopback\).* \[::1\]$"):
        policy.check("::1", 443)
    with pytest.raises(ForbiddenAddressError, match=r"\(private\).*--allow-private 10\.0\.0\.1$"):
        policy.check("::ffff:10.0.0.1", 80)
    with pytest.raises(ForbiddenAddressError, match=r"\(db\.internal, private\).* db\.internal$"):
        policy.check("10.0.0.1", 5432, "db.internal")
    with pytest.raises(ForbiddenAddressError, match="not an IP address"):
        policy.check("not-an-ip", 80)  # fails closed


def test_policy_pickles_as_its_entries() -> None:
    policy = AddressPolicy.parse(["127.0.0.1:1", "intranet.test"])
    policy._learn("10.9.9.9", 80)
    policy.check("10.9.9.9", 80)
    copy = pickle.loads(pickle.dumps(policy))
    assert copy.entries == ("127.0.0.1:1", "intranet.test")
    copy.check("127.0.0.1", 1)
    with pytest.raises(ForbiddenAddressError):
        copy.check("127.0.0.1", 2)
    with pytest.raises(ForbiddenAddressError):
        copy.check("10.9.9.9", 80)  # DNS answers learned in one process stay there


def test_socket_factory_checks_before_making_a_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[tuple[object, ...]] = []

    def fake_socket(*args: object) -> socket.socket:
        made.append(args)
        return real_socket(*args)  # type: ignore[arg-type]

    real_socket = socket.socket
    monkeypatch.setattr(socket, "socket", fake_socket)
    policy = AddressPolicy.parse(["127.0.0.1:8080"])
    v4 = socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, ""
    v6 = socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, ""
    for addr_info in [(*v4, ("127.0.0.1", 8081)), (*v6, ("::1", 8080, 0, 0))]:
        with pytest.raises(ForbiddenAddressError):
            policy.socket_factory(addr_info)
    assert made == []
    sock = policy.socket_factory((*v4, ("127.0.0.1", 8080)))
    try:
        assert sock.family == socket.AF_INET
        with pytest.raises(OSError):
            sock.getpeername()  # made, not connected: aiohttp does that with this very address
    finally:
        sock.close()
    assert len(made) == 1


class _FakeResolver(AbstractResolver):
    """Answers from a table, so resolver filtering is tested without DNS or connections."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.closed = False

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host,
                host=ip,
                port=port,
                family=socket.AF_INET6 if ":" in ip else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for ip in self.table[host]
        ]

    async def close(self) -> None:
        self.closed = True


async def test_resolver_drops_forbidden_answers() -> None:
    inner = _FakeResolver(
        {
            "mixed.test": ["93.184.216.34", "10.0.0.1", "::1", "2606:4700::1111"],
            "internal.test": ["10.0.0.1", "fd00::1"],
            "rebind.test": ["10.0.0.1"],
        }
    )
    policy = AddressPolicy.parse(["internal.test:80"])
    resolver = PolicyResolver(policy, inner)
    kept = await resolver.resolve("mixed.test", 80)
    assert [a["host"] for a in kept] == ["93.184.216.34", "2606:4700::1111"]

    with pytest.raises(ForbiddenAddressError, match=r"\(internal\.test, private\)"):
        await resolver.resolve("internal.test", 8081)  # the entry is for port 80 only
    kept = await resolver.resolve("internal.test", 80)
    assert [a["host"] for a in kept] == ["10.0.0.1", "fd00::1"]
    # Learned for the socket factory, which sees only the address and port...
    policy.check("10.0.0.1", 80)
    policy.check("fd00::1", 80)
    with pytest.raises(ForbiddenAddressError):
        policy.check("10.0.0.1", 8081)
    # ...but another name resolving to the same address is still refused.
    with pytest.raises(ForbiddenAddressError, match=r"rebind\.test"):
        await resolver.resolve("rebind.test", 80)
    await resolver.close()
    assert inner.closed


async def test_a_name_with_several_forbidden_addresses_is_refused_with_its_type() -> None:
    # Wired as open_connector wires it, with a fake resolver under the policy. Without the
    # policy resolver aiohttp would report a plain OSError("Multiple exceptions: ...") here.
    policy = AddressPolicy.parse([])
    inner = _FakeResolver({"multi.test": ["::1", "127.0.0.2"]})
    connector = aiohttp.TCPConnector(
        resolver=PolicyResolver(policy, inner), socket_factory=policy.socket_factory
    )
    async with aiohttp.ClientSession(connector=connector) as session:
        with pytest.raises(aiohttp.ClientConnectorDNSError) as info:
            await session.get("http://multi.test:4001/")
    cause = forbidden_cause(info.value)
    assert cause is not None and "--allow-private multi.test" in str(cause)


# --- real connections, to loopback only ---------------------------------------------------


@pytest.fixture
async def site() -> AsyncIterator[tuple[int, list[str]]]:
    """A server on 127.0.0.1 that records the paths it was asked for."""
    hits: list[str] = []

    async def ok(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text="ok")

    async def hop(request: web.Request) -> web.Response:
        hits.append(request.path)
        raise web.HTTPFound(request.query["to"])

    app = web.Application()
    app.router.add_get("/", ok)
    app.router.add_get("/hop", hop)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    try:
        yield runner.addresses[0][1], hits
    finally:
        await runner.cleanup()


async def _get(entries: list[str], url: str) -> str | aiohttp.ClientConnectorError:
    connector = open_connector(AddressPolicy.parse(entries), limit=4, limit_per_host=2)
    async with aiohttp.ClientSession(connector=connector) as session:
        try:
            async with session.get(url) as resp:
                return await resp.text()
        except aiohttp.ClientConnectorError as exc:
            return exc


def _refused(result: str | aiohttp.ClientConnectorError) -> ForbiddenAddressError:
    assert isinstance(result, aiohttp.ClientConnectorError), result
    cause = forbidden_cause(result)
    assert cause is not None, repr(result)
    assert "refused to connect" in str(result)  # aiohttp's own message shows the reason
    return cause


async def test_loopback_is_refused_before_connecting(site: tuple[int, list[str]]) -> None:
    port, hits = site
    url = f"http://127.0.0.1:{port}/"
    result = await _get([], url)
    assert type(result) is aiohttp.ClientConnectorError
    assert "--allow-private 127.0.0.1" in str(_refused(result))
    _refused(await _get(["127.0.0.1:1"], url))  # the right address on another port
    _refused(await _get(["127.0.0.2"], url))  # another loopback address
    _refused(await _get([], f"http://[::ffff:127.0.0.1]:{port}/"))  # the same, mapped
    _refused(await _get([], f"http://[::1]:{port}/"))
    assert hits == []  # refused before connecting: the server saw nothing


async def test_allowed_loopback_is_fetched(site: tuple[int, list[str]]) -> None:
    port, hits = site
    assert await _get(["127.0.0.1"], f"http://127.0.0.1:{port}/") == "ok"
    assert await _get([f"127.0.0.1:{port}"], f"http://127.0.0.1:{port}/") == "ok"
    assert hits == ["/", "/"]


async def test_a_hostname_entry_works_through_the_resolver(site: tuple[int, list[str]]) -> None:
    port, hits = site
    url = f"http://localhost:{port}/"
    assert await _get(["localhost"], url) == "ok"
    assert await _get([f"LOCALHOST:{port}"], url) == "ok"
    refused = await _get([], url)
    assert isinstance(refused, aiohttp.ClientConnectorDNSError)
    assert "--allow-private localhost" in str(_refused(refused))
    _refused(await _get(["localhost:1"], url))
    _refused(await _get(["127.0.0.2"], url))
    assert hits == ["/", "/"]


async def test_every_redirect_hop_is_checked(site: tuple[int, list[str]]) -> None:
    port, hits = site
    to = f"http://127.0.0.2:{port}/"
    _refused(await _get([f"127.0.0.1:{port}"], f"http://127.0.0.1:{port}/hop?to={to}"))
    assert hits == ["/hop"]


def test_forbidden_cause_digs_through_wrappers() -> None:
    refusal = ForbiddenAddressError("refused")
    key = aiohttp.client_reqrep.ConnectionKey("h", 80, False, True, None, None, None)
    wrapped = aiohttp.ClientConnectorError(key, refusal)
    assert forbidden_cause(wrapped) is refusal
    try:
        try:
            raise refusal
        except OSError as exc:
            raise RuntimeError("later") from exc
    except RuntimeError as outer:
        assert forbidden_cause(outer) is refusal
    group = ExceptionGroup("many", [ValueError("x"), wrapped])
    assert forbidden_cause(group) is refusal
    other = aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "refused"))
    assert forbidden_cause(other) is None
    assert forbidden_cause(ValueError("nothing")) is None


def test_port_policy() -> None:
    default = PortPolicy()
    assert [p for p in (80, 443, 1024, 8080, 65535) if not default.allows(p)] == []
    # Below 1024 (mail, SSH, DNS), and the Fetch standard's bad ports inside a range.
    assert [p for p in (22, 25, 53, 1023, 6000, 6667, 10080) if default.allows(p)] == []
    custom = PortPolicy("8000-9000, 25")
    assert custom.allows(25) and custom.allows(8500) and not custom.allows(80)
    for spec in ("80,x", "0", "70000", "9-8", ""):
        with pytest.raises(UsageError):
            PortPolicy(spec)


def test_an_entry_with_a_port_allows_that_port_whatever_the_list() -> None:
    policy = AddressPolicy.parse(["127.0.0.1:25"], "80")
    policy.check("127.0.0.1", 25)
    with pytest.raises(ForbiddenPortError):
        policy.check("127.0.0.1", 26)
    with pytest.raises(ForbiddenPortError):
        policy.check("93.184.216.34", 25)  # a public address on a refused port
