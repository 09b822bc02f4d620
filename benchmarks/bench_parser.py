"""Is the transcript parser linear in the stream's length?

Feeds streams of growing length one character at a time (the worst fragmenting a relay
can send) and reports the cost per character of each, as a ratio to the shortest one,
measured side by side in one run. A linear parser stays near 1.0; one that re-parses the
transcript per fragment grows with the length. Run: ``python -m benchmarks.bench_parser``.
"""

from __future__ import annotations

import time
from pathlib import Path

from sora_nb import TranscriptParser

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


def main() -> None:
    sizes = [16_384, 65_536, 262_144, 1_048_576]
    costs = {size: per_char_seconds(stream_of(size)) for size in sizes}
    base = costs[sizes[0]]
    print("chars      µs/char   ratio to the shortest (≈1.0 means linear)")
    for size in sizes:
        print(f"{size:>9,}  {costs[size] * 1e6:7.3f}   {costs[size] / base:5.2f}")


if __name__ == "__main__":
    main()
