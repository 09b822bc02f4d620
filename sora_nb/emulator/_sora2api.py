"""The sora2api chat dialect: one task followed as that relay family streams it.

See docs/dialects.md, "sora2api chat". Progress goes in ``reasoning_content``,
the result is an ``html`` block with a ``<video>`` tag in ``content``, and each
chunk is Python's default ``json.dumps`` of the relay's fields, in the relay's
key order. The emulator plays the watermark-free mode of the ShakeChanDev fork,
the richest of the family: a ``task_id`` line with ``delta.output``, and a
``Post ID`` to remix. Its video link looks like a signed CDN link, with a query
string and no ``.mp4`` suffix, so clients meet that shape offline too.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import JSONResponse, Response, StreamingResponse

from ._chat import ChatSpeaker
from ._faults import openai_error
from ._request import BadRequest, ChatRequest, remix_id, sora2api_model, without_remix_id
from ._stream import StreamCut
from ._tasks import Entry, Task

__all__ = [
    "NOT_STREAMED",
    "SPEAKER",
    "completion",
    "event_stream",
    "signed_video_url",
    "sse_chunk",
]

BEGINS = "**Generation Process Begins**\n\nInitializing generation request...\n"
NOT_STREAMED = (
    "All tokens available for video generation. "
    "Please enable streaming to use the generation feature."
)
_PERCENT = re.compile(r"(\d{1,3})\.\.$")
_RETRIES = 3


def sse_chunk(
    *,
    content: str | None = None,
    reasoning: str | None = None,
    finish: str | None = None,
    first: bool = False,
    output: list[dict[str, str]] | None = None,
) -> bytes:
    """One chunk with the relay's fields and key order, ``json.dumps``
    defaults.
    """
    now = time.time()
    delta: dict[str, Any] = {"role": "assistant"} if first else {}
    delta["content"] = content
    delta["reasoning_content"] = reasoning
    if output is not None:
        delta["output"] = output
    delta["tool_calls"] = None
    usage = {"prompt_tokens": 0}
    if finish:
        usage |= {"completion_tokens": 1, "total_tokens": 1}
    choice = {"index": 0, "delta": delta, "finish_reason": finish, "native_finish_reason": finish}
    chunk = {
        "id": f"chatcmpl-{int(now * 1000)}",
        "object": "chat.completion.chunk",
        "created": int(now),
        "model": "sora",
        "choices": [choice],
        "usage": usage,
    }
    return f"data: {json.dumps(chunk)}\n\n".encode()


def _error(message: str) -> bytes:
    error = {"message": message, "type": "server_error", "param": None, "code": None}
    return f"data: {json.dumps({'error': error})}\n\n".encode()


_DONE = b"data: [DONE]\n\n"


def signed_video_url(base_url: str, video_file: str) -> str:
    """A link shaped like a signed CDN one: ``…/raw?se=…&sig=…``, no ``.mp4`` at
    the end.
    """
    stem = video_file.removesuffix(".mp4")
    expires = time.strftime("%Y-%m-%dT%H%%3A%M%%3A%SZ", time.gmtime(time.time() + 7 * 86400))
    signature = secrets.token_urlsafe(18).replace("-", "%2B").replace("_", "%2F")
    return f"{base_url}/cdn/{stem}/raw?se={expires}&sp=r&sv=2024-08-04&sr=b&sig={signature}%3D"


def event_stream(task: Task, fault: str | None) -> StreamingResponse:
    """The relay's SSE answer for ``task``."""
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(_events(task, fault), media_type="text/event-stream", headers=headers)


def completion() -> JSONResponse:
    """``stream: false``: the relay only checks that it could generate, and says
    so.
    """
    message = {"role": "assistant", "content": NOT_STREAMED}
    return JSONResponse(
        {
            "id": f"chatcmpl-{time.time()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": "sora",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        }
    )


