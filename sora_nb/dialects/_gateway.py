"""The task API every gateway has a version of: create, poll, find the video,
continue.

Each gateway module (``newapi``, ``litellm``, ``openrouter``, ``xai``,
``reseller``) is a ``Gateway``: its create path, body, status path, result and
continuation routes. This engine does the rest the same way for all, and reports
the same typed events as a chat stream. Nothing is renamed: the model name goes
as written (docs/dialects.md, "Gateways").
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from .._callback import call as _call
from .._exceptions import (
    APIStatusError,
    GenerationFailed,
    InvalidRequest,
    StreamInterrupted,
)
from .._messages import t
from ..records._ask import Ask, extras
from ..records._model import PendingTask, Request, Task
from ..records._video import Video
from ..wire._events import (
    CompletedEvent,
    FailedEvent,
    ProgressEvent,
    StatusEvent,
    TaskEvent,
)
from ..wire._protocol import SourceStatus, completion_tail
from ._base import Dialect, EventCallback, Files, Relay
from ._catalog import (
    Capabilities,
    ContinuationKind,
    capabilities_for,
    check_options,
    from_openrouter,
)
from ._frames import last_frame_png
from ._polling import VideosPollLost, follow, json_object, poll
from ._words import percent, phase

__all__ = ["Body", "Created", "Gateway", "GatewayAPI", "GatewayDialect", "Route", "size_of"]
#: A ``POST`` with the client's retries: JSON, or multipart with file parts.
Send = Callable[..., Awaitable[httpx.Response]]
#: One ``GET`` with the key (a poll): no retry, the status left to the caller.
Get = Callable[[str], Awaitable[httpx.Response]]
#: A create or continuation body from the request (and a continuation's parent).
Body = Callable[[Request, "Video | None"], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Route:
    """A gateway's own continuation: ``POST path`` (``{id}``: the parent)."""

    path: str
    body: Body


@dataclass(frozen=True, slots=True)
class Gateway:
    """One gateway's shapes; the engine below reads nothing else about it."""

    name: str
    title: str
    create_path: str
    status_path: str  # ``{id}`` is the task id
    body: Body
    # the video behind the key, when the status has no link
    content_path: str | None = None
    routes: Mapping[ContinuationKind, Route] = field(default_factory=dict)
    models_path: str | None = "/v1/models"
    #: Which continuations a model has on this gateway, beyond the table.
    route_for_model: Callable[[str, ContinuationKind], bool] = lambda model, kind: True
    #: Fields this gateway's body has no place for (refused before sending).
    no_field: tuple[str, ...] = ()
    #: Where to poll when ``status_path`` answers 501 (new-api's own route).
    fallback_status_path: str | None = None
    #: Body fields the gateway takes as a file: a local image goes as a
    #: multipart file part.
    file_fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Created:
    """A task the gateway accepted: its id and where its status is."""

    task_id: str
    status_url: str


def size_of(options: dict[str, Any], orientation: str | None) -> str | None:
    """OpenAI's ``size`` ("1280x720") from an aspect ratio and a resolution, if
    either is set.
    """
    ratio = options.get("aspect_ratio") or ratio_of(orientation)
    if ratio is None and options.get("resolution") is None:
        return None
    lines = {"480p": 480, "720p": 720, "1080p": 1080}.get(options.get("resolution") or "", 720)
    long_side = {480: 854, 720: 1280, 1080: 1920}[lines]
    if ratio == "9:16":
        return f"{lines}x{long_side}"
    if ratio == "1:1":
        return f"{lines}x{lines}"
    return f"{long_side}x{lines}"


def openai_body(request: Request, parent: Video | None) -> dict[str, Any]:
    """The OpenAI Videos create body: ``seconds`` and ``size``, the image as a
    reference.
    """
    body: dict[str, Any] = {"model": request.model, "prompt": request.prompt}
    if request.options.get("duration") is not None:
        body["seconds"] = str(request.options["duration"])
    size = size_of(request.options, request.orientation)
    if size:
        body["size"] = size
    if request.image:
        body["input_reference"] = request.image
    return body


