"""What both chat dialects share: one ``/v1/chat/completions`` stream, recovered
by task id.

A generation takes minutes and is billed whether or not the stream survives, so
the request is never sent again once the relay has started answering: the client
retries only before the stream begins, and a stream that breaks or ends without
a video after the task id is known is finished by polling the task's source URL
(docs/protocol.md, "The resume rule").

``transcript`` and ``sora2api`` subclass ``ChatCompletions`` with what differs:
where an image goes, how an edit names its parent, and how a saved video is
recognised.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import AsyncGenerator
from dataclasses import replace
from typing import Any

import httpx

from .._callback import call as _call
from .._exceptions import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    GenerationFailed,
    StreamInterrupted,
)
from .._messages import t
from ..records._model import Message, PendingTask, Request, Task
from ..records._request import validate_model
from ..records._video import Video
from ..wire import _limits
from ..wire._events import (
    CompletedEvent,
    Event,
    FailedEvent,
    JobEvent,
    ProgressEvent,
    StatusEvent,
)
from ..wire._limits import (
    CappedRedactor,
    DeadlinePassed,
    Overflow,
    SSEFeed,
    check_event_stream,
    exception_text,
    request_error,
    until,
)
from ..wire._protocol import (
    ChatChunk,
    ChatParser,
    MarkdownParser,
    SourceStatus,
    completion_content,
    parse_chunk,
    parse_source,
)
from ._base import Dialect, EventCallback, Relay, RelayRefused
from ._body import Reader
from ._common import never_accepted, task_reference, video_from_source
from ._shape import build_body

__all__ = ["ChatCompletions"]

logger = logging.getLogger("sora_nb")

_PATH = "/v1/chat/completions"


class _Broken(Exception):
    """The transport failed after the response began (internal)."""


class ChatCompletions(Dialect):
    """A relay streaming one chat completion a generation (docs/protocol.md)."""

    title = "chat"

    def __init__(self, relay: Relay) -> None:
        super().__init__(relay)
        # task id → source URL seen in a stream
        self._sources: dict[str, str] = {}

    # -- what the two chat dialects say differently ----------------------------

    def parser(self) -> ChatParser:
        """A parser for one stream, in this dialect."""
        return MarkdownParser()

    def made_by(self, parser: ChatParser) -> str:
        """The dialect a finished stream was in (its parser tells)."""
        return self.name

    # -- one generation --------------------------------------------------------

    async def run(
        self,
        request: Request,
        parent: Video | None,
        on_event: EventCallback | None,
        deadline: float,
    ) -> Video:
        started, wall = time.monotonic(), time.time()
        parser = self.parser()
        broken: _Broken | None = None
        body = build_body(request.messages, request.model)
        refusal: list[str] = []
        attempt = functools.partial(self._attempt, body, parser, on_event)
        try:
            # On the clock, whatever the relay sends (docs/protocol.md,
            # "Promises"): on_clock's rule with asyncio's own timer and no
            # wrapper round it, which a generation would hold for its whole
            # stream, a thousand times over.
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                await self.relay.admitted(on_event, attempt, refusal)
        except _Broken as exc:
            broken = exc
        # the deadline passed (or a timeout within, which on_clock counts as it)
        except (TimeoutError, DeadlinePassed):
            # still refused by the relay: never accepted, so nothing was paid
            if refusal:
                raise never_accepted(refusal) from None
            broken = _Broken(t("guard.deadline"))
        if parser.failed is not None:
            raise GenerationFailed(parser.failed.reason, task_id=parser.task_id)
        echo = parser.echo.data if parser.echo else None
        task = _task(parser)
        if parser.completed is not None:
            done = parser.completed
            return self.finished(
                Video(
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
                ),
                self.made_by(parser),
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
        video = video_from_source(pending, status, time.monotonic() - started, parent)
        return self.finished(video, self.made_by(parser))

    def finished(self, video: Video, dialect: str) -> Video:
        """``video`` with what its dialect offers next: a remix by its share id,
        if any (the seed relay finds a ``sid:`` line in the history it is sent).
        """
        offered = ("remix",) if video.sid or "sid:" in video.transcript else ()
        return replace(video, dialect=dialect, continuations=offered)

    async def stream(
        self, messages: list[Message], model: str, *, stream: bool = True
    ) -> AsyncGenerator[Event, None]:
        """The events of one chat-completions request, as the relay sends."""
        validate_model(model)
        parser = self.parser()
        body = build_body(messages, model, stream=stream)
        try:
            while True:
                try:
                    async with self.relay.slot():
                        async for event in self._events(body, parser):
                            yield event
                    return
                except RelayRefused:
                    continue  # nothing was started: wait for a slot again
        except _Broken as exc:
            raise self._interrupted(parser, exc) from None

    async def _events(
        self, body: dict[str, Any], parser: ChatParser
    ) -> AsyncGenerator[Event, None]:
        """Send ``body`` and yield the parsed events (``stream()``); ``_Broken``
        if the transport fails.
        """
        response = await self.relay.open(_PATH, body)
        reading = _Reading(self, parser, self.relay.inflow(_limits.MAX_TRANSCRIPT))
        try:
            if _whole(response):
                for event in await self._whole_completion(response, parser):
                    yield event
                return
            answer = Reader(response)
            try:
                while not reading.done:
                    for event in reading.read(await answer.read()):
                        yield event
            finally:
                await answer.aclose()
            for event in reading.end():
                yield event
        except _FAULTS as exc:
            for event in reading.end():
                yield event
            raise _Broken(exception_text(exc)) from exc
        finally:
            self._keep_source(parser)
            await response.aclose()

    async def _attempt(
        self, body: dict[str, Any], parser: ChatParser, on_event: EventCallback | None
    ) -> None:
        """One send of ``body`` (``run()``), each event to ``on_event`` as it is
        parsed; ``_Broken`` if the transport fails.

        ``_events`` with calls for its yields, rather than a loop over it:
        every socket read wakes each coroutine and generator a stream is
        awaited through, and a stream keeps them all alive for the collector to
        walk, a thousand times over.
        """
        response = await self.relay.open(_PATH, body, on_event)
        reading = _Reading(self, parser, self.relay.inflow(_limits.MAX_TRANSCRIPT))
        try:
            if _whole(response):
                for event in await self._whole_completion(response, parser):
                    await _call(on_event, event)
                return
            answer = Reader(response)
            try:
                while not reading.done:
                    for event in reading.read(await answer.read()):
                        await _call(on_event, event)
            finally:
                await answer.aclose()
            for event in reading.end():
                await _call(on_event, event)
        except _FAULTS as exc:
            for event in reading.end():
                await _call(on_event, event)
            raise _Broken(exception_text(exc)) from exc
        finally:
            self._keep_source(parser)
            await response.aclose()

    def _keep_source(self, parser: ChatParser) -> None:
        if parser.task_id and parser.source_url:
            self._sources[parser.task_id] = parser.source_url

    @staticmethod
    def _stream_error(parser: ChatParser, message: str) -> FailedEvent:
        # An in-stream {"error": …} object: the relay gave up on this request.
        parser.failed = parser.failed or FailedEvent(message, parser.task_id)
        return parser.failed

    async def _whole_completion(self, response: httpx.Response, parser: ChatParser) -> list[Event]:
        """``stream: false``, or a stream request answered with plain JSON."""
        try:
            text = (await response.aread()).decode("utf-8", "replace")
            obj = json.loads(self.relay.redact(text))
        except ValueError:
            obj = None
        if isinstance(obj, dict) and obj.get("error"):
            chunk = parse_chunk(json.dumps(obj))
            return [self._stream_error(parser, chunk.error or "unknown error")]
        return parser.feed(completion_content(obj)) + parser.flush()

    def _interrupted(self, parser: ChatParser, exc: _Broken) -> Exception:
        if parser.task_id is None:
            return APIConnectionError(
                f"The connection to the relay broke before a task was created: {exc}."
            )
        return StreamInterrupted(
            t("client.broken", task=parser.task_id, detail=exc),
            task_id=parser.task_id,
            source_url=parser.source_url,
        )

    # -- recovery by task id or URL --------------------------------------------

    def pending_for(self, task: str) -> PendingTask:
        return task_reference(
            task, lambda task_id: self._sources.get(task_id, self._source(task_id))
        )

    def _source(self, task_id: str) -> str:
        return f"{self.relay.base_url}/source/{task_id}"

    async def lookup(self, task: str) -> None:
        """Ask the relay once about a task id or URL; a 404 raises here, before
        a Session records a turn for it (docs/protocol.md, "The resume rule").
        """
        pending = self.pending_for(task)
        url = pending.source_url or f"{self.relay.base_url}/source/{task}"
        await self._poll_once(url, "")

    async def resume(
        self, pending: PendingTask, on_event: EventCallback | None, deadline: float
    ) -> Video:
        status = await self._poll(pending, on_event, deadline)
        # Collected later: the elapsed time is wall-clock since the task began.
        video = video_from_source(pending, status, time.time() - pending.started_at, None)
        return self.finished(video, self.made_by(self.parser()))

    async def _poll(
        self,
        pending: PendingTask,
        on_event: EventCallback | None,
        deadline: float,
        percent: int = -1,
    ) -> SourceStatus:
        """Poll the source URL until the task ends or the deadline passes."""
        url = pending.source_url or f"{self.relay.base_url}/source/{pending.task_id}"
        interval, misses, phase = min(1.0, self.relay.poll_interval), 0, ""
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
                phase, percent = await _report(status, on_event, phase, percent)
            await asyncio.sleep(max(0.0, min(interval, deadline - time.monotonic())))
            interval = min(interval * 1.5, self.relay.poll_interval)
        raise StreamInterrupted(
            f"Task {pending.task_id} did not finish while polling {url} ({last_error}); "
            f"run `%sora resume {pending.task_id}` or SoraClient.resume() later.",
            task_id=pending.task_id,
            source_url=url,
            pending=pending,
        )

    async def _poll_once(self, url: str, last_error: str) -> tuple[SourceStatus | None, str]:
        try:
            response = await self.relay.get(url)
        # a reset, a garbled body, a redirect loop: a miss
        except httpx.HTTPError as exc:
            return None, exception_text(exc)
        # an invalid URL, anyio's ExceptionGroup: one sentence
        except Exception as exc:
            raise request_error(exc, t("client.what_status", url=url[:80])) from None
        # the relay does not know the task: no use polling
        if response.status_code == 404:
            raise APIStatusError(
                f"The relay does not know this task ({self.relay.redact(url)} answered 404); "
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
            return None, f"{response.status_code} {self.relay.redact(response.reason_phrase)}"
        try:
            return parse_source(json.loads(self.relay.redact(response.text))), last_error
        except ValueError:
            return None, "the source URL did not return JSON"


# -- helpers -------------------------------------------------------------------

#: What ends a stream that began: a broken or garbled body, a line or a
#: transcript over its cap.
_FAULTS = (httpx.TransportError, httpx.DecodingError, Overflow)


def _whole(response: httpx.Response) -> bool:
    """An answer in one JSON body (``stream: false``, or a relay that does not
    stream); otherwise it must be an event stream.
    """
    if response.headers.get("content-type", "").startswith("application/json"):
        return True
    check_event_stream(response.headers)
    return False


class _Reading:
    """One streamed answer's bytes to events, as they arrive, with no I/O: its
    SSE lines, each chunk parsed, the key masked and the transcript capped,
    then the dialect's parser.
    """

    __slots__ = ("_dialect", "_ended", "_feed", "_inflow", "_parser", "done")

    def __init__(self, dialect: ChatCompletions, parser: ChatParser, inflow: CappedRedactor):
        self._dialect, self._parser, self._inflow = dialect, parser, inflow
        self._feed = SSEFeed(_limits.MAX_LINE)
        self.done = self._ended = False  # the stream is over; its last events given

    def read(self, data: bytes) -> list[Event]:
        """The events ``data`` completes (``b""``: the answer ended)."""
        events: list[Event] = []
        self.done = not data
        for payload in self._feed.feed(data) if data else self._feed.flush():
            chunk = parse_chunk(payload)
            if chunk.done:
                self.done = True
                break
            if chunk.error is not None:
                # the relay gave up on this request: nothing after it counts
                message = self._dialect.relay.redact(chunk.error)
                events += [*self.end(), self._dialect._stream_error(self._parser, message)]
                self.done = True
                break
            events += self._parser.feed_chunk(self._clean(chunk))
        return events

    def _clean(self, chunk: ChatChunk) -> ChatChunk:
        inflow = self._inflow
        content = inflow.feed(chunk.content)
        reasoning = inflow.feed_reasoning(chunk.reasoning) if chunk.reasoning else ""
        if content == chunk.content and reasoning == chunk.reasoning:
            # the usual chunk: nothing masked or held back, no copy to make
            return chunk
        return replace(chunk, content=content, reasoning=reasoning)

    def end(self) -> list[Event]:
        """Once: what the redactor held back, then the parser's last events."""
        if self._ended:
            return []
        self._ended = True
        return _drain(self._parser, self._inflow)


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


def _drain(parser: ChatParser, inflow: CappedRedactor) -> list[Event]:
    """A stream's end: what the redactor held back, then the last events."""
    reasoning = inflow.flush_reasoning()
    events = parser.feed_chunk(ChatChunk(reasoning=reasoning)) if reasoning else []
    return events + parser.feed(inflow.flush()) + parser.flush()


def _task(parser: ChatParser) -> Task | None:
    """The task the stream announced, if it did."""
    if parser.task_id is None:
        return None
    return Task(parser.task_id, parser.source_url, parser.preview_url)
