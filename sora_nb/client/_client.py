"""The async client: one relay, its key, its retries and its limit, for one
dialect.

What every relay shares lives here: configuration, the key and its origin rule,
retries before an answer begins (connect errors, 429, 5xx), the process-wide
limiter, the HTTP pool and the deadline. What differs (what is sent, how
progress comes back, how a task is recovered) is the dialect's, chosen once when
the client is built (docs/architecture.md). A generation is billed whether or
not its answer survives, so nothing is retried once the relay has started
answering (docs/protocol.md, "The resume rule").
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import json
import math
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from .._callback import call as _call
from .._exceptions import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    InvalidRequest,
    SoraError,
)
from .._messages import t
from .._secret import BearerAuth, Secret, redact, shown_url
from ..dialects import Dialect, dialect_for
from ..dialects._base import Files, RelayRefused
from ..dialects._catalog import Capabilities
from ..dialects._common import never_accepted
from ..dialects._recognize import by_url
from ..records._ask import DEFAULT_MODEL, Ask
from ..records._model import Message, PendingTask, Request
from ..records._request import ImageInput
from ..records._video import Video
from ..wire._events import Event, JobEvent
from ..wire._limits import (
    CappedRedactor,
    DeadlinePassed,
    detach,
    detached,
    detaching,
    exception_text,
    request_error,
    until,
)
from ..wire._protocol import parse_chunk
from . import _config
from ._addresses import may_fetch
from ._download import DEFAULT_MAX_BYTES
from ._download import download as _download
from ._http import Transport, http_client
from ._limiter import AdaptiveLimiter, limiter_for

__all__ = ["DEFAULT_TIMEOUT", "EventCallback", "SoraClient"]

EventCallback = Callable[[Event | JobEvent], object]

#: Streams are silent for minutes between progress lines: the read timeout is a
#: gap between bytes, not a whole request; ``deadline`` bounds a whole
#: generation, resume included.
DEFAULT_TIMEOUT = httpx.Timeout(connect=15.0, read=600.0, write=60.0, pool=30.0)
DEFAULT_DEADLINE = 45 * 60.0


T = TypeVar("T")


class SoraClient:
    """Async client for a video relay (or the embedded emulator).

    ``base_url`` defaults to ``$SORA_BASE_URL``, else the embedded emulator;
    ``api_key`` to ``$SORA_API_KEY``. Pass ``http_client`` or ``transport`` to
    control the HTTP layer. ``dialect`` (default ``$SORA_DIALECT``, else
    ``"chat"``) is ``"videos"`` for a relay of the Videos task API; both chat
    dialects are recognised from the stream.
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
        # from here on no frame holds the key itself
        api_key = Secret.of(api_key)
        base_url = (base_url or _config.env_base_url() or "").rstrip("/")
        self.uses_emulator = not base_url
        if not base_url:
            base_url = _config.embedded_emulator().url
        api_key = api_key or _config.env_api_key()
        if api_key is None and self.uses_emulator:
            api_key = Secret(_config.EMULATOR_API_KEY)
        # A URL's password is never used (the key is the credential) nor shown.
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
        # Shared by every client of this relay in the process: the kernel's cap
        # on streams.
        self._limiter: AdaptiveLimiter = limiter_for(base_url, max_streams)
        # Chosen once; from here on the client only calls it (docs/dialects.md).
        # With no setting only the URL is read, which costs nothing
        # (openrouter.ai, api.x.ai).
        setting = dialect or _config.env_dialect() or by_url(base_url)
        self._dialect: Dialect = dialect_for(setting)(_Relay(self))

    @property
    def dialect(self) -> str:
        """The dialect spoken (for ``auto``, the one recognised, once known)."""
        return str(getattr(self._dialect, "found", self._dialect.name))

    def __repr__(self) -> str:
        key = "***" if self._auth else None
        return f"SoraClient(base_url={self.base_url!r}, api_key={key!r})"

    def check_ready(self) -> None:
        """Refuse, before anything is sent, a real relay with no API key."""
        if self._auth is None and not self.uses_emulator:
            raise InvalidRequest("No API key: set SORA_API_KEY or run `%sora config --api-key`.")

    @property
    def has_api_key(self) -> bool:
        """Whether a key will be sent (the key itself is never exposed)."""
        return self._auth is not None

    # -- lifecycle -------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        if self._injected is not None:
            return self._injected
        loop = asyncio.get_running_loop()
        if self._http is None or self._http_loop is not loop or self._http.is_closed:
            # An AsyncClient's pool belongs to one event loop; a script calling
            # asyncio.run() twice gets a fresh one, not a broken pool. No pool
            # limit: the relay's limiter decides (``_http``).
            transport = self._transport or Transport()
            self._http = http_client(self._timeout, transport)
            self._http_loop = loop
        return self._http

    async def aclose(self) -> None:
        """Close this client's connections (not an injected ``http_client``)."""
        if self._http is not None and self._http_loop is asyncio.get_running_loop():
            await self._http.aclose()
        self._http = None

    async def __aenter__(self) -> SoraClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- public API ------------------------------------------------------------

    async def stream(
        self, messages: list[Message], model: str = DEFAULT_MODEL, *, stream: bool = True
    ) -> AsyncIterator[Event]:
        """The events of one chat-completions request, as the relay sends them.

        Raises ``StreamInterrupted`` when the transport breaks after the task id
        is known (``resume()`` collects it) and ``APIConnectionError`` when it
        breaks before.
        """
        # no failure keeps the request (and its key) as its context
        with detached():
            events = self._dialect.stream(messages, model, stream=stream)
            try:
                async for event in events:
                    yield event
            finally:
                await events.aclose()

    async def generate(
        self,
        prompt: str,
        *,
        model: str = DEFAULT_MODEL,
        orientation: str | None = None,
        image: ImageInput = None,
        on_event: EventCallback | None = None,
        **options: Any,
    ) -> Video:
        """Make a new video and return it once finished (or raise a
        ``SoraError``).

        ``options`` are the rest of what an ``Ask`` takes
        (``sora_nb.records._ask``).
        """
        ask = Ask.build(prompt, model=model, orientation=orientation, image=image, **options)
        return await self.send(await self.request(ask), on_event=on_event)

    async def edit(
        self,
        video: Video,
        prompt: str,
        *,
        model: str | None = None,
        orientation: str | None = None,
        image: ImageInput = None,
        on_event: EventCallback | None = None,
        **options: Any,
    ) -> Video:
        """Continuous modification: a new video, ``video`` with ``prompt``."""
        if not isinstance(video, Video):
            raise InvalidRequest(f"Can only edit a Video, not {type(video).__name__}.")
        if not video.remixable:
            raise InvalidRequest(
                "This video has no share id (sid) to remix it by: its relay gave none "
                "(a sora2api relay gives one only in watermark-free mode)."
            )
        ask = Ask.build(
            prompt, model=model or video.model, orientation=orientation, image=image, **options
        )
        request = await self.request(ask, video)
        return await self.send(request, parent=video, on_event=on_event)

    @detaching
    async def request(self, ask: Ask, parent: Video | None = None) -> Request:
        """The exact request this relay's dialect sends for ``ask`` (an edit of
        ``parent``).

        A ``Session`` records it before ``send``, so what it records is what is
        sent. Refuses, in one sentence, what this relay cannot be sent.
        """
        ask = await self._dialect.place_image(ask)
        # how it continues: a remix, an extend, its last frame…
        if parent is not None:
            ask = await self._dialect.continue_from(ask, parent)
        return self._dialect.request(ask, parent)

    async def send(
        self,
        request: Request,
        *,
        parent: Video | None = None,
        on_event: EventCallback | None = None,
    ) -> Video:
        """Send a request from ``request()``; return the finished video."""
        deadline = time.monotonic() + self.deadline
        # not @detaching, nor a with block: a generation holds this frame for
        # its whole stream, and a coroutine or a context manager and its bound
        # exit would be objects more for the collector to walk, a thousand times
        try:
            return await self._dialect.run(request, parent, on_event, deadline)
        except SoraError as exc:
            detach(exc)
            raise

    @detaching
    async def resume(
        self, task: str | PendingTask, *, on_event: EventCallback | None = None
    ) -> Video:
        """Collect a task whose stream was lost, by polling its source URL until
        it ends.

        ``task`` is a task id, its source URL, or the ``PendingTask`` of a
        ``StreamInterrupted``.
        """
        pending = task if isinstance(task, PendingTask) else self._dialect.pending_for(task)
        await _call(on_event, JobEvent("resuming", detail=pending.task_id))
        deadline = time.monotonic() + self.deadline
        return await self._dialect.resume(pending, on_event, deadline)

    async def models(self) -> list[Capabilities]:
        """The relay's video models and what each takes (``%sora models``): the
        gateway's own listing where it has one, the documented table for names
        it lists alone.
        """
        self.check_ready()
        return await self._dialect.capabilities()

    def continuations(self, model: str) -> tuple[str, ...]:
        """How a video of ``model`` can be continued here (docs/dialects.md)."""
        return self._dialect.continuations(model)

    @property
    def cancels_on_disconnect(self) -> bool:
        """Whether the relay cancels a generation whose stream is dropped
        (flow2api): an interrupt then costs the job, so the views say so while
        one runs.
        """
        return self._dialect.cancels_on_disconnect

    @detaching
    async def lookup(self, task: str) -> None:
        """Ask the relay once about a task id or URL: an unknown task raises
        here, before a Session records a turn for it (docs/protocol.md, "The
        resume rule").
        """
        try:  # on the clock: a status that trickles cannot hold the cell
            await until(time.monotonic() + self.deadline, self._dialect.lookup(task))
        except DeadlinePassed:
            raise APIConnectionError(t("client.lookup_deadline", task=task[:80])) from None

    async def download(
        self,
        url: str,
        dest: str | Path,
        *,
        on_progress: Callable[[int, int | None], object] | None = None,
        max_bytes: int | None = DEFAULT_MAX_BYTES,
    ) -> Path:
        """Save ``url`` to ``dest`` through this client's pool; the key goes
        only to the relay's own origin. The client's ``deadline`` bounds it,
        whatever the link sends. A link more local than the relay (loopback,
        private) is refused (``_addresses``).
        """
        place = await may_fetch(url, self.base_url)
        if place is not None:
            raise InvalidRequest(t("download.too_local", url=url[:80], where=t(f"where.{place}")))
        return await _download(
            url,
            Path(dest),
            http=self._client(),
            auth=self._auth,
            on_progress=on_progress,
            max_bytes=max_bytes,
            deadline=time.monotonic() + self.deadline,
        )

    # -- HTTP ------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        """``text`` from the relay with the key masked, should it echo it."""
        return redact(text, self._auth.secret if self._auth else None)

    async def _send(
        self,
        body: dict[str, Any],
        path: str = "/v1/chat/completions",
        on_event: EventCallback | None = None,
        files: Files | None = None,
    ) -> httpx.Response:
        """POST with retries before the stream begins; returns an open 2xx
        response.

        With ``files``, the body goes as a multipart form (``body`` its text
        fields); the parts are bytes, so a retry builds the same form again.
        """
        self.check_ready()
        client = self._client()
        url = _parsed(f"{self.base_url}{path}")
        headers = {"Accept": "text/event-stream" if body.get("stream") else "application/json"}
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            if files:
                request = client.build_request(
                    "POST", url, data=body, files=dict(files), headers=headers
                )
            else:
                request = client.build_request("POST", url, json=body, headers=headers)
            try:
                response = await client.send(request, stream=True, auth=self._auth)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                if last:
                    raise APIConnectionError(
                        t("client.no_connect", url=self.base_url, detail=exception_text(exc))
                    ) from None
                await asyncio.sleep(_backoff(attempt))
                continue
            except httpx.TransportError as exc:
                raise APIConnectionError(
                    t("client.no_answer", url=self.base_url, detail=exception_text(exc))
                ) from None
            # a redirect loop, anyio's ExceptionGroup: one sentence
            except Exception as exc:
                raise request_error(exc, t("client.what_relay", url=self.base_url)) from None
            if response.is_success:
                self._limiter.succeeded()
                return response
            # nothing started: the caller waits for a slot
            if response.status_code == 429:
                await response.aread()
                await response.aclose()
                self._limiter.rate_limited(_retry_after(response))
                raise RelayRefused(_server_message(response, self._redact).rstrip("."))
            retry_after = await self._refuse(response, last)
            delay = retry_after if retry_after is not None else _backoff(attempt)
            # A view says "rate limited — retrying in N s", not "sending".
            retry = JobEvent("retrying", detail=str(response.status_code), delay=delay)
            await _call(on_event, retry)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _post(
        self, path: str, body: dict[str, Any], files: Files | None = None
    ) -> httpx.Response:
        """A JSON (or, with ``files``, multipart) POST with the same retries and
        refusals, read whole.
        """
        response = await self._send(body, path, files=files)
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

    async def _refuse(self, response: httpx.Response, last: bool) -> float | None:
        """Raise for a non-2xx answer, or return the wait before a retry."""
        await response.aread()
        await response.aclose()
        status = response.status_code
        # the sentence ends once
        message = _server_message(response, self._redact).rstrip(".")
        if status in (401, 403):
            raise AuthenticationError(
                t("client.refused_key", status=status, message=message),
                status_code=status,
            )
        if status >= 500 and not last:
            return _retry_after(response)
        raise APIStatusError(t("client.status", status=status, message=message), status_code=status)


