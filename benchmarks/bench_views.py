"""The views' budgets, counted through a real kernel as a browser receives them
(issue 24).

A kernel started with jupyter_client; this process plays the browser
(``tests/frontend.py``), keeping every widget model from iopub and pressing the
studio's buttons with the messages ``studio.js`` sends. Counts and ratios from
one run, no timed assertion:

* A ``%%sora`` cell: every IOPub message it costs, and how many of them come
  once the relay has finished (the final card, its saved copy in place, the
  model closed). Budget: <= 10.
* 100 studio jobs started together and so ending together: the spread of their
  ends, the IOPub messages each costs as it ends, and the busiest 3-s window
  against jupyter_server's ``iopub_msg_rate_limit`` (1,000 messages/s averaged
  over ``rate_limit_window``, 3 s; it counts all but ``status``, ``comm_open``
  and ``execute_input``). Budget: under the limit.
* The widget models the browser holds for a studio of 100+ turns. Budget: <= 5.
* A studio opened on 1,000 turns (a history file, read back as after a restart):
  the tiles its first message carries, and its size over the size of one opened
  on 100 turns (one page either way, so about 1).

The relay is the emulator in its own process. Run: ``python -m
benchmarks.bench_views``.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from typing import Any

from jupyter_client.manager import start_new_kernel

from benchmarks.bench_studio import IOPUB_MSG_LIMIT, UNCOUNTED, _emulator, peak_rate
from tests.frontend import FRONTEND, Frontend, Received, StudioView

JOBS = 100
# one job streams for about a second: 100 started together run together
SPEED = 5
MANY = 1000
CELL = "%%sora --as cow\na cow in a meadow at dawn"
# A history of MANY turns, written as autosave does, read back by %sora config.
MANY_TURNS = f"""
import dataclasses, pathlib
from sora_nb.records._turn import write_file
last = p._session().turns[-1]
write_file(pathlib.Path("big.json"), "big", [
    dataclasses.replace(last, index=i, parent=None, started_at=last.started_at + i)
    for i in range({MANY})
])
"""


def _idle(front: Frontend, msg_id: str, timeout: float = 600) -> list[Received]:
    mark = len(front.received)
    front.wait(lambda got: got.kind == "status" and got.parent == msg_id
               and got.msg["content"]["execution_state"] == "idle", timeout)  # fmt: skip
    return [got for got in front.received[mark:] if got.channel == "iopub"]


def _html(got: Received) -> str:
    data = got.msg["content"].get("data", {})
    return str(data.get("state", {}).get("html", "")) + str(data.get("text/html", ""))


def cell_costs(front: Frontend) -> tuple[int, int, dict[str, int]]:
    """A %%sora cell: its IOPub messages (all but status), and those after the
    relay ended.
    """
    # warm: imports, the client, the first card
    _idle(front, front.execute(CELL))
    got = [g for g in _idle(front, front.execute(CELL)) if g.kind not in ("status",)]
    ended = next(i for i, g in enumerate(got) if "phase-downloading" in _html(g)
                 or "phase-done" in _html(g))  # fmt: skip
    kinds: dict[str, int] = {}
    for g in got:
        kinds[g.kind] = kinds.get(g.kind, 0) + 1
    return len(got), len(got) - ended, kinds


def studio_jobs(front: Frontend, studio: StudioView) -> dict[str, Any]:
    """JOBS studio jobs started together: when they end, and what their ends
    cost.
    """
    mark = len(front.received)
    for n in range(JOBS):
        studio.act(action="generate", prompt="a sheep on a hill, take one", settings={"n": n})
    while _value(front, f"len(p._made) >= {JOBS}") is not True:
        front.drain(0.2)
    front.drain(1.0)  # the closing messages: the selection, the last push
    # When each job ended, on the kernel's clock, moved onto our perf_counter.
    ends = _value(front, f"[t.finished_at for t in p._session().turns[-{JOBS}:]]")
    offset = time.time() - time.perf_counter()
    times = sorted(float(at) - offset for at in ends)
    iopub = [g for g in front.received[mark:] if g.channel == "iopub" and g.kind in FRONTEND]
    ending = [g for g in iopub if times[0] - 0.05 <= g.at and g.kind not in UNCOUNTED]
    return {
        "spread": times[-1] - times[0],
        "ended": len(times),
        "ending messages": len(ending),
        "per job": len(ending) / len(times),
        "peak": peak_rate(iopub),
        "models": len(front.models),
    }


def _value(front: Frontend, expression: str) -> Any:
    asked = front.execute(f"import json as _j; print(_j.dumps({expression}))")
    printed = front.wait(lambda got: got.kind == "stream" and got.parent == asked)
    return json.loads(printed.msg["content"]["text"])


def open_studio(front: Frontend) -> tuple[int, int]:
    """Open one more studio: the tiles it sends as it opens, and the bytes that
    takes.
    """
    mark = len(front.received)
    _idle(front, front.execute("s = sora_nb.studio()\ns"))
    got = front.received[mark:]
    (comm,) = [
        g.msg["content"]["comm_id"] for g in got
        if g.kind == "comm_open" and g.msg["content"]["data"]["state"].get(
            "_anywidget_id", "").endswith("StudioWidget")
    ]  # fmt: skip
    sent = [g for g in got if g.kind in FRONTEND and g.msg["content"].get("comm_id") == comm]
    return len(front.models[comm]["tiles"]), sum(g.size for g in sent)


def bench(url: str, folder: str) -> None:
    env = {**os.environ, "SORA_BASE_URL": url, "SORA_API_KEY": "sk-bench", "LANG": "C.UTF-8"}
    km, kc = start_new_kernel(kernel_name="python3", cwd=folder, env=env)
    try:
        front = Frontend(kc)
        _idle(front, front.execute("%load_ext sora_nb"))
        total, ending, kinds = cell_costs(front)
        print(f"  (cell measured: {total} messages)", flush=True)
        _idle(front, front.execute("import sora_nb\np = sora_nb.studio()\np"))
        studio = StudioView(front)
        jobs = studio_jobs(front, studio)
        print(f"  ({JOBS} studio jobs measured)", flush=True)
        tiles_100, size_100 = open_studio(front)
        print(f"  (a studio opened on {JOBS + 2} turns)", flush=True)
        # the last turn, 1,000 times, in a history file
        _idle(front, front.execute(MANY_TURNS))
        _idle(front, front.execute("%sora config --session big --autosave big.json"))
        tiles_1000, size_1000 = open_studio(front)
        turns = len(front.models)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    print(f"views through a real kernel, emulator speed {SPEED}")
    print(f"  a %%sora cell: {total} IOPub messages {kinds}; after the relay ended: "
          f"{ending} (budget 10, ratio {ending / 10:.2f})")  # fmt: skip
    print(f"  {JOBS} studio jobs started together: {jobs['ended']} ended within "
          f"{jobs['spread']:.2f} s; their ends cost {jobs['ending messages']} counted messages, "
          f"{jobs['per job']:.1f} per job (budget 10)")  # fmt: skip
    print(
        f"  busiest {3} s window: {jobs['peak']:.1f} msg/s; over the server's limit "
        f"({IOPUB_MSG_LIMIT:.0f} msg/s): {jobs['peak'] / IOPUB_MSG_LIMIT:.3f} (budget < 1)"
    )
    print(f"  widget models the browser holds: {jobs['models']} with one studio of "
          f"{JOBS + 2} turns (budget 5); {turns} with three studios, the last on "
          f"{MANY} turns")  # fmt: skip
    print(f"  a studio opened on {JOBS + 2} turns sends {tiles_100} tiles ({size_100 / 1e3:.0f} "
          f"kB); on {MANY}: {tiles_1000} tiles ({size_1000 / 1e3:.0f} kB); size ratio "
          f"{size_1000 / size_100:.2f}")  # fmt: skip


if __name__ == "__main__":
    process, url = _emulator(SPEED)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            bench(url, tmp)
    finally:
        process.terminate()
        process.wait(30)
