"""The client's network backend (``sora_nb.client._network``) against real servers on loopback.

Everything else in the suite already goes through it over plain HTTP; these cover what only
it does: TLS (a relay is HTTPS), a large upload held back by flow control, and an idle
connection the server closed.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
import uvicorn

from sora_nb import Session, SoraClient, SoraError
from sora_nb.client._network import AsyncioBackend
from sora_nb.client._pools import Pools
from sora_nb.emulator import create_app

from .scripted import free_port, serve_config

pytestmark = pytest.mark.anyio


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every TCP connection the backend opens, as (host, port)."""
    opened: list[tuple[str, int]] = []
    connect = AsyncioBackend.connect_tcp

    async def counting(self: AsyncioBackend, host: str, port: int, **kwargs: Any) -> Any:
        opened.append((host, port))
        return await connect(self, host, port, **kwargs)

    monkeypatch.setattr(AsyncioBackend, "connect_tcp", counting)
    return opened


@pytest.fixture(scope="module")
def tls_relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The emulator over HTTPS with a certificate from a test CA; (base URL, CA file)."""
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    cert.private_key_and_cert_chain_pem.write_to_path(str(folder / "relay.pem"))
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    port = free_port()
    config = uvicorn.Config(
        create_app(speed=50, data_dir=folder / "relay"),
        host="127.0.0.1",
        port=port,
        log_level="critical",
        ssl_certfile=str(folder / "relay.pem"),
    )
    for _ in serve_config(config):
        yield f"https://localhost:{port}", folder / "ca.pem"


async def test_a_generation_and_its_download_over_tls(
    tls_relay: tuple[str, Path], connects: list[tuple[str, int]], monkeypatch, tmp_path: Path
) -> None:
    url, ca = tls_relay
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # how a user trusts a private CA
    session = Session("tls", client=SoraClient(url, api_key="sk-tls"), save_dir=tmp_path)
    try:
        video = await session.generate("a lighthouse over a dark sea")
    finally:
        await session.client.aclose()
    assert video.local_path and Path(video.local_path).read_bytes()[4:8] == b"ftyp"
    assert video.video_url.startswith(url)
    assert connects and {host for host, _ in connects} == {"localhost"}


async def test_tls_refuses_a_certificate_it_does_not_trust(tls_relay) -> None:
    url, _ = tls_relay  # SSL_CERT_FILE unset: the test CA is unknown
    async with httpx.AsyncClient(transport=Pools(1)) as http:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await http.get(f"{url}/v1/models")


async def _count_body(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A raw ASGI app answering with how many body bytes it read, slowly."""
    size = 0
    more = True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
        await asyncio.sleep(0.001)  # a slow reader: the client's writes must wait
    await send({"type": "http.response.start", "status": 200, "headers": []})
    if scope["query_string"].startswith(b"send="):  # then answer with that many bytes
        block = bytes(range(256)) * 256
        for _ in range(int(scope["query_string"][5:]) // len(block)):
            await send({"type": "http.response.body", "body": block, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    else:
        await send({"type": "http.response.body", "body": str(size).encode()})


@pytest.fixture
def counting_server() -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        _count_body,
        host="127.0.0.1",
        port=port,
        log_level="critical",
        lifespan="off",
        timeout_keep_alive=1,
    )
    for _ in serve_config(config):
        yield f"http://127.0.0.1:{port}"


async def test_a_large_upload_arrives_whole(counting_server: str) -> None:
    body = bytes(range(256)) * (24 * 1024 * 4)  # 24 MiB, far over any socket buffer
    async with httpx.AsyncClient(transport=Pools(1), timeout=60) as http:
        response = await http.post(counting_server, content=body)
    assert response.text == str(len(body))


async def test_a_large_answer_read_slowly_arrives_whole(counting_server: str) -> None:
    size = 16 * 1024 * 1024  # the backend stops reading past its high-water mark, then resumes
    got = bytearray()
    async with (
        httpx.AsyncClient(transport=Pools(1), timeout=60) as http,
        http.stream("GET", f"{counting_server}?send={size}") as response,
    ):
        async for block in response.aiter_raw():
            got += block
            await asyncio.sleep(0.0005)
    assert len(got) == size and got[:256] == bytes(range(256)) and got[-1] == 255


async def test_a_connection_the_server_closed_while_idle_is_replaced(
    counting_server: str, connects: list[tuple[str, int]]
) -> None:
    async with httpx.AsyncClient(transport=Pools(1)) as http:
        first = await http.get(counting_server)  # a GET: kept alive in the shared pool
        again = await http.get(counting_server)
        assert len(connects) == 1  # reused while the server kept it open
        await asyncio.sleep(1.5)  # the server's keep-alive timeout closes it
        late = await http.get(counting_server)
    assert [first.text, again.text, late.text] == ["0", "0", "0"]
    assert len(connects) == 2


async def test_a_refused_connection_is_httpx_connect_error(connects) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: the connection is refused
        async with httpx.AsyncClient(transport=Pools(1)) as http:
            with pytest.raises(httpx.ConnectError):
                await http.get(f"http://127.0.0.1:{port}/")
    assert connects == [("127.0.0.1", port)]


class RawRelay:
    """A TCP server on loopback that answers every connection with ``reply(reader, writer)``:
    for faults no HTTP server will make (a reset mid-body, silence after accepting)."""

    def __init__(self, reply: Any, *, read_head: bool = True) -> None:
        self.reply = reply
        self.read_head = read_head  # False: the reply reads raw bytes (a TLS client's hello)
        self.connections = 0
        self._writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        for writer in self._writers:
            writer.transport.abort()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        if self.read_head:
            await reader.readuntil(b"\r\n\r\n")  # the request's head; its body is not needed
        await self.reply(reader, writer)


SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
)


def _sse(content: str) -> bytes:
    from .scripted import chunk

    data = chunk(content)
    return b"%x\r\n%s\r\n" % (len(data), data)


async def _reset_mid_stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(SSE_HEAD + _sse("```json\n{") + _sse('"prompt": "x"'))
    await writer.drain()
    await asyncio.sleep(0.05)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    writer.transport.abort()  # linger 0: the client sees a reset, not an orderly end


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()  # accepts, reads the request, never answers: until the client leaves


async def test_a_reset_mid_stream_is_one_sentence() -> None:
    async with RawRelay(_reset_mid_stream) as url:
        client = SoraClient(url, api_key="sk-raw", max_retries=0)
        with pytest.raises(SoraError) as caught:
            await client.generate("a boat")
        await client.aclose()
    message = str(caught.value)
    assert "broke before a task was created" in message and "\n" not in message
    assert "sk-raw" not in message


async def test_a_relay_that_never_answers_times_out_with_one_sentence() -> None:
    relay = RawRelay(_silent)
    async with relay as url:
        client = SoraClient(
            url, api_key="sk-raw", max_retries=0, timeout=httpx.Timeout(5, read=0.3)
        )
        started = time.monotonic()
        with pytest.raises(SoraError) as caught:
            await client.generate("a boat")
        await client.aclose()
    assert time.monotonic() - started < 5  # the read timeout, not the test's
    message = str(caught.value)
    assert message.endswith("did not answer: the relay sent nothing for 0.3 s.")
    assert relay.connections == 1


async def _never_reads(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()


async def test_a_tls_handshake_nobody_answers_is_a_connect_timeout() -> None:
    timeout = httpx.Timeout(5, connect=0.3)
    async with (
        RawRelay(_never_reads, read_head=False) as url,
        httpx.AsyncClient(transport=Pools(1), timeout=timeout) as http,
    ):
        with pytest.raises(httpx.ConnectTimeout, match=r"TLS handshake took over 0\.3 s"):
            await http.get(url.replace("http://", "https://"))
