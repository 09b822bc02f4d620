"""The Videos task API dialect: create (or remix) a task, then poll it
(docs/dialects.md).

Chosen with ``dialect="videos"`` or ``SORA_DIALECT=videos``: nothing in a chat
relay's answer looks like it. The HTTP steps are in ``_videos_api``; this module
is what the client calls. Emulated by ``sora_nb/emulator/_videos.py``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable
from dataclasses import replace
from typing import Any

from .._exceptions import StreamInterrupted
from .._messages import t
from ..records._model import PendingTask, Request, Task
from ..records._video import Video
from ..wire._protocol import SourceStatus
from ._base import Dialect, EventCallback, Relay
from ._common import task_reference, video_from_source
from ._videos_api import VideosAPI, VideosPollLost

__all__ = ["Videos", "videos_model"]

_CONTENT = re.compile(r"/v1/videos/(?P<id>[A-Za-z0-9][\w\-]*)/content\b")


def videos_model(model: str, orientation: str | None, seconds: int | None = None) -> str:
    """The name that relay needs: ``sora-2`` becomes ``sora-2-portrait-10s`` and
    so on.

    go-sora2api refuses a name without an orientation and a duration; the seed's
    two names become its documented equivalents (docs/dialects.md, "Model
    names"). Other names pass.
    """
    shape = orientation or "portrait"
    if model == "sora-2":
        return f"sora-2-{shape}-{seconds or 10}s"
    if model == "sora-2-pro":
        return f"sora-2-pro-{shape}-hd-{seconds or 15}s"
    return model


class Videos(Dialect):
    """A relay of OpenAI's Videos shape, as go-sora2api serves it."""

    name = "videos"
    title = "Videos API"

    def __init__(self, relay: Relay) -> None:
        super().__init__(relay)
        self._api = VideosAPI(relay)

    async def run(
        self,
        request: Request,
        parent: Video | None,
        on_event: EventCallback | None,
        deadline: float,
    ) -> Video:
        started, wall = time.monotonic(), time.time()
        seconds = request.options.get("duration")
        model = videos_model(request.model, request.orientation, seconds)
        request = replace(request, model=model)
        fields = _fields(request)

        def create() -> Awaitable[Any]:
            if parent is None:
                return self._api.create(
                    request.model, request.prompt, request.image, on_event, **fields
                )
            return self._api.remix(
                request.model, request.prompt, parent.handle, parent.sid, on_event
            )

        # The deadline bounds only the waits after a 429: a create in flight is
        # never cut off.
        created = await self.relay.admitted(on_event, create, [], deadline)
        pending = PendingTask(request, Task(created.task_id, created.status_url), "", None, wall)
        status = await self._wait(pending, on_event, deadline)
        video = video_from_source(pending, status, time.monotonic() - started, parent)
        return self.finished(video)

    def pending_for(self, task: str) -> PendingTask:
        return task_reference(task, lambda task_id: f"{self.relay.base_url}/source/{task_id}")

    async def resume(
        self, pending: PendingTask, on_event: EventCallback | None, deadline: float
    ) -> Video:
        status = await self._wait(pending, on_event, deadline)
        # Collected later: the elapsed time is wall-clock since the task began.
        video = video_from_source(pending, status, time.time() - pending.started_at, None)
        return self.finished(video)

    async def _wait(
        self, pending: PendingTask, on_event: EventCallback | None, deadline: float
    ) -> SourceStatus:
        """Poll a task; lost polls give the task back as
        ``StreamInterrupted``.
        """
        task_id = pending.task.task_id
        try:
            return await self._api.wait(task_id, on_event, deadline)
        except VideosPollLost as exc:
            raise StreamInterrupted(
                t("client.poll_lost", task=task_id, detail=exc),
                task_id=task_id,
                source_url=self._api.status_url(task_id),
                pending=pending,
            ) from None

    @classmethod
    def finished(cls, video: Video) -> Video:
        """Any finished task can be remixed, by its task id."""
        return replace(video, dialect=cls.name, continuations=("remix",), handle=video.task_id)

    @classmethod
    def recognise(cls, video: Video) -> Video | None:
        """A video whose answer holds its ``/v1/videos/{id}/content`` link."""
        found = _CONTENT.search(video.transcript)
        if found is None:
            return None
        return replace(video, dialect=cls.name, continuations=("remix",), handle=found["id"])


def _fields(request: Request) -> dict[str, Any]:
    """What the body says of the Ask's options, in this relay's names."""
    seconds = request.options.get("duration")
    return {} if seconds is None else {"seconds": str(seconds)}