def upload(body: dict[str, Any], fields: tuple[str, ...]) -> tuple[dict[str, Any], Files | None]:
    """``body`` as a multipart form when one of ``fields`` holds a ``data:`` URI
    (an image the user gave as a file): that field becomes a file part, the rest
    text fields, and a nested object is spread into them (new-api reads unknown
    form fields as ``metadata``). The OpenAI Videos shape takes
    ``input_reference`` as a file this way.
    """
    files = {key: part for key in fields if (part := _file_part(body.get(key))) is not None}
    if not files:
        return body, None
    form: dict[str, Any] = {}
    for key, value in body.items():
        if key in files or value is None:
            continue
        items = value.items() if isinstance(value, dict) else [(key, value)]
        form.update((name, _form_text(item)) for name, item in items if item is not None)
    return form, files


def _file_part(value: Any) -> tuple[str, bytes, str] | None:
    """A ``data:image/…;base64,`` URI as a file part (validated when the Ask was
    built).
    """
    if not isinstance(value, str) or not value.startswith("data:"):
        return None
    head, _, data = value.partition(",")
    mime = head[5:].split(";", 1)[0] or "image/png"
    try:
        content = base64.b64decode(data, validate=True)
    except ValueError:
        return None
    return f"image.{mime.rsplit('/', 1)[-1]}", content, mime


def _form_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def ratio_of(orientation: str | None) -> str | None:
    """The aspect ratio an orientation names, for gateways that take ratios."""
    return {"portrait": "9:16", "landscape": "16:9"}.get(orientation or "")


class _Unimplemented(Exception):
    """The status route answered 501: the gateway has another for the task."""


