"""The client's HTTP path against the floor, side by side in one run (issue 26).

* The relay is a replaying server in its own process, pinned to the other core:
  it answers every POST with one recorded emulator stream, byte for byte, at its
  recorded timing (recorded at the start of the run from the embedded emulator).
* The client runs here, pinned to the first core. Its CPU is read with
  ``getrusage`` around the streams only (the relay's process is not counted),
  and divided by the streams.
* Variants, in alternating order each round: ``floor`` is raw aiohttp reading
  the SSE lines itself (``async for line in response.content``) into httpx-sse's
  event decoder and the same parser; ``sora_nb`` is ``SoraClient.generate``
  (limiter, retries, redaction, the deadline, a ``Video`` each) over its
  transport. ``--httpx`` adds ``sora_nb`` on httpx's default transport (httpcore
  on anyio), for scale.
* Reported: client CPU per stream of each variant over the floor's in the same
  round, at each N (goal ≤ 1.2), and the wall time of 1,000 streams at once over
  one (goal ≤ 1.15), as min / median / max over the rounds. The load average is
  printed before and after: the machine may be shared.

Run: ``python -m benchmarks.bench_http [--rounds 4] [--sizes 100,300,1000]
[--httpx]``. Figures: docs/network.md, "Measured".
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import httpx
from httpx_sse._decoders import SSEDecoder

from sora_nb import SoraClient
from sora_nb.emulator import serve_in_thread
from sora_nb.wire._protocol import TranscriptParser, parse_chunk

KEY = "sk-bench-0123456789"
PROMPT = "a lighthouse over a dark sea"
BODY = {"model": "sora-2", "messages": [{"role": "user", "content": PROMPT}], "stream": True}

# (seconds after the request, bytes sent then)
Recording = list[tuple[float, bytes]]


# -- recording one emulator stream ---------------------------------------------


async def _record(port: int) -> Recording:
    """The emulator's raw answer to one POST: every read, with when it
    arrived.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = json.dumps(BODY).encode()
    writer.write(
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n"
        b"content-type: application/json\r\naccept: text/event-stream\r\n"
        b"authorization: Bearer " + KEY.encode() + b"\r\n"
        b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body) + body
    )
    await writer.drain()
    started, got = time.monotonic(), []
    while data := await reader.read(65536):
        got.append((time.monotonic() - started, data))
    writer.close()
    return got


def record(speed: float) -> Recording:
    with (
        tempfile.TemporaryDirectory() as folder,
        serve_in_thread(speed=speed, data_dir=folder) as server,
    ):
        port = httpx.URL(server.url).port
        assert port is not None
        got = asyncio.run(_record(port))
    assert b"[DONE]" in b"".join(data for _, data in got), "the stream did not end"
    # Keep-alive, not "connection: close", in what is replayed: the client may
    # reuse it.
    at, first = got[0]
    head, _, rest = first.partition(b"\r\n\r\n")
    assert rest or first.endswith(b"\r\n\r\n"), "the head came in more than one read"
    lines = [h for h in head.split(b"\r\n") if not h.lower().startswith(b"connection:")]
    return [(at, b"\r\n".join(lines) + b"\r\n\r\n" + rest), *got[1:]]


# -- the replaying relay (its own process) -------------------------------------


class _Replay(asyncio.Protocol):
    """Answers each request on a connection with the recording, at its
    timing.
    """

    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, _, rest = self.buffer.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if len(rest) < length:
                return
            self.buffer = rest[length:]
            self._answer()

    def _answer(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        for at, data in self.recording:
            loop.call_at(now + at, self._write, data)

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def _serve(recording: Recording) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Replay(recording), "127.0.0.1", 0, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


def relay_process(recording: Recording, core: int | None) -> tuple[subprocess.Popen[str], str]:
    path = Path(tempfile.mkdtemp()) / "recording.json"
    path.write_text(json.dumps([(at, base64.b64encode(d).decode()) for at, d in recording]))
    args = [sys.executable, "-m", "benchmarks.bench_http", "--serve", str(path)]
    relay = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    if core is not None:
        os.sched_setaffinity(relay.pid, {core})
    assert relay.stdout is not None
    return relay, f"http://127.0.0.1:{relay.stdout.readline().strip()}"


# -- the variants --------------------------------------------------------------


async def floor(url: str, n: int) -> int:
    """Raw aiohttp: the SSE lines read by aiohttp itself, the same decoder and
    parser.
    """
    body = json.dumps(BODY).encode()
    headers = {
        "authorization": f"Bearer {KEY}",
        "content-type": "application/json",
        "accept": "text/event-stream",
    }

    async def one(session: aiohttp.ClientSession) -> bool:
        parser, decoder = TranscriptParser(), SSEDecoder()
        async with session.post(f"{url}/v1/chat/completions", data=body, headers=headers) as r:
            async for line in r.content:
                sse = decoder.decode(line.decode().rstrip("\r\n"))
                if sse is None:
                    continue
                chunk = parse_chunk(sse.data)
                if chunk.done:
                    break
                parser.feed_chunk(chunk)
        parser.flush()
        return parser.completed is not None

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        done = await asyncio.gather(*(one(session) for _ in range(n)))
    return sum(done)


def sora_nb(transport: Callable[[], httpx.AsyncBaseTransport | None]) -> Variant:
    async def run(url: str, n: int) -> int:
        async with SoraClient(
            url, api_key=KEY, max_streams=n, max_retries=0, transport=transport()
        ) as client:
            videos = await asyncio.gather(*(client.generate(PROMPT) for _ in range(n)))
        return sum(1 for video in videos if video.video_url)

    return run


Variant = Callable[[str, int], Awaitable[int]]


def _unbounded_httpx() -> httpx.AsyncBaseTransport:
    return httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=None))


