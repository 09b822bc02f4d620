"""The Videos task API's HTTP steps: submit, poll, content, remix
(docs/dialects.md).

The ``videos`` dialect (``videos.py``) sends through here. There is no stream: a
task is created with ``POST /v1/videos`` (or ``/v1/videos/remix``) and followed
with ``GET /v1/videos/{id}`` every ``poll_interval`` until it ends or the
deadline passes. It is at ``GET /v1/videos/{id}/content``, behind the key. The
key goes only to the relay's own origin, and this link is on it. The same typed
events as a chat stream are reported, so progress views and the history cannot
tell the dialects apart.

A poll that fails is waited out as a broken stream is (``_polling.py``); when
the polls keep failing, ``resume()`` later polls again from where it was.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import httpx

from .._callback import call as _call
from .._exceptions import APIStatusError, GenerationFailed, InvalidRequest
from .._messages import t
from ..wire._events import (
    CompletedEvent,
    Event,
    FailedEvent,
    JobEvent,
    ProgressEvent,
    StatusEvent,
    TaskEvent,
)
from ..wire._protocol import SourceStatus
from ._polling import VideosPollLost, follow, json_object, poll

if TYPE_CHECKING:
    from ._base import Relay

__all__ = ["VideosAPI", "VideosPollLost"]

EventCallback = Callable[[Event | JobEvent], object]

#: Words ending a task that mean no video will come (new-api: ``FAILURE``).
_ENDED = frozenset({"failed", "failure", "error", "cancelled", "canceled", "expired"})
#: What a task id may hold to sit in a URL's path as it is.
_TASK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:~-]{0,255}")


@dataclass(frozen=True, slots=True)
class Created:
    """A task the relay accepted: its id and where its status is."""

    task_id: str
    status_url: str


class VideosAPI:
    """One relay of the Videos task API, reached through the client's
    ``Relay``.
    """

    def __init__(self, relay: Relay) -> None:
        self.base_url = relay.base_url
        self.poll_interval = relay.poll_interval
        self._get = relay.get
        self._send = relay.post  # with the client's own retries and refusals
        # Everything the relay says is masked of the key before it is read
        # (docs/protocol.md, "Promises"), as on the chat path.
        self._redact = relay.redact

    def status_url(self, task_id: str) -> str:
        """``GET`` here for the task's status."""
        return f"{self.base_url}/v1/videos/{task_id}"

    def content_url(self, task_id: str) -> str:
        """The finished mp4 (the key is sent with it: the link is on the relay's
        origin).
        """
        return f"{self.base_url}/v1/videos/{task_id}/content"

    # -- creating a task -------------------------------------------------------

    async def create(
        self,
        model: str,
        prompt: str,
        image: str | None,
        on_event: EventCallback | None,
        **fields: Any,
    ) -> Created:
        """``POST /v1/videos``: a new video from a prompt and, optionally, an
        image (``fields``: more of the body, as the relay names them).
        """
        body: dict[str, Any] = {"model": model, "prompt": prompt, **fields}
        if image:
            # a data: URI or an https link, as the relay takes
            body["input_reference"] = image
        return await self._created(await self._send("/v1/videos", body), on_event)

    async def remix(
        self,
        model: str,
        prompt: str,
        parent_task: str | None,
        parent_sid: str | None,
        on_event: EventCallback | None,
    ) -> Created:
        """A share id for the parent (``POST /v1/posts``) unless known, then the
        remix.
        """
        target = parent_sid or await self.share_id(parent_task)
        body = {"model": model, "prompt": prompt, "remix_target": target}
        return await self._created(await self._send("/v1/videos/remix", body), on_event)

    async def share_id(self, task_id: str | None) -> str:
        """The ``s_…`` id the relay remixes by; asked for only when an edit
        needs it.
        """
        if not task_id:
            raise InvalidRequest(t("videos.no_task_id"))
        response = await self._send("/v1/posts", {"task_id": task_id})
        post_id = self._json(response).get("post_id")
        if not isinstance(post_id, str) or not post_id:
            raise APIStatusError(
                t("videos.no_post_id"),
                status_code=response.status_code,
            )
        return post_id

    async def _created(self, response: httpx.Response, on_event: EventCallback | None) -> Created:
        task_id = self._json(response).get("id")
        if not isinstance(task_id, str) or not task_id:
            raise APIStatusError(
                t("videos.no_id"),
                status_code=response.status_code,
            )
        # a newline or a slash: no URL can carry it
        if not _TASK_ID.fullmatch(task_id):
            raise APIStatusError(
                t("videos.bad_id", task=repr(task_id)[:60]),
                status_code=response.status_code,
            )
        created = Created(task_id, self.status_url(task_id))
        await _call(on_event, TaskEvent(task_id, None, created.status_url))
        return created

    # -- following a task ------------------------------------------------------

    async def wait(
        self, task_id: str, on_event: EventCallback | None, deadline: float, percent: int = -1
    ) -> SourceStatus:
        """Poll until the task completes (its status) or fails."""
        phase = ""

        async def report(obj: dict[str, Any]) -> SourceStatus | None:
            nonlocal phase, percent
            done = await self._report(task_id, obj, on_event, phase, percent)
            if isinstance(done, SourceStatus):
                return done
            phase, percent = done
            return None

        return await follow(
            lambda: self._poll_once(task_id, deadline),
            report,
            on_event,
            deadline,
            lambda: self.poll_interval,
        )

    async def _poll_once(self, task_id: str, deadline: float) -> tuple[dict[str, Any] | None, str]:
        response = await poll(self._get, self.status_url(task_id), deadline, self._redact)
        if isinstance(response, str):
            return None, response
        if not response.is_success:
            raise APIStatusError(
                t(
                    "videos.status",
                    status=response.status_code,
                    task=task_id,
                    message=self._message(response),
                ),
                status_code=response.status_code,
            )
        obj = self._json(response)
        return (obj, "") if obj else (None, t("videos.not_json"))

    async def _report(
        self,
        task_id: str,
        obj: dict[str, Any],
        on_event: EventCallback | None,
        phase: str,
        percent: int,
    ) -> SourceStatus | tuple[str, int]:
        """Report one status as events; the final status once the task has
        ended.
        """
        status = str(obj.get("status") or "").strip().lower()
        if status in _ENDED:
            reason = _error_text(obj.get("error")) or t("videos.failure")
            await _call(on_event, FailedEvent(reason, task_id))
            raise GenerationFailed(reason, task_id=task_id)
        if status == "completed":
            url = self.content_url(task_id)
            await _call(on_event, CompletedEvent(None, None, url))
            model = obj.get("model")
            named = model if isinstance(model, str) else None
            return SourceStatus("completed", 100, url, None, None, None, model=named)
        now: Literal["queued", "generating"] = "queued" if status == "queued" else "generating"
        if now != phase:
            await _call(on_event, StatusEvent(now))
        progress = obj.get("progress")
        # inf or nan from a careless relay is no percentage (int() would raise).
        finite = isinstance(progress, int | float) and math.isfinite(progress)
        if finite and int(progress) > percent:  # type: ignore[arg-type]
            percent = min(100, int(progress))  # type: ignore[arg-type]
            await _call(on_event, ProgressEvent(percent))
        return now, percent

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        return json_object(response, self._redact)

    def _message(self, response: httpx.Response) -> str:
        message = _error_text(self._json(response).get("error"))
        return message or self._redact(response.reason_phrase)


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or "")
    return str(error or "")
