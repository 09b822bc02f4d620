"""new-api (docs/dialects.md, "new-api"): the OpenAI Videos routes in front of
many upstreams.

``POST /v1/videos`` as JSON or multipart (``input_reference`` a file or a
string, also ``image``/``images[]``); ids ``task_…``; a completed status with no
link, the file at ``/v1/videos/{id}/content`` behind the key
(``?variant=thumbnail`` for the poster); ``POST /v1/videos/{id}/remix`` where
the channel has one (Sora-named models here); a per-key concurrency gate
answering 429; ``GET /v1/models`` with ``supported_endpoint_types``.

Its own unified route too: ``POST /v1/video/generations`` (the same body, the
same video object back) and ``GET /v1/video/generations/{id}``, which answers
the task record wrapped as ``{"code": "success", "data": {...}}``: new-api's own
status words (``NOT_START``, ``QUEUED``, ``IN_PROGRESS``, ``SUCCESS``,
``FAILURE``), progress as ``"30%"``, ``fail_reason``, and ``result_url`` (the
content route) once done. An unknown id is a 400 ``task_not_exist``. Fault
``no-openai-video`` makes ``GET /v1/videos/{id}`` answer 501, as new-api does
for a channel that has no OpenAI shape for its status.
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

_WORDS = {"queued": "queued", "running": "in_progress", "completed": "completed",
          "failed": "failed", "expired": "failed"}  # fmt: skip


def video_json(task: Task) -> dict[str, Any]:
    state = gw.phase(task)
    body: dict[str, Any] = {
        "id": task.id,
        "task_id": task.id,
        "object": "video",
        "model": task.request.model,
        "status": _WORDS[state],
        "progress": 100 if state == "completed" else task.progress,
        "created_at": task.created_at,
    }
    if state == "completed":
        body["completed_at"] = task.completed_at
    if state in ("failed", "expired"):
        reason = task.failure_reason or "the upstream task expired"
        body["error"] = {"message": reason, "code": "generation_failed"}
    return body


def _image(body: dict[str, Any]) -> str | None:
    for key in ("input_reference", "image", "images"):
        value = body.get(key)
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, str) and value:
            return value
    return None


async def create(request: Request) -> Response:
    body = await gw.keyed_body(request)
    if isinstance(body, Response):
        return body
    started = gw.start(request, body, image=_image(body), gate=True)
    return started if isinstance(started, Response) else JSONResponse(video_json(started.task))


_MISSING = "Task not found"


def _status(request: Request, task: Task) -> Response:
    if gw.fault_of(task) == "no-openai-video":
        return JSONResponse({"code": "not_implemented", "message": "not_implemented:55",
                             "data": None}, status_code=501)  # fmt: skip
    return JSONResponse(video_json(task))


_RECORD_WORDS = {"queued": "QUEUED", "running": "IN_PROGRESS", "completed": "SUCCESS",
                 "failed": "FAILURE", "expired": "FAILURE"}  # fmt: skip


def task_record(request: Request, task: Task) -> dict[str, Any]:
    """new-api's task record (its ``dto.TaskDto``), as its own route answers
    it.
    """
    state = gw.phase(task)
    word = "NOT_START" if state == "queued" and task.progress == 0 else _RECORD_WORDS[state]
    done = state in ("completed", "failed", "expired")
    record: dict[str, Any] = {
        "id": abs(hash(task.id)) % 100000, "created_at": int(task.created_at),
        "updated_at": int(task.completed_at or task.created_at), "task_id": task.id,
        "platform": "55", "group": "default", "channel_id": 1, "quota": 0,
        "action": "generate" if task.request.image_url else "textGenerate",
        "status": word, "fail_reason": "", "submit_time": int(task.created_at),
        "start_time": int(task.created_at), "finish_time": int(task.completed_at or 0),
        "progress": "100%" if state == "completed" else f"{task.progress}%",
        "properties": {"origin_model_name": task.request.model,
                       "upstream_model_name": task.request.model},
        "data": video_json(task),
    }  # fmt: skip
    if state == "completed":
        base = str(request.base_url).rstrip("/")
        record["result_url"] = f"{base}/v1/videos/{task.id}/content"
    if done and state != "completed":
        record["fail_reason"] = task.failure_reason or "the upstream task expired"
    return record


async def unified_status(request: Request) -> Response:
    task = gw.find_task(request, _MISSING)
    # its own route's refusal
    if isinstance(task, Response) and task.status_code == 404:
        return JSONResponse({"code": "task_not_exist", "message": "task_not_exist",
                             "data": None}, status_code=400)  # fmt: skip
    if isinstance(task, Response):
        return task
    return JSONResponse({"code": "success", "message": "", "data": task_record(request, task)})


async def remix(request: Request) -> Response:
    parent = gw.find_task(request, _MISSING)
    if isinstance(parent, Response):
        return parent
    body = await gw.read_body(request)
    if isinstance(body, Response):
        return body
    if not parent.request.model.startswith("sora"):
        return gw.error(400, f"The channel of {parent.request.model} has no remix.")
    body = {"model": parent.request.model, **body}
    started = gw.start(request, body, parent=parent, gate=True)
    return started if isinstance(started, Response) else JSONResponse(video_json(started.task))


async def models(request: Request) -> Response:
    refused = gw.refused(request)
    if refused is not None:
        return refused
    rows = gw.model_rows(NAMES["newapi"], "custom", supported_endpoint_types=["openai-video"])
    return JSONResponse({"success": True, "object": "list", "data": rows})


def routes() -> list[Route]:
    return [
        Route("/v1/models", models),
        Route("/v1/videos", create, methods=["POST"]),
        Route("/v1/videos/{id}", gw.status_route(_MISSING, _status)),
        Route("/v1/videos/{id}/content", gw.content_route(_MISSING)),
        Route("/v1/videos/{id}/remix", remix, methods=["POST"]),
        Route("/v1/video/generations", create, methods=["POST"]),
        Route("/v1/video/generations/{id}", unified_status),
    ]


SPEAKER = gw.GatewaySpeaker("newapi", routes)