def measure(variant: Variant, url: str, n: int) -> tuple[float, float]:
    """(client CPU seconds per stream, wall seconds) of ``n`` streams at
    once.
    """
    gc.collect()
    loop = asyncio.new_event_loop()
    try:
        before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        done = loop.run_until_complete(variant(url, n))
        wall, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    assert done == n, f"{done} of {n} streams completed"
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu / n, wall


def _spread(values: list[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--sizes", default="100,300,1000")
    parser.add_argument("--speed", type=float, default=0.85, help="the recorded emulator's")
    parser.add_argument("--httpx", action="store_true", help="also httpx's default transport")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        data = json.loads(Path(args.serve).read_text())
        asyncio.run(_serve([(at, base64.b64decode(d)) for at, d in data]))
        return

    cores = sorted(os.sched_getaffinity(0))
    client_core, relay_core = (cores[0], cores[1]) if len(cores) > 1 else (None, None)
    print(f"load average before: {os.getloadavg()}; cores {cores}")
    recording = record(args.speed)
    length = recording[-1][0]
    print(
        f"recorded: {len(recording)} reads, {sum(len(d) for _, d in recording)} bytes, "
        f"{length:.2f} s (emulator speed {args.speed})"
    )
    relay, url = relay_process(recording, relay_core)
    if client_core is not None:
        os.sched_setaffinity(0, {client_core})
    print(f"relay pid {relay.pid} on core {relay_core}; client on core {client_core}")
    variants: dict[str, Variant] = {"floor": floor, "sora_nb": sora_nb(lambda: None)}
    if args.httpx:
        variants["httpx default"] = sora_nb(_unbounded_httpx)
    sizes = [int(s) for s in args.sizes.split(",")]
    cpu: dict[tuple[str, int], list[float]] = {}
    ratios: dict[tuple[str, int], list[float]] = {}
    walls: dict[str, list[float]] = {}
    try:
        # warm: imports, the first connections
        measure(variants["sora_nb"], url, 10)
        for round_ in range(args.rounds):
            order = list(variants) if round_ % 2 == 0 else list(reversed(variants))
            one = {name: measure(variants[name], url, 1)[1] for name in order}
            for n in sizes:
                got = {name: measure(variants[name], url, n) for name in order}
                for name, (per_stream, wall) in got.items():
                    cpu.setdefault((name, n), []).append(per_stream)
                    if name != "floor":
                        ratio = per_stream / got["floor"][0]
                        ratios.setdefault((name, n), []).append(ratio)
                    if n == max(sizes):
                        walls.setdefault(name, []).append(wall / one[name])
                line = ", ".join(f"{k} {v[0] * 1000:.2f} ms ({v[1]:.2f} s)" for k, v in got.items())
                print(f"round {round_ + 1} N={n}: CPU per stream (wall) {line}", flush=True)
            walls_one = {k: round(v, 2) for k, v in one.items()}
            print(f"round {round_ + 1} one stream's wall, s: {walls_one}", flush=True)
    finally:
        relay.terminate()
        relay.wait()
    print(f"\nload average after: {os.getloadavg()}")
    print("client CPU per stream, ms (min / median / max over rounds)")
    for (name, n), values in sorted(cpu.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(f"  N={n:>5} {name:<14} {_spread([v * 1000 for v in values])}")
    print("client CPU per stream over the floor's, same round (goal <= 1.2)")
    for (name, n), values in sorted(ratios.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(f"  N={n:>5} {name:<14} {_spread(values)}")
    print(f"wall of {max(sizes)} at once over one (goal <= 1.15 for sora_nb)")
    for name, values in walls.items():
        print(f"  {name:<14} {_spread(values)}")


if __name__ == "__main__":
    main()
