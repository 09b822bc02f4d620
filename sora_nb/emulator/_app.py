"""The emulator's ASGI app: the relay's chat endpoint, its status and preview
pages, its files.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hmac
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from . import (
    _flow2api,
    _gateway,
    _grok2api,
    _litellm,
    _newapi,
    _openrouter,
    _reseller,
    _sora2api,
    _transcript,
    _videos,
    _xai,
)
from ._chat import base_url as _base_url
from ._faults import FaultCounter, unauthorized
from ._images import FILE_NAME
from ._media import MediaStore
from ._pages import preview_page
from ._request import MODELS, Dialect
from ._stream import install_log_filter
from ._tasks import Task, TaskStore, Timing

__all__ = ["DIALECTS", "Emulator", "create_app"]


class Speaker(Protocol):
    """One dialect the emulator speaks: its file here gives its endpoints."""

    name: str
    hint: str  # what a client needs besides SORA_BASE_URL to speak it

    def routes(self) -> list[Route]: ...


#: What the emulator can speak (docs/dialects.md): one file here per dialect.
SPEAKERS: dict[str, Speaker] = {
    "transcript": _transcript.SPEAKER,
    "sora2api": _sora2api.SPEAKER,
    "videos": _videos.SPEAKER,
    # The gateways (docs/dialects.md, "Gateways"): one file each.
    "newapi": _newapi.SPEAKER,
    "litellm": _litellm.SPEAKER,
    "openrouter": _openrouter.SPEAKER,
    "xai": _xai.SPEAKER,
    "grok2api": _grok2api.SPEAKER,
    "flow2api": _flow2api.SPEAKER,
    "reseller": _reseller.SPEAKER,
}
DIALECTS: tuple[Dialect, ...] = tuple(SPEAKERS)  # type: ignore[arg-type]


class Emulator:
    """The state behind one app: tasks, media, fault counters, and where files
    live.
    """

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
        if dialect not in SPEAKERS:
            raise ValueError(f"dialect must be one of {', '.join(DIALECTS)}, not {dialect!r}.")
        self.dialect = dialect
        self.speaker: Speaker = SPEAKERS[dialect]
        self.api_key = api_key or None
        self._owned_dir = data_dir is None
        root = Path(tempfile.mkdtemp(prefix="sora-nb-emulator-") if data_dir is None else data_dir)
        self.root = root
        self.files_dir = root / "files"
        self.files_dir.mkdir(parents=True, exist_ok=True)
        self.media = MediaStore(self.files_dir)
        self.tasks = TaskStore(self.media, Timing().at_speed(speed), root)
        self.faults = FaultCounter()
        # Generations a gateway cancelled when the client left (flow2api does).
        self.cancelled: collections.Counter[str] = collections.Counter()
        # Tasks started (billed, on a real relay) per prompt: tests and
        # benchmarks count them.
        self.paid: collections.Counter[str] = collections.Counter()
        # Reads of a task's status (``/source``), as a client resuming it polls
        # them.
        self.status_reads = 0
        self.loop: asyncio.AbstractEventLoop | None = None

    def authorized(self, header: str | None) -> bool:
        """A Bearer token: the configured key, or any non-empty one when none is
        set.
        """
        scheme, _, token = (header or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return False
        return self.api_key is None or hmac.compare_digest(token, self.api_key)

    async def aclose(self) -> None:
        """Cancel running tasks, stop the render workers, remove a temporary
        data dir.
        """
        await self.tasks.aclose()
        try:
            await asyncio.to_thread(self.media.close)
        except RuntimeError:
            # At interpreter exit (atexit → stop()) the default executor is
            # already shut down; the render pool has nothing left to do by then,
            # so close it inline.
            self.media.close()
        if self._owned_dir:
            shutil.rmtree(self.root, ignore_errors=True)


async def source(request: Request) -> Response:
    task = _task(request)
    if task is None:
        return _no_task(request)
    request.app.state.emulator.status_reads += 1
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
    # answers Range requests with 206
    return FileResponse(path, media_type=media_type)


async def cdn(request: Request) -> Response:
    """A video behind a signed-looking link (``/cdn/{stem}/raw?…&sig=…``), as
    sora2api gives.
    """
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
    """The emulator as an ASGI app (see the package docstring for what it
    serves).
    """
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
    routes[1:1] = emulator.speaker.routes()  # the dialect's own endpoints
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.emulator = emulator
    app.state.poll_cuts = {}
    _gateway.install_state(app.state)
    return app
