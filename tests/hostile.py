"""A relay written to misbehave: raw ASGI under uvicorn on a loopback port
(docs/protocol.md, "Promises"). It sits beside ``scripted.py`` and extends its
``ScriptedRelay``:

* every script and status body may say ``{bearer}``: the relay echoes the
  Authorization header it received there, as a careless relay's error pages do;
  ``{bearer_json}`` echoes it JSON-escaped, its first letter as ``\\u00XX`` and
  ``/`` as ``\\/`` (PHP's way);
* ``RawRelay`` answers from a plain socket, so even the status line's reason
  phrase can echo the key (no ASGI server lets an app choose it);
* ``/media/NAME`` serves hostile links: a redirect to itself, a garbage
  ``Content-Encoding``, a body larger than it says, an image bomb.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from .scripted import (
    Receive,
    Script,
    ScriptedRelay,
    Send,
    Step,
    chunk,
    free_port,
    serve_config,
    sse_script,
)

MediaHandler = Callable[[dict[str, Any], Send], Any]


class HostileRelay(ScriptedRelay):
    """``ScriptedRelay`` plus ``media`` routes and an echo of the bearer
    token.
    """

    def __init__(self) -> None:
        super().__init__()
        self.media: dict[str, MediaHandler] = {
            "/media/loop.mp4": _loop,
            "/media/garbled.mp4": _garbled,
            "/media/huge.mp4": _huge,
            "/media/liar.mp4": _liar,
            "/media/bomb.png": _bomb,
        }
        # /source/<id> → a status to answer with
        self.status_codes: dict[str, int] = {}
        # with no script left: 400 at once (fuzzing)
        self.refuse_unscripted = False
        # status bodies sent as bytes, echoes replaced
        self.raw_sources: list[bytes] = []
        # paths answered one byte every half second
        self.trickling: set[str] = set()

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        bearer = _bearer(scope)
        if path in self.trickling:
            self.headers.append({k.decode(): v.decode() for k, v in scope["headers"]})
            await _trickle(receive, send)
            return
        if path in self.media:
            self.headers.append({k.decode(): v.decode() for k, v in scope["headers"]})
            await self.media[path](scope, send)
            return
        if path in self.status_codes:
            self.headers.append({k.decode(): v.decode() for k, v in scope["headers"]})
            body = json.dumps({"error": {"message": f"no such task ({bearer})"}}).encode()
            await _start(send, self.status_codes[path], "application/json", len(body))
            await send({"type": "http.response.body", "body": body})
            return
        if path.startswith("/source/") and self.raw_sources:
            self.headers.append({k.decode(): v.decode() for k, v in scope["headers"]})
            body = _echo_bytes(self.raw_sources[0], bearer)
            await _start(send, 200, "application/json", len(body))
            await send({"type": "http.response.body", "body": body})
            return
        if self.refuse_unscripted and not self.scripts:
            self.scripts.append(_REFUSAL)
        if self.refuse_unscripted and path.startswith("/source/") and not self.sources:
            self.sources.append(None)  # 404: no such task
        self.scripts = [_echo_script(script, bearer) for script in self.scripts]
        self.sources = [_echo_json(obj, bearer) for obj in self.sources]
        await super().__call__(scope, receive, send)


_REFUSAL = Script(
    400,
    {"content-type": "application/json"},
    [Step(b'{"error": {"message": "refused by the hostile relay"}}')],
)


def _bearer(scope: dict[str, Any]) -> str:
    headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
    return headers.get("authorization", "").removeprefix("Bearer ")


@dataclass
class EchoStream(Script):
    """A stream of ``text`` in ``piece``-character chunks, ``{bearer}`` echoed
    before the split, so the key itself arrives cut across chunks.
    """

    text: str = ""
    piece: int = 3


def escaped(key: str) -> str:
    """``key`` as a careless JSON encoder may write it: ``\\u0073k-…``, ``/`` as
    ``\\/``.
    """
    return f"\\u{ord(key[0]):04x}" + key[1:].replace("/", "\\/") if key else ""


def _echo_bytes(data: bytes, bearer: str) -> bytes:
    data = data.replace(b"{bearer_json}", escaped(bearer).encode())
    return data.replace(b"{bearer}", bearer.encode())


def _echo_script(script: Script, bearer: str) -> Script:
    if isinstance(script, EchoStream):
        return sse_script(script.text.replace("{bearer}", bearer), piece=script.piece)
    steps = [replace(step, data=_echo_bytes(step.data, bearer)) for step in script.steps]
    return replace(script, steps=steps)


def _echo_json(obj: Any, bearer: str) -> Any:
    if obj is None:
        return None
    return json.loads(json.dumps(obj).replace("{bearer}", bearer))


async def _start(send: Send, status: int, kind: str, length: int | None, **extra: str) -> None:
    headers = [(b"content-type", kind.encode())]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    headers += [(k.replace("_", "-").encode(), v.encode()) for k, v in extra.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})


async def _trickle(receive: Receive, send: Send) -> None:
    """Announces 10 kB, then sends one byte every half second until the client
    leaves.
    """
    # the (empty) request body; the next message is the disconnect
    await receive()
    gone = asyncio.ensure_future(receive())
    await _start(send, 200, "video/mp4", 10_000)
    for _ in range(10_000):
        if gone.done():
            return
        await send({"type": "http.response.body", "body": b"{", "more_body": True})
        await asyncio.wait([gone], timeout=0.5)
    await send({"type": "http.response.body", "body": b""})


async def _loop(scope: dict[str, Any], send: Send) -> None:
    """Redirects to itself, for ever."""
    await _start(send, 302, "text/plain", 0, location=scope["path"])
    await send({"type": "http.response.body", "body": b""})


async def _garbled(scope: dict[str, Any], send: Send) -> None:
    """Says gzip, sends something else."""
    body = b"this is not gzip at all" * 10
    await _start(send, 200, "video/mp4", len(body), content_encoding="gzip")
    await send({"type": "http.response.body", "body": body})


async def _huge(scope: dict[str, Any], send: Send) -> None:
    """Announces 5 GiB (and sends a little)."""
    await _start(send, 200, "video/mp4", 5 * 2**30)
    await send({"type": "http.response.body", "body": b"\0" * 1024})


async def _liar(scope: dict[str, Any], send: Send) -> None:
    """No length, then more bytes than any cap a test sets (3 MiB)."""
    await _start(send, 200, "video/mp4", None)
    for _ in range(48):
        await send({"type": "http.response.body", "body": b"\0" * 65536, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


def bomb_png() -> bytes:
    """A 20000×10000 PNG of a few hundred KiB: 200 megapixels once decoded."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("1", (20000, 10000)).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


