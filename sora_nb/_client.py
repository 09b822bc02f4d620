"""The async client: one chat-completions stream per generation, recovered by task id.

A generation takes minutes and is billed whether or not the stream survives, so the client
never re-sends a request once the relay has started answering: retries happen only before
the stream begins (connect errors, 429, 5xx), and a stream that breaks or ends without a
video after the task id is known is finished by polling the task's source URL
(docs/protocol.md, "The resume rule").
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import math
import random
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import httpx

from . import _config, _guard
from ._callback import call as _call
from ._events import (
    CompletedEvent,
    Event,
    FailedEvent,
    JobEvent,
    ProgressEvent,
    StatusEvent,
)
from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    GenerationFailed,
    InvalidRequest,
    RateLimitError,
    StreamInterrupted,
)
from ._guard import (
    DeadlinePassed,
    Inflow,
    Overflow,
    describe,
    detached,
    detaching,
    request_error,
    sse_events,
    until,
)
from ._limiter import AdaptiveLimiter, limiter_for
from ._messages import t
from ._model import Message, PendingTask, Request, Task
from ._pools import POOL_LIMITS, Pools
from ._protocol import (
    ChatChunk,
    SourceStatus,
    TranscriptParser,
    completion_content,
    completion_tail,
    parse_chunk,
    parse_source,
)
from ._request import (
    MAX_IMAGE_BYTES,
    ImageInput,
    Prepared,
    build_body,
    model_info,
    prepare,
    validate_model,
    videos_remix_target,
)
from ._secret import BearerAuth, Secret, redact, shown_url
from ._video import Video
from ._videos_api import VideosAPI, VideosPollLost, videos_model

__all__ = ["DEFAULT_TIMEOUT", "EventCallback", "SoraClient", "make_request"]

logger = logging.getLogger("sora_nb")

EventCallback = Callable[[Event | JobEvent], object]

#: Streams are silent for minutes between progress lines: the read timeout is a gap between
#: bytes, not a whole request; ``deadline`` bounds a whole generation, resume included.
DEFAULT_TIMEOUT = httpx.Timeout(connect=15.0, read=600.0, write=60.0, pool=30.0)
DEFAULT_DEADLINE = 45 * 60.0


def make_request(turn: Prepared, messages: list[Message]) -> Request:
    """The request record for checked input and the exact messages that carry it."""
    return Request(turn.prompt, turn.model, turn.orientation, turn.image_url, messages)


class _Broken(Exception):
    """The transport failed after the response began (internal)."""


class SoraClient:
    """Async client for a sora-2 chat relay (or the embedded emulator).

    ``base_url`` defaults to ``$SORA_BASE_URL``, else the embedded emulator; ``api_key`` to
    ``$SORA_API_KEY``. Pass ``http_client`` or ``transport`` to control the HTTP layer.
    ``dialect`` (default ``$SORA_DIALECT``, else ``"chat"``) is ``"videos"`` for a relay of
    the Videos task API; both chat dialects are recognised from the stream.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | Secret | None = None,
        *,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = 2,
        deadline: float = DEFAULT_DEADLINE,
        poll_interval: float = 5.0,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_streams: int | None = None,
        dialect: str | None = None,
    ) -> None:
        api_key = Secret.of(api_key)  # from here on no frame holds the key itself
        base_url = (base_url or _config.env_base_url() or "").rstrip("/")
        self.uses_emulator = not base_url
        if not base_url:
            base_url = _config.embedded_emulator().url
        api_key = api_key or _config.env_api_key()
        if api_key is None and self.uses_emulator:
            api_key = Secret(_config.EMULATOR_API_KEY)
        # A password in user-info is never used (the key is the credential) nor shown.
        self.base_url = base_url = shown_url(_config.check_base_url(base_url))
        self.max_retries = max(0, int(max_retries))
        self.deadline = deadline
        self.poll_interval = poll_interval
        self._auth = BearerAuth(api_key, base_url) if api_key else None
        if isinstance(timeout, (int, float)):
            timeout = httpx.Timeout(float(timeout))
        self._timeout = timeout or DEFAULT_TIMEOUT
        self._transport = transport
        self._injected = http_client
        self._http: httpx.AsyncClient | None = None
        self._http_loop: asyncio.AbstractEventLoop | None = None
        self._sources: dict[str, str] = {}  # task id → source URL seen in a stream
        # Shared by every client of this relay in the process: the kernel's cap on streams.
        self._limiter: AdaptiveLimiter = limiter_for(base_url, max_streams)
        # "chat" reads either chat dialect from the stream; "videos" is the task API, which
        # only a setting can choose (docs/dialects.md).
        self.dialect = _dialect(dialect or _config.env_dialect())
        self._videos = (
            VideosAPI(base_url, self._client, self._auth, self._post, poll_interval, self._redact)
            if self.dialect == "videos"
            else None
        )

    def __repr__(self) -> str:
        key = "***" if self._auth else None
        return f"SoraClient(base_url={self.base_url!r}, api_key={key!r})"

    def _check_ready(self) -> None:
        """Refuse, before anything is sent, a real relay with no API key."""
        if self._auth is None and not self.uses_emulator:
            raise InvalidRequest("No API key: set SORA_API_KEY or run `%sora config --api-key`.")

    @property
    def has_api_key(self) -> bool:
        """Whether a key will be sent (the key itself is never exposed)."""
        return self._auth is not None

    # -- lifecycle ------------------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        if self._injected is not None:
            return self._injected
        loop = asyncio.get_running_loop()
        if self._http is None or self._http_loop is not loop or self._http.is_closed:
            # An AsyncClient's pool belongs to one event loop; scripts that call
            # asyncio.run() twice get a fresh one instead of a broken pool.
            # Small pools, as many as the relay's limit needs (``_pools``).
            transport = self._transport or Pools(self._limiter.ceiling)
            self._http = httpx.AsyncClient(
                timeout=self._timeout, transport=transport, limits=POOL_LIMITS
            )
            self._http_loop = loop
        return self._http

    async def aclose(self) -> None:
        """Close the connections this client opened (not an injected ``http_client``)."""
        if self._http is not None and self._http_loop is asyncio.get_running_loop():
            await self._http.aclose()
        self._http = None

    async def __aenter__(self) -> SoraClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- public API -----------------------------------------------------------------------

    async def stream(
        self, messages: list[Message], model: str = "sora-2", *, stream: bool = True
    ) -> AsyncIterator[Event]:
        """The events of one chat-completions request, as the relay sends them.

        Raises ``StreamInterrupted`` when the transport breaks after the task id is known
        (``resume()`` collects it) and ``APIConnectionError`` when it breaks before.
        """
        validate_model(model)
        if self._videos is not None:
            raise InvalidRequest("A Videos API relay has no chat stream: use generate().")
        parser = TranscriptParser()
        with detached():
            try:
                async with self._limiter.slot():
                    body = build_body(messages, model, stream=stream)
                    async for event in self._events(body, parser):
                        yield event
            except _Broken as exc:
                raise self._interrupted(parser, exc) from None

    async def generate(
        self,
        prompt: str,
        *,
        model: str = "sora-2",
        orientation: str | None = None,
        image: ImageInput = None,
        on_event: EventCallback | None = None,
    ) -> Video:
        """Make a new video and return it once finished (or raise a ``SoraError``)."""
        image = await self._inline_image(model, image)
        turn = prepare(prompt, model, orientation, image)
        messages: list[Message] = [{"role": "user", "content": turn.content}]
        return await self._run(make_request(turn, messages), on_event=on_event)

    async def edit(
        self,
        video: Video,
        prompt: str,
        *,
        model: str | None = None,
        orientation: str | None = None,
        image: ImageInput = None,
        on_event: EventCallback | None = None,
    ) -> Video:
        """Continuous modification: ``video`` with ``prompt`` applied, as a new video."""
        if not isinstance(video, Video):
            raise InvalidRequest(f"Can only edit a Video, not {type(video).__name__}.")
        if not video.remixable:
            raise InvalidRequest(
                "This video has no share id (sid) to remix it by: its relay gave none "
                "(a sora2api relay gives one only in watermark-free mode)."
            )
        image = await self._inline_image(model or video.model, image)
        turn = prepare(prompt, model or video.model, orientation, image)
        messages = video.next_messages(turn.content)
        return await self._run(make_request(turn, messages), parent=video, on_event=on_event)

    @detaching
    async def resume(
        self, task: str | PendingTask, *, on_event: EventCallback | None = None
    ) -> Video:
        """Collect a task whose stream was lost, by polling its source URL until it ends.

        ``task`` is a task id, its source URL, or the ``PendingTask`` of a
        ``StreamInterrupted``.
        """
        pending = task if isinstance(task, PendingTask) else self._pending_for(task)
        await _call(on_event, JobEvent("resuming", detail=pending.task_id))
        deadline = time.monotonic() + self.deadline
        if self._videos is not None:
            status = await self._wait_videos(self._videos, pending, on_event, deadline)
        else:
            status = await self._poll(pending, on_event, deadline)
        # Collected later: the elapsed time is wall-clock since the task started.
        return _video_from_source(pending, status, time.time() - pending.started_at, None)

    @detaching
    async def _inline_image(self, model: str, image: ImageInput) -> ImageInput:
        """An https image, fetched, for a sora2api model: those relays drop image links.

        The bytes then go inline as a ``data:`` URI, which is what the request records and
        sends (docs/dialects.md). The image's host is another origin, so no key goes there.
        """
        info = model_info(model) if isinstance(model, str) else None
        if info is None or info.dialect != "sora2api" or not isinstance(image, str):
            return image
        if not image.startswith("https://"):
            return image  # a path, a data: URI, or a link the checks refuse in one sentence
        data = bytearray()
        try:
            async with self._client().stream("GET", image, follow_redirects=True) as response:
                response.raise_for_status()
                async for piece in response.aiter_bytes():
                    data += piece
                    if len(data) > MAX_IMAGE_BYTES:
                        break  # prepare() refuses it by its size, in one sentence
        except httpx.HTTPError as exc:
            raise InvalidRequest(
                f"Could not fetch the image {image!r} to send it inline ({_describe(exc)}): "
                "pass a local file instead."
            ) from None
        return bytes(data)

    # -- recovery by task id or URL ------------------------------------------------------------

    def _pending_for(self, task: str) -> PendingTask:
        task = task.strip()
        if task.startswith(("http://", "https://")):
            source_url = _checked_url(task)
            task_id = task.rstrip("/").rsplit("/", 1)[-1]
        elif re.fullmatch(r"task_[A-Za-z0-9]+", task):
            task_id = task
            source_url = self._sources.get(task, f"{self.base_url}/source/{task}")
        else:
            raise InvalidRequest(
                f"{task!r} is neither a task id (task_…) nor a source URL: "
                "copy it from the progress line."
            )
        return PendingTask(_UNKNOWN, Task(task_id, source_url))

    @detaching
    async def _lookup(self, task: str) -> None:
        """Ask the relay once about a task id or URL; a 404 raises here, before a Session
        records a turn for it (docs/protocol.md, "The resume rule")."""
        pending = self._pending_for(task)
        if self._videos is None:  # the Videos API answers for its tasks when polled
            await self._poll_once(pending.source_url or f"{self.base_url}/source/{task}", "")

    # -- one generation ---------------------------------------------------------------------

    @detaching
    async def _run(
        self,
        request: Request,
        *,
        parent: Video | None = None,
        on_event: EventCallback | None = None,
    ) -> Video:
        """Send ``request`` (input already checked by ``prepare()``); return the video.

        ``generate`` and ``edit`` build the request; a ``Session`` builds and records it
        first, so what it records before sending is exactly what is sent.
        """
        if self._videos is not None:
            return await self._run_videos(self._videos, request, parent, on_event)
        started, wall = time.monotonic(), time.time()
        deadline = started + self.deadline
        parser = TranscriptParser()
        broken: _Broken | None = None
        body = build_body(request.messages, request.model)
        try:  # on the clock, whatever the relay sends (docs/protocol.md, "Promises")
            await until(deadline, self._consume(body, parser, on_event))
        except _Broken as exc:
            broken = exc
        except DeadlinePassed as exc:
            broken = _Broken(str(exc))
        if parser.failed is not None:
            raise GenerationFailed(parser.failed.reason, task_id=parser.task_id)
        echo = parser.echo.data if parser.echo else None
        task = _task(parser)
        if parser.completed is not None:
            done = parser.completed
            return Video(
                request,
                task,
                done.sid,
                done.video_url,
                done.thumbnail_url,
                parser.transcript,
                echo,
                created_at=wall,
                elapsed=time.monotonic() - started,
                parent=parent,
            )
        if task is None:
            if broken is not None:
                raise APIConnectionError(
                    f"The connection to the relay broke before a task was created: {broken}."
                )
            raise GenerationFailed(t("client.empty_stream"))
        reason = f"stream broke: {broken}" if broken else "stream ended without a video"
        logger.info("Resuming %s from its source URL (%s).", task.task_id, reason)
        await _call(on_event, JobEvent("resuming", detail=reason))
        pending = PendingTask(request, task, parser.transcript, echo, wall)
        status = await self._poll(pending, on_event, deadline, parser.percent or -1)
        return _video_from_source(pending, status, time.monotonic() - started, parent)

    async def _run_videos(
        self,
        videos: VideosAPI,
        request: Request,
        parent: Video | None,
        on_event: EventCallback | None,
    ) -> Video:
        """The Videos task API: create (or remix), then poll (docs/dialects.md)."""
        started, wall = time.monotonic(), time.time()
        request = replace(request, model=videos_model(request.model, request.orientation))
        target = videos_remix_target(request.messages)
        async with self._limiter.slot():
            await _call(on_event, JobEvent("sending"))
            if target is None:
                created = await videos.create(
                    request.model, request.prompt, request.image, on_event
                )
            else:
                created = await videos.remix(request.model, request.prompt, *target, on_event)
        pending = PendingTask(request, Task(created.task_id, created.status_url), "", None, wall)
        status = await self._wait_videos(videos, pending, on_event, started + self.deadline)
        return _video_from_source(pending, status, time.monotonic() - started, parent)

    async def _wait_videos(
        self,
        videos: VideosAPI,
        pending: PendingTask,
        on_event: EventCallback | None,
        deadline: float,
    ) -> SourceStatus:
        """Poll a Videos API task; lost polls give the task back as ``StreamInterrupted``."""
        task_id = pending.task.task_id
        try:
            return await videos.wait(task_id, on_event, deadline)
        except VideosPollLost as exc:
            raise StreamInterrupted(
                t("client.poll_lost", task=task_id, detail=exc),
                task_id=task_id,
                source_url=videos.status_url(task_id),
                pending=pending,
            ) from None

    async def _consume(
        self, body: dict[str, Any], parser: TranscriptParser, on_event: EventCallback | None
    ) -> None:
        # "sending" inside the slot: a batch journals the item then, not while it queues.
        async with self._limiter.slot():
            await _call(on_event, JobEvent("sending"))
            async with contextlib.aclosing(self._events(body, parser, on_event)) as events:
                async for event in events:
                    await _call(on_event, event)

    def _redact(self, text: str) -> str:
        """``text`` from the relay with the key masked, should the relay echo it."""
        return redact(text, self._auth.secret if self._auth else None)

    @staticmethod
    def _clean(chunk: ChatChunk, inflow: Inflow) -> ChatChunk:
        content = inflow.feed(chunk.content)
        reasoning = inflow.feed_reasoning(chunk.reasoning) if chunk.reasoning else ""
        if content == chunk.content and reasoning == chunk.reasoning:
            return chunk  # the usual chunk: nothing masked or held back, no copy to make
        return replace(chunk, content=content, reasoning=reasoning)

    # -- HTTP ---------------------------------------------------------------------------------

    async def _events(
        self,
        body: dict[str, Any],
        parser: TranscriptParser,
        on_event: EventCallback | None = None,
    ) -> AsyncGenerator[Event, None]:
        """Send ``body`` and yield the parsed events; ``_Broken`` if the transport fails.

        What the relay sends is redacted of the key and capped before the parser sees it.
        """
        response = await self._send(body, on_event=on_event)
        inflow = Inflow(self._auth.secret if self._auth else None, _guard.MAX_TRANSCRIPT)
        try:
            if response.headers.get("content-type", "").startswith("application/json"):
                for event in await self._whole_completion(response, parser):
                    yield event
                return
            # aclosing: leaving at [DONE] must finalize the SSE iterator now, on this loop,
            # not when the garbage collector finds it ("Task was destroyed but pending").
            sse_stream = sse_events(response, _guard.MAX_LINE)
            async with contextlib.aclosing(sse_stream) as messages:
                async for sse in messages:
                    chunk = parse_chunk(sse.data)
                    if chunk.done:
                        break
                    if chunk.error is not None:
                        for event in _drain(parser, inflow):
                            yield event
                        yield self._stream_error(parser, self._redact(chunk.error))
                        return
                    for event in parser.feed_chunk(self._clean(chunk, inflow)):
                        yield event
            for event in _drain(parser, inflow):
                yield event
        # A broken or garbled body, a line or transcript over its cap: the stream is over.
        except (httpx.TransportError, httpx.DecodingError, Overflow) as exc:
            for event in _drain(parser, inflow):
                yield event
            raise _Broken(describe(exc)) from exc
        finally:
            if parser.task_id and parser.source_url:
                self._sources[parser.task_id] = parser.source_url
            await response.aclose()

    @staticmethod
    def _stream_error(parser: TranscriptParser, message: str) -> FailedEvent:
        # An in-stream {"error": …} object: the relay gave up on this request.
        parser.failed = parser.failed or FailedEvent(message, parser.task_id)
        return parser.failed

    async def _whole_completion(
        self, response: httpx.Response, parser: TranscriptParser
    ) -> list[Event]:
        """``stream: false``, or a relay that answered a stream request with plain JSON."""
        try:
            obj = json.loads(self._redact((await response.aread()).decode("utf-8", "replace")))
        except ValueError:
            obj = None
        if isinstance(obj, dict) and obj.get("error"):
            chunk = parse_chunk(json.dumps(obj))
            return [self._stream_error(parser, chunk.error or "unknown error")]
        return parser.feed(completion_content(obj)) + parser.flush()

    async def _send(
        self,
        body: dict[str, Any],
        path: str = "/v1/chat/completions",
        on_event: EventCallback | None = None,
    ) -> httpx.Response:
        """POST with retries before the stream begins; returns an open 2xx response."""
        self._check_ready()
        client = self._client()
        url = f"{self.base_url}{path}"
        headers = {"Accept": "text/event-stream" if body.get("stream") else "application/json"}
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            request = client.build_request("POST", url, json=body, headers=headers)
            try:
                response = await client.send(request, stream=True, auth=self._auth)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                if last:
                    raise APIConnectionError(
                        t("client.no_connect", url=self.base_url, detail=_describe(exc))
                    ) from None
                await asyncio.sleep(_backoff(attempt))
                continue
            except httpx.TransportError as exc:
                raise APIConnectionError(
                    t("client.no_answer", url=self.base_url, detail=_describe(exc))
                ) from None
            except Exception as exc:  # a redirect loop, anyio's ExceptionGroup: one sentence
                raise request_error(exc, t("client.what_relay", url=self.base_url)) from None
            if response.is_success:
                self._limiter.succeeded()
                return response
            if response.status_code == 429:  # fewer streams at once, and a pause for everyone
                self._limiter.rate_limited(_retry_after(response))
            retry_after = await self._refuse(response, last)
            delay = retry_after if retry_after is not None else _backoff(attempt)
            # A progress view says "rate limited — retrying in N s", not "sending".
            retry = JobEvent("retrying", detail=str(response.status_code), delay=delay)
            await _call(on_event, retry)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        """A JSON POST to the Videos API, with the same retries and refusals, read whole."""
        response = await self._send(body, path)
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

    async def _refuse(self, response: httpx.Response, last: bool) -> float | None:
        """Raise for a non-2xx answer, or return how long to wait before retrying it."""
        await response.aread()
        await response.aclose()
        status = response.status_code
        message = _server_message(response, self._redact).rstrip(".")  # the sentence ends once
        if status in (401, 403):
            raise AuthenticationError(
                t("client.refused_key", status=status, message=message),
                status_code=status,
            )
        retryable = status == 429 or status >= 500
        if retryable and not last:
            return _retry_after(response)
        if status == 429:
            raise RateLimitError(
                t("client.rate_limited", message=message),
                status_code=status,
            )
        raise APIStatusError(t("client.status", status=status, message=message), status_code=status)

    # -- recovery by task id --------------------------------------------------------------------

    async def _poll(
        self,
        pending: PendingTask,
        on_event: EventCallback | None,
        deadline: float,
        percent: int = -1,
    ) -> SourceStatus:
        """Poll the source URL until the task completes or fails, or the deadline passes."""
        url = pending.source_url or f"{self.base_url}/source/{pending.task_id}"
        interval, misses, phase = min(1.0, self.poll_interval), 0, ""
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            try:
                status, last_error = await until(deadline, self._poll_once(url, last_error))
            except DeadlinePassed:
                break
            misses = misses + 1 if status is None else 0
            if misses >= 10:
                break
            if status is not None:
                if status.status == "failed":
                    reason = status.failure_reason or "the relay reported a failure"
                    await _call(on_event, FailedEvent(reason, pending.task_id))
                    raise GenerationFailed(reason, task_id=pending.task_id)
                if status.status == "completed" and status.video_url:
                    await _call(
                        on_event,
                        CompletedEvent(status.sid, status.thumbnail_url, status.video_url),
                    )
                    return status
                phase, percent = await self._report(status, on_event, phase, percent)
            await asyncio.sleep(max(0.0, min(interval, deadline - time.monotonic())))
            interval = min(interval * 1.5, self.poll_interval)
        raise StreamInterrupted(
            f"Task {pending.task_id} did not finish while polling {url} ({last_error}); "
            f"run `%sora resume {pending.task_id}` or SoraClient.resume() later.",
            task_id=pending.task_id,
            source_url=url,
            pending=pending,
        )

    async def _poll_once(self, url: str, last_error: str) -> tuple[SourceStatus | None, str]:
        try:
            response = await self._client().get(url, auth=self._auth)
        except httpx.HTTPError as exc:  # a reset, a garbled body, a redirect loop: a miss
            return None, _describe(exc)
        except Exception as exc:  # an invalid URL, anyio's ExceptionGroup: one sentence
            raise request_error(exc, t("client.what_status", url=url[:80])) from None
        if response.status_code == 404:  # the relay does not know the task: no use polling
            raise APIStatusError(
                f"The relay does not know this task ({self._redact(url)} answered 404); "
                "check the task id.",
                status_code=404,
            )
        if response.status_code in (401, 403):
            raise AuthenticationError(
                f"The relay refused the API key while polling the task "
                f"({response.status_code}); check SORA_API_KEY.",
                status_code=response.status_code,
            )
        if not response.is_success:
            return None, f"{response.status_code} {self._redact(response.reason_phrase)}"
        try:
            return parse_source(json.loads(self._redact(response.text))), last_error
        except ValueError:
            return None, "the source URL did not return JSON"

    @staticmethod
    async def _report(
        status: SourceStatus, on_event: EventCallback | None, phase: str, percent: int
    ) -> tuple[str, int]:
        if status.status in ("queued", "generating") and status.status != phase:
            phase = status.status
            await _call(on_event, StatusEvent(phase))  # type: ignore[arg-type]
        if status.progress is not None and status.progress > percent:
            percent = status.progress
            await _call(on_event, ProgressEvent(percent))
        return phase, percent

    def _interrupted(self, parser: TranscriptParser, exc: _Broken) -> Exception:
        if parser.task_id is None:
            return APIConnectionError(
                f"The connection to the relay broke before a task was created: {exc}."
            )
        return StreamInterrupted(
            t("client.broken", task=parser.task_id, detail=exc),
            task_id=parser.task_id,
            source_url=parser.source_url,
        )


