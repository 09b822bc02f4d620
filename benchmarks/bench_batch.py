"""Batches at scale, as ratios measured side by side in one run (issue 13).

* Scale: 1,000 generations in one real kernel (``%sora batch``) against the
  emulator at speed 0.85, where one generation takes about 5.2 s (the issue's
  "one takes ≥ 5 s"; the run says so if it took less): the batch's wall time
  over one generation's (goal ≤ 1.3), the kernel's and the emulator's CPU over
  it, items lost, duplicate POSTs (the relay's count of started tasks over the
  items), the kernel's peak RSS growth per in-flight stream, and the frontend
  messages the cell sent. It is then repeated at speed 0.45, where one
  generation takes about 10 s (``--context-speed``; 0 skips it).
* Journal cost: the same fast batch with a journal and an autosave file over one
  with neither (goal ≤ 1.2), in wall time and in the kernel's CPU time; and, for
  scale, the old way (one ``Session.generate`` per prompt, which rewrites the
  autosave file on every change).
* Kill and resume: a journaled batch SIGKILLed three times at random moments,
  the kernel restarted, then ``%sora batch --resume``: items paid twice (goal 0)
  and items in doubt (sent in the instant before a kill, before the relay named
  their task: reported, not re-sent).

The emulator runs in this process; the batches run in kernels started with
jupyter_client.

Measured on two shared cores (2026-11-22). Wall / one at speed 0.85 (one ≈ 5.2
s): 1.32, 1.39, 1.48, 1.34, 1.29 in five runs of this file, and 1.28–1.36 in six
alternating runs of ``%sora batch`` and a bare ``Session.generate_many`` in one
kernel (the two cost the same: the notebook layer adds 0.07 s before the first
request and 0.05 s after the last result). At speed 0.45 (one ≈ 9.8 s): 1.16,
1.17, 1.17. Lost 0 and duplicate POSTs 0 in every run. So a batch costs one
generation plus a fixed ≈ 1.6–2 s, and the goal is met once one generation takes
about 6 s or more; at 5.2 s it sits on the line, met in some runs and missed by
up to 0.09 in others (0.18 on one noisy run). That fixed cost is the start of a
thousand streams at once, with the client and the emulator on the same two
cores: the kernel prepares and sends all of them in one turn of its event loop
(≈ 0.35 s), and the emulator, one Python thread, spends about 1 ms of CPU per
stream it starts (uvicorn's h11 parsing, starlette, the first echo fragments):
in a plain asyncio client the first answer's headers arrive ≈ 0.8 s after the
batch began and the last's ≈ 1.5 s. Sending the requests in slices, so that the
emulator could start sooner, was slower (1.52–1.71 against 1.31–1.32 in that
client): the later sends then compete with the echoes of the earlier streams.
Garbage collection is 0.25–0.5 s of the client's CPU and 0.3–0.5 s of the
emulator's in such a batch; freezing the heap that was there before
(``gc.freeze``) changed neither. Earlier steps, each measured side by side:
small connection pools and the emulator's fixed timeline (3.50 → ≈ 1.5 at speed
1); the asyncio network backend (kernel CPU 5.4–6.5 s → 4.2–5.1 s; wall / one at
speed 0.85, 1.41–1.49 → 1.32–1.39); the emulator's ids and transcript wake-ups
(its CPU 2.63–2.81 s → 2.41–2.57 s, wall / one −0.02). Run: ``python -m
benchmarks.bench_batch [--items 1000] [--speed 0.85] [--context-speed 0.45]``.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import signal
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager, start_new_kernel

from sora_nb.emulator import EmulatorServer, serve_in_thread
from sora_nb.records._journal import read_journal

FRONTEND = ("comm_open", "comm_msg", "comm_close", "display_data", "update_display_data")
# ten encodes, shared by all
PROMPTS = [f"a sheep on a hill, shot {n}" for n in range(10)]
RSS = """
import os, resource, time
def _rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
"""


class Kernel:
    """A kernel talking to ``relay``, in its own folder."""

    def __init__(self, relay: EmulatorServer, folder: Path, max_streams: int) -> None:
        env = {
            **os.environ,
            "SORA_BASE_URL": relay.url,
            "SORA_API_KEY": "sk-bench",
            "SORA_MAX_STREAMS": str(max_streams),
        }
        self.folder = folder
        km, kc = start_new_kernel(kernel_name="python3", cwd=str(folder), env=env)
        self.km: KernelManager = km
        self.kc: BlockingKernelClient = kc
        self.run("%load_ext sora_nb\n" + RSS)

    def run(self, code: str, timeout: float = 900) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        reply = self.kc.execute_interactive(code, timeout=timeout, output_hook=messages.append)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"{code!r} failed: {reply['content']}")
        return messages

    def value(self, expression: str) -> Any:
        messages = self.run(f"import json as _j; print(_j.dumps({expression}))")
        text = "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")
        return json.loads(text)

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def paid(relay: EmulatorServer) -> int:
    return sum(relay.app.state.emulator.paid.values())


def write_prompts(folder: Path, name: str, prompts: list[str]) -> str:
    (folder / name).write_text("\n".join(prompts) + "\n", encoding="utf-8")
    return name


def thread_cpu(relay: EmulatorServer) -> float:
    """CPU seconds of the emulator's server thread so far (Linux), NaN
    elsewhere.
    """
    # the benchmark reads its own emulator's thread, nothing else
    thread = relay._thread
    try:
        stat = Path(f"/proc/self/task/{thread.native_id}/stat").read_text()
    except OSError:
        return float("nan")
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scale(items: int, speed: float = 0.85) -> None:
    with serve_in_thread(speed=speed) as relay, tempfile.TemporaryDirectory() as tmp:
        kernel = Kernel(relay, Path(tmp), max_streams=items)
        try:
            kernel.run("%sora batch warm.txt --no-save".replace(
                "warm.txt", write_prompts(kernel.folder, "warm.txt", PROMPTS)))  # fmt: skip
            started = time.perf_counter()
            kernel.run(f"%sora batch {write_prompts(kernel.folder, 'one.txt', PROMPTS[:1])}")
            one = time.perf_counter() - started
            before_paid, before_rss = paid(relay), kernel.value("_rss_mib()")
            cpu = kernel.value("time.process_time()")
            big = [PROMPTS[n % len(PROMPTS)] for n in range(items)]
            name = write_prompts(kernel.folder, "big.txt", big)
            relay_cpu = thread_cpu(relay)
            started = time.perf_counter()
            messages = kernel.run(f"%sora batch {name} --no-save --as big")
            wall = time.perf_counter() - started
            relay_cpu = thread_cpu(relay) - relay_cpu
            cpu = kernel.value("time.process_time()") - cpu
            peak = kernel.value("resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024")
            done = kernel.value("sum(type(r).__name__ == 'Video' for r in big)")
            sent = paid(relay) - before_paid
        finally:
            kernel.close()
    kinds = Counter(m["msg_type"] for m in messages)
    frontend = sum(kinds[kind] for kind in FRONTEND)
    print(f"scale: {items} generations in one kernel, emulator speed {speed:g}")
    print(f"  one generation             {one:8.2f} s")
    if one < 5:
        print("  (under 5 s: the goal is judged where one takes >= 5 s; lower --speed)")
    print(f"  wall / one                 {wall / one:8.2f}  ({wall:.2f} s; goal <= 1.3)")
    print(f"  kernel CPU / one           {cpu / one:8.2f}  ({cpu:.2f} s of CPU in the kernel)")
    print(f"  emulator CPU / one         {relay_cpu / one:8.2f}  ({relay_cpu:.2f} s in its thread)")
    print(f"  lost                       {items - done:8d}")
    print(f"  duplicate POSTs            {sent - items:8d}  ({sent} tasks for {items} items)")
    print(f"  peak RSS per stream        {(peak - before_rss) * 1024 / items:8.1f} KiB")
    print(f"  frontend messages          {frontend:8d}  {dict(kinds)}")


def journal_cost(items: int, rounds: int = 2) -> None:
    prompts = [PROMPTS[n % len(PROMPTS)] for n in range(items)]
    with serve_in_thread(speed=100) as relay, tempfile.TemporaryDirectory() as tmp:
        kernel = Kernel(relay, Path(tmp), max_streams=items)
        kernel.run(f"import sora_nb, time\n_prompts = {prompts!r}")
        cases = {
            "none": "sora_nb.Session('plain{n}', save_dir=None)",
            "journal": "sora_nb.Session('kept{n}', save_dir=None, autosave='h{n}.json')",
        }
        best: dict[str, tuple[float, float]] = {}
        try:
            kernel.run("await sora_nb.Session('warm', save_dir=None).generate_many(_prompts[:10])")
            for n in range(rounds):
                for case, make in cases.items():
                    code = (
                        f"_s = {make.format(n=n)}\n"
                        "_t, _c = time.perf_counter(), time.process_time()\n"
                        "_r = await _s.generate_many(_prompts)\n"
                        "_cost = [time.perf_counter() - _t, time.process_time() - _c]"
                    )
                    kernel.run(code)
                    wall, cpu = kernel.value("_cost")
                    old = best.get(case, (wall, cpu))
                    best[case] = (min(wall, old[0]), min(cpu, old[1]))
            code = (
                "_s = sora_nb.Session('old', save_dir=None, autosave='old.json')\n"
                "_t, _c = time.perf_counter(), time.process_time()\n"
                "import asyncio\n_r = await asyncio.gather(*(_s.generate(p) for p in _prompts))\n"
                "_cost = [time.perf_counter() - _t, time.process_time() - _c]"
            )
            kernel.run(code)
            old_wall, old_cpu = kernel.value("_cost")
            journals = kernel.value(
                "len(list(__import__('pathlib').Path('.').glob('h*.batch.jsonl')))"
            )
        finally:
            kernel.close()
    (none_wall, none_cpu), (kept_wall, kept_cpu) = best["none"], best["journal"]
    print(f"journal cost: {items} generations at emulator speed 100 (best of {rounds})")
    print(f"  journal+autosave / none    {kept_wall / none_wall:8.2f} wall, "
          f"{kept_cpu / none_cpu:.2f} CPU  (goal <= 1.2; {journals} journals written)")  # fmt: skip
    old_cost = f"{old_wall / none_wall:8.2f} wall, {old_cpu / none_cpu:.2f} CPU"
    print(f"  old autosave per change    {old_cost}")


def wrote(kernel: Kernel, journal: Path, before: int) -> bool:
    """Wait until the running cell writes to ``journal``; False if the cell ends
    first.
    """
    while (journal.stat().st_size if journal.exists() else 0) <= before:
        try:
            kernel.kc.get_shell_msg(timeout=0.01)  # the cell's reply: it ended
        except queue.Empty:
            continue
        return False
    return True


def kill_and_resume(items: int = 200, kills: int = 3, window: int | None = None) -> None:
    prompts = [f"a counted goat {n}" for n in range(items)]
    chance = random.Random()
    with serve_in_thread(speed=10) as relay, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        kernel = Kernel(relay, folder, max_streams=100)
        journal = folder / "goats.jsonl"
        write_prompts(folder, "goats.txt", prompts)
        try:
            for attempt in range(kills):
                before = journal.stat().st_size if journal.exists() else 0
                what = "--resume goats.jsonl" if attempt else "goats.txt --journal goats.jsonl"
                what += f" --unconfirmed {window}" if window else ""
                kernel.kc.execute(f"%sora batch {what} --no-save")
                if not wrote(kernel, journal, before):
                    # every item had ended or was in doubt: nothing left to kill
                    break
                time.sleep(chance.uniform(0.2, 1.5))
                kernel.km.signal_kernel(signal.SIGKILL)
                stages = Counter(r.stage for r in read_journal(journal).items)
                print(f"  kill {attempt + 1}: journal stages {dict(stages)}")
                kernel.km.restart_kernel(now=True)
                kernel.kc.wait_for_ready(timeout=120)
                kernel.run("%load_ext sora_nb")
            final = f" --unconfirmed {window}" if window else ""
            kernel.run(f"%sora batch --resume goats.jsonl --no-save --as goats{final}")
            rows = kernel.value("goats.rows()")
        finally:
            kernel.close()
        counts = relay.app.state.emulator.paid
        tmp_left = [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]
    repaid = sum(1 for p in prompts if counts[p] > 1)
    doubt = sum(1 for row in rows if row["status"] != "done")
    print(
        f"kill and resume: {items} items, {kills} SIGKILLs at random moments, emulator speed 10, "
        f"unconfirmed window {window or 'none'}"
    )
    print(f"  items re-paid              {repaid:8d}  (goal 0)")
    print(f"  items done                 {items - doubt:8d}")
    print(f"  in doubt (reported)        {doubt:8d}  (sent just before a kill, task id unknown)")
    print(f"  never sent                 {sum(1 for p in prompts if counts[p] == 0):8d}")
    print(f"  .tmp files left            {len(tmp_left):8d}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument(
        "--speed",
        type=float,
        default=0.85,
        help="Emulator speed of the scale case; 0.85 makes one generation take ≥ 5 s, the "
        "issue's condition for the goal.",
    )
    parser.add_argument(
        "--context-speed",
        type=float,
        default=0.45,
        help="Then run the scale case at this emulator speed too (0.45: one ≈ 10 s; 0: not).",
    )
    args = parser.parse_args()
    scale(args.items, args.speed)
    if args.context_speed:
        scale(args.items, args.context_speed)
    journal_cost(300)
    kill_and_resume()
    kill_and_resume(window=10)


if __name__ == "__main__":
    main()
