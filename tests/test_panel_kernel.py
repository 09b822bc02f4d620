"""The studio in a real ipykernel, driven as a browser drives it, by comm
messages.

Jobs are started the way the studio's JavaScript starts them
(``tests/frontend.py``): one ``custom`` message ``{"action": "generate",
"prompt": ...}`` to the studio's one model. The relay is the emulator in this
process at speed 10, where ``[fault:slow-queue]`` keeps each job queued for six
seconds: the kernel is asked things while every job streams.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import start_new_kernel

from sora_nb.emulator import serve_in_thread

from .frontend import Frontend, Received, StudioView

JOBS = 4


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[StudioView]:
    with serve_in_thread(speed=10) as relay:
        env = {**os.environ, "SORA_BASE_URL": relay.url, "SORA_API_KEY": "sk-any"}
        env["LANG"] = "C.UTF-8"
        km, kc = start_new_kernel(kernel_name="python3", cwd=str(tmp_path), env=env)
        try:
            front = Frontend(kc)
            shown = front.execute("import sora_nb, json\np = sora_nb.panel()\np")
            # every comm_open came before
            front.wait(lambda got: _idle_after(got, shown))
            yield StudioView(front)
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)


def _idle_after(got: Received, msg_id: str) -> bool:
    state = got.msg["content"].get("execution_state")
    return got.kind == "status" and got.parent == msg_id and state == "idle"


def _value(front: Frontend, expression: str) -> object:
    asked = front.execute(f"print(json.dumps({expression}))")
    printed = front.wait(lambda got: got.kind == "stream" and got.parent == asked)
    return json.loads(printed.msg["content"]["text"])


def test_kernel_studio_jobs_clicked_through_comms_each_run_in_their_row(
    studio: StudioView,
) -> None:
    front = studio.front
    prompts = [f"a slow fox {n} [fault:slow-queue]" for n in range(JOBS)]
    # the studio, its shared layout, and what the kernel had
    models = set(front.models)
    rows = [studio.start(prompt)[0] for prompt in prompts]
    assert len(set(rows)) == JOBS
    assert sorted(studio.running()) == sorted(rows)
    titles = [studio.job(row)["prompt"] for row in rows]
    assert all(prompt[:40] in title for prompt, title in zip(prompts, titles, strict=True))
    # a job is a row in the studio's state, not a widget
    assert set(front.models) == models

    # While all of them stream, the kernel answers a frontend at once.
    info = front.reply(front.send("kernel_info_request", {}))
    sum_ = front.execute("1+1")
    result = front.wait(lambda got: got.kind == "execute_result" and got.parent == sum_)
    assert front.reply(sum_).msg["content"]["status"] == "ok"
    assert sorted(studio.running()) == sorted(rows)
    assert info.msg["content"]["status"] == "ok"
    assert result.msg["content"]["data"]["text/plain"] == "2"

    front.until(lambda: not studio.running())
    assert studio.rows() == []  # a job that ended short would keep its row
    turns = _value(front, "[[t.prompt, t.status] for t in p._watched.turns]")
    assert turns == [[prompt, "done"] for prompt in prompts]
    # Nothing of a finished job stays open in the kernel or the browser: it
    # never had a model of its own. The answer above came on iopub after every
    # message the jobs sent.
    assert set(front.models) == models


def _custom(got: Received, comm_id: str) -> dict[str, Any] | None:
    """A custom message the kernel sent to the studio's model (a video's
    bytes).
    """
    content = got.msg["content"]
    if got.kind != "comm_msg" or content.get("comm_id") != comm_id:
        return None
    data = content["data"]
    return data.get("content") if data.get("method") == "custom" else None


def test_kernel_studio_names_the_continuation_then_exports_the_chain(
    studio: StudioView,
) -> None:
    front = studio.front
    state = front.models[studio.studio]
    assert state["words"]["continue.remix"] == "Remix"
    studio.start("a paper boat")
    front.until(lambda: not studio.running() and state["view"].get("offers") is not None)
    assert state["view"]["offers"] == ["remix"] and state["view"]["chain"] is False
    studio.act(action="generate", prompt="the boat sails on", mode="edit", how="remix")
    front.until(lambda: state["view"].get("chain") is True and not studio.running())
    assert state["selected"] == [1]
    studio.act(action="export", index=1)
    front.until(lambda: state.get("exported", {}).get("state") in ("done", "failed"))
    exported = state["exported"]
    assert exported["state"] == "done", exported["text"]
    assert "#0" in exported["html"] and "#1" in exported["html"]
    studio.act(action="export_media")  # the chain's player asks for its mp4
    got = front.wait(lambda got: bool((_custom(got, studio.studio) or {}).get("index")))
    assert got.msg["content"]["data"]["content"]["index"] == f"export:{exported['name']}"
    (mp4,) = got.msg["buffers"]
    assert bytes(mp4)[4:8] == b"ftyp"
    path = _value(front, "str(p._export.resolve())")
    assert isinstance(path, str) and Path(path).read_bytes() == bytes(mp4)