_BOMB: list[bytes] = []


async def _bomb(scope: dict[str, Any], send: Send) -> None:
    if not _BOMB:
        _BOMB.append(bomb_png())
    await _start(send, 200, "image/png", len(_BOMB[0]))
    await send({"type": "http.response.body", "body": _BOMB[0]})


def keepalive_script(seconds: float, every: float = 0.1) -> Script:
    """SSE comments every ``every`` seconds for ``seconds``: bytes arrive,
    nothing happens.
    """
    return Script(steps=[Step(b": keep-alive\n\n", every) for _ in range(int(seconds / every))])


def endless_line_script(pieces: int, size: int = 1024, every: float = 0.01) -> Script:
    """One ``data:`` line that never ends, ``size`` bytes at a time."""
    return Script(steps=[Step(b"data: ", 0)] + [Step(b"x" * size, every) for _ in range(pieces)])


class SlotGate:
    """A per-key concurrency gate in front of an app, as new-api's is: at most
    ``slots`` POSTs at once, every other one answered 429 with ``Retry-After``
    (nothing started).
    """

    def __init__(self, app: Any, slots: int, retry_after: str = "1") -> None:
        self.app, self.slots, self.retry_after = app, slots, retry_after
        self.running = self.peak = self.accepted = self.refused = 0

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        if self.running >= self.slots:
            self.refused += 1
            body = json.dumps({"error": {"message": "too many requests for this key"}})
            await _start(send, 429, "application/json", len(body), retry_after=self.retry_after)
            await send({"type": "http.response.body", "body": body.encode()})
            return
        self.running += 1
        self.accepted += 1
        self.peak = max(self.peak, self.running)
        try:
            await self.app(scope, receive, send)
        finally:
            self.running -= 1


@contextlib.contextmanager
def gated_emulator(slots: int, speed: float = 100) -> Iterator[tuple[SlotGate, str]]:
    """The emulator behind a ``SlotGate`` on a loopback port: the gate and the
    base URL.
    """
    import uvicorn

    from sora_nb.emulator import create_app

    gate = SlotGate(create_app(speed=speed), slots)
    port = free_port()
    config = uvicorn.Config(
        gate, host="127.0.0.1", port=port, log_level="critical", lifespan="on", http="h11"
    )
    for _ in serve_config(config):
        yield gate, f"http://127.0.0.1:{port}"


