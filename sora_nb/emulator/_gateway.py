"""What every emulated gateway shares: keys, bodies, tasks, links, limits
(docs/dialects.md).

A gateway's file (``_newapi``, ``_litellm``, ``_openrouter``, ``_xai``,
``_reseller``) only shapes JSON and routes; the tasks are the emulator's usual
ones, so faults and timing apply. Faults special to gateways: ``expired`` (the
task ends expired), ``one-time-link`` (the result link answers once, then 410),
``synonyms`` (a reseller's other family of status words). A key may run ``GATE``
tasks at once; one more is answered 429 before anything is paid.

Result links are put on the other loopback name (127.0.0.1 and localhost are two
origins), so a client that sent its key there would be seen doing it:
``Links.keyed`` counts such fetches.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from ._faults import HTTP_FAULTS, Fault, http_fault_response, parse_fault, strip_fault_tag
from ._images import resolve_image_url
from ._request import ChatRequest, model_orientation
from ._tasks import Task

if TYPE_CHECKING:
    from ._app import Emulator

__all__ = [
    "GATE",
    "GatewaySpeaker",
    "Links",
    "Started",
    "content_route",
    "find_task",
    "install_state",
    "key_of",
    "keyed_body",
    "phase",
    "read_body",
    "start",
    "status_route",
]

GATE = 3  # tasks one key may run at once (new-api's per-key concurrency gate)
Phase = Literal["queued", "running", "completed", "failed", "expired"]


def emulator_of(request: Request) -> Emulator:
    emulator: Emulator = request.app.state.emulator
    return emulator


def error(status: int, message: str, type_: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": type_}}, status_code=status)


def refused(request: Request) -> Response | None:
    """401 in OpenAI's shape for a missing or unknown key."""
    if not emulator_of(request).authorized(request.headers.get("authorization")):
        return error(401, "Invalid API key: send Authorization: Bearer <key> (emulated gateway).")
    return None


async def keyed_body(request: Request) -> dict[str, Any] | Response:
    """A create's body, once the key is checked (a bad key is a 401 before the
    body).
    """
    refusal = refused(request)
    return refusal if refusal is not None else await read_body(request)


def find_task(request: Request, missing: str, own_ids: bool = False) -> Task | Response:
    """The task the path's ``{id}`` names (a gateway's own id when ``own_ids``:
    LiteLLM's, xAI's), else the gateway's refusal: 401 for a bad key, 404 saying
    ``missing``.
    """
    refusal = refused(request)
    if refusal is not None:
        return refusal
    task_id = request.path_params["id"]
    if own_ids:
        task_id = request.app.state.public_ids.get(task_id, "")
    task = emulator_of(request).tasks.get(task_id)
    return task if task is not None else error(404, missing)


def status_route(
    missing: str, answer: Callable[[Request, Task], Response], own_ids: bool = False
) -> Callable[[Request], Awaitable[Response]]:
    """A gateway's ``GET …/{id}``: its task in the gateway's shape
    (``answer``).
    """

    async def status(request: Request) -> Response:
        task = find_task(request, missing, own_ids)
        return task if isinstance(task, Response) else answer(request, task)

    return status


def content_route(missing: str, own_ids: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """A gateway's ``GET …/{id}/content`` behind the key
    (``?variant=thumbnail``: the poster).
    """

    async def content(request: Request) -> Response:
        task = find_task(request, missing, own_ids)
        if isinstance(task, Response):
            return task
        return file_response(request, task, request.query_params.get("variant") == "thumbnail")

    return content


def key_of(request: Request) -> str:
    return request.headers.get("authorization", "").partition(" ")[2].strip()


_IMAGE_MAGIC = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"RIFF": "image/webp",
                b"GIF8": "image/gif"}  # fmt: skip


async def read_body(request: Request) -> dict[str, Any] | Response:
    """A JSON body, or a multipart form (a file part becomes a ``data:`` URI).

    As new-api reads a form (``readTaskInputReferenceFiles``): a file's type is
    sniffed from its bytes when the part says none, and a part that is no image
    is refused with 400. Each file part received is noted in ``state.uploads``
    (field, type, size).
    """
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        # closes the parts' spooled files after
        async with request.form() as form:
            return await _form_body(request, form.multi_items())
    try:
        obj = json.loads(await request.body())
    except ValueError:
        obj = None
    if not isinstance(obj, dict):
        return error(400, "The body must be a JSON object.")
    return obj


