"""The finished video: what a turn produced, and the handle for the next turn."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._events import Event, JobEvent

__all__ = ["Video"]

Message = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Video:
    """One finished video and the conversation that made it.

    ``messages`` are the request's messages exactly as sent and ``transcript`` the relay's
    answer verbatim, so ``messages + [assistant transcript, user change]`` is the request for
    the next turn on this branch (see docs/protocol.md, "Continuous modification").
    """

    prompt: str
    model: str
    orientation: str | None
    task_id: str | None
    sid: str | None
    video_url: str
    thumbnail_url: str | None
    preview_url: str | None
    source_url: str | None
    transcript: str
    messages: list[Message] = field(repr=False)
    parent: Video | None = field(default=None, repr=False)
    image: str | None = field(default=None, repr=False)
    echo: dict[str, Any] | None = field(default=None, repr=False)
    created_at: float = field(default_factory=time.time, repr=False)
    elapsed: float | None = field(default=None, repr=False)
    local_path: str | None = None
    local_thumbnail: str | None = field(default=None, repr=False)
    session: str | None = field(default=None, repr=False)  # name of the Session that owns it
    turn: int | None = field(default=None, repr=False)  # its index in that Session

    @property
    def remixable(self) -> bool:
        """Whether the relay can find this video's sid in its transcript to remix it."""
        return bool(self.sid) or "sid:" in self.transcript

    def next_messages(self, user_content: str | list[dict[str, Any]]) -> list[Message]:
        """The request messages for an edit of this video: its branch, then the change."""
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
    ) -> Video:
        """Ask for the next turn: this video with ``prompt`` applied (through its Session)."""
        from ._history import get_session

        return await get_session(self.session or "default").edit(
            self,
            prompt,
            model=model,
            orientation=orientation,
            image=image,
            on_event=on_event,
            save=save,
            name=name,
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from ._render import video_mimebundle

        return video_mimebundle(self)