# -- helpers ------------------------------------------------------------------------------------


#: The request of a task resumed by its id alone: the relay's status JSON may describe it.
_UNKNOWN = Request(prompt="", model="")


def _drain(parser: TranscriptParser, inflow: Inflow) -> list[Event]:
    """The end of a stream: what the redactor held back, then the parser's last events."""
    reasoning = inflow.flush_reasoning()
    events = parser.feed_reasoning(reasoning) if reasoning else []
    return events + parser.feed(inflow.flush()) + parser.flush()


def _task(parser: TranscriptParser) -> Task | None:
    """The task the stream announced, if it did."""
    if parser.task_id is None:
        return None
    return Task(parser.task_id, parser.source_url, parser.preview_url)


def _video_from_source(
    pending: PendingTask, status: SourceStatus, elapsed: float, parent: Video | None
) -> Video:
    """The video of a task collected from its status URL."""
    assert status.video_url is not None
    request = pending.request
    if not request.prompt:  # resumed by bare task id: the relay's description stands instead
        request = Request(status.prompt or "", status.model or "", status.orientation)
    tail = completion_tail(status.sid, status.thumbnail_url, status.video_url)
    return Video(
        request,
        pending.task,
        status.sid,
        status.video_url,
        status.thumbnail_url,
        pending.transcript + tail,
        pending.echo,
        created_at=pending.started_at,
        elapsed=elapsed,
        parent=parent,
    )