def paid(gate: SlotGate) -> dict[str, int]:
    """The emulator's own count of the tasks it started, per prompt."""
    return dict(gate.app.state.emulator.paid)


def split_character_script(text: str, character: str = "🏃", *, lone: bool = False) -> Script:
    """A stream of ``text`` whose every ``character`` (outside the BMP) is cut
    between its two UTF-16 halves, one per chunk, JSON-escaped as a JavaScript
    relay writes them: ``"\\ud83c"`` then ``"\\udfc3…"``. ``lone``: the second
    half never comes.
    """
    high, low = (
        character.encode("utf-16-le", "surrogatepass")[:2],
        character.encode("utf-16-le")[2:],
    )
    halves = (high.decode("utf-16-le", "surrogatepass"), low.decode("utf-16-le", "surrogatepass"))
    pieces: list[str] = []
    for n, part in enumerate(text.split(character)):
        if n:
            pieces[-1] += halves[0]
            part = part if lone else halves[1] + part
        pieces += [part[i : i + 7] for i in range(0, len(part), 7)] or [""]
    steps = [Step(_escaped_chunk(piece)) for piece in pieces]
    steps += [Step(chunk("", finish="stop")), Step(b"data: [DONE]\n\n")]
    return Script(steps=steps)


def _escaped_chunk(content: str) -> bytes:
    obj: dict[str, Any] = {
        "id": "chatcmpl-split",
        "object": "chat.completion.chunk",
        "model": "sora-2",
    }
    obj["choices"] = [{"index": 0, "delta": {"content": content}, "finish_reason": None}]
    # \ud83c: escaped, as JS does
    return b"data: " + json.dumps(obj).encode("ascii") + b"\n\n"


def media_bytes(data: bytes, kind: str = "video/mp4") -> MediaHandler:
    """A ``media`` route answering ``data`` whole."""

    async def handler(scope: dict[str, Any], send: Send) -> None:
        await _start(send, 200, kind, len(data))
        await send({"type": "http.response.body", "body": data})

    return handler


def clip_mp4(colour: tuple[int, int, int] = (200, 30, 30), *, audio_only: bool = False) -> bytes:
    """A real mp4 of three frames of ``colour``, or of a little silence (no
    video stream).
    """
    from fractions import Fraction

    import av
    import numpy as np

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        if audio_only:
            sound = container.add_stream("aac", rate=8000)
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono"
            )
            frame.sample_rate = 8000
            for packet in [*sound.encode(frame), *sound.encode(None)]:
                container.mux(packet)
        else:
            stream = container.add_stream("libx264", rate=Fraction(24))
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
            for _ in range(3):
                pixels = np.full((48, 64, 3), colour, dtype=np.uint8)
                container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
            container.mux(stream.encode(None))
    return buffer.getvalue()


def linked_transcript(text: str, video_url: str) -> str:
    """``text`` (a seed transcript) with no thumbnail link and its video at
    ``video_url``.
    """
    lines = [line for line in text.splitlines(keepends=True) if not line.startswith("![")]
    out = []
    for line in lines:
        if "在线播放" in line:
            line = f"[在线播放▶️]({video_url})\n"
        out.append(line)
    return "".join(out)


class RawRelay:
    """A relay on a plain loopback socket that answers every request with
    ``reply``, its ``{bearer}`` and ``{bearer_json}`` replaced by the key the
    request carried; ``url`` is its base URL. Used as a context manager.
    """

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._stop = threading.Event()

    def __enter__(self) -> RawRelay:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(10)
        self._server.close()

    def _serve(self) -> None:
        # to see the stop flag: close() does not wake accept()
        self._server.settimeout(0.1)
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(10)
                self._answer(connection)

    def _answer(self, connection: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            data = connection.recv(65536)
            if not data:
                return
            head += data
        length = re.search(rb"(?im)^content-length: *(\d+)", head)
        end = head.index(b"\r\n\r\n") + 4 + (int(length.group(1)) if length else 0)
        # the whole body read: closing early would reset it
        while len(head) < end:
            data = connection.recv(65536)
            if not data:
                return
            head += data
        found = re.search(rb"(?im)^authorization: *Bearer (\S+)", head)
        bearer = found.group(1).decode() if found else ""
        connection.sendall(_echo_bytes(self.reply, bearer))
