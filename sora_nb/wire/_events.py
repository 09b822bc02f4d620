"""Typed events parsed from a relay transcript.

See docs/protocol.md, "The transcript, line by line".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "CompletedEvent",
    "EchoEvent",
    "Event",
    "FailedEvent",
    "JobEvent",
    "ProgressEvent",
    "StatusEvent",
    "TaskEvent",
    "TextEvent",
]


@dataclass(frozen=True, slots=True)
class EchoEvent:
    """The relay's echo of the request as it understood it."""

    prompt: str | None
    orientation: str | None
    sid: str | None
    data: dict[str, Any]
    type: Literal["echo"] = field(default="echo", init=False)


@dataclass(frozen=True, slots=True)
class TaskEvent:
    """The relay created a task; ``source_url`` is where to poll it."""

    task_id: str
    preview_url: str | None
    source_url: str | None
    type: Literal["task"] = field(default="task", init=False)


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """The task entered a new phase."""

    status: Literal["queued", "generating"]
    type: Literal["status"] = field(default="status", init=False)


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """Generation progress, 0–100, never decreasing within a stream."""

    percent: int
    type: Literal["progress"] = field(default="progress", init=False)


@dataclass(frozen=True, slots=True)
class CompletedEvent:
    """The video is ready."""

    sid: str | None
    thumbnail_url: str | None
    video_url: str
    type: Literal["completed"] = field(default="completed", init=False)


@dataclass(frozen=True, slots=True)
class FailedEvent:
    """The relay reported that the generation failed."""

    reason: str
    task_id: str | None
    type: Literal["failed"] = field(default="failed", init=False)


@dataclass(frozen=True, slots=True)
class TextEvent:
    """A line the parser did not recognise (kept, never an error)."""

    text: str
    type: Literal["text"] = field(default="text", init=False)


Event = (
    EchoEvent | TaskEvent | StatusEvent | ProgressEvent | CompletedEvent | FailedEvent | TextEvent
)


@dataclass(frozen=True, slots=True)
class JobEvent:
    """A phase of a job that is ours, not the relay's: sending, resuming,
    downloading, done…

    The relay's own events say nothing about the request being sent, a broken
    stream being recovered, or the local copy being downloaded; progress views
    need those phases too. ``fraction`` is set while downloading (0–1);
    ``detail`` carries a message (for ``retrying``, the HTTP status being
    retried) and ``delay`` the seconds until the retry.
    """

    phase: Literal[
        "sending", "retrying", "resuming", "downloading", "done", "failed", "interrupted"
    ]
    detail: str | None = None
    fraction: float | None = None
    delay: float | None = None
    type: Literal["job"] = field(default="job", init=False)
