"""SIGKILL mid-batch, several times at random moments, then resume: nothing is
paid twice.

The relay is the emulator in this test process; the batch runs in a child Python
process that is killed with SIGKILL (no clean-up of any kind runs) and started
again on the same journal and autosave file, as a restarted kernel would be. The
emulator counts the tasks it started per prompt: on a real relay each one is
billed.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sora_nb.emulator import EmulatorServer, serve_in_thread
from sora_nb.records._journal import read_journal

ITEMS = 40
CHILD = """
import asyncio, json, sys
from pathlib import Path
import sora_nb

url, folder = sys.argv[1], Path(sys.argv[2])
journal, autosave = folder / "batch.jsonl", folder / "history.json"
prompts = [f"a numbered sheep {n}" for n in range(int(sys.argv[3]))]

async def main():
    client = sora_nb.SoraClient(url, api_key="sk-kill", max_streams=12)
    session = sora_nb.Session("kill", client=client, save_dir=None, autosave=autosave)
    if journal.exists():
        results = await session.resume_many(journal)
    else:
        results = await session.generate_many(prompts, journal=journal, unconfirmed=4)
    await client.aclose()
    print(json.dumps(results.rows()))

asyncio.run(main())
"""


@pytest.fixture
def relay() -> Iterator[EmulatorServer]:
    # one generation: about a third of a second
    with serve_in_thread(speed=15) as server:
        yield server


def start(relay: EmulatorServer, folder: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-c", CHILD, relay.url, str(folder), str(ITEMS)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=os.environ.copy())


def test_sigkill_mid_batch_then_resume_pays_each_item_once(
    relay: EmulatorServer, tmp_path: Path
) -> None:
    journal = tmp_path / "batch.jsonl"
    chance = random.Random()
    kills = 0

    def written() -> int:
        return journal.stat().st_size if journal.exists() else 0

    for _ in range(4):
        before = written()
        # As a context manager, the child's stdout pipe is closed and the child
        # waited for however the round ends, including a run that finished
        # before its kill.
        with start(relay, tmp_path) as child:
            while child.poll() is None and written() <= before:
                # until this run has written to the journal (imports are slow)
                time.sleep(0.01)
            time.sleep(chance.uniform(0.1, 1.2))  # the batch takes about 1.5 s
            if child.poll() is not None:
                break
            os.kill(child.pid, signal.SIGKILL)
        state = read_journal(journal)
        kills += not state.finished
        stages = [r.stage for r in state.items]
        print("killed:", {stage: stages.count(stage) for stage in sorted(set(stages))})
    assert kills >= 2, "the kills should land mid-batch"

    final = start(relay, tmp_path)
    out, _ = final.communicate(timeout=120)
    assert final.returncode == 0
    rows = json.loads(out)
    paid = dict(relay.app.state.emulator.paid)
    print(f"{kills} kills; paid {sum(paid.values())} for {ITEMS} items; {paid}")

    assert max(paid.values()) == 1  # no prompt paid twice
    # none lost: each is a video, or reported as in doubt
    assert len(rows) == ITEMS
    prompts = [f"a numbered sheep {n}" for n in range(ITEMS)]
    for row, prompt in zip(rows, prompts, strict=True):
        if row["status"] == "done":
            assert paid[prompt] == 1 and row["prompt"] == prompt
        # sent in the instant before a kill, before the relay named its task
        else:
            assert "may have been billed" in row["error"]
    # Only items sent and not yet named by the relay can be in doubt: at most
    # unconfirmed=4 per kill; the others were each sent exactly once, by the run
    # that found them unstarted.
    unknown = [row for row in rows if row["status"] != "done"]
    assert len(unknown) <= 4 * kills
    assert sum(paid.values()) <= ITEMS
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
