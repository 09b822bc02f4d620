"""A reseller on the OpenAI Videos shape (docs/dialects.md, "Resellers").

Resellers pass their upstreams' words through. By default: ``NOT_START`` →
``Processing`` with progress as ``"NN%"`` → ``Success`` with ``video_url`` (a
link on another origin), or ``Fail`` with ``fail_reason``. Fault ``synonyms``
switches to the other family seen: ``Preparing`` → ``running`` with a 0-1
fraction → ``SUCCEEDED`` with ``url``, or ``FAILED`` with ``error``; a task that
ends ``expired`` says ``expired``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import _gateway as gw
from ._living import NAMES
from ._tasks import Task

__all__ = ["SPEAKER", "routes"]

_FAMILIES = {
    False: {"queued": "NOT_START", "running": "Processing", "completed": "Success",
            "failed": "Fail", "expired": "expired"},
    True: {"queued": "Preparing", "running": "running", "completed": "SUCCEEDED",
           "failed": "FAILED", "expired": "expired"},
}  # fmt: skip


def _json(request: Request, task: Task) -> dict[str, Any]:
    state = gw.phase(task)
    other = gw.fault_of(task) == "synonyms"
    body: dict[str, Any] = {"id": task.id, "model": task.request.model,
                            "status": _FAMILIES[other][state]}  # fmt: skip
    if state == "running":
        body["progress"] = round(task.progress / 100, 2) if other else f"{task.progress}%"
    if state == "completed" and task.video_file:
        link = gw.links(request).mint(request, task.video_file,
                                      gw.fault_of(task) == "one-time-link")  # fmt: skip
        body["url" if other else "video_url"] = link
        body["progress"] = None if other else "100%"
    if state == "failed":
        reason = task.failure_reason or "failed"
        body.update({"error": {"message": reason}} if other else {"fail_reason": reason})
    return body


async def create(request: Request) -> Response:
    body = await gw.keyed_body(request)
    if isinstance(body, Response):
        return body
    image = body.get("input_reference")
    started = gw.start(request, body, image=image if isinstance(image, str) else None)
    if isinstance(started, Response):
        return started
    return JSONResponse({"id": started.task.id, "status": "NOT_START", "progress": None})


async def models(request: Request) -> Response:
    refused = gw.refused(request)
    if refused is not None:
        return refused
    return JSONResponse({"object": "list", "data": gw.model_rows(NAMES["reseller"], "reseller")})


def routes() -> list[Route]:
    return [
        Route("/v1/models", models),
        Route("/v1/videos", create, methods=["POST"]),
        Route(
            "/v1/videos/{id}",
            gw.status_route("task not exist", lambda r, t: JSONResponse(_json(r, t))),
        ),
    ]


SPEAKER = gw.GatewaySpeaker("reseller", routes)
