"""Is the transcript parser linear in the stream's length, in each chat dialect?

Feeds streams of growing length one character at a time (the worst fragmenting a
relay can send) and reports the cost per character of each, as a ratio to the
shortest one, measured side by side in one run. A linear parser stays near 1.0;
one that re-parses the transcript per fragment grows with the length. Then the
seed stream as the relay sends it (its SSE payloads, decoded and parsed), the
work a client does per stream: a batch of a thousand streams costs a thousand
times that. Run: ``python -m benchmarks.bench_parser``.
"""

from __future__ import annotations

import time
from pathlib import Path

from sora_nb import TranscriptParser
from sora_nb.wire._protocol import ChatChunk, parse_chunk

SEED = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "transcript"


def stream_of(length: int) -> str:
    """The seed transcript, with a progress line and a queue line padded to
    ``length``.
    """
    seed = (SEED / "edit_stream.content.md").read_text(encoding="utf-8")
    head, tail = seed.split(">🏃‍ 进度 ", 1)
    pad = length - len(seed)
    dots = "." * (pad // 2)
    numbers = "".join(f"{n % 100}.." for n in range(pad // 6))
    return head.replace("> 生成中.", "> 生成中." + dots) + ">🏃‍ 进度 " + numbers + tail


def per_char_seconds(text: str, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        parser = TranscriptParser()
        started = time.perf_counter()
        for ch in text:
            parser.feed(ch)
        parser.flush()
        best = min(best, time.perf_counter() - started)
    return best / len(text)


def sora2api_chunks(count: int) -> list[ChatChunk]:
    """A sora2api stream (docs/dialects.md): ``count`` reasoning messages, then
    the video.
    """
    progress = [
        ChatChunk(reasoning=f"\n**Video Generation Progress**: {n * 100 // count}% (running)\n")
        for n in range(count)
    ]
    video = "```html\n<video src='https://cdn.example/v/raw?sig=abc' controls></video>\n```"
    return [*progress, ChatChunk(content=video, finish_reason="STOP")]


def per_chunk_seconds(chunks: list[ChatChunk], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        parser = TranscriptParser()
        started = time.perf_counter()
        for chunk in chunks:
            parser.feed_chunk(chunk)
        parser.flush()
        best = min(best, time.perf_counter() - started)
    return best / len(chunks)


def seed_stream_seconds(repeat: int = 200) -> tuple[float, int, int]:
    """Seconds to decode and parse the seed's SSE stream once; its payloads and
    characters.
    """
    sse = (SEED / "edit_stream.sse").read_text(encoding="utf-8")
    payloads = [e[len("data: ") :] for e in sse.split("\n\n") if e.startswith("data: ")]
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        parser = TranscriptParser()
        for payload in payloads:
            parser.feed_chunk(parse_chunk(payload))
        parser.flush()
        best = min(best, time.perf_counter() - started)
    return best, len(payloads), len(parser.transcript)


def main() -> None:
    sizes = [16_384, 65_536, 262_144, 1_048_576]
    costs = {size: per_char_seconds(stream_of(size)) for size in sizes}
    base = costs[sizes[0]]
    print("seed transcript, one character a fragment")
    print("chars      µs/char   ratio to the shortest (≈1.0 means linear)")
    for size in sizes:
        print(f"{size:>9,}  {costs[size] * 1e6:7.3f}   {costs[size] / base:5.2f}")
    counts = [1_000, 4_000, 16_000, 64_000]
    chunk_costs = {count: per_chunk_seconds(sora2api_chunks(count)) for count in counts}
    print("sora2api chat chunks (reasoning messages)")
    print("chunks     µs/chunk  ratio to the shortest (≈1.0 means linear)")
    for count in counts:
        ratio = chunk_costs[count] / chunk_costs[counts[0]]
        print(f"{count:>9,}  {chunk_costs[count] * 1e6:7.3f}   {ratio:5.2f}")
    seconds, payloads, chars = seed_stream_seconds()
    print("seed stream as the relay fragments it (parse_chunk + parser, per stream)")
    print(
        f"  {payloads} payloads, {chars} chars: {seconds * 1e6:.0f} µs a stream, "
        f"{seconds / payloads * 1e6:.2f} µs/payload, {seconds / chars * 1e6:.3f} µs/char "
        f"({costs[sizes[0]] / (seconds / chars):.1f}x less per char than one a fragment); "
        f"1,000 streams: {seconds * 1000:.2f} s"
    )


if __name__ == "__main__":
    main()
