"""The finished video: what a turn made, and the handle for the next."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .._display import mimebundle
from .._exceptions import InvalidRequest
from ._model import Described, Message, Request, Task

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..wire._events import Event, JobEvent

__all__ = ["Message", "Video", "video_from_record", "video_record"]


class _Owner(Protocol):
    """What ``Video.edit`` needs of the Session that made it."""

    async def edit(
        self,
        video: Video,
        prompt: str,
        *,
        model: str | None = ...,
        orientation: str | None = ...,
        image: Any = ...,
        on_event: Callable[[Event | JobEvent], object] | None = ...,
        save: bool | None = ...,
        name: str | None = ...,
        **options: Any,
    ) -> Video: ...


@dataclass(frozen=True, slots=True)
class Video(Described):
    """One finished video and the conversation that made it.

    ``request`` is what was sent (its ``messages`` exactly) and ``transcript``
    the relay's answer verbatim, so ``messages + [assistant transcript, user
    change]`` is the request for the next turn on this branch (see
    docs/protocol.md, "Continuous modification"). ``session`` is the Session
    that made it, which ``edit()`` goes through.
    """

    request: Request
    task: Task | None
    sid: str | None
    video_url: str
    thumbnail_url: str | None = field(default=None, repr=False)
    transcript: str = field(default="", repr=False)
    echo: dict[str, Any] | None = field(default=None, repr=False)
    created_at: float = field(default_factory=time.time, repr=False)
    elapsed: float | None = field(default=None, repr=False)
    local_path: str | None = None
    local_thumbnail: str | None = field(default=None, repr=False)
    parent: Video | None = field(default=None, repr=False)
    session: _Owner | None = field(default=None, repr=False, compare=False)
    # its index in that Session
    turn: int | None = field(default=None, repr=False)
    # What its dialect said of it: the next turn reads data, not the transcript.
    dialect: str | None = field(default=None, repr=False)
    continuations: tuple[str, ...] | None = field(default=None, repr=False)
    # what an edit sends, if not the sid
    handle: str | None = field(default=None, repr=False)

    # The request's and the task's fields read through (``Described``; they are
    # public API).

    @property
    def orientation(self) -> str | None:  # type: ignore[override]
        """The orientation asked for, else the one the relay's echo names."""
        echoed = (self.echo or {}).get("orientation")
        return self.request.orientation or (echoed if isinstance(echoed, str) else None)

    # -- the next turn ---------------------------------------------------------

    @property
    def remixable(self) -> bool:
        """Whether the relay that made this video offers to continue it, and it
        has the id to do it by (docs/dialects.md). A video built by hand has
        only its share id.
        """
        offered = self.continuations is None or bool(self.continuations)
        return offered and bool(self.handle or self.sid)

    def next_messages(self, user_content: str | list[dict[str, Any]]) -> list[Message]:
        """An edit's messages: this video's branch, then the change."""
        return [
            *self.messages,
            {"role": "assistant", "content": self.transcript},
            {"role": "user", "content": user_content},
        ]

    async def edit(
        self,
        prompt: str,
        *,
        model: str | None = None,
        orientation: str | None = None,
        image: Any = None,
        on_event: Callable[[Event | JobEvent], object] | None = None,
        save: bool | None = None,
        name: str | None = None,
        **options: Any,
    ) -> Video:
        """Ask for the next turn: this video with ``prompt`` applied, through
        the Session (and so the relay and key) that made it.
        """
        if self.session is None:
            raise InvalidRequest(
                "This video was not made by a Session: use SoraClient.edit(video, …) or "
                "Session.edit(video, …) to choose the relay."
            )
        return await self.session.edit(
            self,
            prompt,
            model=model,
            orientation=orientation,
            image=image,
            on_event=on_event,
            save=save,
            name=name,
            **options,
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Copy the local copy to ``path`` (into it, if it is a folder)."""
        if not self.local_path or not os.path.isfile(self.local_path):
            raise InvalidRequest(
                "This video has no local copy to save: make it with saving on "
                "(not --no-save), or download its video_url."
            )
        target = Path(path)
        if target.is_dir():
            target = target / Path(self.local_path).name
        target.parent.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copyfile(self.local_path, target))

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return mimebundle(self)


# What a video adds to its request and task; saved by sessions (``_turn``) and
# batch journals.
_OUTCOME = (
    "sid",
    "video_url",
    "thumbnail_url",
    "transcript",
    "echo",
    "created_at",
    "elapsed",
    "local_path",
    "local_thumbnail",
    "dialect",
    "continuations",
    "handle",
)


def video_record(video: Video) -> dict[str, Any]:
    """``video`` as plain JSON data: its request, its task and what the relay
    made of them (its parent and session are links, not data).
    """
    return {
        "request": _plain(video.request),
        "task": _plain(video.task) if video.task else None,
        **{name: getattr(video, name) for name in _OUTCOME},
    }


def video_from_record(data: dict[str, Any]) -> Video:
    """The Video ``video_record`` wrote (TypeError or KeyError if not one)."""
    task = data.get("task")
    outcome = {name: data[name] for name in _OUTCOME if name in data}
    # a JSON list, read back as a tuple
    if outcome.get("continuations") is not None:
        outcome["continuations"] = tuple(outcome["continuations"])
    return Video(
        Request(**data["request"]),
        Task(**task) if task is not None else None,
        **outcome,
    )


def _plain(record: Request | Task) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) for f in fields(record)}
