"""``%sora batch`` in a real ipykernel: frontend messages per batch, and SIGKILL
then resume.

The relay is the emulator in this test process (the kernel reaches it through
``SORA_BASE_URL``), so the test reads its count of started (billed) tasks per
prompt while the kernel is killed and restarted around it.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager, start_new_kernel

from sora_nb import SoraError
from sora_nb.emulator import EmulatorServer, serve_in_thread
from sora_nb.records._journal import read_journal

TIMEOUT = 180
FRONTEND = ("comm_open", "comm_msg", "comm_close", "display_data", "update_display_data")


@pytest.fixture(scope="module")
def relay() -> Iterator[EmulatorServer]:
    # one generation: about a third of a second
    with serve_in_thread(speed=15) as server:
        yield server


@pytest.fixture(scope="module")
def kernel(
    relay: EmulatorServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[KernelManager, BlockingKernelClient, Path]]:
    cwd = tmp_path_factory.mktemp("batch-kernel")
    env = {**os.environ, "SORA_BASE_URL": relay.url, "SORA_API_KEY": "sk-any", "LANG": "C.UTF-8"}
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(cwd), env=env)
    try:
        yield km, kc, cwd
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def run(kc: BlockingKernelClient, code: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    messages: list[dict[str, Any]] = []
    reply = kc.execute_interactive(code, timeout=TIMEOUT, output_hook=messages.append)
    return reply, messages


def test_kernel_batch_of_300_costs_at_most_100_frontend_messages(
    kernel: tuple[KernelManager, BlockingKernelClient, Path],
) -> None:
    _, kc, cwd = kernel
    # One prompt, so the emulator encodes one video: the client's side is what
    # is measured.
    (cwd / "many.txt").write_text("a sheep on a hill\n" * 300, encoding="utf-8")
    reply, _ = run(kc, "%load_ext sora_nb")
    assert reply["content"]["status"] == "ok"
    reply, messages = run(kc, "%sora batch many.txt --no-save --as many")
    assert reply["content"]["status"] == "ok"
    kinds = Counter(m["msg_type"] for m in messages)
    frontend = sum(kinds[kind] for kind in FRONTEND)
    print(f"300 generations -> {frontend} frontend messages {dict(kinds)}")
    assert frontend <= 100
    reply, out = run(kc, "print(sum(type(r).__name__ == 'Video' for r in many))")
    assert "".join(m["content"].get("text", "") for m in out).strip() == "300"
    finals = [m for m in messages if m["msg_type"] == "update_display_data"]
    assert any("300 done" in m["content"]["data"].get("text/plain", "") for m in finals)


def test_kernel_sigkill_mid_batch_then_resume_pays_each_prompt_once(
    kernel: tuple[KernelManager, BlockingKernelClient, Path], relay: EmulatorServer
) -> None:
    km, kc, cwd = kernel
    items = 30
    prompts = [f"a counted goat {n}" for n in range(items)]
    (cwd / "goats.txt").write_text("\n".join(prompts), encoding="utf-8")
    journal = cwd / "goats.jsonl"
    emulator = relay.app.state.emulator
    chance, kills = random.Random(), 0

    def progress(attempt: int) -> int:
        """How far the batch has come: tasks the relay named (first run), or
        polls of them (a resume: the named tasks are collected, the rest were
        sent or never will be).
        """
        return _named(journal) if attempt == 0 else emulator.status_reads

    # Held, no generation completes: each kill comes mid-batch by construction,
    # not by luck, at a random point the batch has reached.
    with relay.holding_completions():
        for attempt in range(3):
            run(kc, "%load_ext sora_nb")
            target = progress(attempt) + chance.randint(1, items)
            what = "--resume goats.jsonl" if attempt else "goats.txt --journal goats.jsonl"
            kc.execute(f"%sora batch {what}")
            deadline = time.monotonic() + TIMEOUT
            while progress(attempt) < target:
                assert time.monotonic() < deadline, (attempt, progress(attempt), target)
                time.sleep(0.01)
            km.signal_kernel(signal.SIGKILL)
            kills += not read_journal(journal).finished
            km.restart_kernel(now=True)
            kc.wait_for_ready(timeout=TIMEOUT)
    assert kills == 3

    run(kc, "%load_ext sora_nb")
    reply, _ = run(kc, "%sora batch --resume goats.jsonl --as goats")
    assert reply["content"]["status"] == "ok"
    reply, out = run(kc, "import json; print(json.dumps([r['status'] for r in goats.rows()]))")
    statuses = json.loads("".join(m["content"].get("text", "") for m in out))
    counts = {p: emulator.paid[p] for p in prompts}
    print(f"{kills} kills: {Counter(statuses)}; paid {sum(counts.values())} for {items} items")
    assert max(counts.values()) == 1  # nothing paid twice
    assert all(counts[p] == 1 for p, s in zip(prompts, statuses, strict=True) if s == "done")
    assert not [p.name for p in cwd.iterdir() if p.name.endswith(".tmp")]


def _named(journal: Path) -> int:
    """Items the journal holds a task id for (none while the file has no header
    yet).
    """
    try:
        return sum(item.stage == "task" for item in read_journal(journal).items)
    except SoraError:
        return 0
