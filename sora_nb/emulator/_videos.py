"""The Videos task API (docs/dialects.md, "Videos task API"): submit, poll,
content, remix.

The routes and JSON shapes of go-sora2api, which follows OpenAI's own Videos
API: no chat endpoint, a task id to poll, the mp4 behind the key, and remix by a
share id that ``POST /v1/posts`` hands out once a video is done. Errors are
``{"error": {"message": …}}`` in the relay's own words. Tasks are the emulator's
usual ones, so faults and timing apply.

Fault ``cut`` acts on polling here: the first two polls of the task lose their
connection mid-body, and the polls after that succeed (the task goes on
regardless).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ._faults import HTTP_FAULTS, http_fault_response, parse_fault, strip_fault_tag
from ._images import ImageInput, resolve_image_url
from ._request import ChatRequest, model_orientation
from ._stream import StreamCut
from ._tasks import Task

if TYPE_CHECKING:
    from ._app import Emulator

__all__ = ["routes"]


_DURATION = re.compile(r"(?:10|15|25)s(?:-|$)")
_REMIX_TARGET = re.compile(r"s_[0-9a-f]{32}")
_STATUS = {"queued": "queued", "running": "in_progress", "completed": "completed"}
_CUT_POLLS = 2


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message}}, status_code=status)


def _emulator(request: Request) -> Emulator:
    emulator: Emulator = request.app.state.emulator
    return emulator


def _refused(request: Request) -> Response | None:
    """The relay's 401s: no header, or a key it does not know."""
    header = request.headers.get("authorization")
    if not header:
        return _error(401, "缺少 Authorization 头")
    if not _emulator(request).authorized(header):
        return _error(401, "无效的 API Key")
    return None


def _size(model: str) -> str:
    landscape = model_orientation(model) == "landscape"
    if "-hd" in model:
        return "1920x1080" if landscape else "1080x1920"
    return "1280x720" if landscape else "720x1280"


def _task_json(task: Task) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": task.id,
        "object": "video",
        "model": task.request.model,
        "status": _STATUS.get(task.status, "failed"),
        "progress": 100 if task.status == "completed" else task.progress,
        "created_at": task.created_at,
        "size": _size(task.request.model),
    }
    if task.status == "failed":
        body["error"] = {"message": f"获取下载链接失败: 内容违规: {task.failure_reason}"}
    return body


async def _body(request: Request, *required: str) -> dict[str, Any] | Response:
    try:
        obj = json.loads(await request.body())
    except ValueError:
        obj = None
    if not isinstance(obj, dict):
        return _error(400, "请求参数错误: invalid JSON body")
    for key in required:
        if not isinstance(obj.get(key), str) or not obj[key]:
            return _error(400, f"请求参数错误: '{key}' is required")
    return obj


def _model_error(model: str) -> Response | None:
    if model_orientation(model) is None or "sora-video" in model:
        return _error(400, f"模型名称中未找到方向（landscape/portrait）: {model}")
    if not _DURATION.search(model.lower()):
        return _error(400, f"模型名称中未找到时长（10s/15s/25s）: {model}")
    return None


def _start(request: Request, obj: dict[str, Any], parent_sid: str | None) -> Response:
    emulator = _emulator(request)
    prompt, tag = strip_fault_tag(obj["prompt"])
    spec = request.headers.get("x-sora-fault") or tag
    try:
        fault = parse_fault(spec) if spec else None
    except ValueError as exc:
        return _error(400, str(exc))
    if fault is not None and not emulator.faults.applies(fault, json.dumps(obj).encode()):
        fault = None
    if fault is not None and fault.name in HTTP_FAULTS:
        return http_fault_response(fault.name)
    try:
        image = _image(obj.get("input_reference"), emulator, request)
    except ValueError as exc:
        return _error(400, f"参考图无法读取: {exc}")
    chat = ChatRequest(
        model=obj["model"],
        stream=True,
        prompt=prompt,
        orientation=model_orientation(obj["model"]),
        image_url=obj.get("input_reference") or None,
        parent_sid=parent_sid,
        fault=fault,
    )
    emulator.paid[chat.prompt] += 1
    task = emulator.tasks.start(chat, str(request.base_url).rstrip("/"), image)
    return JSONResponse(_task_json(task))


