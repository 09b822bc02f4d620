"""Does one generate() cost the same at 10,000 turns as in a fresh session?

Two sessions autosave to their own files: one fresh, one whose file already
holds 10,000 turns. Each round makes one video in each, side by side, against
the embedded emulator at a high speed (so the session's own work shows, not the
relay's wait). Reported: each one's seconds per generate() as min/median/max,
and the ratio of the medians. The goal is a ratio within 1.2 (issue 23); the
whole file rewritten per change made it about 363. Run: ``python -m
benchmarks.bench_history [turns] [rounds]``.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from sora_nb import Session, SoraClient
from sora_nb.emulator import serve_in_thread
from sora_nb.records._autosave import HistoryLog
from sora_nb.records._turn import write_file

GOAL = 1.2


async def _one(session: Session, prompt: str) -> float:
    started = time.perf_counter()
    await session.generate(prompt)
    return time.perf_counter() - started


def _long_file(path: Path, seed: Session, turns: int) -> None:
    """``turns`` copies of the seed's finished turn, written as the autosave
    record.
    """
    model = seed.turns[0]
    many = [
        replace(
            model, index=i, started_at=model.started_at - turns + i, video=None, status="failed"
        )
        if i % 2
        else replace(model, index=i, started_at=model.started_at - turns + i)
        for i in range(turns)
    ]
    HistoryLog(path, "long").sync(many, None)


def _per_change(session: Session, repeat: int = 5) -> str:
    """One changed turn written as the record does (a line) and as a whole file
    would be.
    """
    assert session.autosave is not None
    turns, log = session.turns, HistoryLog(session.autosave, session.name)
    log.sync(turns, None)
    appended, whole = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        log.sync(turns, [len(turns) - 1])
        appended.append(time.perf_counter() - started)
        started = time.perf_counter()
        write_file(session.autosave.with_name("whole.json"), session.name, turns)
        whole.append(time.perf_counter() - started)
    a, w = statistics.median(appended), statistics.median(whole)
    return f"appended {a * 1e3:.2f} ms, whole file {w * 1e3:.1f} ms ({w / a:.0f}x)"


def _updates_side_by_side(fresh: Session, long: Session, rounds: int = 40) -> str:
    """The session's own cost of recording a change (no relay in it), side by
    side.
    """
    times: dict[str, list[float]] = {"fresh": [], "long": []}
    for n in range(rounds):
        pair = [("fresh", fresh), ("long", long)]
        for name, session in pair if n % 2 else reversed(pair):
            started = time.perf_counter()
            # no list copy
            session._update(len(session._turns) - 1, name=f"take {n}")
            times[name].append(time.perf_counter() - started)
    shown = "  ".join(
        f"{name} min/median/max {min(v) * 1e3:.2f}/{statistics.median(v) * 1e3:.2f}/"
        f"{max(v) * 1e3:.2f} ms"
        for name, v in times.items()
    )
    ratio = statistics.median(times["long"]) / statistics.median(times["fresh"])
    return f"recording one change: {shown}; ratio of medians {ratio:.2f}"


async def main(turns: int = 10_000, rounds: int = 40) -> float:
    with serve_in_thread(speed=5000) as relay, tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        async with SoraClient(relay.url, "sk-bench", poll_interval=0.01) as client:
            seed = Session("seed", client=client, download=False)
            await seed.generate("a cow")
            _long_file(root / "long.json", seed, turns)
            started = time.perf_counter()
            long = Session("long", client=client, download=False, autosave=root / "long.json")
            load = time.perf_counter() - started
            fresh = Session("fresh", client=client, download=False, autosave=root / "fresh.json")
            # the first call pays for imports and connections
            for warm in (fresh, long):
                await warm.generate("warm up")
            times: dict[str, list[float]] = {"fresh": [], "long": []}
            # side by side, the order swapped each round
            for n in range(rounds):
                pair = [("fresh", fresh), ("long", long)]
                for name, session in pair if n % 2 else reversed(pair):
                    times[name].append(await _one(session, f"a cow, round {n}"))
    for name, values in times.items():
        print(
            f"{name:>5}: min {min(values) * 1e3:7.2f} ms  median "
            f"{statistics.median(values) * 1e3:7.2f} ms  max {max(values) * 1e3:7.2f} ms"
        )
    ratio = statistics.median(times["long"]) / statistics.median(times["fresh"])
    print(f"loading {turns} turns once: {load:.2f} s")
    # before _per_change replaces the file
    print(_updates_side_by_side(fresh, long))
    print(f"one change at {turns} turns: {_per_change(long)}")
    fastest = min(times["long"]) / min(times["fresh"])
    print(f"generate() at {turns} turns / fresh session: medians {ratio:.2f}, minima {fastest:.2f}")
    print(f"goal: medians <= {GOAL}; the emulator's own wait makes most of each time")
    return ratio


if __name__ == "__main__":
    arguments = [int(value) for value in sys.argv[1:3]]
    asyncio.run(main(*arguments))