class GatewayAPI:
    """One gateway, reached through the client's HTTP layer (its retries, auth,
    redaction).
    """

    def __init__(
        self,
        gateway: Gateway,
        base_url: str,
        get: Get,
        send: Send,
        poll_interval: Callable[[], float],
        redact: Callable[[str], str],
    ) -> None:
        self.gateway = gateway
        self.base_url = base_url
        self._get = get
        self._send = send
        # read when used: a caller may change it
        self._poll_interval = poll_interval
        self._redact = redact
        self._listed: dict[str, Capabilities] = {}

    # -- what a model takes ----------------------------------------------------

    def capabilities(self, model: str) -> Capabilities | None:
        """What the gateway listed for ``model``, else the table."""
        return self._listed.get(model) or capabilities_for(model)

    def continuations(self, model: str) -> tuple[ContinuationKind, ...]:
        """The continuations ``model`` has here: the gateway's routes it takes,
        then its frame.
        """
        caps = self.capabilities(model)
        offered: list[ContinuationKind] = []
        for kind in self.gateway.routes:
            known = caps is None or not caps.continuations or kind in caps.continuations
            if known and self.gateway.route_for_model(model, kind):
                offered.append(kind)
        if caps is None or caps.first_frame is not False:
            offered.append("last-frame")
        return tuple(offered)

    def check(self, request: Request, parent: Video | None) -> None:
        """Refuse what this gateway or model cannot take, before sending."""
        options = request.options
        for name in self.gateway.no_field:
            if options.get(name) not in (None, False):
                raise InvalidRequest(t("gateway.no_field", gateway=self.gateway.title, what=name))
        check_options(self.capabilities(request.model), options, request.image)
        kind = options.get("how") if parent is not None else None
        if kind is not None and kind not in self.continuations(request.model):
            offered = ", ".join(self.continuations(request.model)) or t("gateway.none")
            raise InvalidRequest(
                t("gateway.no_continuation", model=request.model, kind=kind, offered=offered)
            )

    # -- creating a task -------------------------------------------------------

    def status_url(self, task_id: str) -> str:
        """``GET`` here for the task's status."""
        return self.base_url + self.gateway.status_path.format(id=quote(task_id, safe=""))

    def fallback_url(self, task_id: str) -> str:
        """The gateway's other status route (``fallback_status_path``)."""
        path = self.gateway.fallback_status_path or self.gateway.status_path
        return self.base_url + path.format(id=quote(task_id, safe=""))

    async def create(
        self, request: Request, parent: Video | None, on_event: EventCallback | None,
        parent_source: str | None = None,
    ) -> Created:  # fmt: skip
        """Create the task (or the gateway's own continuation of ``parent``)
        exactly once; ``parent_source`` is what to send for the parent's video,
        when not its link.
        """
        if parent is not None and parent_source:
            # for the body alone
            parent = replace(parent, video_url=parent_source)
        path, body = self._route(request, parent)
        form, files = upload(body, self.gateway.file_fields)
        # One request either way, through the client's one path (its admission
        # and retries).
        response = await (self._send(path, form, files) if files else self._send(path, body))
        obj = self._json(response)
        task_id = next((obj[k] for k in ("id", "request_id", "task_id") if _text(obj.get(k))), None)
        if task_id is None and isinstance(obj.get("data"), dict):
            task_id = obj["data"].get("task_id") or obj["data"].get("id")
        if not isinstance(task_id, str) or not task_id:
            raise APIStatusError(t("videos.no_id"), status_code=response.status_code)
        polling = obj.get("polling_url")
        status_url = (
            self._absolute(polling) if isinstance(polling, str) and polling
            else self.status_url(task_id)
        )  # fmt: skip
        await _call(on_event, TaskEvent(task_id, None, status_url))
        return Created(task_id, status_url)

    def _route(self, request: Request, parent: Video | None) -> tuple[str, dict[str, Any]]:
        kind = request.options.get("how")
        route = self.gateway.routes.get(kind) if parent is not None and kind else None
        if parent is None or route is None:
            return self.gateway.create_path, self.gateway.body(request, None)
        task = quote(parent.handle or parent.task_id or "", safe="")
        return route.path.format(id=task), route.body(request, parent)

    async def fresh_link(self, task_id: str) -> str | None:
        """The finished task's link as its status gives it now (one free
        ``GET``), else None.
        """
        try:
            response = await self._get(self.status_url(task_id))
        except httpx.HTTPError:
            return None
        obj = _task_layer(self._json(response)) if response.is_success else {}
        if phase(_status_word(obj)) != "completed":
            return None
        return self._result_url(task_id, obj)

    # -- following a task ------------------------------------------------------

    async def wait(
        self, task_id: str, status_url: str, on_event: EventCallback | None, deadline: float
    ) -> SourceStatus:
        """Poll until the task ends: its status, or ``GenerationFailed``."""
        now, shown, url = "", -1, status_url

        async def poll_once() -> tuple[dict[str, Any] | None, str]:
            nonlocal url
            try:
                return await self._poll_once(url, task_id, deadline)
            except _Unimplemented:
                url = self.fallback_url(task_id)
                return await self._poll_once(url, task_id, deadline)

        async def report(obj: dict[str, Any]) -> SourceStatus | None:
            nonlocal now, shown
            done = await self._report(task_id, obj, on_event, now, shown)
            if isinstance(done, SourceStatus):
                return done
            now, shown = done
            return None

        return await follow(poll_once, report, on_event, deadline, self._poll_interval)

    async def _poll_once(
        self, url: str, task_id: str, deadline: float
    ) -> tuple[dict[str, Any] | None, str]:
        other = self.gateway.fallback_status_path and self.fallback_url(task_id)
        own = frozenset({501}) if other and url != other else frozenset()
        response = await poll(self._get, url, deadline, self._redact, own)
        if isinstance(response, str):
            return None, response
        if response.status_code == 501:
            raise _Unimplemented  # new-api: a channel with no OpenAI status
        if not response.is_success:
            message = _error_text(_task_layer(self._json(response))) or response.reason_phrase
            raise APIStatusError(
                t("videos.status", status=response.status_code, task=task_id, message=message),
                status_code=response.status_code,
            )
        return self._json(response), ""

    async def _report(
        self, task_id: str, obj: dict[str, Any], on_event: EventCallback | None, now: str,
        shown: int,
    ) -> SourceStatus | tuple[str, int]:  # fmt: skip
        obj = _task_layer(obj)
        word = _status_word(obj)
        where = phase(word)
        if where == "failed":
            reason = _error_text(obj) or t("gateway.ended", word=word)
            await _call(on_event, FailedEvent(reason, task_id))
            raise GenerationFailed(reason, task_id=task_id)
        if where == "completed":
            return await self._completed(task_id, obj, on_event, shown)
        state = "queued" if where in (None, "queued") and not _progress(obj) else "generating"
        if state != now:
            await _call(on_event, StatusEvent(state))  # type: ignore[arg-type]
            if shown < 0:
                await _call(on_event, ProgressEvent(0))
                shown = 0
        value = _progress(obj)
        if value is not None and value > shown:
            shown = min(99, value)  # 100 only once the video is there
            await _call(on_event, ProgressEvent(shown))
        return state, shown

    async def _completed(
        self, task_id: str, obj: dict[str, Any], on_event: EventCallback | None, shown: int
    ) -> SourceStatus:
        url = self._result_url(task_id, obj)
        if url is None:
            reason = t("gateway.no_link", gateway=self.gateway.title)
            await _call(on_event, FailedEvent(reason, task_id))
            raise GenerationFailed(reason, task_id=task_id)
        if shown < 100:
            await _call(on_event, ProgressEvent(100))
        thumb = _first_text(obj, ("thumbnail_url", "cover_url"))
        thumb = self._absolute(thumb) if thumb else None
        await _call(on_event, CompletedEvent(None, thumb, url))
        # new-api's own route names the model here
        properties = obj.get("properties")
        named = properties.get("origin_model_name") if isinstance(properties, dict) else None
        model = obj.get("model") or named
        return SourceStatus("completed", 100, url, thumb, None, None,
                            model=model if isinstance(model, str) else None)  # fmt: skip

    def _result_url(self, task_id: str, obj: dict[str, Any]) -> str | None:
        """The video's link from the status, else the content route."""
        found = _link(obj)
        if found is not None:
            return self._absolute(found)
        if self.gateway.content_path is None:
            return None
        return self.base_url + self.gateway.content_path.format(id=quote(task_id, safe=""))

    def _absolute(self, url: str) -> str:
        """A relative link (grok2api's ``/v1/…``) is on the gateway's origin."""
        return str(httpx.URL(self.base_url + "/").join(url)) if url.startswith("/") else url

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        return json_object(response, self._redact)


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


