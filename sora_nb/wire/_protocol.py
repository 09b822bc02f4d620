"""The relay's wire format, with no I/O.

Three layers, all pure:

* ``parse_chunk`` (``_chunks``) turns one SSE ``data:`` payload into what it
  carries.
* A parser per chat dialect is fed those chunks, or fragments of ``content`` of
  any size, and returns typed events: ``MarkdownParser`` (``_markdown``) for the
  seed relay's transcript, ``Sora2apiParser`` (``_sora2api``) for the sora2api
  relays' stream.
* ``TranscriptParser`` reads either: the chat dialects are told apart by the
  stream itself (docs/dialects.md), so callers need no setting.

``parse_source`` reads a task's status JSON, as polled from its source URL.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Protocol

from ._chunks import ChatChunk, completion_content, error_message, parse_chunk
from ._events import CompletedEvent, EchoEvent, Event, FailedEvent
from ._markdown import ChatDialect, MarkdownParser
from ._sora2api import Sora2apiParser

__all__ = [
    "ChatChunk",
    "ChatDialect",
    "ChatParser",
    "MarkdownParser",
    "Sora2apiParser",
    "SourceStatus",
    "TranscriptParser",
    "completion_content",
    "completion_tail",
    "parse_chunk",
    "parse_source",
    "parse_transcript",
]


# --- either chat dialect ------------------------------------------------------


class ChatParser(Protocol):
    """What a chat dialect reads its stream with: one of the parsers below."""

    # set by the client for an in-stream error object
    failed: FailedEvent | None

    @property
    def dialect(self) -> ChatDialect: ...
    @property
    def transcript(self) -> str: ...
    @property
    def percent(self) -> int | None: ...
    @property
    def task_id(self) -> str | None: ...
    @property
    def preview_url(self) -> str | None: ...
    @property
    def source_url(self) -> str | None: ...
    @property
    def echo(self) -> EchoEvent | None: ...
    @property
    def completed(self) -> CompletedEvent | None: ...
    def feed(self, fragment: str) -> list[Event]: ...
    def feed_chunk(self, chunk: ChatChunk) -> list[Event]: ...
    def flush(self) -> list[Event]: ...


# sora2api's result tag up to its URL: in content, it hands the stream over.
_TAG_MARK = re.compile(r"<video\b[^>]*?\bsrc\s*=\s*['\"]", re.IGNORECASE)
# longer than any tag's start, so one split across fragments is seen
_TAG_WINDOW = 256


class TranscriptParser:
    """Incremental parser of a chat relay's answer, in either chat dialect.

    It reads as the seed's ``MarkdownParser`` until the stream shows a mark of
    sora2api's (``reasoning_content``, an ``output`` task id, a ``<video src=``
    tag), then hands what it has read to a ``Sora2apiParser``; ``dialect`` names
    the one reading. ``feed``, ``feed_chunk``, ``flush`` and the attributes that
    sum the stream up are theirs.
    """

    def __init__(self) -> None:
        self._parser: MarkdownParser = MarkdownParser()
        # content from its last "<", for a tag split across fragments
        self._tag = ""

    def feed(self, fragment: str) -> list[Event]:
        """Consume a fragment of assistant content; return its events."""
        if fragment and not isinstance(self._parser, Sora2apiParser):
            self._watch(fragment)
        return self._parser.feed(fragment)

    def feed_chunk(self, chunk: ChatChunk) -> list[Event]:
        """Consume a chat chunk (``reasoning_content``, ``content``, …)."""
        if chunk.reasoning or chunk.task_id:
            return self._sora2api().feed_chunk(chunk)
        return self.feed(chunk.content)

    def feed_reasoning(self, text: str) -> list[Event]:
        """Consume a ``reasoning_content`` message (sora2api's progress)."""
        return self._sora2api().feed_reasoning(text)

    def flush(self) -> list[Event]:
        """End of stream: classify the unfinished line and anything pending."""
        return self._parser.flush()

    def _watch(self, fragment: str) -> None:
        window = self._tag + fragment
        if "<" not in window:
            return
        if _TAG_MARK.search(window):
            self._sora2api()
            return
        cut = window.rfind("<")
        self._tag = window[cut:] if len(window) - cut <= _TAG_WINDOW else ""

    def _sora2api(self) -> Sora2apiParser:
        if not isinstance(self._parser, Sora2apiParser):
            self._parser = Sora2apiParser.taking_over(self._parser)
        return self._parser

    @property
    def dialect(self) -> ChatDialect:
        """The chat dialect the stream was in, as far as it has been read."""
        return self._parser.dialect

    @property
    def transcript(self) -> str:
        """Everything fed so far, verbatim."""
        return self._parser.transcript

    @property
    def percent(self) -> int | None:
        """The last progress seen, if any."""
        return self._parser.percent

    @property
    def task_id(self) -> str | None:
        return self._parser.task_id

    @property
    def preview_url(self) -> str | None:
        return self._parser.preview_url

    @property
    def source_url(self) -> str | None:
        return self._parser.source_url

    @property
    def echo(self) -> EchoEvent | None:
        return self._parser.echo

    @property
    def completed(self) -> CompletedEvent | None:
        return self._parser.completed

    @property
    def failed(self) -> FailedEvent | None:
        return self._parser.failed

    @failed.setter
    def failed(self, event: FailedEvent | None) -> None:
        self._parser.failed = event


def parse_transcript(text: str) -> list[Event]:
    """Parse a whole transcript (a saved turn, a ``stream: false`` answer)."""
    parser = TranscriptParser()
    return parser.feed(text) + parser.flush()


# --- task status (the "原始数据" source URL) ----------------------------------

_DONE_WORDS = {"completed", "complete", "succeeded", "success", "done", "finished", "ready"}
_FAILED_WORDS = {"failed", "failure", "error", "cancelled", "canceled", "rejected", "expired"}
_QUEUED_WORDS = {"queued", "pending", "waiting", "submitted", "created", "not_start", "queue"}


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """A task's status from its source URL, whatever the JSON's shape."""

    status: str  # "queued" | "generating" | "completed" | "failed" | "unknown"
    progress: int | None
    video_url: str | None
    thumbnail_url: str | None
    sid: str | None
    failure_reason: str | None
    prompt: str | None = None
    model: str | None = None
    orientation: str | None = None


def _layers(obj: Any) -> list[dict[str, Any]]:
    """The top-level object and the nested ones relays put the fields under."""
    layers = [obj] if isinstance(obj, dict) else []
    for layer in list(layers):
        for key in ("content", "data", "result", "task", "output"):
            if isinstance(layer.get(key), dict):
                layers.append(layer[key])
    return layers


def _first(layers: list[dict[str, Any]], *keys: str) -> Any:
    for layer in layers:
        for key in keys:
            value = layer.get(key)
            if value not in (None, "", [], {}):
                return value
    return None


def _progress(value: Any) -> int | None:
    if isinstance(value, str):
        value = value.strip().rstrip("%")
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    # json.loads reads Infinity and NaN; a number of nothing
    if not math.isfinite(number):
        return None
    if 0 < number <= 1 and not (isinstance(value, int) or str(value).strip() == "1"):
        number *= 100  # some relays report 0–1
    return max(0, min(100, round(number)))


def _status_word(value: Any) -> str:
    word = str(value or "").strip().lower().replace(" ", "_").replace("-", "_")
    if word in _DONE_WORDS:
        return "completed"
    if word in _FAILED_WORDS:
        return "failed"
    if word in _QUEUED_WORDS:
        return "queued"
    return "generating" if word else "unknown"


def parse_source(obj: Any) -> SourceStatus:
    """Read ``status``, ``progress``, ``url``, ``failure_reason``, anywhere."""
    layers = _layers(obj)
    url = _first(layers, "url", "video_url", "videoUrl", "mp4_url", "download_url")
    status = _status_word(_first(layers, "status", "state"))
    if status == "unknown" and isinstance(url, str):
        status = "completed"
    reason = _first(layers, "failure_reason", "fail_reason", "error", "reason")
    if reason is None and status == "failed":
        reason = _first(layers, "message", "msg")
    sid = _first(layers, "sid")
    thumbnail = _first(layers, "thumbnail_url", "thumbnail", "cover_url", "cover")
    prompt, model, orientation = (_first(layers, key) for key in ("prompt", "model", "orientation"))
    return SourceStatus(
        status=status,
        progress=_progress(_first(layers, "progress", "percent")),
        video_url=url if isinstance(url, str) else None,
        thumbnail_url=thumbnail if isinstance(thumbnail, str) else None,
        sid=sid if isinstance(sid, str) else None,
        failure_reason=None if reason is None else error_message(reason),
        prompt=prompt if isinstance(prompt, str) else None,
        model=model if isinstance(model, str) else None,
        orientation=orientation if isinstance(orientation, str) else None,
    )


def completion_tail(sid: str | None, thumbnail_url: str | None, video_url: str) -> str:
    """The relay's closing lines, for a transcript completed by polling the
    source URL.

    An edit sends the assistant transcript back; the relay finds the sid in it,
    so a turn recovered after a broken stream must still carry ``> sid: …`` in
    the relay's own form.
    """
    lines = ["", "", "> 生成完成 ✅"]
    if sid:
        lines.append(f"> sid: {sid}")
    lines.append("")
    if thumbnail_url:
        lines.append(f"![{thumbnail_url}]({thumbnail_url})")
    lines.append(f"[在线播放▶️]({video_url})")
    return "\n".join(lines)
