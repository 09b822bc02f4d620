"""What a hostile relay or link can send, bounded: errors, line and transcript sizes, time.

Whatever httpx, anyio or the OS raise on a request becomes one ``SoraError`` sentence; a
stream line, a transcript and a download each have a cap; and a generation's deadline is
enforced on the clock, whatever bytes keep arriving (docs/protocol.md, "Promises").
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from typing import ParamSpec, TypeVar, cast

import httpx
from httpx_sse import EventSource, ServerSentEvent

from .._exceptions import APIConnectionError, APIError, InvalidRequest, SoraError
from .._messages import t
from .._secret import MessageRedactor, Redactor, Secret

__all__ = [
    "MAX_LINE",
    "MAX_TRANSCRIPT",
    "CappedRedactor",
    "DeadlinePassed",
    "Overflow",
    "detached",
    "detaching",
    "exception_text",
    "request_error",
    "sse_events",
    "until",
]

T = TypeVar("T")
P = ParamSpec("P")

#: The longest SSE line accepted (a chunk echoing a long prompt is well under it).
MAX_LINE = 4 * 2**20
#: The longest transcript accepted from one stream, in characters.
MAX_TRANSCRIPT = 8 * 2**20


class Overflow(Exception):
    """The relay sent more than a cap allows (internal: the client stops the stream)."""


class DeadlinePassed(Exception):
    """The generation's deadline passed (internal)."""


def exception_text(exc: BaseException) -> str:
    """A short text for an exception, looking inside an ExceptionGroup (anyio's connect)."""
    inner = getattr(exc, "exceptions", None)
    if isinstance(inner, (list, tuple)) and inner:
        return exception_text(inner[0])
    if isinstance(exc, httpx.DecodingError):
        return t("guard.decoding_detail", detail=exc)
    # Without its closing period: the sentence it goes into ends with one (httpx's own
    # "Server disconnected without sending a response." read "…response.." before).
    return (str(exc) or type(exc).__name__).rstrip(".")


def request_error(exc: BaseException, what: str) -> SoraError:
    """One SoraError for any failure of a request to ``what`` ("the relay", a link's name)."""
    if isinstance(exc, SoraError):
        return exc
    if isinstance(exc, httpx.TooManyRedirects):
        return APIConnectionError(t("guard.loop", what=what, detail=exc))
    if isinstance(exc, httpx.DecodingError):
        return APIError(t("guard.decoding", what=what, detail=exc))
    if isinstance(exc, httpx.InvalidURL):
        return InvalidRequest(t("guard.bad_url", what=what, detail=exc))
    if isinstance(exc, httpx.TimeoutException):
        return APIConnectionError(t("guard.timeout", what=what, detail=exception_text(exc)))
    return APIConnectionError(t("guard.unreachable", what=what, detail=exception_text(exc)))


@contextlib.contextmanager
def detached() -> Iterator[None]:
    """A SoraError leaving this block keeps no suppressed ``__context__``: the httpx error
    behind it holds the request, and the request its headers, the key among them."""
    try:
        yield
    except SoraError as exc:
        exc.__context__ = exc.__cause__ = None
        raise


def detaching(function: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """``function`` (a coroutine function) run ``detached()``."""

    @functools.wraps(function)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        with detached():
            return await function(*args, **kwargs)

    return run


async def until(deadline: float | None, awaitable: Awaitable[T]) -> T:
    """Await ``awaitable``, raising ``DeadlinePassed`` once ``time.monotonic()`` passes
    ``deadline``: checked on the clock, not between events, so a relay that trickles
    keep-alive comments or never ends a line cannot hold a generation past it."""
    if deadline is None:
        return await awaitable
    try:
        return await asyncio.wait_for(awaitable, max(0.0, deadline - time.monotonic()))
    except asyncio.TimeoutError:
        raise DeadlinePassed(t("guard.deadline")) from None


class _CappedBody:
    """The response as ``EventSource`` reads it, refusing a line longer than ``limit``."""

    def __init__(self, response: httpx.Response, limit: int) -> None:
        self.headers = response.headers
        self._response = response
        self._limit = limit

    async def aiter_text(self) -> AsyncIterator[str]:
        run = 0  # characters since the last line break
        async for text in self._response.aiter_text():
            end = max(text.rfind("\n"), text.rfind("\r"))
            run = len(text) - end - 1 if end >= 0 else run + len(text)
            if run > self._limit:
                raise Overflow(t("guard.long_line", mib=self._limit // 2**20))
            yield text


def sse_events(
    response: httpx.Response, max_line: int = MAX_LINE
) -> AsyncGenerator[ServerSentEvent, None]:
    """httpx-sse's events of ``response``, with each line capped at ``max_line``."""
    return EventSource(cast(httpx.Response, _CappedBody(response, max_line))).aiter_sse()


class CappedRedactor:
    """The relay's content on its way to the parser: redacted of the key, and capped."""

    def __init__(self, secret: Secret | None, limit: int = MAX_TRANSCRIPT) -> None:
        self._redactor = Redactor(secret)
        self._messages = MessageRedactor(secret)  # reasoning_content: whole messages
        self._left = limit
        self._limit = limit

    def feed(self, fragment: str) -> str:
        self._left -= len(fragment)
        if self._left < 0:
            raise Overflow(t("guard.long_transcript", mi=self._limit // 2**20))
        return self._redactor.feed(fragment)

    def feed_reasoning(self, message: str) -> str:
        """A ``reasoning_content`` message, redacted even of a key cut across two."""
        self._left -= len(message)
        if self._left < 0:
            raise Overflow(t("guard.long_transcript", mi=self._limit // 2**20))
        return "\n".join(self._messages.feed(message))

    def flush(self) -> str:
        return self._redactor.flush()

    def flush_reasoning(self) -> str:
        return "\n".join(self._messages.flush())
