"""The emulator's ASGI app: the relay's chat endpoint, its status and preview pages, its files."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hmac
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from . import (
    _flow2api,
    _gateway,
    _litellm,
    _newapi,
    _openrouter,
    _reseller,
    _sora2api,
    _videos,
    _xai,
)
from . import _transcript as tx
from ._faults import HTTP_FAULTS, FaultCounter, http_fault_response, openai_error, unauthorized
from ._ids import new_completion_id
from ._images import FILE_NAME, ImageInput, resolve_image_url
from ._media import MediaStore
from ._pages import preview_page
from ._request import MODELS, BadRequest, ChatRequest, Dialect, parse_chat_request
from ._stream import StreamCut, event_stream, install_log_filter
from ._tasks import Task, TaskStore, Timing

__all__ = ["DIALECTS", "Emulator", "create_app"]

#: What the emulator can speak (docs/dialects.md).
DIALECTS: tuple[Dialect, ...] = (
    "transcript", "sora2api", "videos",
    "newapi", "litellm", "openrouter", "xai", "grok2api", "flow2api", "reseller",
)  # fmt: skip
#: Each gateway's routes, one file each (docs/dialects.md, "Gateways").
_GATEWAY_ROUTES = {
    "newapi": _newapi.routes,
    "litellm": _litellm.routes,
    "openrouter": _openrouter.routes,
    "xai": _xai.routes,
    "grok2api": _xai.routes,
    "flow2api": _flow2api.routes,
    "reseller": _reseller.routes,
}


class Emulator:
    """The state behind one app: tasks, media, fault counters, and where files live."""

    def __init__(
        self,
        *,
        speed: float,
        api_key: str | None,
        data_dir: str | Path | None,
        dialect: Dialect = "transcript",
    ):
        if not speed > 0:
            raise ValueError(f"speed must be a positive number, not {speed!r}.")
        if dialect not in DIALECTS:
            raise ValueError(f"dialect must be one of {', '.join(DIALECTS)}, not {dialect!r}.")
        self.dialect = dialect
        self.api_key = api_key or None
        self._owned_dir = data_dir is None
        root = Path(tempfile.mkdtemp(prefix="sora-nb-emulator-") if data_dir is None else data_dir)
        self.root = root
        self.files_dir = root / "files"
        self.files_dir.mkdir(parents=True, exist_ok=True)
        self.media = MediaStore(self.files_dir)
        self.tasks = TaskStore(self.media, Timing().at_speed(speed), root)
        self.faults = FaultCounter()
        # Tasks started (billed, on a real relay) per prompt: tests and benchmarks count them.
        self.paid: collections.Counter[str] = collections.Counter()
        # Generations a gateway cancelled because the client went away (flow2api does).
        self.cancelled: collections.Counter[str] = collections.Counter()
        self.loop: asyncio.AbstractEventLoop | None = None

    def authorized(self, header: str | None) -> bool:
        """A Bearer token: the configured key, or any non-empty one when none is set."""
        scheme, _, token = (header or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return False
        return self.api_key is None or hmac.compare_digest(token, self.api_key)

    async def aclose(self) -> None:
        """Cancel running tasks, stop the render workers, remove a temporary data dir."""
        await self.tasks.aclose()
        try:
            await asyncio.to_thread(self.media.close)
        except RuntimeError:
            # At interpreter exit (atexit → stop()) the default executor is already shut
            # down; the render pool has nothing left to do by then, so close it inline.
            self.media.close()
        if self._owned_dir:
            shutil.rmtree(self.root, ignore_errors=True)


def _base_url(request: Request) -> str:
    # Links point wherever the client reached us, so they work on any host and port.
    return str(request.base_url).rstrip("/")


async def chat_completions(request: Request) -> Response:
    emulator: Emulator = request.app.state.emulator
    if not emulator.authorized(request.headers.get("authorization")):
        return unauthorized()
    body = await request.body()
    try:
        chat = parse_chat_request(body, request.headers.get("x-sora-fault"), emulator.dialect)
        image = _image(chat, emulator, request)
    except BadRequest as exc:
        if emulator.dialect == "sora2api":  # its handler turns every error into a 500
            return openai_error(500, str(exc), type_="server_error", code=None)
        return openai_error(
            400, str(exc), type_="invalid_request_error", code=exc.code, param=exc.param
        )
    if chat.fault is not None and not emulator.faults.applies(chat.fault, body):
        chat = replace(chat, fault=None)
    fault = chat.fault.name if chat.fault else None
    if fault in HTTP_FAULTS:
        return http_fault_response(fault)
    if emulator.dialect == "sora2api" and not chat.stream:
        return _sora2api.completion()  # that relay generates nothing without a stream
    emulator.paid[chat.prompt] += 1
    task = emulator.tasks.start(chat, _base_url(request), image)
    if emulator.dialect == "sora2api":
        return _sora2api.event_stream(task, fault)
    meta = tx.ChunkMeta(new_completion_id(), int(time.time()), chat.model)
    if chat.stream:
        return event_stream(task, meta, fault)
    return await _whole_completion(task, meta, fault)


def _image(chat: ChatRequest, emulator: Emulator, request: Request) -> ImageInput | None:
    if chat.image_url is None:
        return None
    try:
        return resolve_image_url(chat.image_url, emulator.files_dir, request.url.netloc)
    except ValueError as exc:
        raise BadRequest(f"The image_url cannot be read: {exc}.", param="messages") from None


async def _whole_completion(task: Task, meta: tx.ChunkMeta, fault: str | None) -> Response:
    """``stream: false``: wait for the task, answer with its whole transcript."""
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
    """Half of a response's body, then the connection drops (fault ``cut`` without stream)."""

    def __init__(self, whole: Response) -> None:
        self._whole = whole

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        whole = self._whole
        start = {"type": "http.response.start", "status": 200, "headers": whole.raw_headers}
        await send(start)
        half = bytes(whole.body[: len(whole.body) // 2])
        await send({"type": "http.response.body", "body": half, "more_body": True})
        raise StreamCut("emulated transport cut")


async def source(request: Request) -> Response:
    task = _task(request)
    if task is None:
        return _no_task(request)
    return JSONResponse(task.as_json(_base_url(request)))


async def web(request: Request) -> Response:
    task = _task(request)
    if task is None:
        return HTMLResponse("<!doctype html><h1>No such task</h1>", status_code=404)
    return HTMLResponse(preview_page(task.as_json(_base_url(request))))


async def files(request: Request) -> Response:
    emulator: Emulator = request.app.state.emulator
    name = request.path_params["name"]
    path = emulator.files_dir / name
    if not FILE_NAME.match(name) or not path.is_file():
        return JSONResponse({"error": {"message": f"No file {name!r}.", "type": "not_found"}}, 404)
    media_type = "video/mp4" if name.endswith(".mp4") else "image/webp"
    return FileResponse(path, media_type=media_type)  # answers Range requests with 206


async def cdn(request: Request) -> Response:
    """A video behind a signed-looking link (``/cdn/{stem}/raw?…&sig=…``), as sora2api gives."""
    emulator: Emulator = request.app.state.emulator
    name = request.path_params["stem"] + ".mp4"
    path = emulator.files_dir / name
    if not FILE_NAME.match(name) or not path.is_file():
        return JSONResponse({"error": {"message": "No such blob.", "type": "not_found"}}, 404)
    return FileResponse(path, media_type="video/mp4")


async def models(request: Request) -> Response:
    emulator: Emulator = request.app.state.emulator
    if not emulator.authorized(request.headers.get("authorization")):
        return unauthorized()
    data = [{"id": name, "object": "model", "created": 0, "owned_by": "sora_nb"} for name in MODELS]
    return JSONResponse({"object": "list", "data": data})


async def index(request: Request) -> Response:
    base = _base_url(request)
    return JSONResponse(
        {
            "name": "sora_nb emulator",
            "dialect": request.app.state.emulator.dialect,
            "chat_completions": f"{base}/v1/chat/completions",
            "models": list(MODELS),
            "source": f"{base}/source/{{task_id}}",
            "preview": f"{base}/web/{{task_id}}",
        }
    )


def _task(request: Request) -> Task | None:
    emulator: Emulator = request.app.state.emulator
    return emulator.tasks.get(request.path_params["task_id"])


def _no_task(request: Request) -> Response:
    task_id = request.path_params["task_id"]
    message = f"No task {task_id!r} on this emulator: check the id from the `> ID:` line."
    error: dict[str, Any] = {"message": message, "type": "not_found", "code": "task_not_found"}
    return JSONResponse({"error": error}, status_code=404)


def create_app(
    *,
    speed: float = 1.0,
    api_key: str | None = None,
    data_dir: str | Path | None = None,
    dialect: Dialect = "transcript",
) -> Starlette:
    """The emulator as an ASGI app (see the package docstring for what it serves)."""
    emulator = Emulator(speed=speed, api_key=api_key, data_dir=data_dir, dialect=dialect)
    install_log_filter()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        emulator.loop = asyncio.get_running_loop()
        try:
            yield
        finally:
            await emulator.aclose()

    routes = [
        Route("/", index),
        Route("/v1/models", models),
        Route("/source/{task_id}", source),
        Route("/web/{task_id}", web),
        Route("/files/{name}", files, methods=["GET", "HEAD"]),
        Route("/cdn/{stem}/raw", cdn, methods=["GET", "HEAD"]),
    ]
    if dialect == "videos":
        routes[1:1] = _videos.routes()
    elif dialect in _GATEWAY_ROUTES:
        routes[1:2] = _GATEWAY_ROUTES[dialect]() + _gateway.shared_routes()
    else:
        routes.insert(1, Route("/v1/chat/completions", chat_completions, methods=["POST"]))
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.emulator = emulator
    app.state.poll_cuts = {}
    app.state.public_ids = {}  # a gateway's own task ids (LiteLLM's, xAI's) → the emulator's
    app.state.poll_counts = {}
    app.state.running = {}  # key → its running task ids (new-api's concurrency gate)
    app.state.links = _gateway.Links()
    app.state.gated = 0  # creates the per-key gate answered 429
    return app
