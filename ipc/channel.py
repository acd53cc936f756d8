"""Framed, typed message channels between the supervisor and its workers.

A channel is one end of a ``socket.socketpair()``: each frame is a 4-byte big-endian length and a
msgpack-encoded message from :mod:`shoal.ipc.messages`. One encoder and one decoder per channel,
created once. Writes go through the stream's buffer and ``drain()``, so a slow reader pushes back
on the writer instead of growing memory without bound.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import Any, Generic, TypeVar

import msgspec

from ..engine.errors import IPCError

__all__ = ["Channel", "open_channel"]

_HEADER = struct.Struct("!I")
# A frame this large means a bug or a corrupt stream, not a message: results are batched but a
# batch carries at most a few hundred outcomes.
_MAX_FRAME = 256 * 1024 * 1024
# Above this much unsent data, send() waits for the peer to read (backpressure).
_HIGH_WATER = 4 * 1024 * 1024

In = TypeVar("In")


class Channel(Generic[In]):
    """A bidirectional message channel: ``send(msg)`` any message, ``recv()`` an ``In``."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        decoder: msgspec.msgpack.Decoder[In],
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._decoder = decoder
        self._encoder = msgspec.msgpack.Encoder()
        self._closed = False

    def send_nowait(self, msg: msgspec.Struct) -> None:
        """Queue ``msg`` for sending without waiting; call ``drain()`` to apply backpressure."""
        if self._closed:
            raise IPCError("send on a closed channel")
        body = self._encoder.encode(msg)
        self._writer.write(_HEADER.pack(len(body)) + body)

    async def send(self, msg: msgspec.Struct) -> None:
        self.send_nowait(msg)
        await self.drain()

    async def drain(self) -> None:
        transport = self._writer.transport
        if transport.get_write_buffer_size() > _HIGH_WATER:
            try:
                await self._writer.drain()
            except (ConnectionError, OSError) as exc:
                raise IPCError(f"peer went away: {exc}") from exc

    async def recv(self) -> In:
        """The next message; raises ``EOFError`` when the peer closed the channel."""
        try:
            header = await self._reader.readexactly(_HEADER.size)
            (size,) = _HEADER.unpack(header)
            if size > _MAX_FRAME:
                raise IPCError(f"frame of {size} bytes is larger than any message")
            body = await self._reader.readexactly(size)
        except asyncio.IncompleteReadError as exc:
            raise EOFError("channel closed by peer") from exc
        except ConnectionError as exc:
            raise EOFError(f"channel broken: {exc}") from exc
        try:
            return self._decoder.decode(body)
        # msgspec lets UnicodeDecodeError out, not DecodeError, for a string that is not UTF-8
        # (msgspec issue #714): garbage all the same.
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            raise IPCError(f"undecodable message: {exc}") from exc

    async def aclose(self) -> None:
        """Close the channel; never raises, so it is safe on every shutdown path."""
        if self._closed:
            return
        self._closed = True
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except (ConnectionError, OSError):
            pass


async def open_channel(sock: socket.socket, message_type: Any) -> Channel[Any]:
    """Wrap a connected socket (one end of a socketpair) as a channel receiving ``message_type``
    (a message class or a union of them; annotate the result as ``Channel[ThatUnion]``)."""
    reader, writer = await asyncio.open_connection(sock=sock, limit=_MAX_FRAME)
    return Channel(reader, writer, msgspec.msgpack.Decoder(message_type))
