"""The client's HTTP transport (``sora_nb.client._http``) against real servers
on loopback.

Everything else in the suite already goes through it over plain HTTP; these
cover what only it does: TLS (a relay is HTTPS), a large upload held back by
flow control, an idle connection the server closed, errors and timeouts in the
client's words, proxies, no pool limit, and a request that must never be sent
twice.
"""

from __future__ import annotations

import asyncio
import gc
import io
import os
import re
import socket
import subprocess
import sys
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
import uvicorn
from PIL import Image

from sora_nb import APIConnectionError, Session, SoraClient, SoraError
from sora_nb.client._http import Transport, http_client
from sora_nb.emulator import EmulatorServer, create_app

from .scripted import free_port, serve_config

pytestmark = pytest.mark.anyio


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int | None]]:
    """Every request the transport is given, as (host, port)."""
    requests: list[tuple[str, int | None]] = []
    handle = Transport.handle_async_request

    async def counting(self: Transport, request: httpx.Request) -> httpx.Response:
        requests.append((request.url.host, request.url.port))
        return await handle(self, request)

    monkeypatch.setattr(Transport, "handle_async_request", counting)
    return requests


@pytest.fixture(scope="module")
def tls_relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The emulator over HTTPS with a certificate from a test CA; (base URL, CA
    file).
    """
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
    tls_relay: tuple[str, Path], sent: list[tuple[str, int]], monkeypatch, tmp_path: Path
) -> None:
    url, ca = tls_relay
    # how a user trusts a private CA
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    session = Session("tls", client=SoraClient(url, api_key="sk-tls"), save_dir=tmp_path)
    try:
        video = await session.generate("a lighthouse over a dark sea")
    finally:
        await session.client.aclose()
    assert video.local_path and Path(video.local_path).read_bytes()[4:8] == b"ftyp"
    assert video.video_url.startswith(url)
    assert sent and {host for host, _ in sent} == {"localhost"}


async def test_tls_refuses_a_certificate_it_does_not_trust(tls_relay) -> None:
    url, _ = tls_relay  # SSL_CERT_FILE unset: the test CA is unknown
    async with httpx.AsyncClient(transport=Transport()) as http:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED") as caught:
            await http.get(f"{url}/v1/models")
    assert not isinstance(caught.value, httpx.ConnectTimeout)


class CountingApp:
    """A raw ASGI app answering with how many body bytes it read, slowly; it
    notes the client's address of every request, so one per connection.
    """

    def __init__(self) -> None:
        self.peers: set[tuple[str, int]] = set()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.peers.add(tuple(scope["client"]))
        size = 0
        more = True
        while more:
            message = await receive()
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
            # a slow reader: the client's writes must wait
            await asyncio.sleep(0.001)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        # then answer with that many bytes
        if scope["query_string"].startswith(b"send="):
            block = bytes(range(256)) * 256
            for _ in range(int(scope["query_string"][5:]) // len(block)):
                await send({"type": "http.response.body", "body": block, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        else:
            await send({"type": "http.response.body", "body": str(size).encode()})


@pytest.fixture
def counting() -> Iterator[tuple[str, CountingApp]]:
    app = CountingApp()
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="critical",
        lifespan="off",
        timeout_keep_alive=1,
    )
    for _ in serve_config(config):
        yield f"http://127.0.0.1:{port}", app


async def test_a_large_upload_arrives_whole(counting: tuple[str, CountingApp]) -> None:
    url, _ = counting
    # 24 MiB, far over any socket buffer
    body = bytes(range(256)) * (24 * 1024 * 4)
    # Over 1 MiB: aiohttp warns of a bytes body (an error here); the transport
    # streams it.
    async with httpx.AsyncClient(transport=Transport(), timeout=60) as http:
        response = await http.post(url, content=body)
    assert response.text == str(len(body))


async def test_a_large_answer_read_slowly_arrives_whole(counting: tuple[str, CountingApp]) -> None:
    url, _ = counting
    # aiohttp stops reading past its buffer's high-water mark
    size = 16 * 1024 * 1024
    got = bytearray()
    async with (
        httpx.AsyncClient(transport=Transport(), timeout=60) as http,
        http.stream("GET", f"{url}?send={size}") as response,
    ):
        async for block in response.aiter_raw():
            got += block
            await asyncio.sleep(0.0005)
    assert len(got) == size and got[:256] == bytes(range(256)) and got[-1] == 255


async def test_a_connection_the_server_closed_while_idle_is_replaced(
    counting: tuple[str, CountingApp],
) -> None:
    url, app = counting
    async with httpx.AsyncClient(transport=Transport()) as http:
        first = await http.get(url)  # kept alive in aiohttp's pool
        again = await http.get(url)
        assert len(app.peers) == 1  # reused while the server kept it open
        await asyncio.sleep(1.5)  # the server's keep-alive timeout closes it
        late = await http.get(url)
    assert [first.text, again.text, late.text] == ["0", "0", "0"]
    assert len(app.peers) == 2


async def test_a_closed_answer_goes_at_once_not_at_a_collection(
    counting: tuple[str, CountingApp],
) -> None:
    # httpx's response and the wrapper round its stream hold each other: left
    # so, the request and its body (an inline image, maybe) would wait for a
    # full garbage collection, a thousand streams over.
    url, _ = counting
    async with httpx.AsyncClient(transport=Transport()) as http:
        gc.collect()
        gc.disable()
        try:
            response = await http.post(url, content=b"x" * 4096)
            assert response.text == "4096"
            answer, request = weakref.ref(response), weakref.ref(response.request)
            del response
            assert answer() is None and request() is None
        finally:
            gc.enable()


async def test_a_refused_connection_is_httpx_connect_error(sent) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        # bound, never listening: the connection is refused
        port = sock.getsockname()[1]
        async with httpx.AsyncClient(transport=Transport()) as http:
            with pytest.raises(httpx.ConnectError, match="Connect call failed") as caught:
                await http.get(f"http://127.0.0.1:{port}/")
    assert not isinstance(caught.value, httpx.ConnectTimeout)
    assert sent == [("127.0.0.1", port)]


async def test_streams_open_at_once_are_not_capped_by_a_pool() -> None:
    # aiohttp's connector holds 100 connections unless told otherwise: 150
    # streams must all be open together (each answers only once every one has
    # arrived), or this never ends.
    count, arrived = 150, asyncio.Event()
    opened = 0

    async def answer_together(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal opened
        opened += 1
        if opened == count:
            arrived.set()
        await arrived.wait()
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()

    async with (
        RawRelay(answer_together) as url,
        httpx.AsyncClient(transport=Transport(), timeout=20) as http,
    ):
        answers = await asyncio.gather(*(http.post(url, content=b"x") for _ in range(count)))
    assert [a.text for a in answers] == ["ok"] * count and opened == count


class RawRelay:
    """A TCP server on loopback that answers every connection with
    ``reply(reader, writer)``: for faults no HTTP server will make (a reset
    mid-body, silence after accepting).
    """

    def __init__(self, reply: Any, *, read_head: bool = True) -> None:
        self.reply = reply
        # False: the reply reads raw bytes (a TLS client's hello)
        self.read_head = read_head
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
            # the request's head; its body is not needed
            await reader.readuntil(b"\r\n\r\n")
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
    # linger 0: the client sees a reset, not an orderly end
    writer.transport.abort()


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    # accepts, reads the request, never answers: until the client leaves
    await reader.read()


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


async def _silent_mid_stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(SSE_HEAD + _sse("```json\n{") + _sse('"prompt": "x"'))
    await writer.drain()
    await reader.read()  # then nothing more, until the client leaves


async def test_a_stream_that_falls_silent_times_out_with_one_sentence() -> None:
    relay = RawRelay(_silent_mid_stream)
    async with relay as url:
        timeout = httpx.Timeout(5, read=0.3)
        client = SoraClient(url, api_key="sk-raw", max_retries=0, timeout=timeout)
        started = time.monotonic()
        with pytest.raises(SoraError) as caught:
            await client.generate("a boat")
        await client.aclose()
    # the gap between bytes, not the test's
    assert 0.3 <= time.monotonic() - started < 5
    message = str(caught.value)
    assert message.endswith("broke before a task was created: the relay sent nothing for 0.3 s.")
    assert relay.connections == 1


async def _never_reads(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()


async def test_a_tls_handshake_nobody_answers_is_a_connect_timeout() -> None:
    timeout = httpx.Timeout(5, connect=0.3)
    async with (
        RawRelay(_never_reads, read_head=False) as url,
        httpx.AsyncClient(transport=Transport(), timeout=timeout) as http,
    ):
        with pytest.raises(httpx.ConnectTimeout, match=r"TLS handshake took over 0\.3 s"):
            await http.get(url.replace("http://", "https://"))


class PostCounter(RawRelay):
    """A RawRelay that reads each request whole and counts the POSTs among
    them.
    """

    def __init__(self, reply: Any) -> None:
        super().__init__(reply, read_head=False)
        self.posts: list[bytes] = []

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        head = await reader.readuntil(b"\r\n\r\n")
        if head.startswith(b"POST"):
            self.posts.append(head.split(b" ")[1])
        length = int(re.search(rb"(?i)content-length: *(\d+)", head)[1])  # type: ignore[index]
        await reader.readexactly(length)
        await self.reply(reader, writer)


async def _close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


@pytest.mark.parametrize(
    ("dialect", "model", "path"),
    [
        pytest.param("chat", "sora-2", b"/v1/chat/completions", id="seed-transcript-chat"),
        pytest.param("chat", "sora2-landscape-10s", b"/v1/chat/completions", id="sora2api-chat"),
        pytest.param("videos", "sora-2", b"/v1/videos", id="videos-task-api"),
    ],
)
async def test_a_relay_that_reads_the_post_and_hangs_up_gets_it_once(
    dialect: str, model: str, path: bytes
) -> None:
    # Retries are allowed (max_retries=2), but only before anything was sent:
    # this relay read the whole request, so it may be making (and billing) the
    # video already.
    relay = PostCounter(_close)
    async with relay as url:
        client = SoraClient(url, api_key="sk-hangup-0123456789", dialect=dialect)
        with pytest.raises(APIConnectionError) as caught:
            await client.generate("a boat", model=model)
        await client.aclose()
    assert relay.posts == [path]
    message = str(caught.value)
    assert "\n" not in message and message.endswith(".") and not message.endswith("..")
    assert "did not answer" in message and "sk-hangup" not in message


async def test_proxies_come_from_the_environment_and_no_proxy_spares_a_host(
    counting: tuple[str, CountingApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines.append(head.split(b"\r\n")[0])
        # a tunnel for HTTPS: refused, as a proxy may
        if head.startswith(b"CONNECT"):
            writer.write(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
        else:
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\nproxied")
        await writer.drain()
        writer.close()

    direct, app = counting
    port = httpx.URL(direct).port
    async with RawRelay(proxy, read_head=False) as proxy_url:
        for name in ("http_proxy", "https_proxy", "no_proxy", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        monkeypatch.setenv("HTTPS_PROXY", proxy_url)
        monkeypatch.setenv("NO_PROXY", "localhost")
        async with httpx.AsyncClient(transport=Transport()) as http:
            proxied = await http.get("http://relay.example/v1/models")
            with pytest.raises(httpx.ProxyError, match="403"):
                await http.get("https://relay.example/v1/models")
            spared = await http.get(f"http://localhost:{port}/")
    assert lines == [
        b"GET http://relay.example/v1/models HTTP/1.1",
        b"CONNECT relay.example:443 HTTP/1.1",
    ]
    assert proxied.text == "proxied" and spared.text == "0" and len(app.peers) == 1


async def test_an_inline_image_over_a_mib_is_sent_whole(emulator: EmulatorServer) -> None:
    # Its data: URI makes the JSON body ~1.9 MiB: as bytes, aiohttp would warn
    # (an error under this suite's filters), so the transport streams it.
    noise = Image.frombytes("RGB", (800, 600), os.urandom(800 * 600 * 3))
    buffer = io.BytesIO()
    noise.save(buffer, "PNG")
    assert buffer.tell() > 2**20
    async with SoraClient(emulator.url, api_key="sk-image") as client:
        video = await client.generate("the picture, moving", image=buffer.getvalue())
    assert video.request.image and len(video.request.image) > 2**20
    assert video.video_url.startswith(emulator.url)


async def test_a_stream_over_another_transport_closes_its_iterator(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another transport's body goes through httpx's iterator; left at [DONE], it
    # must be closed then, not when the garbage collector finds it on a loop
    # that may be gone.
    made: list[Any] = []
    aiter_bytes = httpx.Response.aiter_bytes

    def spy(self: httpx.Response, *args: Any) -> Any:
        made.append(aiter_bytes(self, *args))
        return made[-1]

    monkeypatch.setattr(httpx.Response, "aiter_bytes", spy)
    transport = httpx.AsyncHTTPTransport()
    async with SoraClient(emulator.url, api_key="sk-other", transport=transport) as client:
        video = await client.generate("a cow in a field")
    assert video.video_url and made
    # finished or closed
    assert all(iterator.ag_frame is None for iterator in made)


async def test_a_relay_that_accepts_no_connection_is_a_connect_timeout() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        # never accepted: once its queue is full, Linux drops new SYNs
        sock.listen(0)
        port = sock.getsockname()[1]
        fillers = [socket.socket() for _ in range(3)]
        for filler in fillers:
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
        timeout = httpx.Timeout(5, connect=0.3)
        try:
            async with httpx.AsyncClient(transport=Transport(), timeout=timeout) as http:
                with pytest.raises(httpx.ConnectTimeout) as caught:
                    await http.get(f"http://127.0.0.1:{port}/")
        finally:
            for filler in fillers:
                filler.close()
    assert str(caught.value) == "the relay did not accept the connection in 0.3 s"


_NEVER_CLOSED = """
import asyncio, gc, sys
from sora_nb import SoraClient
from sora_nb.emulator import serve_in_thread

