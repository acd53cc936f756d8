"""A hostile web server for the fault-injection tests: what a broken or malicious server does.

Raw asyncio sockets, not aiohttp's server, because most of these are things a correct server
library refuses to do: invalid HTTP, broken chunking, resets in the middle of a body, headers
that never end. Each misbehaviour is a path under ``/h/``; ``/`` links to every one of them and
to a few well-behaved pages, so a single crawl meets every fault and must still fetch the good
pages. The server counts hits per path and the connections it has open, so a test can check
that the crawler let go of every connection. The crawl starts at ``/site/``; ``/elsewhere/``
is out of its scope.
"""

from __future__ import annotations

import asyncio
import codecs
import collections
import contextlib
import functools
import random
import socket
import struct
import zlib
from collections.abc import Awaitable, Callable
from types import TracebackType

__all__ = [
    "BEHAVIOURS",
    "CHARSET_PAGES",
    "CHARSET_TITLE",
    "GOOD_PAGES",
    "PREFIX",
    "HostileServer",
]

GOOD_PAGES = 5
PREFIX = "/site/"

_Writer = asyncio.StreamWriter
# A behaviour writes its response; True keeps the connection open for the next request.
_Behaviour = Callable[["HostileServer", _Writer], Awaitable[bool]]
_REGISTRY: dict[str, _Behaviour] = {}


def _behaviour(name: str) -> Callable[[_Behaviour], _Behaviour]:
    def register(fn: _Behaviour) -> _Behaviour:
        _REGISTRY[name] = fn
        return fn

    return register


