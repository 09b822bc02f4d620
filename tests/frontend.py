"""A widget frontend over jupyter_client: what ipywidgets' JavaScript keeps and
sends.

It keeps every widget model's state as ``@jupyter-widgets/base`` does, from
``comm_open`` and ``comm_msg`` (``update`` and ``echo_update``) on iopub, and it
sends what a browser sends on the shell channel: a model's ``update``
(``{"method": "update", "state": {...}, "buffer_paths": []}``) and a view's
message (``{"method": "custom", "content": {...}}``: the studio's ``{"action":
...}``), ipywidgets 8's protocol (docs/notebook.md, "The studio"). One thread
reads both channels, so every reply and every widget message is timed on one
clock.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import zmq
from jupyter_client.blocking.client import BlockingKernelClient

FRONTEND = ("comm_open", "comm_msg", "comm_close", "display_data", "update_display_data")
PREFIX = "IPY_MODEL_"


@dataclass(frozen=True, slots=True)
class Received:
    """A message as the frontend got it: when, on which channel, and its size on
    the wire.
    """

    at: float
    channel: str
    msg: dict[str, Any]
    size: int

    @property
    def parent(self) -> str | None:
        parent: str | None = self.msg["parent_header"].get("msg_id")
        return parent

    @property
    def kind(self) -> str:
        kind: str = self.msg["msg_type"]
        return kind


class Frontend:
    """The widget models a browser would hold for one kernel, and the messages
    it sends.
    """

    def __init__(self, kc: BlockingKernelClient) -> None:
        self.kc = kc
        self.models: dict[str, dict[str, Any]] = {}
        self.received: list[Received] = []
        self._poller = zmq.Poller()
        for channel in (kc.shell_channel, kc.iopub_channel):
            self._poller.register(channel.socket, zmq.POLLIN)

    # -- reading ---------------------------------------------------------------

    def pump(self, timeout: float) -> list[Received]:
        """Wait up to ``timeout`` seconds for messages; read every one that is
        ready.
        """
        new: list[Received] = []
        if not self._poller.poll(int(timeout * 1000)):
            return new
        for name, channel in (("shell", self.kc.shell_channel), ("iopub", self.kc.iopub_channel)):
            while channel.msg_ready():
                msg = channel.get_msg(timeout=0)
                size = len(json.dumps(msg["content"], default=str)) + sum(
                    len(b) for b in msg.get("buffers", [])
                )
                new.append(Received(time.perf_counter(), name, msg, size))
                if name == "iopub":
                    self._keep(msg)
        self.received.extend(new)
        return new

    def drain(self, seconds: float) -> None:
        """Read every message that comes in the next ``seconds``."""
        deadline = time.perf_counter() + seconds
        while (left := deadline - time.perf_counter()) > 0:
            self.pump(left)

    def wait(self, done: Callable[[Received], bool], timeout: float = 120) -> Received:
        """Read messages until one for which ``done`` is true."""
        deadline = time.perf_counter() + timeout
        while (left := deadline - time.perf_counter()) > 0:
            for got in self.pump(left):
                if done(got):
                    return got
        raise TimeoutError(f"no such message in {timeout:.0f} s")

    def until(self, done: Callable[[], bool], timeout: float = 120) -> None:
        """Read messages until the models say ``done()``."""
        deadline = time.perf_counter() + timeout
        while not done():
            if time.perf_counter() > deadline:
                raise TimeoutError(f"the widgets did not get there in {timeout:.0f} s")
            self.pump(0.05)

    def _keep(self, msg: dict[str, Any]) -> None:
        content, kind = msg["content"], msg["msg_type"]
        if kind == "comm_open" and content.get("target_name") == "jupyter.widget":
            self.models[content["comm_id"]] = dict(content["data"].get("state", {}))
        elif kind == "comm_msg" and content["comm_id"] in self.models:
            data = content["data"]
            if data.get("method") in ("update", "echo_update"):
                self.models[content["comm_id"]].update(data.get("state", {}))
        elif kind == "comm_close":
            self.models.pop(content["comm_id"], None)

    # -- the models ------------------------------------------------------------

    def find(self, model: str, dom_class: str | None = None) -> list[str]:
        """The ids of the models named ``model`` (``"ButtonModel"``), with that
        CSS class.
        """
        return [
            comm_id
            for comm_id, state in self.models.items()
            if state.get("_model_name") == model
            and (dom_class is None or dom_class in state.get("_dom_classes", ()))
        ]

    def children(self, comm_id: str) -> list[str]:
        state = self.models.get(comm_id, {})
        return [child.removeprefix(PREFIX) for child in state.get("children", ())]

    # -- sending ---------------------------------------------------------------

    def send(self, msg_type: str, content: dict[str, Any]) -> str:
        """Send a shell message; its id (the parent of what it causes)."""
        msg = self.kc.session.msg(msg_type, content)
        self.kc.shell_channel.send(msg)
        msg_id: str = msg["header"]["msg_id"]
        return msg_id

    def update(self, comm_id: str, **state: Any) -> str:
        data = {"method": "update", "state": state, "buffer_paths": []}
        return self.send("comm_msg", {"comm_id": comm_id, "data": data})

    def click(self, comm_id: str) -> str:
        data = {"method": "custom", "content": {"event": "click"}}
        return self.send("comm_msg", {"comm_id": comm_id, "data": data})

    def execute(self, code: str) -> str:
        content = {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                   "allow_stdin": False, "stop_on_error": True}  # fmt: skip
        return self.send("execute_request", content)

    def reply(self, msg_id: str, timeout: float = 120) -> Received:
        """The shell reply to ``msg_id`` (perhaps read already, with an earlier
        message).
        """

        def answers(got: Received) -> bool:
            return got.channel == "shell" and got.parent == msg_id

        for got in self.received:
            if answers(got):
                return got
        return self.wait(answers, timeout)


class StudioView:
    """The studio as the frontend holds it: one model, whose ``jobs`` trait
    lists the rows.
    """

    def __init__(self, front: Frontend) -> None:
        self.front = front
        (self.studio,) = [
            comm_id
            for comm_id, state in front.models.items()
            if state.get("_anywidget_id", "").endswith("StudioWidget")
        ]

    def rows(self) -> list[int]:
        """The job rows the studio shows, by id."""
        return [job["id"] for job in self.front.models.get(self.studio, {}).get("jobs", ())]

    def running(self) -> list[int]:
        """The rows of jobs still running (an ended row stays until closed)."""
        jobs = self.front.models.get(self.studio, {}).get("jobs", ())
        return [job["id"] for job in jobs if not job["final"]]

    def job(self, row: int) -> dict[str, Any]:
        (job,) = [j for j in self.front.models[self.studio]["jobs"] if j["id"] == row]
        return dict(job)

    def act(self, **content: Any) -> str:
        """What studio.js sends when a person acts: one ``custom`` message."""
        data = {"method": "custom", "content": content}
        return self.front.send("comm_msg", {"comm_id": self.studio, "data": data})

    def start(self, prompt: str) -> tuple[int, float]:
        """Press Generate with ``prompt``: the new row's id and seconds from
        press to row.
        """
        before = set(self.rows())
        clicked = time.perf_counter()
        self.act(action="generate", prompt=prompt)
        self.front.until(lambda: bool(set(self.rows()) - before))
        shown = time.perf_counter()
        (row,) = set(self.rows()) - before
        return row, shown - clicked
