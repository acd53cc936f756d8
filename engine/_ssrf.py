"""The SSRF rule: never connect to a non-public address unless the user allowed that host.

The check sits where the connection is made. aiohttp resolves a name, then hands each address
to our ``socket_factory`` just before dialling it; literal IPs, DNS answers and redirect hops all
go through there, and the address dialled is exactly the one checked, so DNS rebinding cannot
swap it. Hostnames given to ``--allow-private`` are recognised by :class:`PolicyResolver`, which
sees the name and remembers the addresses it resolved to.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from .errors import ForbiddenAddressError, UsageError

__all__ = [
    "AddressPolicy",
    "PolicyResolver",
    "forbidden_cause",
    "is_forbidden_ip",
    "open_connector",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Explicit lists: ipaddress.is_global calls some of these ranges global (CGNAT, for one).
_FORBIDDEN_V4 = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",  # "this network", unspecified
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # CGNAT
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.168.0.0/16",  # private
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation
        "203.0.113.0/24",  # documentation
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, broadcast
    )
)
_FORBIDDEN_V6 = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "::/128",  # unspecified
        "::1/128",  # loopback
        "fc00::/7",  # unique local (private)
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated, still routed internally)
        "ff00::/8",  # multicast
        "2001:db8::/32",  # documentation
        "100::/64",  # discard-only
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
_V4_COMPAT = ipaddress.IPv6Network("::/96")


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4, compatible)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64 or ip in _V4_COMPAT:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _SIX_TO_FOUR:
        return ip.sixtofour
    return None


def _as_ip(ip: str | IPAddress) -> IPAddress:
    return ipaddress.ip_address(ip.split("%", 1)[0]) if isinstance(ip, str) else ip


def _canonical(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address):
        v4 = _embedded_v4(ip)
        if v4 is not None and ip not in (ipaddress.IPv6Address("::"), ipaddress.IPv6Address("::1")):
            return v4
    return ip


def is_forbidden_ip(ip: str | IPAddress) -> bool:
    """Whether connecting to ``ip`` is refused unless allowed (judged only, never dialled)."""
    addr = _canonical(_as_ip(ip))
    if isinstance(addr, ipaddress.IPv4Address):
        return any(addr in net for net in _FORBIDDEN_V4)
    return any(addr in net for net in _FORBIDDEN_V6)


class AddressPolicy:
    """The ``--allow-private`` entries and the check made before every connection.

    Picklable: workers rebuild it from the entries with :meth:`parse`.
    """

    def __init__(
        self,
        ips: frozenset[tuple[IPAddress, int | None]],
        hostnames: frozenset[tuple[str, int | None]],
        entries: tuple[str, ...],
    ) -> None:
        self._ips = ips
        self._hostnames = hostnames
        self.entries = entries
        # (ip, port) pairs that an allowed hostname resolved to, filled in by the resolver.
        self._resolved: set[tuple[IPAddress, int]] = set()

    @classmethod
    def parse(cls, entries: Sequence[str]) -> AddressPolicy:
        """Build from ``HOST[:PORT]`` entries: an IPv4 literal, ``[IPv6]``, or a hostname."""
        ips: set[tuple[IPAddress, int | None]] = set()
        names: set[tuple[str, int | None]] = set()
        for entry in entries:
            host, port = _split_entry(entry)
            try:
                ips.add((_canonical(ipaddress.ip_address(host)), port))
            except ValueError:
                names.add((host.lower().rstrip("."), port))
        return cls(frozenset(ips), frozenset(names), tuple(entries))

    def host_allowed(self, hostname: str, port: int) -> bool:
        name = hostname.lower().rstrip(".")
        return (name, None) in self._hostnames or (name, port) in self._hostnames

    def remember(self, ip: str, port: int) -> None:
        self._resolved.add((_canonical(_as_ip(ip)), port))

    def check(self, ip: str, port: int, hostname: str | None = None) -> None:
        """Raise :class:`ForbiddenAddressError` unless connecting to ``ip:port`` is allowed."""
        addr = _canonical(_as_ip(ip))
        if not is_forbidden_ip(addr):
            return
        if (addr, None) in self._ips or (addr, port) in self._ips or (addr, port) in self._resolved:
            return
        if hostname is not None and self.host_allowed(hostname, port):
            return
        shown = f"[{addr}]" if addr.version == 6 else str(addr)
        raise ForbiddenAddressError(
            f"refused to connect to {shown}:{port}: not a public address "
            f"(allow it with --allow-private {shown})"
        )

    def socket_factory(self, addr_info: Any) -> socket.socket:
        """For ``TCPConnector(socket_factory=...)``: check the address, then make the socket."""
        family, type_, proto, _, sockaddr = addr_info
        self.check(sockaddr[0], sockaddr[1])
        return socket.socket(family=family, type=type_, proto=proto)


def _split_entry(entry: str) -> tuple[str, int | None]:
    text = entry.strip()
    bad = UsageError(f"--allow-private {entry!r}: expected HOST, HOST:PORT, [IPv6] or [IPv6]:PORT")
    port_text = ""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise bad
        host, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise bad
            port_text = rest[1:]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise bad from None
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    elif ":" in text:
        host = text  # a bare IPv6 literal
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise bad from None
    else:
        host = text
    if not host or any(c in host for c in "/@ \t"):
        raise bad
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise bad
        return host, int(port_text)
    return host, None


class PolicyResolver(AbstractResolver):
    """Resolves names, drops forbidden answers, and lets allowed hostnames through."""

    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self._inner.resolve(host, port, family)
        allowed_name = self._policy.host_allowed(host, port)
        kept = []
        for answer in answers:
            if allowed_name:
                self._policy.remember(answer["host"], answer["port"])
                kept.append(answer)
            elif not is_forbidden_ip(answer["host"]):
                kept.append(answer)
        if not kept:
            # Raise the same error the socket factory would, naming the first answer.
            self._policy.check(answers[0]["host"], port, host)
        return kept

    async def close(self) -> None:
        await self._inner.close()


def open_connector(
    policy: AddressPolicy, *, limit: int, limit_per_host: int, ttl_dns_cache: int = 300
) -> aiohttp.TCPConnector:
    """A pooled connector that enforces ``policy`` on every connection it opens."""
    return aiohttp.TCPConnector(
        limit=limit,
        limit_per_host=limit_per_host,
        ttl_dns_cache=ttl_dns_cache,
        resolver=PolicyResolver(policy),
        socket_factory=policy.socket_factory,
    )


def forbidden_cause(exc: BaseException) -> ForbiddenAddressError | None:
    """The :class:`ForbiddenAddressError` behind an aiohttp connection error, if that is what
    it was. aiohttp wraps it as ``ClientConnectorError(os_error=...)``; aiohappyeyeballs may
    chain it, so the whole cause/context chain is searched."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ForbiddenAddressError):
            return current
        os_error = getattr(current, "os_error", None)
        if isinstance(os_error, BaseException):
            stack.append(os_error)
        if isinstance(current, BaseExceptionGroup):
            stack.extend(current.exceptions)
        stack.extend((current.__cause__, current.__context__))
    return None
