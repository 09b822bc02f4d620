"""What a hostile relay or link can send, bounded: errors, line and transcript
sizes, time.

Whatever httpx, anyio or the OS raise on a request becomes one ``SoraError``
sentence; a stream line, a transcript and a download each have a cap; and a
generation's deadline is enforced on the clock, whatever bytes keep arriving
(docs/protocol.md, "Promises").
"""

from __future__ import annotations

import asyncio
import codecs
import functools
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import ParamSpec, TypeVar

import httpx
from httpx_sse import SSEError

from .._exceptions import APIConnectionError, APIError, InvalidRequest, SoraError
from .._messages import t
from .._secret import MessageRedactor, Redactor, Secret

__all__ = [
    "MAX_LINE",
    "MAX_TRANSCRIPT",
    "CappedRedactor",
    "DeadlinePassed",
    "Overflow",
    "SSEFeed",
    "check_event_stream",
    "detached",
    "detaching",
    "exception_text",
    "on_clock",
    "request_error",
    "until",
]

T = TypeVar("T")
P = ParamSpec("P")

#: The longest SSE line accepted (a long prompt's echo is well under it).
MAX_LINE = 4 * 2**20
#: The longest transcript accepted from one stream, in characters.
MAX_TRANSCRIPT = 8 * 2**20


class Overflow(Exception):
    """The relay sent more than a cap allows (the client stops the stream)."""


class DeadlinePassed(Exception):
    """The generation's deadline passed (internal)."""


def exception_text(exc: BaseException) -> str:
    """A short text for an exception, inside an ExceptionGroup too."""
    inner = getattr(exc, "exceptions", None)
    if isinstance(inner, (list, tuple)) and inner:
        return exception_text(inner[0])
    if isinstance(exc, httpx.DecodingError):
        return t("guard.decoding_detail", detail=exc)
    # Without its closing period: the sentence it goes into ends with one
    # (httpx's own "Server disconnected without sending a response." read
    # "…response.." before).
    return (str(exc) or type(exc).__name__).rstrip(".")


def request_error(exc: BaseException, what: str) -> SoraError:
    """One SoraError for any failed request to ``what`` (a name)."""
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


class detached:
    """A SoraError leaving this block keeps no suppressed ``__context__``: the
    httpx error behind it holds the request, and the request its headers, the
    key among them.
    """

    # A class, not a generator: a generation holds one for its whole stream.
    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        if isinstance(exc, SoraError):
            detach(exc)


def detach(exc: SoraError) -> None:
    """``exc`` without the suppressed ``__context__`` (``detached``'s rule)."""
    exc.__context__ = exc.__cause__ = None


