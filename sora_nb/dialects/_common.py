"""What more than one dialect needs: a pasted task reference, a video read from
a status.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx

from .._exceptions import InvalidRequest, RateLimitError
from .._messages import t
from ..records._model import PendingTask, Request, Task
from ..records._video import Video
from ..wire._protocol import SourceStatus, completion_tail

__all__ = ["UNKNOWN", "never_accepted", "task_reference", "video_from_source"]


#: The request of a task resumed by its id alone: the relay's status JSON may
#: describe it.
UNKNOWN = Request(prompt="", model="")


def never_accepted(refusal: list[str]) -> RateLimitError:
    """A request the relay was still refusing (429) at its deadline: never
    accepted, so nothing was paid for it, and it may be sent again.
    """
    return RateLimitError(t("client.never_accepted", message=refusal[-1]), status_code=429)


def video_from_source(
    pending: PendingTask, status: SourceStatus, elapsed: float, parent: Video | None
) -> Video:
    """The video of a task collected from its status URL."""
    assert status.video_url is not None
    request = pending.request
    # resumed by bare task id: the relay's description stands instead
    if not request.prompt:
        request = Request(status.prompt or "", status.model or "", status.orientation)
    tail = completion_tail(status.sid, status.thumbnail_url, status.video_url)
    return Video(
        request,
        pending.task,
        status.sid,
        status.video_url,
        status.thumbnail_url,
        pending.transcript + tail,
        pending.echo,
        created_at=pending.started_at,
        elapsed=elapsed,
        parent=parent,
    )


def _checked_url(url: str) -> str:
    """``url`` if httpx can send to it; else a refusal, before sending."""
    try:
        httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise InvalidRequest(
            f"{url[:80]!r} is not a valid source URL ({exc}): copy it from the progress line."
        ) from None
    return url


def task_reference(task: str, source_for: Callable[[str], str]) -> PendingTask:
    """A task id (``task_…``) or status URL the user pasted, as what ``resume``
    polls.

    ``source_for`` names the status URL of a bare task id; a URL is checked
    before use.
    """
    task = task.strip()
    if task.startswith(("http://", "https://")):
        source_url = _checked_url(task)
        task_id = task.rstrip("/").rsplit("/", 1)[-1]
    elif re.fullmatch(r"task_[A-Za-z0-9]+", task):
        task_id = task
        source_url = source_for(task)
    else:
        raise InvalidRequest(
            f"{task!r} is neither a task id (task_…) nor a source URL: "
            "copy it from the progress line."
        )
    return PendingTask(UNKNOWN, Task(task_id, source_url))
