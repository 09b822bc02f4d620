"""flow2api (docs/dialects.md, "flow2api"): Veo 3.1 through Google Flow, as a
chat stream.

Chunks are ``json.dumps(…, ensure_ascii=False)`` with ``"model": "flow2api"``;
progress is ``生成进度: N%`` in ``reasoning_content``; the result is a bare
``<video src='…' data-media-id='…'>`` tag in ``content`` with ``finish_reason:
"stop"``; a failure is ``错误: 视频生成失败: …`` then an in-stream ``{"error":
…}``. Orientation is in the model name; extend is model ``veo_3_1_extend`` with
``extend://MEDIA_ID`` as the image. When the client disconnects, the generation
is cancelled, as flow2api does (``Emulator.cancelled`` counts).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from . import _gateway as gw
from ._living import NAMES
from ._tasks import Task

__all__ = ["SPEAKER", "routes"]

_PERCENT = re.compile(r"(\d{1,3})\.\.$")
_DONE = b"data: [DONE]\n\n"


def chunk(content: str, finish: str | None = None) -> bytes:
    """One chunk as flow2api builds it: reasoning while running, content at the
    end.
    """
    delta = {"content": content} if finish else {"reasoning_content": content}
    body = {
        "id": f"chatcmpl-{int(time.time())}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": "flow2api",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n".encode()


def _error(message: str) -> bytes:
    error = {"message": message, "type": "server_error", "code": "generation_failed",
             "status_code": 502}  # fmt: skip
    return f"data: {json.dumps({'error': error}, ensure_ascii=False)}\n\n".encode()


def _parts(body: dict[str, Any]) -> tuple[str, list[str]]:
    messages = body.get("messages")
    last = messages[-1] if isinstance(messages, list) and messages else {}
    content = last.get("content") if isinstance(last, dict) else None
    if isinstance(content, str):
        return content, []
    text, images = "", []
    for part in content if isinstance(content, list) else []:
        if isinstance(part, dict) and part.get("type") == "text":
            text = str(part.get("text") or "")
        elif isinstance(part, dict) and part.get("type") == "image_url":
            images.append(str((part.get("image_url") or {}).get("url") or ""))
    return text, images


async def chat(request: Request) -> Response:
    refused = gw.refused(request)
    if refused is not None:
        return refused
    body = await gw.read_body(request)
    if isinstance(body, Response):
        return body
    model = str(body.get("model") or "")
    if model not in NAMES["flow2api"]:
        return gw.error(400, f"Model not found: {model}")
    prompt, images = _parts(body)
    notes: list[bytes] = []
    parent = None
    extends = [i for i in images if i.startswith("extend://")]
    if "_extend" in model:
        if not extends:
            return gw.error(400, "视频续写需要提供源视频的 mediaGenerationId (extend://ID)")
        parent = gw.emulator_of(request).tasks.by_sid(extends[0].removeprefix("extend://"))
        if parent is None:
            return gw.error(400, f"未找到源视频: {extends[0]}")
    image = next((i for i in images if not i.startswith("extend://")), None)
    if image and "_t2v_" in model:
        notes.append(chunk("⚠️ 文生视频模型不支持上传图片,将忽略图片仅使用文本提示词生成\n"))
        image = None
    started = gw.start(request, {"model": model, "prompt": prompt}, image=image, parent=parent)
    if isinstance(started, Response):
        return started
    stream = _events(request, started.task, notes)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


async def _events(request: Request, task: Task, notes: list[bytes]) -> AsyncIterator[bytes]:
    finished = False
    try:
        yield chunk("初始化生成环境...\n")
        for note in notes:
            yield note
        yield chunk("提交视频生成任务...\n")
        yield chunk("视频生成中...\n")
        # its first poll reports 0 (attempt 0 of the loop)
        yield chunk("生成进度: 0%\n")
        index = 0
        while (entry := await task.entry(index)) is not None:
            index += 1
            found = _PERCENT.search(entry.text) if entry.kind == "progress" else None
            if found:
                yield chunk(f"生成进度: {found.group(1)}%\n")
            elif entry.kind == "completed":
                for piece in _completed(task):
                    yield piece
                finished = True
                return
            elif entry.kind == "failed":
                reason = f"视频生成失败: {task.failure_reason}，请重试"
                yield chunk(f"错误: {reason}\n")
                yield _error(reason)
                yield _DONE
                finished = True
                return
        finished = True
    finally:
        # the client went away: flow2api cancels the generation
        if not finished:
            _cancel(request, task)


def _cancel(request: Request, task: Task) -> None:
    emulator = gw.emulator_of(request)
    emulator.cancelled[task.id] += 1
    for runner in list(emulator.tasks._runners):
        if runner.get_name() == f"emulator {task.id}":
            runner.cancel()


def _completed(task: Task) -> list[bytes]:
    url = f"{task.base_url}/files/{task.video_file}"
    tag = f"<video src='{url}' data-media-id='{task.sid}' controls style='max-width:100%'></video>"
    return [chunk("缓存已关闭,正在返回源链接...\n"), chunk(tag, finish="stop"), _DONE]


async def models(request: Request) -> Response:
    refused = gw.refused(request)
    if refused is not None:
        return refused
    rows = [row | {"description": "Veo 3.1 via Google Flow"}
            for row in gw.model_rows(NAMES["flow2api"], "flow2api")]  # fmt: skip
    return JSONResponse({"object": "list", "data": rows})


def routes() -> list[Route]:
    return [
        Route("/v1/models", models),
        Route("/v1/chat/completions", chat, methods=["POST"]),
    ]


SPEAKER = gw.GatewaySpeaker("flow2api", routes)
