"""The LiteLLM proxy (docs/dialects.md, "LiteLLM"): OpenAI's Videos API over
many providers.

Ids are ``video_`` + base64 of
``litellm:custom_llm_provider:…;model_id:…;video_id:…``, with ``=`` padding, a
few hundred characters long. Veo (gemini/) polls ``processing`` with a null
progress; Runway's progress is a 0-1 fraction, null once done; OpenAI's is
0-100. Remix works for openai/ models only; the others answer 500 as the proxy
does. Every answer carries the ``x-litellm-version`` header, which is how a
client can recognise the proxy for free.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import _gateway as gw
from ._living import NAMES
from ._tasks import Task

__all__ = ["SPEAKER", "routes"]

VERSION = {"x-litellm-version": "1.80.0"}


def _provider(model: str) -> str:
    return model.split("/", 1)[0] if "/" in model else "openai"


def _public_id(model: str) -> str:
    provider = _provider(model)
    upstream = {
        "gemini": f"models/{model.split('/', 1)[-1]}/operations/{secrets.token_hex(24)}",
        "runwayml": secrets.token_hex(16),
    }.get(provider, f"video_{secrets.token_hex(24)}")
    raw = f"litellm:custom_llm_provider:{provider};model_id:{model};video_id:{upstream}"
    return "video_" + base64.b64encode(raw.encode()).decode()


def _json(task: Task, public_id: str) -> dict[str, Any]:
    state, provider = gw.phase(task), _provider(task.request.model)
    progress: Any = task.progress
    if provider == "gemini":
        progress = None
    elif provider == "runwayml":
        progress = None if state == "completed" else round(task.progress / 100, 2)
    word = {"queued": "queued", "running": "in_progress", "completed": "completed"}.get(
        state, "failed"
    )
    if provider == "gemini" and state in ("queued", "running"):
        word = "processing"
    body: dict[str, Any] = {
        "id": public_id, "object": "video", "status": word, "created_at": task.created_at,
        "model": task.request.model, "progress": progress,
    }  # fmt: skip
    if word == "failed":
        body["error"] = {"code": "generation_failed", "message": task.failure_reason or "expired"}
    return body


def _ids(request: Request) -> dict[str, str]:
    found: dict[str, str] = request.app.state.public_ids
    return found


def _answer(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=VERSION)


async def create(request: Request) -> Response:
    body = await gw.keyed_body(request)
    if isinstance(body, Response):
        return body
    image = body.get("input_reference")
    public = _public_id(str(body.get("model") or ""))
    started = gw.start(request, body, image=image if isinstance(image, str) else None,
                       public_id=public)  # fmt: skip
    if isinstance(started, Response):
        return started
    _ids(request)[public] = started.task.id
    return _answer(_json(started.task, public))


_MISSING = "video not found"


def _versioned(
    route: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """``route`` with the proxy's version header on every answer, refusals
    too.
    """

    async def answer(request: Request) -> Response:
        response = await route(request)
        response.headers.update(VERSION)
        return response

    return answer


def _status(request: Request, task: Task) -> Response:
    return _answer(_json(task, request.path_params["id"]))


async def remix(request: Request) -> Response:
    parent = gw.find_task(request, _MISSING, own_ids=True)
    if isinstance(parent, Response):
        return parent
    provider = _provider(parent.request.model)
    if provider != "openai":
        message = f"litellm.APIConnectionError: Video remix is not supported by {provider}"
        return _answer({"error": {"message": message, "type": None, "code": "500"}}, 500)
    body = await gw.read_body(request)
    if isinstance(body, Response):
        return body
    public = _public_id(parent.request.model)
    started = gw.start(request, {"model": parent.request.model, **body}, parent=parent,
                       public_id=public)  # fmt: skip
    if isinstance(started, Response):
        return started
    _ids(request)[public] = started.task.id
    return _answer(_json(started.task, public))


async def models(request: Request) -> Response:
    refused = gw.refused(request)
    if refused is not None:
        return refused
    return _answer({"object": "list", "data": gw.model_rows(NAMES["litellm"], "openai")})


def routes() -> list[Route]:
    return [
        Route("/v1/models", models),
        Route("/v1/videos", create, methods=["POST"]),
        Route("/v1/videos/{id}", _versioned(gw.status_route(_MISSING, _status, own_ids=True))),
        Route("/v1/videos/{id}/content", _versioned(gw.content_route(_MISSING, own_ids=True))),
        Route("/v1/videos/{id}/remix", _versioned(remix), methods=["POST"]),
    ]


SPEAKER = gw.GatewaySpeaker("litellm", routes)