kept = []

async def main(url):
    client = SoraClient(url, api_key="sk-any-0123456789", max_retries=0)
    assert (await client.generate("a client nobody closes")).video_url
    if sys.argv[1] == "kept":
        kept.append(client)  # still open at interpreter exit

with serve_in_thread(speed=50) as server:
    asyncio.run(main(server.url))
    gc.collect()
print("generated")
"""


@pytest.mark.parametrize("fate", ["dropped", "kept"])
def test_a_client_never_closed_leaves_no_unclosed_session_warning(fate: str) -> None:
    # -X dev: asyncio's debug mode and every ResourceWarning shown, as a careful
    # user sees.
    done = subprocess.run(
        [sys.executable, "-X", "dev", "-c", _NEVER_CLOSED, fate],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.stdout.strip() == "generated", done.stderr
    assert "unclosed" not in done.stderr.lower(), done.stderr


async def test_a_cookie_the_relay_sets_is_sent_back_and_none_is_made_up() -> None:
    seen: list[str | None] = []

    def relay(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return httpx.Response(
            200, headers={"set-cookie": "route=b; Path=/"} if not seen[1:] else {}
        )

    async with http_client(httpx.Timeout(5.0), httpx.MockTransport(relay)) as client:
        for _ in range(3):
            await client.get("http://relay.test/v1/models")
    assert seen == [None, "route=b", "route=b"]
