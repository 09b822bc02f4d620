"""The records a generation is described by, each fact once: what was asked, and
its task.

A ``Request`` is what was sent and a ``Task`` is what the relay made of it. A
``PendingTask`` (here), a finished ``Video`` (``_video``) and a ``Turn`` of a
Session (``_turn``) hold these records instead of copying their fields, so no
code decides field by field which copy wins. Nothing here imports the rest of
sora_nb: every layer may use these records.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast, overload

__all__ = ["Described", "Message", "PendingTask", "ReadThrough", "Request", "Task"]

Message = dict[str, Any]
T = TypeVar("T")


class ReadThrough(Generic[T]):
    """An attribute read from a record this one holds, by the same name (None
    while that record is None): the value lives in one record and the others
    only point at it.
    """

    def __init__(self, holder: str) -> None:
        self._holder = holder
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> ReadThrough[T]: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...
    def __get__(self, obj: object, owner: type | None = None) -> T | ReadThrough[T]:
        if obj is None:
            return self
        held = getattr(obj, self._holder)
        return cast(T, None if held is None else getattr(held, self._name))


@dataclass(frozen=True, slots=True)
class Request:
    """One generation's request: the checked input, and the messages exactly as
    sent.

    ``messages`` carry the whole branch for an edit (see docs/protocol.md,
    "Continuous modification"); ``image`` is the ``data:`` or http URL of an
    image-to-video input; ``options`` the rest of the ``Ask`` that was given (a
    duration, say), by name.
    """

    prompt: str
    model: str
    orientation: str | None = None
    image: str | None = field(default=None, repr=False)
    messages: list[Message] = field(default_factory=list, repr=False)
    options: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class Task:
    """The relay's task for a request: its id and where to follow it."""

    task_id: str
    source_url: str | None = None
    preview_url: str | None = field(default=None, repr=False)


class Described:
    """What a record holding a ``request`` and a ``task`` reads through."""

    __slots__ = ()

    prompt = ReadThrough[str]("request")
    model = ReadThrough[str]("request")
    orientation = ReadThrough[str | None]("request")
    image = ReadThrough[str | None]("request")
    messages = ReadThrough[list[Message]]("request")
    task_id = ReadThrough[str | None]("task")
    source_url = ReadThrough[str | None]("task")
    preview_url = ReadThrough[str | None]("task")


@dataclass(frozen=True, slots=True)
class PendingTask(Described):
    """A task whose stream ended early: everything needed to collect it later.

    ``transcript`` is the relay's answer so far and ``echo`` its echo block, if
    it came.
    """

    request: Request
    task: Task
    transcript: str = field(default="", repr=False)
    echo: dict[str, Any] | None = field(default=None, repr=False)
    started_at: float = field(default_factory=time.time, repr=False)
