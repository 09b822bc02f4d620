"""A scripted relay for client tests: raw ASGI under uvicorn on a loopback port.

Each request to ``/v1/chat/completions`` pops the next script; ``/source/<id>``
pops the next status object. Raw ASGI (not starlette) so a script can stop a
chunked body half way, the way a dropped connection looks to the client.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]


@dataclass
class Step:
    """Send ``data`` (bytes), after ``delay`` seconds."""

    data: bytes
    delay: float = 0.0


@dataclass
class Script:
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "text/event-stream"})
    steps: list[Step] = field(default_factory=list)
    cut: bool = False  # stop the body without its final chunk


def chunk(content: str, *, finish: str | None = None) -> bytes:
    obj = {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 1760338775,
        "model": "sora-2",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(obj, ensure_ascii=False).encode() + b"\n\n"


def sse_script(text: str, *, piece: int = 7, done: bool = True, delay: float = 0.0) -> Script:
    """A stream carrying ``text`` in fragments of ``piece`` characters."""
    steps = [Step(chunk(text[i : i + piece]), delay) for i in range(0, len(text), piece)]
    if done:
        steps += [Step(chunk("", finish="stop")), Step(b"data: [DONE]\n\n")]
    return Script(steps=steps)


def json_script(status: int, body: Any, headers: dict[str, str] | None = None) -> Script:
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    kind = "text/html" if isinstance(body, bytes) else "application/json"
    return Script(status, {"content-type": kind, **(headers or {})}, [Step(data)])


class ScriptedRelay:
    """The app; tests fill ``scripts`` and ``sources`` and read ``requests``."""

    def __init__(self) -> None:
        self.scripts: list[Script] = []
        self.sources: list[Any] = []
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.disconnected = threading.Event()

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.headers.append(headers)
        if scope["path"].startswith("/source/"):
            await self._source(send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.requests.append(json.loads(body))
        await self._play(self.scripts.pop(0), receive, send)

    async def _source(self, send: Send) -> None:
        obj = self.sources.pop(0) if len(self.sources) > 1 else self.sources[0]
        status = 404 if obj is None else 200
        await _respond(send, status, json.dumps(obj or {"error": "not found"}).encode())

    async def _play(self, script: Script, receive: Receive, send: Send) -> None:
        raw = [(k.encode(), v.encode()) for k, v in script.headers.items()]
        await send({"type": "http.response.start", "status": script.status, "headers": raw})
        watcher = asyncio.ensure_future(self._watch(receive))
        try:
            for step in script.steps:
                if watcher.done():
                    return  # the client left: stop, as a real server would
                if step.delay:
                    await asyncio.sleep(step.delay)
                await send({"type": "http.response.body", "body": step.data, "more_body": True})
            if script.cut:
                # uvicorn drops the connection
                raise ConnectionAbortedError("scripted cut")
            await send({"type": "http.response.body", "body": b""})
        finally:
            watcher.cancel()

    async def _watch(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self.disconnected.set()


async def _respond(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(app: Any) -> Iterator[str]:
    """Serve ``app`` on a loopback port in a thread; yields its base URL."""
    port = free_port()
    # h11 always: httptools (uvicorn's default when installed) refuses to send
    # the malformed header values some scripts are about.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="critical", lifespan="off", http="h11"
    )
    for _ in serve_config(config):
        yield f"http://127.0.0.1:{port}"


def serve_config(config: uvicorn.Config) -> Iterator[uvicorn.Server]:
    """Run a uvicorn server for ``config`` in a thread until the generator is
    closed.
    """
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "the test server did not start"
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(10)
