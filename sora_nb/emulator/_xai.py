"""xAI's video API and grok2api (docs/dialects.md, "xAI and grok2api").

``POST /v1/videos/generations`` answers ``{"request_id"}``. The first poll
carries no status yet (it is still being scheduled); then ``pending`` (grok2api
adds ``progress``), ``done`` with ``video.url`` (xAI: a CDN link on another
origin; grok2api: a relative ``/v1/…`` link behind the key), ``failed`` with
``error``, or ``expired``. ``/v1/videos/edits`` and ``/v1/videos/extensions``
take the earlier video as ``video.url``.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import _gateway as gw
from ._living import NAMES
from ._tasks import Task

__all__ = ["SPEAKER", "routes"]


def _json(request: Request, task: Task, public_id: str, grok2api: bool) -> dict[str, Any]:
    state = gw.phase(task)
    polls: dict[str, int] = request.app.state.poll_counts
    polls[public_id] = polls.get(public_id, 0) + 1
    if polls[public_id] == 1 and state in ("queued", "running"):
        return {}  # scheduled, not yet queued: no status at all
    if state == "completed" and task.video_file:
        if grok2api:
            url = f"/v1/videos/{public_id}/content"
        else:
            url = gw.links(request).mint(request, task.video_file,
                                         gw.fault_of(task) == "one-time-link")  # fmt: skip
        video = {"url": url, "duration": 8, "respect_moderation": True}
        return {"status": "done", "model": task.request.model, "progress": 100, "video": video}
    if state == "failed":
        return {"status": "failed",
                "error": {"code": "internal_error", "message": task.failure_reason}}  # fmt: skip
    if state == "expired":
        return {"status": "expired"}
    body: dict[str, Any] = {"status": "pending", "model": task.request.model}
    if grok2api:
        body["progress"] = min(99, task.progress)
    return body


def _ids(request: Request) -> dict[str, str]:
    found: dict[str, str] = request.app.state.public_ids
    return found


async def _start(request: Request, parent_url_key: str | None) -> Response:
    body = await gw.keyed_body(request)
    if isinstance(body, Response):
        return body
    parent: Task | None = None
    if parent_url_key is not None:
        found = _parent(request, body)
        if isinstance(found, str):
            return gw.error(400, found)
        parent = found
    image = body.get("image")
    url = image.get("url") if isinstance(image, dict) else None
    public = str(uuid.uuid4())
    started = gw.start(request, body, image=url, parent=parent, public_id=public)
    if isinstance(started, Response):
        return started
    _ids(request)[public] = started.task.id
    return JSONResponse({"request_id": public})


def _parent(request: Request, body: dict[str, Any]) -> Task | str:
    """The earlier video from ``video.url`` as xAI fetches it: a signed link
    (refused once used: a one-time link fetches once), grok2api's content path,
    or the video itself as a ``data:video/mp4`` URI; else a sentence saying why
    it cannot be read.
    """
    video = body.get("video")
    url = video.get("url") if isinstance(video, dict) else None
    if not isinstance(url, str):
        return "video.url is required."
    tasks = gw.emulator_of(request).tasks
    if url.startswith("data:"):
        return _inline_parent(request, url) or "video.url holds no video this gateway made."
    parts = urlsplit(url).path.strip("/").split("/")
    found: Task | None = None
    if len(parts) == 4 and parts[:2] == ["v1", "videos"]:
        found = tasks.get(_ids(request).get(parts[2], ""))
    elif len(parts) == 3 and parts[0] == "signed":
        state = gw.links(request)
        if not state.fetchable(parts[1]):
            return "The video at video.url could not be fetched (410: the link has expired)."
        name = state.tokens[parts[1]][0]
        found = next((t for t in tasks._tasks.values() if t.video_file == name), None)
    return found or "video.url must name a video this gateway made."


def _inline_parent(request: Request, url: str) -> Task | None:
    head, _, data = url.partition(",")
    if not head.startswith("data:video/") or ";base64" not in head:
        return None
    try:
        content = base64.b64decode(data, validate=True)
    except ValueError:
        return None
    request.app.state.inline_parents += 1
    emulator = gw.emulator_of(request)
    for task in emulator.tasks._tasks.values():
        path = emulator.files_dir / task.video_file if task.video_file else None
        if path is not None and path.is_file() and path.read_bytes() == content:
            return task
    return None


async def create(request: Request) -> Response:
    return await _start(request, None)


async def edit(request: Request) -> Response:
    return await _start(request, "video")


_MISSING = "Request not found"


def _status(grok2api: bool) -> Callable[[Request], Awaitable[Response]]:
    def answer(request: Request, task: Task) -> Response:
        return JSONResponse(_json(request, task, request.path_params["id"], grok2api))

    return gw.status_route(_MISSING, answer, own_ids=True)


async def models(request: Request) -> Response:
    refused = gw.refused(request)
    if refused is not None:
        return refused
    return JSONResponse({"object": "list", "data": gw.model_rows(NAMES["grok2api"], "xai")})


def routes(grok2api: bool = False) -> list[Route]:
    """xAI's routes; ``grok2api`` adds progress and gives relative links behind
    the key.
    """
    return [
        Route("/v1/models", models),
        Route("/v1/videos/generations", create, methods=["POST"]),
        Route("/v1/videos/edits", edit, methods=["POST"]),
        Route("/v1/videos/extensions", edit, methods=["POST"]),
        Route("/v1/videos/{id}", _status(grok2api)),
        Route("/v1/videos/{id}/content", gw.content_route(_MISSING, own_ids=True)),
    ]


SPEAKER = gw.GatewaySpeaker("xai", routes)