def detaching(function: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """``function`` (a coroutine function) run ``detached()``."""

    @functools.wraps(function)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        with detached():
            return await function(*args, **kwargs)

    return run


class on_clock:
    """``async with on_clock(deadline):`` raises ``DeadlinePassed`` once
    ``time.monotonic()`` passes ``deadline`` (None: never): checked on the
    clock, not between events, so a relay that trickles keep-alive comments or
    never ends a line cannot hold a generation past it.

    A timer on the current task (``asyncio.timeout``) and no coroutine of its
    own: every read of a stream wakes each coroutine it is awaited through.
    """

    __slots__ = ("_timeout",)

    def __init__(self, deadline: float | None) -> None:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        self._timeout = asyncio.timeout(left)

    async def __aenter__(self) -> None:
        await self._timeout.__aenter__()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._timeout.__aexit__(kind, exc, tb)
        except TimeoutError:
            raise DeadlinePassed(t("guard.deadline")) from None
        # a timeout from within counts as the deadline's, as it always has
        if isinstance(exc, TimeoutError):
            raise DeadlinePassed(t("guard.deadline")) from None


async def until(deadline: float | None, awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` ``on_clock(deadline)``."""
    async with on_clock(deadline):
        return await awaitable


class SSEFeed:
    """An event stream's bytes, fed as they arrive, to its events' data: no I/O.

    The line and event rules of httpx-sse's decoders (the HTML standard's:
    ``\r\n``, ``\r`` or ``\n`` ends a line, a blank line ends an event, an event
    with no ``data`` but an ``event``, ``id`` or ``retry`` field still counts),
    in one pass over each read instead of a call per line and an object per
    event; a line longer than ``max_line`` characters raises ``Overflow``.
    """

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._text = codecs.getincrementaldecoder("utf-8")("replace")
        # Lists only while a line or an event is unfinished: a stream keeps
        # its feed alive, and an empty list is one more object to walk.
        self._line: list[str] | None = None  # the unfinished line, in pieces
        self._run = 0  # its length
        self._cr = False  # a "\r" ended the last text: a "\n" next pairs it
        self._data: list[str] | None = None
        self._event, self._retry, self._id = "", False, ""  # as httpx-sse
        self._limit = max_line

    def feed(self, data: bytes) -> list[str]:
        """The events ``data`` completes (none until a blank line ends one)."""
        text = self._text.decode(data)
        return self._lines(text) if text else []

    def flush(self) -> list[str]:
        """Events the stream's last bytes complete (as the spec says, an event
        whose blank line never came is dropped).
        """
        text = self._text.decode(b"", final=True)
        return self._lines(text) if text else []

    def _lines(self, text: str) -> list[str]:
        if self._cr and text[0] == "\n":
            text = text[1:]
        self._cr = False
        if not text:
            return []
        self._cr = text[-1] == "\r"
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        if len(lines) == 1:  # no line ends here: the line goes on
            if self._line is None:
                self._line = [text]
            else:
                self._line.append(text)
            self._run += len(text)
            if self._run > self._limit:
                raise Overflow(t("guard.long_line", mib=self._limit // 2**20))
            return []
        if self._line:
            lines[0] = "".join(self._line) + lines[0]
        tail = lines.pop()
        self._line, self._run = [tail] if tail else None, len(tail)
        if self._run > self._limit:
            raise Overflow(t("guard.long_line", mib=self._limit // 2**20))
        return self._events(lines)

    def _events(self, lines: list[str]) -> list[str]:
        events, data = [], self._data or []
        for line in lines:
            if line.startswith("data:"):
                data.append(line[6:] if line.startswith(" ", 5) else line[5:])
            elif line == "data":  # no colon: an empty value
                data.append("")
            elif not line:
                if data or self._event or self._id or self._retry:
                    events.append("\n".join(data))
                    data.clear()
                    self._event, self._retry = "", False
            else:
                self._field(line)
        self._data = data or None
        return events

    def _field(self, line: str) -> None:
        # a comment (":…") has no name: ignored
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        elif name == "retry":
            try:
                int(value)
            except ValueError:
                return
            self._retry = True


def check_event_stream(headers: httpx.Headers) -> None:
    """Refuse an answer that is not an event stream, as httpx-sse's
    ``EventSource`` does.
    """
    kind = headers.get("content-type", "").partition(";")[0]
    if "text/event-stream" not in kind:
        raise SSEError(
            f"Expected response header Content-Type to contain 'text/event-stream', got {kind!r}"
        )


class CappedRedactor(Redactor):
    """The relay's content on its way to the parser: a character the relay cut
    between its UTF-16 halves joined again (a lone half: U+FFFD), redacted of
    the key, and capped.

    A ``Redactor`` itself rather than holding one: a stream keeps it alive.
    """

    def __init__(self, secret: Secret | None, limit: int = MAX_TRANSCRIPT) -> None:
        super().__init__(secret)
        # reasoning_content, whole messages: made when the first one comes
        self._messages: MessageRedactor | None = None
        self._left = limit
        self._limit = limit
        self._high = ""  # a first half of a character, held for the next chunk

    def feed(self, fragment: str) -> str:
        self._left -= len(fragment)
        if self._left < 0:
            raise Overflow(t("guard.long_transcript", mi=self._limit // 2**20))
        # the usual chunk: no half to join
        if fragment.isascii() and not self._high:
            return super().feed(fragment)
        return super().feed(self._joined(fragment))

    def feed_reasoning(self, message: str) -> str:
        """A ``reasoning_content`` message, redacted even of a key cut across
        two.
        """
        self._left -= len(message)
        if self._left < 0:
            raise Overflow(t("guard.long_transcript", mi=self._limit // 2**20))
        if self._messages is None:
            self._messages = MessageRedactor(self._secret)
        return "\n".join(self._messages.feed(message))

    def flush(self) -> str:
        return super().feed(self._joined("", last=True)) + super().flush()

    def _joined(self, fragment: str, *, last: bool = False) -> str:
        text, self._high = self._high + fragment, ""
        if text and not last and "\ud800" <= text[-1] <= "\udbff":
            text, self._high = text[:-1], text[-1]
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # pairs joined, a lone half becomes U+FFFD
            return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
        return text

    def flush_reasoning(self) -> str:
        return "\n".join(self._messages.flush()) if self._messages else ""
