"""OpenRouter's video API (docs/dialects.md, "OpenRouter"), under ``/api/v1``.

``POST /api/v1/videos`` takes JSON (``duration``, ``resolution``,
``aspect_ratio``, ``generate_audio``, ``frame_images[]`` with ``frame_type``)
and answers 202 with a ``polling_url``. A status is pending, in_progress,
completed, failed, cancelled or expired; a finished one has signed ``urls[]``
(another origin, no key) and ``unsigned_urls[]`` (this origin, the key). ``GET
/api/v1/videos/models`` lists each model's capabilities, and a value outside
them is refused with 400, as OpenRouter does.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import _gateway as gw
from ._living import OPENROUTER_MODELS
from ._tasks import Task

__all__ = ["SPEAKER", "routes"]

_BY_ID = {row["id"]: row for row in OPENROUTER_MODELS}
_WORDS = {"queued": "pending", "running": "in_progress", "completed": "completed",
          "failed": "failed", "expired": "expired"}  # fmt: skip


def _json(request: Request, task: Task) -> dict[str, Any]:
    state = gw.phase(task)
    base = str(request.base_url).rstrip("/")
    body: dict[str, Any] = {
        "id": task.id,
        "polling_url": f"/api/v1/videos/{task.id}",
        "status": _WORDS[state],
    }
    if state == "running":
        body["progress"] = task.progress
    if state == "completed" and task.video_file:
        once = gw.fault_of(task) == "one-time-link"
        body["urls"] = [gw.links(request).mint(request, task.video_file, once)]
        body["unsigned_urls"] = [f"{base}/api/v1/videos/{task.id}/content?index=0"]
        body["usage"] = {"cost": 0.5, "is_byok": False}
    if state in ("failed", "expired"):
        body["error"] = task.failure_reason or "The video expired before it was fetched."
    return body


def _refusal(body: dict[str, Any]) -> Response | None:
    row = _BY_ID.get(str(body.get("model")))
    if row is None:
        return gw.error(400, f"Model {body.get('model')!r} is not a video model.")
    for key, allowed in (
        ("duration", row["supported_durations"]),
        ("aspect_ratio", row["supported_aspect_ratios"]),
        ("resolution", row["supported_resolutions"]),
    ):
        if key in body and body[key] not in allowed:
            return gw.error(400, f"{key}={body[key]} is not supported by {row['id']}.")
    frames = [f.get("frame_type") for f in body.get("frame_images") or [] if isinstance(f, dict)]
    missing = [f for f in frames if f not in row["supported_frame_images"]]
    if missing:
        return gw.error(400, f"{row['id']} does not take a {missing[0]}.")
    return None


def _first_frame(body: dict[str, Any]) -> str | None:
    for frame in body.get("frame_images") or []:
        if isinstance(frame, dict) and frame.get("frame_type") == "first_frame":
            url = (frame.get("image_url") or {}).get("url")
            return url if isinstance(url, str) else None
    return None


async def create(request: Request) -> Response:
    body = await gw.keyed_body(request)
    if isinstance(body, Response):
        return body
    refusal = _refusal(body)
    if refusal is not None:
        return refusal
    started = gw.start(request, body, image=_first_frame(body))
    if isinstance(started, Response):
        return started
    return JSONResponse(_json(request, started.task), status_code=202)


_MISSING = "Video generation job not found."


async def models(request: Request) -> Response:
    return JSONResponse({"data": OPENROUTER_MODELS})


def routes() -> list[Route]:
    return [
        Route("/api/v1/videos/models", models),
        Route("/api/v1/videos", create, methods=["POST"]),
        Route(
            "/api/v1/videos/{id}", gw.status_route(_MISSING, lambda r, t: JSONResponse(_json(r, t)))
        ),
        Route("/api/v1/videos/{id}/content", gw.content_route(_MISSING)),
    ]


SPEAKER = gw.GatewaySpeaker("openrouter", routes)
