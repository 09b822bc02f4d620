"""Is the transcript parser linear in the stream's length, in each chat dialect?

Feeds streams of growing length one character at a time (the worst fragmenting a relay
can send) and reports the cost per character of each, as a ratio to the shortest one,
measured side by side in one run. A linear parser stays near 1.0; one that re-parses the
transcript per fragment grows with the length. Run: ``python -m benchmarks.bench_parser``.
"""

from __future__ import annotations

import time
from pathlib import Path

from sora_nb import TranscriptParser
from sora_nb._protocol import ChatChunk

SEED = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "seed"


def stream_of(length: int) -> str:
    """The seed transcript, with a progress line and a queue line padded to ``length``."""
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
    """A sora2api stream (docs/dialects.md): ``count`` reasoning messages, then the video."""
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


if __name__ == "__main__":
    main()
