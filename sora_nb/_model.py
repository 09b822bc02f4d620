"""The records a generation is described by, each fact once: what was asked, and its task.

A ``Request`` is what was sent and a ``Task`` is what the relay made of it. A ``PendingTask``
(here), a finished ``Video`` (``_video``) and a ``Turn`` of a Session (``_turn``) hold these
records instead of copying their fields, so no code decides field by field which copy wins.
Nothing here imports the rest of sora_nb: every layer may use these records.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Message", "PendingTask", "Request", "Task"]

Message = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Request:
    """One generation's request: the checked input, and the messages exactly as sent.

    ``messages`` carry the whole branch for an edit (see docs/protocol.md, "Continuous
    modification"); ``image`` is the ``data:`` or http URL of an image-to-video input.
    """

    prompt: str
    model: str
    orientation: str | None = None
    image: str | None = field(default=None, repr=False)
    messages: list[Message] = field(default_factory=list, repr=False)


@dataclass(frozen=True, slots=True)
class Task:
    """The relay's task for a request: its id and where to follow it."""

    task_id: str
    source_url: str | None = None
    preview_url: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class PendingTask:
    """A task whose stream ended early: everything needed to collect it later.

    ``transcript`` is the relay's answer so far and ``echo`` its echo block, if it came.
    """

    request: Request
    task: Task
    transcript: str = field(default="", repr=False)
    echo: dict[str, Any] | None = field(default=None, repr=False)
    started_at: float = field(default_factory=time.time, repr=False)

    @property
    def task_id(self) -> str:
        return self.task.task_id

    @property
    def source_url(self) -> str | None:
        return self.task.source_url

    @property
    def preview_url(self) -> str | None:
        return self.task.preview_url

    @property
    def prompt(self) -> str:
        return self.request.prompt

    @property
    def model(self) -> str:
        return self.request.model

    @property
    def messages(self) -> list[Message]:
        return self.request.messages
