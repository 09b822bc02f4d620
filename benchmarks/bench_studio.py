"""The studio stays responsive with 20 jobs streaming: ratios measured side by side in one run.

* Round-trip: how long a message to the kernel waits for the kernel's event loop (a click, a
  keystroke, ``kernel_info``), sampled every 20 ms: the median and the 95th percentile while
  20 studio jobs stream, over the same while idle (≈1: the jobs never hold the loop), and the
  busy 95th percentile and maximum over 100 ms, a delay a person starts to notice.
* Frontend messages: widget messages the studio sends for 20 concurrent jobs over 20 times
  those for one job (≈1: no job costs more for having company), and the rate with 20 jobs
  as a fraction of the Jupyter server's IOPub limit (1,000 messages/s), above which output
  is dropped (docs/notebook.md, "Frontend limits").

The relay is the emulator in its own process, so its encoding does not share our GIL. Run:
``python -m benchmarks.bench_studio``.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import ipywidgets as widgets
from IPython.core.interactiveshell import InteractiveShell

from sora_nb._notebook._magic import magics_for
from sora_nb._notebook._panel import Panel

JOBS = 20
SPEED = 10  # a sora-2 clip streams for about a second and a half
IOPUB_LIMIT = 1000.0  # messages per second (ServerApp.iopub_msg_rate_limit)

_sent = [0]


def _count(self: Any, msg: Any, buffers: Any = None) -> None:
    _sent[0] += 1  # instead of a comm: outside a kernel there is no frontend to send to


async def loop_lags(until: asyncio.Future[Any] | float, every: float = 0.02) -> list[float]:
    """How late a callback scheduled on the loop runs, sampled until ``until``."""
    loop, lags = asyncio.get_running_loop(), []
    deadline = until if isinstance(until, float) else None
    while (deadline is None or loop.time() < deadline) and not (
        isinstance(until, asyncio.Future) and until.done()
    ):
        ready = loop.create_future()
        asked = loop.time()
        loop.call_soon(ready.set_result, None)
        await ready
        lags.append(loop.time() - asked)
        await asyncio.sleep(every)
    return lags


async def run_jobs(ui: Panel, count: int) -> tuple[int, float, list[float]]:
    """Start ``count`` jobs from the studio; (messages sent, seconds, loop lags)."""
    _sent[0] = 0
    started = time.perf_counter()
    tasks = []
    for n in range(count):
        ui.prompt.value = f"fox {n} in the snow"
        task = ui.start(edit=False)
        assert task is not None
        tasks.append(task)
    everything = asyncio.ensure_future(asyncio.gather(*tasks))
    lags = await loop_lags(everything)
    await everything
    return _sent[0], time.perf_counter() - started, lags


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


async def main(url: str) -> None:
    magics = magics_for(InteractiveShell.instance())
    magics.base_url, magics.api_key = url, "sk-bench"
    ui = Panel(magics)
    loop = asyncio.get_running_loop()
    idle = await loop_lags(loop.time() + 2.0)
    one, _, _ = await run_jobs(ui, 1)
    many, seconds, busy = await run_jobs(ui, JOBS)
    print(f"studio, {JOBS} jobs at emulator speed {SPEED} ({seconds:.1f} s)")
    median = statistics.median(busy) / statistics.median(idle)
    print(f"  loop round-trip, busy/idle: median {median:.2f}, p95 {_p95(busy) / _p95(idle):.2f}")
    # The idle p95 is a few microseconds; against what a person notices, 100 ms:
    print(f"  busy p95 / 100 ms: {_p95(busy) / 0.1:.3f}, busy max / 100 ms: {max(busy) / 0.1:.3f}")
    print(
        f"  frontend messages: {many} for {JOBS} jobs, {one} for one; "
        f"per-job ratio {many / (JOBS * one):.2f}"
    )
    print(f"  message rate with {JOBS} jobs / IOPub limit: {many / seconds / IOPUB_LIMIT:.3f}")
    await magics.client().aclose()


def _emulator() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "sora_nb.emulator", "--port", "0", "--speed", str(SPEED)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    return process, first.split(" on ", 1)[1].split(" ", 1)[0]


if __name__ == "__main__":
    widgets.Widget._send = _count
    process, url = _emulator()
    here = Path.cwd()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            os.chdir(tmp)  # the local copies go here
            try:
                asyncio.run(main(url))
            finally:
                os.chdir(here)
    finally:
        process.terminate()
        process.wait(30)
