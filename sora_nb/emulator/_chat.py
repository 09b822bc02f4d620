"""The chat-completions endpoint both chat dialects share; each says what
differs.

``_transcript`` and ``_sora2api`` each hold one ``ChatSpeaker``: how the relay
reads a body (``_request.ChatReader``), how it refuses one, and how it answers.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from . import _markdown as tx
from ._faults import HTTP_FAULTS, http_fault_response, openai_error, unauthorized
from ._ids import new_completion_id
from ._images import ImageInput, resolve_image_url
from ._request import BadRequest, ChatRequest, parse_chat_request
from ._stream import StreamCut, event_stream
from ._tasks import Task

if TYPE_CHECKING:
    from ._app import Emulator

__all__ = ["ChatSpeaker", "base_url", "chat_completions"]


class ChatSpeaker:
    """A chat relay: the defaults are the seed relay's (docs/protocol.md)."""

    name = "chat"
    hint = ""  # what a client needs besides SORA_BASE_URL

    def routes(self) -> list[Route]:
        return [Route("/v1/chat/completions", chat_completions, methods=["POST"])]

    def messages(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return messages

    def clean(self, prompt: str, image_url: str | None) -> tuple[str, str | None]:
        return prompt, image_url

    def refuse(self, exc: BadRequest) -> Response:
        """The relay's answer to a body it cannot read."""
        return openai_error(
            400, str(exc), type_="invalid_request_error", code=exc.code, param=exc.param
        )

    def unstreamed(self) -> Response | None:
        """The answer to ``stream: false`` when the relay makes nothing then
        (default: none).
        """
        return None

    async def respond(self, task: Task, chat: ChatRequest, fault: str | None) -> Response:
        meta = tx.ChunkMeta(new_completion_id(), int(time.time()), chat.model)
        if chat.stream:
            return event_stream(task, meta, fault)
        return await _whole_completion(task, meta, fault)

    # ``_request.ChatReader``: set by each dialect.
    def model(self, value: Any) -> str:
        raise NotImplementedError

    def parent(
        self, messages: list[dict[str, Any]], obj: dict[str, Any], prompt: str
    ) -> str | None:
        raise NotImplementedError


async def chat_completions(request: Request) -> Response:
    emulator: Emulator = request.app.state.emulator
    if not emulator.authorized(request.headers.get("authorization")):
        return unauthorized()
    body = await request.body()
    speaker: ChatSpeaker = emulator.speaker  # type: ignore[assignment]
    try:
        chat = parse_chat_request(body, request.headers.get("x-sora-fault"), speaker)
        image = _image(chat, emulator, request)
    except BadRequest as exc:
        return speaker.refuse(exc)
    if chat.fault is not None and not emulator.faults.applies(chat.fault, body):
        chat = replace(chat, fault=None)
    fault = chat.fault.name if chat.fault else None
    if fault in HTTP_FAULTS:
        return http_fault_response(fault)
    unstreamed = None if chat.stream else speaker.unstreamed()
    if unstreamed is not None:
        return unstreamed
    emulator.paid[chat.prompt] += 1
    task = emulator.tasks.start(chat, base_url(request), image)
    return await speaker.respond(task, chat, fault)


def _image(chat: ChatRequest, emulator: Emulator, request: Request) -> ImageInput | None:
    if chat.image_url is None:
        return None
    try:
        return resolve_image_url(chat.image_url, emulator.files_dir, request.url.netloc)
    except ValueError as exc:
        raise BadRequest(f"The image_url cannot be read: {exc}.", param="messages") from None


async def _whole_completion(task: Task, meta: tx.ChunkMeta, fault: str | None) -> Response:
    """``stream: false``: wait for the task, answer with its whole
    transcript.
    """
    index = 0
    while await task.entry(index) is not None:
        index += 1
    if fault == "error-in-stream":
        message = "The upstream video service failed (emulated)."
        return openai_error(500, message, type_="server_error", code=None)
    entries = task.entries
    if fault == "no-video":
        entries = [entry for entry in entries if entry.kind != "completed"]
    content = "".join(entry.text for entry in entries)
    response = JSONResponse(tx.completion_json(meta, content))
    return _CutResponse(response) if fault == "cut" else response


class _CutResponse(Response):
    """Half of a response's body, then the connection drops (fault ``cut``
    without stream).
    """

    def __init__(self, whole: Response) -> None:
        self._whole = whole

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        whole = self._whole
        start = {"type": "http.response.start", "status": 200, "headers": whole.raw_headers}
        await send(start)
        half = bytes(whole.body[: len(whole.body) // 2])
        await send({"type": "http.response.body", "body": half, "more_body": True})
        raise StreamCut("emulated transport cut")


def base_url(request: Request) -> str:
    """Where the client reached us."""
    # Links point wherever the client reached us, so any host and port works.
    return str(request.base_url).rstrip("/")