class _Relay:
    """What the client lends its dialect (``sora_nb.dialects.Relay``)."""

    def __init__(self, client: SoraClient) -> None:
        self._owner = client

    @property
    def base_url(self) -> str:
        return self._owner.base_url

    @property
    def poll_interval(self) -> float:  # read when used: a caller may change it
        return self._owner.poll_interval

    def open(
        self, path: str, body: dict[str, Any], on_event: EventCallback | None = None
    ) -> Awaitable[httpx.Response]:
        # the client's own coroutine, with no frame of this method's between
        return self._owner._send(body, path, on_event)

    async def post(
        self, path: str, body: dict[str, Any], files: Files | None = None
    ) -> httpx.Response:
        return await self._owner._post(path, body, files)

    async def get(self, url: str) -> httpx.Response:
        owner = self._owner
        return await owner._client().get(url, auth=owner._auth)

    async def fetch(self, url: str, limit: int) -> bytes:
        data = bytearray()  # no auth: the key is for the relay's origin only
        async with self._owner._client().stream("GET", url, follow_redirects=True) as response:
            response.raise_for_status()
            async for piece in response.aiter_bytes():
                data += piece
                if len(data) > limit:
                    # the caller refuses it by its size
                    break
        return bytes(data)

    def inflow(self, limit: int) -> CappedRedactor:
        auth = self._owner._auth
        return CappedRedactor(auth.secret if auth else None, limit)

    def slot(self) -> contextlib.AbstractAsyncContextManager[None]:
        return self._owner._limiter.slot()

    async def admitted(
        self,
        on_event: EventCallback | None,
        attempt: Callable[[], Awaitable[T]],
        refusal: list[str],
        deadline: float | None = None,
    ) -> T:
        limiter = self._owner._limiter
        while True:
            if refusal and deadline is not None:
                # bounds the wait after a 429 only, never a request in flight
                try:
                    await until(deadline, limiter.acquire())
                except DeadlinePassed:
                    raise never_accepted(refusal) from None
            else:
                await limiter.acquire()
            try:
                refusal.clear()
                await _call(on_event, JobEvent("sending"))
                return await attempt()
            except RelayRefused as exc:
                refusal.append(str(exc))
            finally:
                limiter.release()
            delay = limiter.paused_for()
            await _call(on_event, JobEvent("retrying", detail="429", delay=delay))

    def redact(self, text: str) -> str:
        return self._owner._redact(text)


# -- helpers -------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _parsed(url: str) -> httpx.URL:
    """``url`` parsed once: httpx would parse the same few relay URLs again for
    every request (a URL is immutable, so one can serve them all).
    """
    return httpx.URL(url)


def _backoff(attempt: int) -> float:
    return float(min(8.0, 0.5 * 2**attempt) * (0.75 + random.random() / 2))  # noqa: S311


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from ``Retry-After``, or None (the normal backoff) when
    it is missing, malformed or already past: a bad header must not fail a
    billed request (RFC 9110, 10.2.3).
    """
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
    """The server's own explanation: an OpenAI error message, an HTML title, or
    the text (``clean`` masks the key before anything is cut short).
    """
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