async def _events(task: Task, fault: str | None) -> AsyncIterator[bytes]:
    yield sse_chunk(reasoning=BEGINS, first=True)
    seen: set[str] = set()
    index = 0
    while (entry := await task.entry(index)) is not None:
        index += 1
        if entry.kind == "completed" and fault == "no-video":
            break  # the task has its video; only this stream never says so
        for chunk in _translate(task, entry, seen):
            yield chunk
        if entry.kind == "progress" and fault == "cut":
            raise StreamCut(f"emulated transport cut of {task.id}")
        if entry.kind == "progress" and fault == "error-in-stream":
            for chunk in _retries_then_error("Sora API request failed (emulated upstream error)"):
                yield chunk
            return
        if entry.kind in ("completed", "failed"):
            return
    yield sse_chunk(finish="STOP")
    yield _DONE


def _translate(task: Task, entry: Entry, seen: set[str]) -> list[bytes]:
    """The relay's chunks for one step of the task (some steps say nothing
    there).
    """
    kind = entry.kind
    if kind == "task":
        line = f"Task submitted successfully. task_id: {task.id}\n"
        return [sse_chunk(reasoning=line, output=[{"task_id": task.id}])]
    if kind in ("queue", "generating") and kind not in seen:
        seen.add(kind)
        status = "queued" if kind == "queue" else "running"
        return [_progress(task.progress if kind == "generating" else 0, status)]
    if kind == "progress":
        found = _PERCENT.search(entry.text)
        return [_progress(int(found.group(1)), "running")] if found else []
    if kind == "completed":
        return _completed(task)
    if kind == "failed":
        return _failed(task.failure_reason or "Generation failed")
    return []


def _progress(percent: int, status: str) -> bytes:
    return sse_chunk(reasoning=f"\n**Video Generation Progress**: {percent}% ({status})\n")


def _completed(task: Task) -> list[bytes]:
    assert task.video_file is not None
    url = signed_video_url(task.base_url, task.video_file)
    return [
        sse_chunk(
            reasoning="**Video Generation Completed**\n\nWatermark-free mode enabled. "
            "Publishing video to get watermark-free version...\n"
        ),
        sse_chunk(
            reasoning=f"Video published successfully. Post ID: {task.sid}\n"
            "Now preparing watermark-free video...\n"
        ),
        sse_chunk(reasoning="Cache is disabled. Using watermark-free URL directly...\n"),
        sse_chunk(content=f"```html\n<video src='{url}' controls></video>\n```", finish="STOP"),
        _DONE,
    ]


def _failed(reason: str) -> list[bytes]:
    return [
        sse_chunk(reasoning=f"**Content Policy Violation**\n\n{reason}\n"),
        sse_chunk(content=f"❌ 生成失败: {reason}", finish="STOP"),
        _DONE,
    ]


def _retries_then_error(reason: str) -> list[bytes]:
    """The relay retries a failed generation, saying so, then gives up with an
    error event.
    """
    notices = [
        sse_chunk(
            reasoning=f"**生成失败，正在重试**\n\n第 {attempt} 次重试（共 {_RETRIES} 次）...\n\n"
            f"失败原因：{reason}\n\n"
        )
        for attempt in range(1, _RETRIES + 1)
    ]
    return [*notices, _error(reason), _DONE]


class _Sora2api(ChatSpeaker):
    """Only the last message counts; a link image is dropped; errors are
    500s.
    """

    name = "sora2api"

    def model(self, value: Any) -> str:
        return sora2api_model(value)

    def messages(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return messages[-1:]

    def parent(
        self, messages: list[dict[str, Any]], obj: dict[str, Any], prompt: str
    ) -> str | None:
        return remix_id(obj, prompt)

    def clean(self, prompt: str, image_url: str | None) -> tuple[str, str | None]:
        if image_url is not None and not image_url.startswith("data:image"):
            # that relay drops image links; only data: URIs count
            image_url = None
        return without_remix_id(prompt), image_url

    def refuse(self, exc: BadRequest) -> Response:
        # Its handler turns every error into a 500.
        return openai_error(500, str(exc), type_="server_error", code=None)

    def unstreamed(self) -> Response | None:
        return completion()  # that relay generates nothing without a stream

    async def respond(self, task: Task, chat: ChatRequest, fault: str | None) -> Response:
        return event_stream(task, fault)


SPEAKER = _Sora2api()