async def _form_body(request: Request, items: list[tuple[str, Any]]) -> dict[str, Any] | Response:
    out: dict[str, Any] = {}
    for key, value in items:
        if isinstance(value, UploadFile):
            content = await value.read()
            sniffed = next((m for magic, m in _IMAGE_MAGIC.items()
                            if content.startswith(magic)), None)  # fmt: skip
            if sniffed is None:
                return error(400, f"The file part {key!r} is not an image.",
                             "invalid_multipart_form")  # fmt: skip
            mime = value.content_type or sniffed
            mime = sniffed if mime == "application/octet-stream" else mime
            request.app.state.uploads.append((key, mime, len(content)))
            value = f"data:{mime};base64,{base64.b64encode(content).decode()}"
        out.setdefault(key.removesuffix("[]"), value)
    return out


@dataclass
class Started:
    """A task a gateway started, with the gateway's own id for it."""

    task: Task
    public_id: str


def _fault(request: Request, prompt: str, body: dict[str, Any]) -> tuple[str, Fault | None]:
    clean, tag = strip_fault_tag(prompt)
    spec = request.headers.get("x-sora-fault") or tag
    fault = parse_fault(spec) if spec else None
    if fault is not None and not emulator_of(request).faults.applies(
        fault, json.dumps(body, sort_keys=True).encode()
    ):
        fault = None
    return clean, fault


def start(
    request: Request,
    body: dict[str, Any],
    *,
    image: str | None = None,
    parent: Task | None = None,
    public_id: str | None = None,
    gate: bool = False,
) -> Started | Response:
    """Start (and bill) one task for ``body``, or answer as the gateway would
    refuse it.
    """
    emulator = emulator_of(request)
    model, prompt = body.get("model"), body.get("prompt")
    if not isinstance(model, str) or not model or not isinstance(prompt, str) or not prompt:
        return error(400, "model and prompt are required.")
    try:
        prompt, fault = _fault(request, prompt, body)
    except ValueError as exc:
        return error(400, str(exc))
    if fault is not None and fault.name in HTTP_FAULTS:
        return http_fault_response(fault.name)
    running = request.app.state.running.setdefault(key_of(request), set())
    running.intersection_update(t.id for t in emulator.tasks._tasks.values() if not t.finished)
    if gate and len(running) >= GATE:
        request.app.state.gated += 1
        return error(429, f"This key already runs {GATE} tasks: wait for one to finish.",
                     "rate_limit_error")  # fmt: skip
    try:
        picture = (
            resolve_image_url(image, emulator.files_dir, request.url.netloc) if image else None
        )
    except ValueError as exc:
        return error(400, f"The image cannot be read: {exc}.")
    chat = ChatRequest(
        model=model, stream=True, prompt=prompt,
        orientation=_orientation(body, model, parent),
        image_url=image, parent_sid=parent.sid if parent else None, fault=fault,
    )  # fmt: skip
    emulator.paid[prompt] += 1
    request.app.state.created.append(
        {key: value for key, value in body.items() if isinstance(value, (bool, int, float))
         or (isinstance(value, str) and len(value) < 200)}
    )  # fmt: skip
    task = emulator.tasks.start(chat, str(request.base_url).rstrip("/"), picture)
    running.add(task.id)
    return Started(task, public_id or task.id)


def _orientation(body: dict[str, Any], model: str, parent: Task | None) -> Any:
    ratio = str(body.get("aspect_ratio") or "")
    size = str(body.get("size") or "")
    if ratio == "9:16" or (size[:1].isdigit() and _tall(size)):
        return "portrait"
    if ratio in ("16:9", "4:3") or (size[:1].isdigit() and not _tall(size)):
        return "landscape"
    return model_orientation(model) or (parent.orientation if parent else "landscape")


def _tall(size: str) -> bool:
    width, _, height = size.partition("x")
    return width.isdigit() and height.isdigit() and int(height) > int(width)


