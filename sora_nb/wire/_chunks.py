"""Chat chunks: what one SSE ``data:`` payload of ``/v1/chat/completions``
carries. No I/O.

``parse_chunk`` reads a ``chat.completion.chunk`` into its content fragment, its
``reasoning_content`` and ``output`` task id, an in-stream error, or ``[DONE]``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["ChatChunk", "completion_content", "error_message", "parse_chunk"]


@dataclass(frozen=True, slots=True)
class ChatChunk:
    """What one SSE payload carries."""

    content: str = ""
    finish_reason: str | None = None
    error: str | None = None
    done: bool = False
    reasoning: str = ""  # ``delta.reasoning_content`` (sora2api relays)
    task_id: str | None = None  # ``delta.output[0].task_id`` (a sora2api fork)


def error_message(error: Any) -> str:
    """One line from a relay's error value, whatever its shape."""
    if isinstance(error, dict):
        for key in ("message", "msg", "detail", "code", "type"):
            value = error.get(key)
            if value:
                return str(value)
        return json.dumps(error, ensure_ascii=False)
    return str(error)


def parse_chunk(data: str) -> ChatChunk:
    """Decode one SSE ``data`` payload; an unknown shape is an empty chunk."""
    data = data.strip()
    if data == "[DONE]":
        return ChatChunk(done=True)
    try:
        obj = json.loads(data)
    except ValueError:
        return ChatChunk()
    if not isinstance(obj, dict):
        return ChatChunk()
    if obj.get("error"):
        return ChatChunk(error=error_message(obj["error"]))
    choices = obj.get("choices") or []  # a trailing usage chunk has none
    if not choices or not isinstance(choices[0], dict):
        return ChatChunk()
    choice = choices[0]
    delta = choice.get("delta") or choice.get("message") or {}
    if not isinstance(delta, dict):
        delta = {}
    content, reasoning = delta.get("content"), delta.get("reasoning_content")
    finish = choice.get("finish_reason")
    return ChatChunk(
        content=content if isinstance(content, str) else "",
        finish_reason=finish if isinstance(finish, str) else None,
        reasoning=reasoning if isinstance(reasoning, str) else "",
        task_id=_output_task_id(delta.get("output")),
    )


def _output_task_id(output: Any) -> str | None:
    """``[{"task_id": "task_…"}]``, as the ShakeChanDev fork sends."""
    if isinstance(output, list) and output and isinstance(output[0], dict):
        task_id = output[0].get("task_id")
        if isinstance(task_id, str) and task_id:
            return task_id
    return None


def completion_content(obj: Any) -> str:
    """The transcript of a non-streamed completion (``stream: false``)."""
    try:
        content = obj["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return ""
    return content if isinstance(content, str) else ""
