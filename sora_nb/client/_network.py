"""httpcore's sockets on plain asyncio: the client's network backend.

httpcore reaches the network through a small, documented extension point (a "network
backend": connect, read, write, start TLS, close). Its default goes through anyio, whose
socket stream stops the transport reading after every chunk and starts it again on the
next ``receive``: two ``epoll_ctl`` calls and a cancel scope per read. A relay's answer is
dozens of small SSE chunks per video, so with a thousand streams that bookkeeping was about
a fifth of the kernel's CPU (measured side by side: docs/protocol.md, "Concurrency").

This backend keeps each socket reading into a buffer (paused only past ``HIGH_WATER``), and
arms a timer only when a read must actually wait. It is asyncio only, which is all a kernel
runs. Errors and timeouts are httpcore's own exceptions, so httpx maps them as usual.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
from httpcore import AsyncNetworkBackend, AsyncNetworkStream

__all__ = ["HIGH_WATER", "AsyncioBackend"]

#: Bytes a connection buffers before it stops reading until the client catches up.
HIGH_WATER = 256 * 1024
_LOW_WATER = HIGH_WATER // 4

SocketOption = Any  # httpcore's (level, option, value) tuples, passed to setsockopt


class _Protocol(asyncio.Protocol):
    """Bytes received so far, end of stream, and write flow control for one connection."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.closed = False  # no more bytes will come
        self.lost = False  # and the transport has let go of its socket
        self.error: BaseException | None = None
        self.paused = False
        self._reader: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake_reader()

    def eof_received(self) -> bool:
        self.closed = True
        self._wake_reader()
        return False  # close the transport: HTTP/1.1 never half-closes

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = self.lost = True
        self.error = exc
        self._wake_reader()
        self.resume_writing()

    def pause_writing(self) -> None:
        if self._writable is None:
            self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)

    def _wake_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None and not reader.done():
            reader.set_result(None)

    async def wait_readable(self, timeout: float | None) -> None:
        loop = asyncio.get_running_loop()
        self._reader = reader = loop.create_future()
        await _within(reader, timeout, httpcore.ReadTimeout, "the relay sent nothing for {}")

    async def drain(self, timeout: float | None) -> None:
        if self._writable is not None:
            writable = asyncio.shield(self._writable)
            await _within(writable, timeout, httpcore.WriteTimeout, "the relay took nothing for {}")


async def _within(
    future: asyncio.Future[None],
    timeout: float | None,
    error: type[httpcore.TimeoutException],
    message: str,
) -> None:
    """Wait for ``future``; after ``timeout`` seconds raise ``error(message)`` instead,
    ``{}`` in ``message`` reading as the seconds. The error is made only if it fires: this
    runs for every read that waits, and nearly none time out."""
    if timeout is None:
        await future
        return
    timer = asyncio.get_running_loop().call_later(timeout, _expire, future, error, message, timeout)
    try:
        await future
    finally:
        timer.cancel()


def _expire(
    future: asyncio.Future[None],
    error: type[httpcore.TimeoutException],
    message: str,
    timeout: float,
) -> None:
    if not future.done():
        future.set_exception(error(message.format(_seconds(timeout))))


class _Stream(AsyncNetworkStream):
    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        if not protocol.buffer and not protocol.closed:
            await protocol.wait_readable(timeout)
        buffer = protocol.buffer
        if buffer:
            data = bytes(buffer[:max_bytes])
            del buffer[:max_bytes]
            if protocol.paused and len(buffer) < _LOW_WATER:
                protocol.paused = False
                self._transport.resume_reading()
            return data
        if protocol.error is not None:
            raise httpcore.ReadError(str(protocol.error) or type(protocol.error).__name__)
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        if self._transport.is_closing():
            raise httpcore.WriteError("the connection is closed")
        self._transport.write(buffer)
        await self._protocol.drain(timeout)

    async def aclose(self) -> None:
        # As anyio does: close, let the loop run once so the transport lets go of its socket
        # (it reports connection_lost on the next turn), and abort one still flushing a write
        # to a relay that is not reading. Without the turn, a loop that stops right after (a
        # test's) leaves an unclosed socket behind. A TLS transport only starts its closing
        # handshake on close(); the abort ends it, which HTTP does not need.
        transport = self._transport
        transport.close()
        if not self._protocol.lost:
            await asyncio.sleep(0)
        if not self._protocol.lost:
            transport.abort()
            await asyncio.sleep(0)

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        # Timed here: asyncio's own handshake timeout aborts with a ConnectionAbortedError,
        # which httpx would report as a refused connection rather than a timeout.
        handshake = loop.start_tls(
            self._transport, self._protocol, ssl_context, server_hostname=server_hostname
        )
        try:
            transport = await asyncio.wait_for(handshake, timeout)
        except (TimeoutError, asyncio.TimeoutError) as exc:
            await self.aclose()
            raise httpcore.ConnectTimeout(
                f"the TLS handshake took over {_seconds(timeout)}"
            ) from exc
        except (OSError, ssl.SSLError) as exc:
            await self.aclose()
            raise httpcore.ConnectError(str(exc)) from exc
        if transport is None:  # the connection closed during the handshake
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        return _Stream(transport, self._protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":  # an idle connection the relay has closed (or written to)
            return self._protocol.closed or bool(self._protocol.buffer)
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        return self._transport.get_extra_info(info)  # "ssl_object", "socket"


class AsyncioBackend(AsyncNetworkBackend):
    """An httpcore network backend on asyncio transports (see the module's docstring)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        local = (local_address, 0) if local_address else None
        # Happy eyeballs with anyio's delay, so a host whose IPv6 address is unreachable
        # still connects; not for an IP address, where it is only a race of one.
        delay = None if _is_ip(host) else 0.25
        connecting = loop.create_connection(
            _Protocol, host, port, local_addr=local, happy_eyeballs_delay=delay
        )
        return await _connected(connecting, timeout, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        connecting = loop.create_unix_connection(_Protocol, path)
        return await _connected(connecting, timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def _seconds(timeout: float | None) -> str:
    return f"{timeout:g} s" if timeout is not None else "asyncio's default time"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def _connected(
    connecting: Any, timeout: float | None, socket_options: Iterable[SocketOption] | None
) -> _Stream:
    try:
        transport, protocol = await asyncio.wait_for(connecting, timeout)
    except (TimeoutError, asyncio.TimeoutError) as exc:
        waited = _seconds(timeout)
        raise httpcore.ConnectTimeout(
            f"the relay did not accept the connection in {waited}"
        ) from exc
    except OSError as exc:
        raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
    sock: socket.socket | None = transport.get_extra_info("socket")
    if sock is not None:
        for option in socket_options or ():
            sock.setsockopt(*option)
    return _Stream(transport, protocol)