def phase(task: Task) -> Phase:
    """Where a task is, with the ``expired`` fault applied to its end."""
    fault = task.request.fault.name if task.request.fault else None
    if task.status == "completed" and fault == "expired":
        return "expired"
    if task.status == "completed" and task.video_file is None:
        return "running"
    return task.status


def fault_of(task: Task) -> str | None:
    return task.request.fault.name if task.request.fault else None


@dataclass
class Links:
    """Signed result links on the other loopback origin; one-time ones answer
    once.
    """

    # token → (file, once)
    tokens: dict[str, tuple[str, bool]] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    fetches: int = 0
    keyed: int = 0  # fetches that carried an Authorization header: must stay 0

    def mint(self, request: Request, file: str, once: bool) -> str:
        """A link to ``file``: the same one each time, but a one-time link once
        used is replaced by a new one (the next status answer carries a link
        that works).
        """
        for token, (name, _) in self.tokens.items():
            if name == file and token not in self.used:
                return self._url(request, token)
        token = secrets.token_urlsafe(12)
        self.tokens[token] = (file, once)
        return self._url(request, token)

    def fetchable(self, token: str) -> bool:
        """Whether a fetch of the link now would get the file, as a gateway's
        would.
        """
        return token in self.tokens and token not in self.used

    @staticmethod
    def _url(request: Request, token: str) -> str:
        host = "localhost" if request.url.hostname != "localhost" else "127.0.0.1"
        expires = int(time.time()) + 3600
        return f"{request.url.scheme}://{host}:{request.url.port}/signed/{token}/video.mp4" \
            f"?expires={expires}&sig={secrets.token_hex(8)}"  # fmt: skip


def links(request: Request) -> Links:
    found: Links = request.app.state.links
    return found


async def signed(request: Request) -> Response:
    """A signed link's file; a one-time link answers 410 once used (fault
    ``one-time-link``).
    """
    state = links(request)
    token = request.path_params["token"]
    state.fetches += 1
    if "authorization" in request.headers:
        state.keyed += 1
    if token not in state.tokens or token in state.used:
        return error(410, "This link has expired.", "expired")
    name, once = state.tokens[token]
    if once:
        state.used.add(token)
    path = emulator_of(request).files_dir / name
    return FileResponse(path, media_type="video/mp4")


def file_response(request: Request, task: Task, thumbnail: bool = False) -> Response:
    """The finished video (or its thumbnail) behind the key."""
    name = task.thumbnail_file if thumbnail else task.video_file
    if task.status != "completed" or name is None:
        return error(400, f"The task is not completed yet (status: {phase(task)}).")
    media = "image/webp" if thumbnail else "video/mp4"
    return FileResponse(emulator_of(request).files_dir / name, media_type=media)


def shared_routes() -> list[Route]:
    return [Route("/signed/{token}/video.mp4", signed, methods=["GET", "HEAD"])]


def model_rows(names: list[str], owner: str, **extra: Any) -> list[dict[str, Any]]:
    """``/v1/models`` rows in OpenAI's shape, with a gateway's extra fields."""
    return [{"id": n, "object": "model", "created": 0, "owned_by": owner} | extra for n in names]


class GatewaySpeaker:
    """A gateway the emulator speaks (``_app.Speaker``): its routes, and the
    shared link one.
    """

    def __init__(self, name: str, own_routes: Callable[[], list[Route]]) -> None:
        self.name = name
        self.hint = f" and SORA_DIALECT={name}"
        self._own_routes = own_routes

    def routes(self) -> list[Route]:
        return [*self._own_routes(), *shared_routes()]


def install_state(state: Any) -> None:
    """What the gateways keep per app: their own ids, poll counts, running
    tasks, links.
    """
    # a gateway's own task ids (LiteLLM's, xAI's) → the emulator's
    state.public_ids = {}
    state.poll_counts = {}
    # key → its running task ids (new-api's concurrency gate)
    state.running = {}
    state.links = Links()
    state.gated = 0  # creates the per-key gate answered 429
    # (field, media type, size) of each multipart file part received
    state.uploads = []
    # continuations that sent their parent video inline (xAI)
    state.inline_parents = 0
    # each create's scalar fields (model, duration, …), as received
    state.created = []