def _head(status: str = "200 OK", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _page(title: str, body: str = "", links: list[str] | None = None) -> bytes:
    anchors = "".join(f'<a href="{href}">{href}</a>\n' for href in links or [])
    return (
        f"<!doctype html><html><head><title>{title}</title></head>"
        f"<body><h1>{title}</h1>{body}{anchors}</body></html>"
    ).encode()


async def _send(writer: _Writer, status: str, headers: dict[str, str], body: bytes) -> bool:
    headers = {"Content-Length": str(len(body)), **headers}
    writer.write(_head(status, headers) + body)
    await writer.drain()
    return True


@functools.cache
def _bomb(wbits: int, megabytes: int) -> bytes:
    """``megabytes`` MiB of zeros, compressed (gzip for wbits 31, zlib for 15): ~1000:1."""
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    zeros = bytes(1 << 20)
    return b"".join(packer.compress(zeros) for _ in range(megabytes)) + packer.flush()


# --- slow ------------------------------------------------------------------------------------


@_behaviour("slow-body")
async def _slow_body(server: HostileServer, writer: _Writer) -> bool:
    """A declared 1 MB body, sent a byte every 0.2 s: it would take 2.5 days."""
    writer.write(_head(headers={"Content-Type": "text/html", "Content-Length": "1000000"}))
    while True:
        writer.write(b" ")
        await writer.drain()
        await asyncio.sleep(0.2)


@_behaviour("slow-headers")
async def _slow_headers(server: HostileServer, writer: _Writer) -> bool:
    writer.write(b"HTTP/1.1 200 OK\r\n")
    while True:
        writer.write(b"X-Slow: y\r\n")
        await writer.drain()
        await asyncio.sleep(0.2)


@_behaviour("stall")
async def _stall(server: HostileServer, writer: _Writer) -> bool:
    """Headers, then silence with the connection open."""
    writer.write(_head(headers={"Content-Type": "text/html", "Content-Length": "5000"}))
    await writer.drain()
    await asyncio.sleep(3600)
    return False


# --- big -------------------------------------------------------------------------------------


@_behaviour("endless")
async def _endless(server: HostileServer, writer: _Writer) -> bool:
    """No Content-Length, a body that never ends, as fast as the client reads."""
    writer.write(_head(headers={"Content-Type": "text/html", "Connection": "close"}))
    chunk = b"<p>" + b"a" * 65533
    while True:
        writer.write(chunk)
        await writer.drain()


@_behaviour("huge-declared")
async def _huge_declared(server: HostileServer, writer: _Writer) -> bool:
    writer.write(_head(headers={"Content-Type": "text/html", "Content-Length": str(10**12)}))
    chunk = b"a" * 65536
    while True:
        writer.write(chunk)
        await writer.drain()


@_behaviour("huge-header")
async def _huge_header(server: HostileServer, writer: _Writer) -> bool:
    writer.write(b"HTTP/1.1 200 OK\r\nX-Huge: " + b"h" * (4 << 20) + b"\r\n\r\n")
    await writer.drain()
    return False


@_behaviour("many-headers")
async def _many_headers(server: HostileServer, writer: _Writer) -> bool:
    writer.write(b"HTTP/1.1 200 OK\r\n" + b"X-Many: m\r\n" * 200_000 + b"\r\n")
    await writer.drain()
    return False


@_behaviour("gzip-bomb")
async def _gzip_bomb(server: HostileServer, writer: _Writer) -> bool:
    headers = {"Content-Type": "text/html", "Content-Encoding": "gzip"}
    return await _send(writer, "200 OK", headers, _bomb(31, server.bomb_mb))


@_behaviour("deflate-bomb")
async def _deflate_bomb(server: HostileServer, writer: _Writer) -> bool:
    headers = {"Content-Type": "text/html", "Content-Encoding": "deflate"}
    return await _send(writer, "200 OK", headers, _bomb(15, server.bomb_mb))


@_behaviour("unasked-encoding")
async def _unasked_encoding(server: HostileServer, writer: _Writer) -> bool:
    """An encoding the crawler never offered: it must not be decoded past the limit either."""
    headers = {"Content-Type": "text/html", "Content-Encoding": "x-unknown"}
    return await _send(writer, "200 OK", headers, b"\x00\x01" * 1000)


# --- broken connections and broken HTTP --------------------------------------------------------


def _reset(writer: _Writer) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        # SO_LINGER with a zero timeout: close() sends RST instead of FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@_behaviour("reset")
async def _reset_at_once(server: HostileServer, writer: _Writer) -> bool:
    _reset(writer)
    return False


@_behaviour("reset-mid-body")
async def _reset_mid_body(server: HostileServer, writer: _Writer) -> bool:
    writer.write(_head(headers={"Content-Type": "text/html", "Content-Length": "100000"}))
    writer.write(b"<p>" + b"x" * 2000)
    await writer.drain()
    await asyncio.sleep(0.05)
    _reset(writer)
    return False


@_behaviour("half-close")
async def _half_close(server: HostileServer, writer: _Writer) -> bool:
    """Part of a status line, then FIN on the write side while the read side stays open."""
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Le")
    await writer.drain()
    writer.write_eof()
    await asyncio.sleep(3600)
    return False


@_behaviour("short-body")
async def _short_body(server: HostileServer, writer: _Writer) -> bool:
    writer.write(_head(headers={"Content-Type": "text/html", "Content-Length": "100000"}))
    writer.write(b"<p>only this</p>")
    await writer.drain()
    return False


@_behaviour("invalid-status")
async def _invalid_status(server: HostileServer, writer: _Writer) -> bool:
    writer.write(b"HTTP/1.1 2x0 Nope\r\nContent-Length: 0\r\n\r\n")
    await writer.drain()
    return False


@_behaviour("garbage")
async def _garbage(server: HostileServer, writer: _Writer) -> bool:
    writer.write(random.Random(7).randbytes(5000))
    await writer.drain()
    return False


@_behaviour("bad-chunked")
async def _bad_chunked(server: HostileServer, writer: _Writer) -> bool:
    writer.write(_head(headers={"Content-Type": "text/html", "Transfer-Encoding": "chunked"}))
    writer.write(b"5\r\n<p>hi\r\nzz\r\nnot a chunk size\r\n")
    await writer.drain()
    return False


# --- redirects ---------------------------------------------------------------------------------


def _redirect_to(location: str) -> _Behaviour:
    async def respond(server: HostileServer, writer: _Writer) -> bool:
        return await _send(writer, "302 Found", {"Location": location}, b"")

    return respond


_REGISTRY["redirect-loop"] = _redirect_to(f"{PREFIX}h/redirect-loop-2")
_REGISTRY["redirect-loop-2"] = _redirect_to(f"{PREFIX}h/redirect-loop")
_REGISTRY["redirect-ftp"] = _redirect_to("ftp://127.0.0.1/file")
_REGISTRY["redirect-javascript"] = _redirect_to("javascript:alert(1)")
_REGISTRY["redirect-out-of-scope"] = _redirect_to("/elsewhere/page.html")
_REGISTRY["redirect-chain"] = _redirect_to(f"{PREFIX}h/redirect-chain-1")
for _n in range(1, 40):
    _REGISTRY[f"redirect-chain-{_n}"] = _redirect_to(f"{PREFIX}h/redirect-chain-{_n + 1}")


# --- content -----------------------------------------------------------------------------------


@_behaviour("binary-as-html")
async def _binary(server: HostileServer, writer: _Writer) -> bool:
    body = random.Random(3).randbytes(300_000)
    return await _send(writer, "200 OK", {"Content-Type": "text/html"}, body)


@_behaviour("deep-nesting")
async def _deep(server: HostileServer, writer: _Writer) -> bool:
    depth = 150_000
    body = b"<html><body>" + b"<div>" * depth + b"deep" + b"</div>" * depth + b"</body></html>"
    return await _send(writer, "200 OK", {"Content-Type": "text/html"}, body)


@_behaviour("huge-dom")
async def _huge_dom(server: HostileServer, writer: _Writer) -> bool:
    body = b"<html><body>" + b"<p><b>x</b><i>y</i></p>" * 80_000 + b"</body></html>"
    return await _send(writer, "200 OK", {"Content-Type": "text/html"}, body)


@_behaviour("malformed")
async def _malformed(server: HostileServer, writer: _Writer) -> bool:
    body = b"<html><<title>t</tit<a href='/site/ok/1.html'<p></div></div><table><tr><td></html>\x00"
    return await _send(writer, "200 OK", {"Content-Type": "text/html"}, body)


#: The title every charset page must come out with, whatever its bytes and labels say.
CHARSET_TITLE = "Привет, мир"


def _charset_page(body: bytes, content_type: str) -> _Behaviour:
    async def respond(server: HostileServer, writer: _Writer) -> bool:
        return await _send(writer, "200 OK", {"Content-Type": content_type}, body)

    return respond


def _titled(meta: str = "") -> str:
    return f"<html><head>{meta}<title>{CHARSET_TITLE}</title></head><body>text</body></html>"


# A legacy encoding declared only in <meta>; the header has no charset.
_REGISTRY["charset-meta"] = _charset_page(
    _titled('<meta charset="windows-1251">').encode("cp1251"), "text/html"
)
# A UTF-8 byte order mark, a header that says ISO-8859-1 and a <meta> that says KOI8-R.
_REGISTRY["charset-bom-wins"] = _charset_page(
    codecs.BOM_UTF8 + _titled('<meta charset="koi8-r">').encode(),
    "text/html; charset=iso-8859-1",
)
# Nothing declared anywhere: UTF-8 bytes.
_REGISTRY["charset-undeclared"] = _charset_page(_titled().encode(), "text/html")
# The header's label is nonsense: the <meta> decides.
_REGISTRY["charset-bogus-label"] = _charset_page(
    _titled('<meta http-equiv="content-type" content="text/html; charset=koi8-r">').encode(
        "koi8-r"
    ),
    "text/html; charset=x-no-such-thing",
)
#: The charset pages' paths.
CHARSET_PAGES = tuple(f"{PREFIX}h/{name}" for name in _REGISTRY if name.startswith("charset-"))

#: Every misbehaviour, as the path a crawler is sent to (the redirect chain's links excluded).
BEHAVIOURS = tuple(
    f"{PREFIX}h/{name}"
    for name in _REGISTRY
    if not (name.startswith("redirect-chain-") or name == "redirect-loop-2")
)


class HostileServer:
    """``async with HostileServer() as server:`` serves on ``server.url`` until the block ends."""

    def __init__(self, host: str = "127.0.0.1", *, bomb_mb: int = 256) -> None:
        self.host = host
        self.bomb_mb = bomb_mb
        self.hits: collections.Counter[str] = collections.Counter()
        self.open_connections = 0
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{PREFIX}"

    async def __aenter__(self) -> HostileServer:
        # Built before serving: the bombs cost a second of CPU the crawl should not wait for.
        await asyncio.to_thread(_bomb, 31, self.bomb_mb)
        await asyncio.to_thread(_bomb, 15, self.bomb_mb)
        self._server = await asyncio.start_server(self._handle, self.host, 0, limit=1 << 16)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: _Writer) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.open_connections += 1
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
                    return
                parts = head.split(b" ", 2)
                path = parts[1].decode("latin-1") if len(parts) > 2 else "?"
                self.hits[path] += 1
                if not await self._respond(path, writer):
                    return
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            self.open_connections -= 1
            self._tasks.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _respond(self, path: str, writer: _Writer) -> bool:
        html = {"Content-Type": "text/html"}
        if path == "/robots.txt":
            robots = b"User-agent: *\nAllow: /\n"
            return await _send(writer, "200 OK", {"Content-Type": "text/plain"}, robots)
        if path == PREFIX:
            links = [f"{PREFIX}ok/{i}.html" for i in range(GOOD_PAGES)] + list(BEHAVIOURS)
            return await _send(writer, "200 OK", html, _page("index", links=links))
        if path == f"{PREFIX}ok/":  # the good pages alone, for a crawl to compare with
            links = [f"{PREFIX}ok/{i}.html" for i in range(GOOD_PAGES)]
            return await _send(writer, "200 OK", html, _page("good pages", links=links))
        if path.startswith(f"{PREFIX}ok/"):
            return await _send(writer, "200 OK", html, _page(f"ok {path}"))
        behaviour = _REGISTRY.get(path.removeprefix(f"{PREFIX}h/"))
        if behaviour is None or not path.startswith(PREFIX):
            return await _send(writer, "404 Not Found", {"Content-Type": "text/plain"}, b"no")
        return await behaviour(self, writer)