def _image(reference: Any, emulator: Emulator, request: Request) -> ImageInput | None:
    if not isinstance(reference, str) or not reference:
        return None
    return resolve_image_url(reference, emulator.files_dir, request.url.netloc)


async def create(request: Request) -> Response:
    refused = _refused(request)
    if refused is not None:
        return refused
    obj = await _body(request, "model", "prompt")
    if isinstance(obj, Response):
        return obj
    return _model_error(obj["model"]) or _start(request, obj, None)


async def remix(request: Request) -> Response:
    refused = _refused(request)
    if refused is not None:
        return refused
    obj = await _body(request, "model", "prompt", "remix_target")
    if isinstance(obj, Response):
        return obj
    target = _REMIX_TARGET.search(obj["remix_target"])
    if target is None:
        return _error(400, "无效的 remix_target，需要 Sora 分享链接或 s_xxx 格式 ID")
    return _model_error(obj["model"]) or _start(request, obj, target.group(0))


def _task(request: Request, task_id: str) -> Task | Response:
    task = _emulator(request).tasks.get(task_id)
    return task if task is not None else _error(404, "任务不存在")


def _path_task(request: Request) -> Task | Response:
    """The task named by the path, once the caller's key is accepted."""
    refused = _refused(request)
    return refused if refused is not None else _task(request, request.path_params["id"])


async def status(request: Request) -> Response:
    task = _path_task(request)
    if isinstance(task, Response):
        return task
    response = JSONResponse(_task_json(task))
    if _cut_now(request, task):
        return _CutResponse(response)
    return response


def _cut_now(request: Request, task: Task) -> bool:
    """Fault ``cut``: drop the task's first polls (see the module docstring)."""
    fault = task.request.fault
    if fault is None or fault.name != "cut":
        return False
    cuts: dict[str, int] = request.app.state.poll_cuts
    done = cuts.get(task.id, 0)
    cuts[task.id] = done + 1
    return done < _CUT_POLLS


class _CutResponse(Response):
    """The headers and half of the body, then the connection drops."""

    def __init__(self, whole: Response) -> None:
        self._whole = whole

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        whole = self._whole
        await send({"type": "http.response.start", "status": 200, "headers": whole.raw_headers})
        half = bytes(whole.body[: len(whole.body) // 2])
        await send({"type": "http.response.body", "body": half, "more_body": True})
        raise StreamCut("emulated poll cut")


async def content(request: Request) -> Response:
    task = _path_task(request)
    if isinstance(task, Response):
        return task
    if task.status != "completed" or task.video_file is None:
        state = _STATUS.get(task.status, "failed")
        return _error(400, f"任务尚未完成（当前状态: {state}）")
    path = _emulator(request).files_dir / task.video_file
    return FileResponse(path, media_type="video/mp4")


async def post(request: Request) -> Response:
    refused = _refused(request)
    if refused is not None:
        return refused
    obj = await _body(request, "task_id")
    if isinstance(obj, Response):
        return obj
    task = _task(request, obj["task_id"])
    if isinstance(task, Response):
        return task
    if task.status != "completed" or task.sid is None:
        state = _STATUS.get(task.status, "failed")
        return _error(400, f"任务尚未完成（当前状态: {state}）")
    return JSONResponse({"post_id": task.sid})


async def no_chat(request: Request) -> Response:
    return JSONResponse({"error": "not found"}, status_code=404)


def routes() -> list[Route]:
    """The Videos API's routes (the chat endpoint answers 404, as that relay's
    does).
    """
    return [
        Route("/v1/videos", create, methods=["POST"]),
        Route("/v1/videos/remix", remix, methods=["POST"]),
        Route("/v1/videos/{id}", status),
        Route("/v1/videos/{id}/content", content),
        Route("/v1/posts", post, methods=["POST"]),
        Route("/v1/chat/completions", no_chat, methods=["POST"]),
    ]


class _Videos:
    """The Videos task API: its own routes, chosen by a setting on the client's
    side.
    """

    name = "videos"
    hint = " and SORA_DIALECT=videos"

    def routes(self) -> list[Route]:
        return routes()


SPEAKER = _Videos()
