"""The SSRF rule: never connect to a non-public address unless the user allowed it.

The check sits where the connection is made. aiohttp hands every address it is about to dial
to the connector's ``socket_factory`` (literal IPs, DNS answers and redirect hops alike), and
then dials exactly the ``sockaddr`` it passed, so the address dialled is the address checked:
DNS rebinding has no window. A hostname given to ``--allow-private`` cannot be recognised
there (the factory sees only the address), so ``_connector.PolicyResolver``, which does see
the name, lets its answers through and remembers them for the factory. This module is the
policy alone and imports no aiohttp: the supervisor and parse processes use it too, and
aiohttp's import costs them a tenth of a second at start.

How a refusal surfaces (aiohttp 3.14, aiohappyeyeballs 2.7): the factory raises
:class:`ForbiddenAddressError`, an ``OSError``, which aiohappyeyeballs records as that
address's failure; aiohttp raises ``ClientConnectorError(os_error=<it>)`` ``from`` it. A refusal
by the resolver becomes ``ClientConnectorDNSError``, a subclass, the same way. Use
:func:`forbidden_cause` to recognise either; ``str()`` of the aiohttp error shows our message
because :func:`_error` sets ``strerror``.

Two aiohttp details make the resolver's filtering necessary, not only convenient. For a name
with several addresses aiohttp retries with a shrinking list (dropping the first address of
each family per round, so the factory sees later addresses again) and reports only the last
round's error. When that round held addresses of both families that failed with different
messages, aiohappyeyeballs *replaces* the errors with a plain ``OSError("Multiple exceptions:
...")`` and the type is lost; and with one forbidden and one unreachable address the reported
error depends on their order. Since the resolver passes on only addresses the factory
accepts, and aiohttp skips the resolver only for an IP literal (a single address), the factory
refuses at most one address per request and its error arrives intact.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._options import DEFAULT_PORTS
from ._urls import normalize_host
from .errors import ForbiddenAddressError, ForbiddenPortError, UsageError

if TYPE_CHECKING:
    from aiohappyeyeballs import AddrInfoType

__all__ = ["AddressPolicy", "PortPolicy", "forbidden_cause", "is_forbidden_ip"]

# The Fetch standard's "bad ports", which browsers refuse whatever the URL says. A range in
# --ports skips them; a port named alone is allowed.
_BAD_PORTS = frozenset(
    {1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101,
     102, 103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389,
     427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636,
     989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566,
     6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080}
)  # fmt: skip


class PortPolicy:
    """Which ports a crawl may connect to: ``80,443,1024-65535``-style specs."""

    __slots__ = ("_ranges", "_singles", "spec")

    def __init__(self, spec: str = DEFAULT_PORTS) -> None:
        """Raise :class:`UsageError` with a one-line message for a malformed ``spec``."""
        self.spec = spec
        singles: set[int] = set()
        ranges: list[tuple[int, int]] = []
        for part in spec.replace(" ", "").split(","):
            first, dash, last = part.partition("-")
            try:
                low, high = int(first), int(last if dash else first)
            except ValueError:
                raise UsageError(f"--ports: not a port or range: {part!r}") from None
            if not 1 <= low <= high <= 65535:
                raise UsageError(f"--ports: {part!r} is not within 1-65535")
            if dash:
                ranges.append((low, high))
            else:
                singles.add(low)
        self._singles = frozenset(singles)
        self._ranges = tuple(ranges)

    def allows(self, port: int) -> bool:
        if port in self._singles:
            return True
        return port not in _BAD_PORTS and any(low <= port <= high for low, high in self._ranges)

    def __repr__(self) -> str:
        return f"PortPolicy({self.spec!r})"


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_Range = tuple[int, int, str]  # first and last address as integers, and what the range is


def _ranges(*nets: tuple[str, str]) -> tuple[_Range, ...]:
    parsed = ((ipaddress.ip_network(net), why) for net, why in nets)
    return tuple((int(n.network_address), int(n.broadcast_address), why) for n, why in parsed)


# Explicit lists rather than ipaddress.is_global, whose answers changed between Python
# versions and which calls some of these ranges global (CGNAT, 192.0.0.0/24 parts).
_FORBIDDEN_V4 = _ranges(
    ("0.0.0.0/8", "this network"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared address space (CGNAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),  # includes the broadcast address 255.255.255.255
)
_FORBIDDEN_V6 = _ranges(
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("100::/64", "discard-only"),
    ("2001:2::/48", "benchmarking"),
    ("2001:db8::/32", "documentation"),
    ("fc00::/7", "unique local (private)"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local"),
    ("ff00::/8", "multicast"),
)
# IPv6 ranges that carry an IPv4 address in their last 32 bits and reach it through a
# translator, so the IPv4 address is what is judged. IPv4-mapped, 6to4 (2002::/16) and Teredo
# (2001::/32) are recognised by the ipaddress module.
_EMBED_LAST_32 = _ranges(
    ("::/96", "IPv4-compatible"),
    ("64:ff9b::/96", "NAT64"),
    ("64:ff9b:1::/48", "local-use NAT64"),
)


def is_forbidden_ip(ip: str | IPAddress) -> bool:
    """Whether connecting to ``ip`` needs ``--allow-private`` (the address is only judged).

    A string may carry an IPv6 zone (``fe80::1%eth0``); one that is not an IP address at all
    raises ``ValueError``.
    """
    return _forbidden_range(_as_ip(ip)) is not None


def _as_ip(ip: str | IPAddress) -> IPAddress:
    if isinstance(ip, str):
        return ipaddress.ip_address(ip.partition("%")[0])
    return ip


def _forbidden_range(addr: IPAddress) -> str | None:
    """What kind of non-public range ``addr`` is in, or ``None`` for a public address."""
    if isinstance(addr, ipaddress.IPv6Address):
        number = int(addr)
        for first, last, why in _FORBIDDEN_V6:
            if first <= number <= last:
                return why
        v4 = _embedded_v4(addr)
        if v4 is None:
            return None
        addr = v4
    number = int(addr)
    for first, last, why in _FORBIDDEN_V4:
        if first <= number <= last:
            return why
    return None


def _embedded_v4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, compatible, NAT64, 6to4, Teredo)."""
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    number = int(addr)
    for first, last, _ in _EMBED_LAST_32:
        if first <= number <= last:
            return ipaddress.IPv4Address(number & 0xFFFFFFFF)
    if addr.sixtofour is not None:
        return addr.sixtofour
    if addr.teredo is not None:
        return addr.teredo[1]  # the client, which is where the packets end up
    return None


def _same_address(addr: IPAddress) -> IPAddress:
    """``::ffff:a.b.c.d`` *is* ``a.b.c.d`` on a dual-stack socket; other embeddings are not."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


class AddressPolicy:
    """The ``--allow-private`` entries, and the check made before every connection.

    Pickles as its entries: the addresses learned from allowed hostnames are this process's
    own DNS answers, so a copy in another process starts without them.
    """

    __slots__ = ("_entries", "_ips", "_learned", "_names", "_ports")

    def __init__(
        self,
        entries: tuple[str, ...],
        ips: frozenset[tuple[IPAddress, int | None]],
        names: frozenset[tuple[str, int | None]],
        ports: PortPolicy | None = None,
    ) -> None:
        """Use :meth:`parse`; this takes entries that are already parsed."""
        self._entries = entries
        self._ips = ips
        self._names = names
        self._ports = ports or PortPolicy()
        # (address, port) pairs an allowed hostname resolved to, filled in by PolicyResolver.
        self._learned: set[tuple[IPAddress, int]] = set()

    @classmethod
    def parse(cls, entries: Sequence[str], ports: str = DEFAULT_PORTS) -> AddressPolicy:
        """Build from ``HOST[:PORT]`` entries (no port means any port) and a ``--ports`` spec.

        HOST is an IPv4 address, an IPv6 address in brackets (``[::1]``, ``[::1]:8080``;
        without a port the brackets may be left out), or a hostname such as ``localhost``.
        A malformed entry raises :class:`UsageError` with a one-line message.
        """
        ips: set[tuple[IPAddress, int | None]] = set()
        names: set[tuple[str, int | None]] = set()
        for entry in entries:
            host, port = _parse_entry(entry)
            if isinstance(host, str):
                names.add((host, port))
            else:
                ips.add((host, port))
        return cls(tuple(entries), frozenset(ips), frozenset(names), PortPolicy(ports))

    @property
    def entries(self) -> tuple[str, ...]:
        """The entries as they were given."""
        return self._entries

    def __reduce__(self) -> tuple[object, tuple[tuple[str, ...], str]]:
        return AddressPolicy.parse, (self._entries, self._ports.spec)

    def __repr__(self) -> str:
        return f"AddressPolicy.parse({list(self._entries)!r}, {self._ports.spec!r})"

    def check(self, ip: str, port: int, hostname: str | None = None) -> None:
        """Raise :class:`ForbiddenAddressError` unless connecting to ``ip:port`` is allowed.

        The port must be one ``--ports`` allows, or named by an entry for this address. Then a
        public address is always allowed. A non-public one is allowed by an entry with the
        same address (``::ffff:a.b.c.d`` counts as ``a.b.c.d``), by an entry with the same
        ``hostname``, or because an allowed hostname resolved to it; an entry with a port
        allows that port only. Fails closed: ``ip`` that is not an IP address is refused.
        """
        refusal = self._refusal(ip, port, hostname)
        if refusal is not None:
            raise refusal

    def socket_factory(self, addr_info: AddrInfoType) -> socket.socket:
        """For ``TCPConnector(socket_factory=...)``: check the address, then make the socket.

        ``addr_info`` is ``(family, type, proto, canonname, sockaddr)``; aiohttp dials that
        very ``sockaddr`` once the socket is made, so nothing can change in between.
        """
        family, type_, proto, _, sockaddr = addr_info
        # Only OSError subclasses may leave here: aiohappyeyeballs catches OSError and
        # RuntimeError per address, and anything else would escape aiohttp unwrapped.
        self.check(str(sockaddr[0]), int(sockaddr[1]))
        return socket.socket(family, type_, proto)

    def _refusal(
        self, ip: str, port: int, hostname: str | None, *, learned: bool = True
    ) -> ForbiddenAddressError | None:
        """The error to raise for ``ip:port``, or ``None`` if connecting is allowed."""
        try:
            addr = _as_ip(ip)
        except ValueError:
            return _error(f"refused to connect to {ip}:{port}: not an IP address")
        same = _same_address(addr)
        if not self._ports.allows(port) and (same, port) not in self._ips:
            return _error(
                f"refused to connect to port {port}: not in --ports {self._ports.spec}",
                ForbiddenPortError,
            )
        why = _forbidden_range(addr)
        if why is None:
            return None
        if (same, None) in self._ips or (same, port) in self._ips:
            return None
        if learned and (same, port) in self._learned:
            return None
        if hostname is not None and self._name_allowed(hostname, port):
            return None
        shown = f"[{addr}]" if addr.version == 6 else str(addr)
        if hostname is not None:
            why = f"{hostname}, {why}"
        suggest = hostname or (f"[{same}]" if same.version == 6 else str(same))
        return _error(
            f"refused to connect to {shown}:{port} ({why}): not a public address; "
            f"allow it with --allow-private {suggest}"
        )

    def _name_allowed(self, hostname: str, port: int) -> bool:
        name = normalize_host(hostname)
        return name is not None and ((name, None) in self._names or (name, port) in self._names)

    def _learn(self, ip: str, port: int) -> None:
        self._learned.add((_same_address(_as_ip(ip)), port))


def _error(
    message: str, kind: type[ForbiddenAddressError] = ForbiddenAddressError
) -> ForbiddenAddressError:
    error = kind(message)
    # aiohttp's ClientConnectorError copies strerror into its own message ("Cannot connect to
    # host h:80 ssl:default [<strerror>]"); a one-argument OSError would show "[None]".
    error.strerror = message
    return error


def _parse_entry(entry: str) -> tuple[IPAddress | str, int | None]:
    """``(address or hostname, port or None)`` of one ``--allow-private`` entry."""
    text = entry.strip()
    bad = UsageError(
        f"--allow-private {entry!r}: expected HOST or HOST:PORT, where HOST is an IPv4 "
        "address, a hostname, or an IPv6 address in brackets such as [::1]:8080"
    )
    port_text: str | None = None
    if text.startswith("["):
        host_text, closed, after = text.partition("]")
        if not closed:
            raise bad
        host_text += closed
        if after:
            if after[0] != ":":
                raise bad
            port_text = after[1:]
    elif text.count(":") > 1:
        host_text = f"[{text}]"  # a bare IPv6 address, which cannot carry a port
    elif ":" in text:
        host_text, _, port_text = text.partition(":")
    else:
        host_text = text
    host = normalize_host(host_text) if host_text else None
    if host is None:
        raise bad
    port: int | None = None
    if port_text is not None:
        if not (port_text.isascii() and port_text.isdigit() and 0 < int(port_text) < 65536):
            raise bad
        port = int(port_text)
    if host.startswith("["):
        return _same_address(ipaddress.IPv6Address(host[1:-1])), port
    try:
        # normalize_host has turned every numeric form ("127.1") into a dotted quad.
        return ipaddress.IPv4Address(host), port
    except ValueError:
        return host, port


def forbidden_cause(exc: BaseException) -> ForbiddenAddressError | None:
    """The :class:`ForbiddenAddressError` behind an aiohttp error, or ``None``.

    aiohttp reports a refusal as ``ClientConnectorError`` (``ClientConnectorDNSError`` when
    the resolver refused) whose ``os_error`` is the refusal, raised ``from`` it; the whole
    chain (``os_error``, ``__cause__``, ``__context__``, exception groups) is searched.
    """
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ForbiddenAddressError):
            return current
        os_error = getattr(current, "os_error", None)
        if isinstance(os_error, BaseException):
            stack.append(os_error)
        if isinstance(current, BaseExceptionGroup):
            stack.extend(current.exceptions)
        stack.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return None