def _checked_url(url: str) -> str:
    """``url`` if httpx can send to it; else one sentence, before anything is sent."""
    try:
        httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise InvalidRequest(
            f"{url[:80]!r} is not a valid source URL ({exc}): copy it from the progress line."
        ) from None
    return url


def _dialect(name: str | None) -> str:
    """``chat`` (both chat dialects, told apart by the stream) or ``videos``."""
    name = (name or "chat").strip().lower()
    if name in ("transcript", "sora2api"):  # the emulator's names for the chat dialects
        name = "chat"
    if name not in ("chat", "videos"):
        raise InvalidRequest(f"Unknown dialect {name!r}: use chat or videos (docs/dialects.md).")
    return name


def _backoff(attempt: int) -> float:
    return float(min(8.0, 0.5 * 2**attempt) * (0.75 + random.random() / 2))  # noqa: S311


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from ``Retry-After``, or None (the normal backoff) when it is missing,
    malformed or already past: a bad header must not fail a billed request (RFC 9110, 10.2.3)."""
    value = response.headers.get("retry-after", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        seconds = seconds if seconds > 0 else -1.0  # a date already past
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, 60.0)


def _server_message(response: httpx.Response, clean: Callable[[str], str]) -> str:
    """The server's own explanation: an OpenAI error message, an HTML title, or the text
    (``clean`` masks the key before anything is cut short)."""
    text = clean(response.text).strip()
    try:
        obj = json.loads(text)
    except ValueError:
        obj = None
    if isinstance(obj, dict) and obj.get("error"):
        return parse_chunk(json.dumps(obj)).error or text[:200]
    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
    if title:
        return " ".join(title.group(1).split())[:200]
    text = re.sub(r"<[^>]+>", " ", text)
    return " ".join(text.split())[:200] or clean(response.reason_phrase)


def _describe(exc: BaseException) -> str:
    return describe(exc)