_STATUS_KEYS = ("status", "state", "task_status")


def _task_layer(obj: dict[str, Any]) -> dict[str, Any]:
    """The part of a status answer that is the task. new-api's own route wraps
    its task record as ``{"code": "success", "data": {...}}``; the other answers
    are the task.
    """
    data = obj.get("data")
    if isinstance(data, dict) and not any(_text(obj.get(k)) for k in _STATUS_KEYS):
        return data
    return obj


def _status_word(obj: dict[str, Any]) -> str:
    data = obj.get("data")
    for layer in (obj, data if isinstance(data, dict) else {}):
        for key in _STATUS_KEYS:
            if _text(layer.get(key)):
                return str(layer[key])
    return ""


def _progress(obj: dict[str, Any]) -> int | None:
    return percent(obj.get("progress"))


def _first_text(obj: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    return next((str(obj[k]) for k in keys if _text(obj.get(k))), None)


def _link(obj: dict[str, Any]) -> str | None:
    """Where gateways put the finished video's link, most specific first."""
    video = obj.get("video")
    if isinstance(video, dict) and _text(video.get("url")):
        return str(video["url"])
    for key in ("urls", "output", "video_urls", "unsigned_urls"):
        items = obj.get(key)
        if isinstance(items, list) and items and _text(items[0]):
            return str(items[0])
        if key == "output" and _text(items):
            return str(items)
    found = _first_text(obj, ("video_url", "url", "result_url"))
    if found is None and isinstance(obj.get("data"), dict):
        return _link(obj["data"])
    return found


def _error_text(obj: dict[str, Any]) -> str:
    error = obj.get("error")
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    if _text(error):
        return str(error)
    return _first_text(obj, ("fail_reason", "failure_reason", "failure", "message")) or ""


class GatewayDialect(Dialect):
    """A gateway as a ``Dialect`` (``_base``): each gateway module subclasses it
    once with its ``Gateway`` (docs/dialects.md, "Gateways").
    """

    gateway: ClassVar[Gateway]

    def __init__(self, relay: Relay) -> None:
        super().__init__(relay)
        self.api = GatewayAPI(
            self.gateway, relay.base_url, relay.get, relay.post, lambda: relay.poll_interval,
            relay.redact,
        )  # fmt: skip

    def continuations(self, model: str) -> tuple[str, ...]:
        return self.api.continuations(model)

    async def continue_from(self, ask: Ask, parent: Video) -> Ask:
        """An edit's Ask with how it continues ``parent``; from the last frame,
        that frame.
        """
        offered = self.api.continuations(parent.model or ask.model)
        how = ask.how or (offered[0] if offered else None)
        if how is None or how not in offered:
            shown = ", ".join(offered) or t("gateway.none")
            raise InvalidRequest(t("gateway.no_continuation", model=ask.model, kind=how,
                                   offered=shown))  # fmt: skip
        ask = replace(ask, how=how)
        if how != "last-frame" or ask.image is not None:
            return ask
        return replace(ask, image=await self._last_frame(parent))

    async def _last_frame(self, parent: Video) -> str:
        """The parent's last frame as a PNG ``data:`` URI."""
        try:
            frame = await asyncio.to_thread(last_frame_png, parent.local_path, None)
            if frame is None:
                response = await self.relay.get(parent.video_url)
                response.raise_for_status()
                frame = await asyncio.to_thread(last_frame_png, None, response.content)
        except (OSError, ValueError, httpx.HTTPError) as exc:
            detail = self.relay.redact(str(exc))
            raise InvalidRequest(t("gateway.no_parent_file", index=parent.turn,
                                   detail=detail)) from None  # fmt: skip
        assert frame is not None
        return "data:image/png;base64," + base64.b64encode(frame).decode("ascii")

    def request(self, ask: Ask, parent: Video | None = None) -> Request:
        """The prompt and model as written, and the Ask's options by name."""
        messages: list[dict[str, Any]] = [{"role": "user", "content": ask.prompt}]
        request = Request(ask.prompt, ask.model, ask.orientation, ask.image, messages,
                          extras(ask))  # fmt: skip
        self.api.check(request, parent)
        return request

    async def run(
        self, request: Request, parent: Video | None, on_event: EventCallback | None,
        deadline: float,
    ) -> Video:  # fmt: skip
        started, wall = time.monotonic(), time.time()
        self.api.check(request, parent)
        kind = request.options.get("how")
        source = None
        if parent is not None and kind in self.gateway.routes:
            source = await self.parent_source(parent)
        # The deadline bounds only the waits after a 429: a create in flight is
        # never cut off.
        created = await self.relay.admitted(
            on_event, lambda: self.api.create(request, parent, on_event, source), [], deadline
        )
        pending = PendingTask(request, Task(created.task_id, created.status_url), "", None, wall)
        return await self._collect(pending, parent, on_event, deadline, started)

    async def parent_source(self, parent: Video) -> str | None:
        """What to send for ``parent``'s video on the gateway's own continuation
        route (default: None, its link as recorded).
        """
        return None

    async def resume(
        self, pending: PendingTask, on_event: EventCallback | None, deadline: float
    ) -> Video:
        return await self._collect(pending, None, on_event, deadline, time.monotonic())

    def pending_for(self, task: str) -> PendingTask:
        task = task.strip()
        if task.startswith(("http://", "https://")):
            task_id = task.rstrip("/").rsplit("/", 1)[-1]
            return PendingTask(Request("", ""), Task(task_id, task))
        if not task or any(c.isspace() for c in task):
            raise InvalidRequest(t("videos.no_task_id"))
        return PendingTask(Request("", ""), Task(task, self.api.status_url(task)))

    async def models(self) -> list[str] | None:
        return [caps.model for caps in await self.capabilities()] or None

    async def capabilities(self) -> list[Capabilities]:
        """The gateway's listed video models with what each takes (its listing,
        else the documented table); an empty list where it lists none.
        """
        path = self.gateway.models_path
        if path is None:
            return []
        response = await self.relay.get(self.relay.base_url + path)
        if not response.is_success:
            return []
        rows = self.api._json(response).get("data")
        listed = [listed_capabilities(row) for row in rows or [] if isinstance(row, dict)]
        self.api._listed.update({c.model: c for c in listed if c.source == "gateway"})
        return [replace(c, continuations=self.api.continuations(c.model)) for c in listed]

    async def _collect(
        self, pending: PendingTask, parent: Video | None, on_event: EventCallback | None,
        deadline: float, started: float,
    ) -> Video:  # fmt: skip
        task = pending.task
        url = task.source_url or self.api.status_url(task.task_id)
        try:
            status = await self.api.wait(task.task_id, url, on_event, deadline)
        except VideosPollLost as exc:
            raise StreamInterrupted(
                t("client.poll_lost", task=task.task_id, detail=exc),
                task_id=task.task_id, source_url=url, pending=pending,
            ) from None  # fmt: skip
        assert status.video_url is not None
        request = pending.request
        # resumed by bare id: the gateway's word
        if not request.model and status.model:
            request = replace(request, model=status.model)
        tail = completion_tail(None, status.thumbnail_url, status.video_url)
        return Video(
            request, task, None, status.video_url, status.thumbnail_url, tail, None,
            created_at=pending.started_at, elapsed=time.monotonic() - started, parent=parent,
            dialect=self.name, continuations=self.api.continuations(request.model),
            handle=task.task_id,
        )  # fmt: skip


def listed_capabilities(row: dict[str, Any]) -> Capabilities:
    """One row of a gateway's model listing: OpenRouter's own capabilities, else
    the table.
    """
    if "supported_durations" in row:
        return from_openrouter(row)
    name = str(row.get("id") or "")
    return capabilities_for(name) or Capabilities(name, source="listed")
