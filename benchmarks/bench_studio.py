"""The studio stays responsive with 20 jobs streaming, through a real kernel as
a frontend sees it.

A kernel started with jupyter_client shows the studio; this process plays the
browser (``tests/frontend.py``): it keeps the widget models from iopub and
starts each job as ``studio.js`` does, one ``custom`` message ``{"action":
"generate", "prompt": ...}``. Ratios measured side by side in one run:

* Round trip a frontend feels, sampled in turn every 20 ms, with the kernel idle
  and while 20 studio jobs stream: ``kernel_info_request`` → reply, a settings
  change (a widget ``update``, what the model menu sends) → its ``echo_update``,
  and ``execute_request`` ``1+1`` → ``execute_reply``; medians, 95th
  percentiles, busy/idle, and the worst against 100 ms, a delay a person starts
  to notice; and every probe's 95th percentile split by when it was sent: while
  all 20 jobs stream, or while they end. Also a click on Generate → its job row
  shown.
* Frontend messages: the widget and display messages on iopub that 20 concurrent
  jobs cost, over 20 times one job's (≈1: no job costs more for having company);
  their rate against the Jupyter server's IOPub limit (``iopub_msg_rate_limit``,
  1,000 messages/s averaged over ``rate_limit_window``, 3 s; it counts all but
  ``status``, ``comm_open`` and ``execute_input``), above which output is
  dropped (docs/notebook.md, "Frontend limits"); the bytes they carry (the
  server's 1 MB/s data limit counts only ``stream`` output); and the widget
  models the browser still holds per job once they ended (the tile, nothing
  else).

The relay is the emulator in its own process, so its encoding shares neither
this process's GIL nor the kernel's. Run: ``python -m benchmarks.bench_studio``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from jupyter_client.manager import start_new_kernel

from tests.frontend import FRONTEND, Frontend, Received, StudioView

JOBS = 20
SPEED = 1  # one job streams for about five seconds
GAP = 0.02  # between two round-trip samples
IDLE_SECONDS = 5.0
# ZMQChannelsWebsocketConnection.iopub_msg_rate_limit, messages/s
IOPUB_MSG_LIMIT = 1000.0
IOPUB_WINDOW = 3.0  # ... .rate_limit_window, seconds
# the server's rate limit skips these
UNCOUNTED = {"status", "comm_open", "execute_input"}
NOTICEABLE = 0.1


@dataclass
class Probes:
    """Round trips sampled in turn: each probe sends one message and times what
    answers it.
    """

    front: Frontend
    studio: StudioView
    samples: dict[str, list[float]] = field(default_factory=dict)
    # what the probes sent, so as not to count it
    ids: set[str] = field(default_factory=set)
    # (jobs running, seconds)
    running: list[tuple[int, float]] = field(default_factory=list)
    _turn: int = 0

    def one(self) -> None:
        probes = (self._kernel_info, self._keystroke, self._execute)
        jobs = len(self.studio.running())
        name, started, done = probes[self._turn % len(probes)]()
        self._turn += 1
        answer = self.front.wait(done)
        self.samples.setdefault(name, []).append(answer.at - started)
        self.running.append((jobs, answer.at - started))
        self.front.drain(GAP)

    def _kernel_info(self) -> tuple[str, float, Any]:
        sent = self._send("kernel_info_request", {})
        return "kernel_info_request → reply", time.perf_counter(), _reply_to(sent)

    def _keystroke(self) -> tuple[str, float, Any]:
        # What the model menu sends: the studio's settings trait, echoed back.
        settings = {"model": "sora-2", "probe": self._turn}
        sent = self._track(self.front.update(self.studio.studio, settings=settings))
        return "settings update → echo_update", time.perf_counter(), _echo_of(sent)

    def _execute(self) -> tuple[str, float, Any]:
        sent = self._track(self.front.execute("1+1"))
        return "execute 1+1 → execute_reply", time.perf_counter(), _reply_to(sent)

    def _send(self, kind: str, content: dict[str, Any]) -> str:
        return self._track(self.front.send(kind, content))

    def _track(self, msg_id: str) -> str:
        self.ids.add(msg_id)
        return msg_id


def _reply_to(msg_id: str) -> Any:
    return lambda got: got.channel == "shell" and got.parent == msg_id


def _echo_of(msg_id: str) -> Any:
    return lambda got: got.kind == "comm_msg" and got.parent == msg_id


@dataclass
class Phase:
    """Jobs started by clicks and followed to their end: what the frontend
    received.
    """

    seconds: float
    clicks: list[float]
    messages: list[Received]
    failed: int  # rows left on screen: a job that ended short keeps its row
    # stream (print) messages: the only ones the server's byte limit counts
    streams: int
    # widget models the browser holds after the jobs, over before them
    models: int


def run_jobs(studio: StudioView, count: int, probes: Probes | None = None) -> Phase:
    front, mark, held = studio.front, len(studio.front.received), len(studio.front.models)
    started = time.perf_counter()
    clicks = [studio.start(f"fox {n} in the snow, take {mark}")[1] for n in range(count)]
    while studio.running():
        if probes is not None:
            probes.one()
        else:
            front.pump(0.05)
    ended = time.perf_counter()
    front.drain(0.5)  # the last job's closing messages (its video, the record)
    skip = probes.ids if probes is not None else set()
    iopub = [g for g in front.received[mark:] if g.channel == "iopub" and g.parent not in skip]
    messages = [got for got in iopub if got.kind in FRONTEND]
    streams = sum(got.kind == "stream" for got in iopub)
    models = len(front.models) - held
    return Phase(ended - started, clicks, messages, len(studio.rows()), streams, models)


def idle(probes: Probes, seconds: float) -> None:
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        probes.one()


def _p95(values: list[float]) -> float:
    # within the samples
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def _ms(value: float) -> str:
    return f"{value * 1000:7.1f}"


def peak_rate(messages: list[Received]) -> float:
    """The most messages the server's rate limit counts in any window, per
    second.
    """
    times = sorted(got.at for got in messages if got.kind not in UNCOUNTED)
    most, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] > IOPUB_WINDOW:
            first += 1
        most = max(most, last - first + 1)
    return most / IOPUB_WINDOW


def report(one: Phase, many: Phase, quiet: Probes, busy: Probes) -> None:
    print(f"studio through a real kernel, {JOBS} jobs at emulator speed {SPEED}")
    print(
        f"  one job {one.seconds:.1f} s, {JOBS} at once {many.seconds:.1f} s "
        f"({many.failed} of them failed)"
    )
    print("  round trip (ms)                  idle median  p95 | busy median  p95 | busy/idle")
    for name, busy_samples in busy.samples.items():
        calm = quiet.samples[name]
        print(
            f"  {name:31} {_ms(statistics.median(calm))} {_ms(_p95(calm))} |"
            f" {_ms(statistics.median(busy_samples))} {_ms(_p95(busy_samples))} |"
            f" {statistics.median(busy_samples) / statistics.median(calm):5.2f}"
            f" {_p95(busy_samples) / _p95(calm):5.2f}  ({len(calm)}/{len(busy_samples)} samples)"
        )
    worst = [s for samples in busy.samples.values() for s in samples]
    print(f"  busy p95 / 100 ms: {_p95(worst) / NOTICEABLE:.2f}, max / 100 ms: "
          f"{max(worst) / NOTICEABLE:.2f}")  # fmt: skip
    # Streaming costs little; the slow answers come as jobs end (tiles,
    # thumbnails, player).
    streaming = [s for jobs, s in busy.running if jobs == JOBS]
    ending = [s for jobs, s in busy.running if jobs < JOBS]
    if len(streaming) > 1 and len(ending) > 1:
        print(
            f"  every probe, p95 (ms): while all {JOBS} stream {_ms(_p95(streaming))} "
            f"({len(streaming)}), while they end {_ms(_p95(ending))} ({len(ending)})"
        )
    print(
        f"  click Generate → its row shown: one job {_ms(one.clicks[0])} ms, "
        f"{JOBS} clicks median {_ms(statistics.median(many.clicks))} ms, "
        f"max {_ms(max(many.clicks))} ms"
    )
    messages(one, many)


def messages(one: Phase, many: Phase) -> None:
    kinds = {kind: sum(got.kind == kind for got in many.messages) for kind in FRONTEND}
    print(
        f"  frontend messages: {len(many.messages)} for {JOBS} jobs, {len(one.messages)} for "
        f"one; per-job ratio {len(many.messages) / (JOBS * len(one.messages)):.2f}  {kinds}"
    )
    print(
        f"  widget models the browser keeps per job: {many.models / JOBS:.1f} "
        f"(one job alone: {one.models}; a turn is state in the studio's one model)"
    )
    counted = [got for got in many.messages if got.kind not in UNCOUNTED]
    mean, peak = len(counted) / many.seconds, peak_rate(many.messages)
    print(
        f"  IOPub rate with {JOBS} jobs: mean {mean:.1f} msg/s, peak {IOPUB_WINDOW:.0f}-s window "
        f"{peak:.1f} msg/s; peak / limit ({IOPUB_MSG_LIMIT:.0f} msg/s) {peak / IOPUB_MSG_LIMIT:.3f}"
    )
    size = sum(got.size for got in many.messages)
    print(
        f"  bytes with {JOBS} jobs: {size / 1e6:.2f} MB ({size / many.seconds / 1e6:.2f} MB/s, "
        f"mostly the videos the player shows); stream messages (the only ones the 1 MB/s "
        f"data limit counts): {many.streams}"
    )


def bench(url: str, folder: str) -> None:
    env = {**os.environ, "SORA_BASE_URL": url, "SORA_API_KEY": "sk-bench", "LANG": "C.UTF-8"}
    km, kc = start_new_kernel(kernel_name="python3", cwd=folder, env=env)
    try:
        front = Frontend(kc)
        shown = front.execute("import sora_nb\np = sora_nb.panel()\np")
        front.wait(lambda got: got.kind == "status" and got.parent == shown
                   and got.msg["content"]["execution_state"] == "idle")  # fmt: skip
        studio = StudioView(front)
        # warms the kernel: imports, the client, the first tile
        run_jobs(studio, 1)
        one = run_jobs(studio, 1)
        quiet = Probes(front, studio)
        idle(quiet, IDLE_SECONDS)
        busy = Probes(front, studio)
        many = run_jobs(studio, JOBS, busy)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    report(one, many, quiet, busy)


def _emulator(speed: float = SPEED) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "sora_nb.emulator", "--port", "0", "--speed", str(speed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    return process, first.split(" on ", 1)[1].split(" ", 1)[0]


if __name__ == "__main__":
    process, url = _emulator()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            bench(url, tmp)
    finally:
        process.terminate()
        process.wait(30)
