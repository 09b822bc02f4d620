"""The relay's transcript and wire format, byte for byte.

As in tests/fixtures/transcript/edit_stream.sse.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ChunkMeta",
    "ContentChunks",
    "completed",
    "completion_json",
    "echo_block",
    "echo_tokens",
    "failure_json",
    "failure_line",
    "sse_chunk",
    "sse_done",
    "sse_error",
    "task_header",
]

# The relay types its echo like a language model: words, up to 3 digits, single
# CJK characters, and punctuation runs with an optional leading space and
# trailing newline.
_TOKEN = re.compile(r"[A-Za-z]+|\d{1,3}|[^\x00-\x7f]| ?[^\w\s]+\n?|\s|.", re.DOTALL)

QUEUED = "\n> 排队中"  # then one "." per poll
GENERATING = "\n> 生成中"  # then one "." per poll
# then "NN.." per poll; the first number shares its chunk
PROGRESS = "\n\n>🏃\u200d 进度 "
POLL_DOT = "."
CONTENT_POLICY = "内容违反使用政策 (content policy violation)"


def echo_block(prompt: str, orientation: str, sid: str | None) -> str:
    """The fenced JSON echo of the request; ``sid`` only for an edit."""
    echo: dict[str, Any] = {"prompt": prompt, "orientation": orientation}
    if sid:
        echo["sid"] = sid
    return "```json\n" + json.dumps(echo, indent=2, ensure_ascii=False) + "\n```"


#: A long prompt's echo goes in at most this many fragments of several tokens,
#: so 100k characters stream in moments, not 100k chunks (docs/dialects.md).
MAX_ECHO_FRAGMENTS = 400


def echo_tokens(text: str) -> list[str]:
    """Split the echo into fragments the size of the seed's (they join back to
    ``text``).
    """
    tokens = _TOKEN.findall(text)
    if len(tokens) <= MAX_ECHO_FRAGMENTS:
        return tokens
    size = -(-len(tokens) // MAX_ECHO_FRAGMENTS)
    return ["".join(tokens[i : i + size]) for i in range(0, len(tokens), size)]


def task_header(task_id: str, base_url: str) -> str:
    """The task line, the preview and source links, and the start of the queue
    line.
    """
    return (
        f"\n\n> ID: `{task_id}`\n"
        f">[数据预览]({base_url}/web/{task_id}) | [原始数据]({base_url}/source/{task_id})" + QUEUED
    )


def progress(percent: int, *, first: bool) -> str:
    """One progress poll; the first one opens the progress line."""
    return (PROGRESS if first else "") + f"{percent}.."


def completed(sid: str, thumbnail_url: str, video_url: str) -> str:
    """Everything after the last progress number, in one chunk as in the
    seed.
    """
    return (
        f"\n\n> 生成完成 ✅\n> sid: {sid}\n\n"
        f"![{thumbnail_url}]({thumbnail_url})\n[在线播放▶️]({video_url})"
    )


def failure_line(reason: str) -> str:
    """A one-line failure, e.g. a content-policy rejection."""
    return f"\n> ❌ 生成失败: {reason}"


def failure_json(reason: dict[str, Any]) -> str:
    """The other failure shape: a header line, then the reason as a JSON
    block.
    """
    body = json.dumps(reason, indent=2, ensure_ascii=False)
    return f"\n\n> 生成失败，错误原因如下\n```json\n{body}\n```"


@dataclass(frozen=True, slots=True)
class ChunkMeta:
    """What every chunk of one completion repeats."""

    id: str
    created: int
    model: str


#: ``json.dumps(obj, separators=(",", ":"), ensure_ascii=False)`` without making
#: an encoder per chunk (the same output: it is the encoder ``dumps`` makes for
#: those arguments).
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _dumps(obj: Any) -> str:
    return _COMPACT.encode(obj)


def sse_chunk(
    meta: ChunkMeta, content: str | None = None, *, role: bool = False, stop: bool = False
) -> bytes:
    """One ``data: {chat.completion.chunk}`` event with the seed's key order."""
    delta: dict[str, str] = {}
    if role:
        delta["role"] = "assistant"
    if content is not None:
        delta["content"] = content
    chunk = {
        "id": meta.id,
        "object": "chat.completion.chunk",
        "created": meta.created,
        "model": meta.model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": "stop" if stop else None}],
    }
    return f"data: {_dumps(chunk)}\n\n".encode()


class ContentChunks:
    """``sse_chunk(meta, text)`` for the content chunks of one stream, byte for
    byte.

    A stream sends a few dozen of these and a batch streams thousands at once:
    the part every chunk repeats is encoded once, and only the content is dumped
    per chunk (a JSON string encodes the same alone as inside its object).
    """

    __slots__ = ("_head",)
    _TAIL = '},"finish_reason":null}]}\n\n'

    def __init__(self, meta: ChunkMeta) -> None:
        whole = sse_chunk(meta, "").decode()
        self._head = whole[: whole.rindex('"content":') + len('"content":')]
        assert whole == self._head + '""' + self._TAIL, "sse_chunk changed shape"

    def __call__(self, content: str) -> bytes:
        return (self._head + _dumps(content) + self._TAIL).encode()


def sse_done() -> bytes:
    """The ``[DONE]`` sentinel that ends a stream."""
    return b"data: [DONE]\n\n"


def sse_error(message: str, type_: str) -> bytes:
    """An in-stream error event, as OpenAI-compatible gateways send when a
    backend fails.
    """
    return f"data: {_dumps({'error': {'message': message, 'type': type_}})}\n\n".encode()


def completion_json(meta: ChunkMeta, content: str) -> dict[str, Any]:
    """The ``stream: false`` answer: one ``chat.completion`` holding the whole
    transcript.
    """
    return {
        "id": meta.id,
        "object": "chat.completion",
        "created": meta.created,
        "model": meta.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }
