"""%%sora in a real ipykernel: frontend message counts, re-entry while a cell
blocks, interrupt.

The kernel uses the embedded emulator (no SORA_BASE_URL) at speed 20: a plain
generation takes about a quarter of a second and ``[fault:slow-queue]`` keeps a
cell in its queue phase for three seconds, long enough to send it messages or
interrupt it.
"""

from __future__ import annotations

import os
import queue
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager, start_new_kernel

TIMEOUT = 120
WIDGET = "application/vnd.jupyter.widget-view+json"
LONG_PROMPT = "a cow and a horse dancing in a field of flowers under a pink sky, " * 10
COUNTERS = """
import sora_nb.wire._protocol as _protocol
from sora_nb.notebook._progress import ProgressView as _View
_counts = {"fragments": 0, "events": 0}
_feed, _handle = _protocol.TranscriptParser.feed, _View.handle
def _count_feed(self, text):
    _counts["fragments"] += 1
    return _feed(self, text)
def _count_handle(self, event):
    _counts["events"] += 1
    return _handle(self, event)
_protocol.TranscriptParser.feed, _View.handle = _count_feed, _count_handle
from sora_nb.session._history import get_session as _session
"""


class Kernel:
    """A kernel and its client, with helpers that keep each message for the
    assertions.
    """

    def __init__(self, km: KernelManager, kc: BlockingKernelClient) -> None:
        self.km, self.kc = km, kc
        self._iopub: dict[str | None, list[dict[str, Any]]] = {}

    def run(self, code: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Execute ``code`` to the end: its reply and its iopub messages."""
        messages: list[dict[str, Any]] = []
        reply = self.kc.execute_interactive(code, timeout=TIMEOUT, output_hook=messages.append)
        return reply, messages

    def value(self, expression: str) -> str:
        reply, messages = self.run(f"print({expression})")
        assert reply["content"]["status"] == "ok", reply["content"]
        return "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")

    def iopub_until(self, done: Any, parent: str) -> list[dict[str, Any]]:
        """The next iopub messages of ``parent``, up to the first where
        ``done(message)``.

        Messages of other parents read meanwhile are kept for their own later
        calls.
        """
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            pending = self._iopub.setdefault(parent, [])
            while pending:
                seen.append(pending.pop(0))
                if done(seen[-1]):
                    return seen
            try:
                message = self.kc.get_iopub_msg(timeout=1)
            except queue.Empty:
                continue
            self._iopub.setdefault(message["parent_header"].get("msg_id"), []).append(message)
        raise AssertionError(f"no such iopub message; saw {[m['msg_type'] for m in seen]}")

    def shell_replies(self, ids: set[str]) -> dict[str, dict[str, Any]]:
        replies: dict[str, dict[str, Any]] = {}
        while set(replies) != ids:
            reply = self.kc.get_shell_msg(timeout=TIMEOUT)
            replies[reply["parent_header"]["msg_id"]] = reply
        return replies


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    cwd = tmp_path_factory.mktemp("kernel")
    env = {**os.environ, "SORA_EMULATOR_SPEED": "20", "LANG": "C.UTF-8"}
    for name in ("SORA_BASE_URL", "SORA_API_KEY", "LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        env.pop(name, None)
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(cwd), env=env)
    try:
        kernel = Kernel(km, kc)
        reply, _ = kernel.run("%load_ext sora_nb\n" + COUNTERS)
        assert reply["content"]["status"] == "ok"
        yield kernel
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _is_idle(message: dict[str, Any]) -> bool:
    return message["msg_type"] == "status" and message["content"]["execution_state"] == "idle"


def _label_mentions(message: dict[str, Any], text: str) -> bool:
    state = message["content"].get("data", {}).get("state", {})
    return message["msg_type"] == "comm_msg" and text in str(state.get("html", ""))


def test_kernel_progress_costs_a_handful_of_messages(kernel: Kernel) -> None:
    kernel.run("_counts.update(fragments=0, events=0)")
    reply, messages = kernel.run(f"%%sora --as first\n{LONG_PROMPT}")
    assert reply["content"]["status"] == "ok"
    fragments = int(kernel.value("_counts['fragments']"))
    events = int(kernel.value("_counts['events']"))
    updates = Counter(m["msg_type"] for m in messages)["comm_msg"]
    print(f"{fragments} transcript fragments, {events} events -> {updates} comm_msg updates")
    assert fragments > 300
    assert updates < 60
    assert "<video" in _html(messages)
    finals = [m for m in messages if m["msg_type"] == "update_display_data"]
    assert finals[-1]["content"]["data"]["text/plain"].startswith("sora · done")
    # The widget is replaced in place by static HTML of its end, then closed.
    assert WIDGET not in finals[-1]["content"]["data"]
    assert "sora-nb-phase-done" in finals[-1]["content"]["data"]["text/html"]
    assert any(m["msg_type"] == "comm_close" for m in messages)


def _html(messages: list[dict[str, Any]]) -> str:
    return "".join(
        m["content"]["data"].get("text/html", "")
        for m in messages
        if m["msg_type"] in ("display_data", "update_display_data")
    )


def test_kernel_is_not_wedged_by_messages_during_a_blocking_cell(kernel: Kernel) -> None:
    # A widget that outlives the cell (the job's own are closed once it ends).
    progress = kernel.value("(_w := __import__('ipywidgets').IntSlider(7)).comm.comm_id").strip()
    cell = kernel.kc.execute("%%sora --as slow\na slow cow [fault:slow-queue]")
    kernel.iopub_until(lambda m: _label_mentions(m, "queued"), cell)
    # What Run All and a live frontend send while the cell is still queued.
    other = kernel.kc.execute("1+1")
    info = kernel.kc.kernel_info()
    comm = kernel.kc.session.msg(
        "comm_msg", {"comm_id": progress, "data": {"method": "request_state"}}
    )
    kernel.kc.shell_channel.send(comm)
    replies = kernel.shell_replies({cell, other, info})
    # The cell ended after all three were sent: they came while it blocked.
    assert replies[cell]["header"]["date"] > comm["header"]["date"]
    assert replies[cell]["content"]["status"] == "ok"
    assert replies[other]["content"]["status"] == "ok"
    assert replies[info]["content"]["status"] == "ok"
    answer = kernel.iopub_until(lambda m: m["msg_type"] == "comm_msg", comm["header"]["msg_id"])
    assert answer[-1]["content"]["data"]["state"]["value"] == 7
    rest = kernel.iopub_until(_is_idle, cell)
    # The card changed live while the cell blocked; its clock ticks in browser.
    assert any(_label_mentions(m, "generating") for m in rest)
    assert any(_label_mentions(m, 'data-format="clock"') for m in rest)
    assert kernel.value("1+2").strip() == "3"
    assert kernel.value("type(slow).__name__").strip() == "Video"


@pytest.mark.parametrize(
    ("cell", "words"),
    [
        pytest.param("%%sora --as bad\nboom [fault:content-policy]", "content policy", id="failed"),
        pytest.param("%%sora --model nope\na cow", "Unknown model 'nope'", id="refused-input"),
        pytest.param("%%sora\na cow [fault:401]", "(401)", id="refused-key"),
    ],
)
def test_kernel_failed_cell_replies_error_in_one_line(
    kernel: Kernel, cell: str, words: str
) -> None:
    reply, messages = kernel.run(cell)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "CellFailed"
    assert words in reply["content"]["evalue"]
    (error,) = [m["content"] for m in messages if m["msg_type"] == "error"]
    assert error["traceback"] == [f"\x1b[0;31m✗ {error['evalue']}\x1b[0m"]
    assert kernel.value("'bad' in dir()").strip() == "False"


def test_kernel_interrupt_marks_the_turn_and_resume_finishes_it(kernel: Kernel) -> None:
    cell = kernel.kc.execute("%%sora --as late\na late cow [fault:slow-queue]")
    kernel.iopub_until(lambda m: _label_mentions(m, "task_"), cell)
    kernel.km.interrupt_kernel()
    reply = kernel.shell_replies({cell})[cell]
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "SoraInterrupt"
    turn = "_session().turns[-1]"
    assert kernel.value(f"{turn}.status").strip() == "interrupted"
    task_id = kernel.value(f"{turn}.task_id").strip()
    assert task_id.startswith("task_")
    assert task_id in reply["content"]["evalue"]
    assert kernel.value("'late' in dir()").strip() == "False"
    resumed, messages = kernel.run("%sora resume")
    assert resumed["content"]["status"] == "ok"
    assert "<video" in _html(messages)
    assert kernel.value(f"{turn}.status").strip() == "done"
    assert kernel.value(f"{turn}.task_id").strip() == task_id


def test_kernel_background_returns_at_once_and_updates_its_output(kernel: Kernel) -> None:
    cell = kernel.kc.execute("%%sora --background --as bg\na cow in the background")
    reply = kernel.shell_replies({cell})[cell]
    assert reply["content"]["status"] == "ok"

    def shows_video(message: dict[str, Any]) -> bool:
        return message["msg_type"] == "update_display_data" and "<video" in _html([message])

    def card_shows_video(message: dict[str, Any]) -> bool:
        state = message["content"].get("data", {}).get("state", {})
        return message["msg_type"] == "comm_msg" and "<video" in state.get("html", "")

    ran = kernel.iopub_until(shows_video, cell)
    update = ran[-1]
    # the cell had already ended
    assert update["header"]["date"] > reply["header"]["date"]
    # said in the card instead
    assert "running in the background" not in _html(ran).lower()
    # Then the card's model, still open, ends as the final card: what Voilà
    # shows.
    final = kernel.iopub_until(card_shows_video, cell)
    assert "sora-nb-phase-done" in final[-1]["content"]["data"]["state"]["html"]
    assert not [m for m in ran + final if m["msg_type"] == "comm_close"]
    assert kernel.value("type(bg).__name__").strip() == "Video"


def _comm_ids(messages: list[dict[str, Any]], model: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (m["content"]["comm_id"], m["content"]["data"]["state"])
        for m in messages
        if m["msg_type"] == "comm_open"
        and m["content"]["data"]["state"].get("_model_name") == model
    ]


def test_kernel_studio_message_runs_a_job_and_sends_the_video(kernel: Kernel) -> None:
    cell = kernel.kc.execute("from sora_nb.notebook import studio\nstudio()")
    opened = kernel.iopub_until(_is_idle, cell)
    ((comm, _),) = _comm_ids(opened, "AnyModel")  # the whole studio: one model
    # What studio.js sends when a person types a prompt and presses Generate.
    press = {"action": "generate", "prompt": "a cow from a button"}
    pressed = kernel.kc.session.msg(
        "comm_msg", {"comm_id": comm, "data": {"method": "custom", "content": press}}
    )
    kernel.kc.shell_channel.send(pressed)

    def selected(message: dict[str, Any]) -> bool:
        state = message["content"].get("data", {}).get("state", {})
        return message["msg_type"] == "comm_msg" and bool(state.get("selected"))

    shown = kernel.iopub_until(selected, pressed["header"]["msg_id"])[-1]
    # the new turn, shown
    (index,) = shown["content"]["data"]["state"]["selected"]
    assert kernel.value("_session().turns[-1].prompt").strip() == "a cow from a button"
    assert kernel.value("len(_session().turns) - 1").strip() == str(index)
    # the player asks for the mp4's bytes
    ask = {"action": "media", "index": index}
    asked = kernel.kc.session.msg(
        "comm_msg", {"comm_id": comm, "data": {"method": "custom", "content": ask}}
    )
    kernel.kc.shell_channel.send(asked)

    def media(message: dict[str, Any]) -> bool:
        content = message["content"].get("data", {}).get("content", {})
        return content.get("type") == "media" and bool(message.get("buffers"))

    kernel.iopub_until(media, asked["header"]["msg_id"])


def test_kernel_generate_function_shows_what_the_magic_shows(kernel: Kernel) -> None:
    reply, messages = kernel.run("import sora_nb\nfn = sora_nb.generate('a cow from code')")
    assert reply["content"]["status"] == "ok"
    assert any(m["msg_type"] == "comm_open" for m in messages)  # the live bar
    finals = [m for m in messages if m["msg_type"] == "update_display_data"]
    assert "sora-nb-phase-done" in finals[-1]["content"]["data"]["text/html"]
    assert "<video" in _html(messages)
    assert kernel.value("type(fn).__name__").strip() == "Video"
    failed, messages = kernel.run("sora_nb.generate('boom [fault:content-policy]')")
    assert failed["content"]["status"] == "error" and failed["content"]["ename"] == "CellFailed"
