"""The seed relay's markdown transcript, parsed incrementally with no I/O.

Status words and progress numbers are recognised as soon as they are complete,
before their line ends, because the relay keeps a line open for minutes while it
appends one ``.`` or one ``NN..`` per poll. Everything else is classified when
its line is complete. The current line is kept as a list of fragments plus a
short tail, so the cost stays linear in the stream's length whatever the
fragment size. The events are the same whatever the fragmenting
(docs/protocol.md, "Response stream").
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar, Literal

from ._chunks import ChatChunk, error_message
from ._events import (
    CompletedEvent,
    EchoEvent,
    Event,
    FailedEvent,
    ProgressEvent,
    StatusEvent,
    TaskEvent,
    TextEvent,
)

__all__ = ["ChatDialect", "MarkdownParser"]

#: The chat dialects a stream can be in; the Videos API is chosen, not seen.
ChatDialect = Literal["transcript", "sora2api"]

# Recognised before the line ends (see the module docstring).
_STATUS_WORDS = re.compile(
    r"(?P<queued>排队中|等待处理中|等待中|[Qq]ueued|[Ii]n queue|[Ww]aiting)"
    r"|(?P<generating>生成中|正在生成|[Gg]enerating|[Ii]n progress|[Pp]rocessing)"
)
_PROGRESS_WORD = re.compile(r"进度|[Pp]rogress")
# "36..", and the "[100](url)" some relays end the progress line with.
_PROGRESS_NUMBER = re.compile(r"(?<!\d)(\d{1,3})(?:\.\.|%)|\[(\d{1,3})\]\(")
# longer than any word or number above, so a split match is still seen
_TAIL = 32

# Recognised on complete lines.
_TASK_ID = re.compile(r"(?:任务\s*ID|[Tt]ask\s*ID|\bID)\s*[:：]\s*`?(?P<id>[A-Za-z0-9][\w\-]*)`?")
_LINK = re.compile(r"(?P<bang>!?)\[(?P<label>[^\]]*)\]\((?P<url>[^)\s]+)\)")
_SID = re.compile(r"\bsid\s*[:：]\s*`?(?P<sid>s_[A-Za-z0-9]+)`?")
_FAILED = re.compile(
    r"生成失败|任务失败|[Gg]eneration failed|[Ff]ailed to generate|[Ff]ailure reason|❌"
)
_REASON = re.compile(
    r"(?:错误原因|失败原因|原因|[Ff]ailure reason|[Rr]eason|[Ee]rror)\s*[:：]\s*(.+)"
)
_VIDEO_LABEL = re.compile(r"播放|观看|下载|[Pp]lay|[Ww]atch|[Dd]ownload|[Vv]ideo")
_VIDEO_URL = re.compile(r"\.(?:mp4|webm|mov|m3u8)(?:[?#]|$)|/download/", re.IGNORECASE)
_PREVIEW_LABEL = re.compile(r"预览|[Pp]review|/web/")
_SOURCE_LABEL = re.compile(r"原始|[Ss]ource|[Rr]aw|/source/")
_QUOTE = re.compile(r"^[\s>]*")


def _reason_from_json(obj: Any) -> str:
    if isinstance(obj, dict):
        for key in ("failure_reason", "fail_reason", "reason", "message", "msg", "error", "detail"):
            value = obj.get(key)
            if value:
                return error_message(value) if isinstance(value, dict) else str(value)
    return json.dumps(obj, ensure_ascii=False)


class MarkdownParser:
    """Incremental parser of the seed relay's markdown transcript
    (docs/protocol.md).

    ``feed(fragment)`` returns the events completed by that fragment;
    ``flush()`` ends the stream and returns the rest. After parsing, the
    attributes sum the stream up: ``task_id``, ``preview_url``, ``source_url``,
    ``echo``, ``completed``, ``failed``.
    """

    dialect: ClassVar[ChatDialect] = "transcript"

    def __init__(self) -> None:
        self._fragments: list[str] = []
        self._line: list[str] = []  # fragments of the current, unfinished line
        self._tail = ""  # its last few characters, for matches across fragments
        # its first few characters, to know what kind of line it is
        self._head = ""
        # a status word or progress number was found in it
        self._line_scanned = False
        self._line_is_progress = False
        self._fence: list[str] | None = None  # lines of an open ``` block
        self._pending_task: str | None = None
        # a failure header awaiting its reason
        self._pending_failure: str | None = None
        self._status: str | None = None
        self._percent = -1
        self._sid: str | None = None
        self._thumbnail: str | None = None
        self.task_id: str | None = None
        self.preview_url: str | None = None
        self.source_url: str | None = None
        self.echo: EchoEvent | None = None
        self.completed: CompletedEvent | None = None
        self.failed: FailedEvent | None = None

    @property
    def transcript(self) -> str:
        """Everything fed so far, verbatim."""
        if len(self._fragments) > 1:
            self._fragments[:] = ["".join(self._fragments)]
        return self._fragments[0] if self._fragments else ""

    @property
    def percent(self) -> int | None:
        """The last progress seen, if any."""
        return self._percent if self._percent >= 0 else None

    def feed(self, fragment: str) -> list[Event]:
        """Consume a fragment of assistant content; return its events."""
        if not fragment:
            return []
        self._fragments.append(fragment)
        events: list[Event] = []
        start = 0
        while True:
            newline = fragment.find("\n", start)
            piece = fragment[start:] if newline < 0 else fragment[start:newline]
            if piece:
                self._scan(piece, events)
                self._line.append(piece)
            if newline < 0:
                return events
            self._end_line(events)
            start = newline + 1

    def feed_chunk(self, chunk: ChatChunk) -> list[Event]:
        """Consume one chat chunk; the seed relay writes only ``content``."""
        return self.feed(chunk.content)

    def flush(self) -> list[Event]:
        """End of stream: classify the unfinished line and anything pending."""
        events: list[Event] = []
        if self._line:
            self._end_line(events)
        if self._fence is not None:
            self._close_fence(events)
        self._emit_pending_task(events)
        self._emit_pending_failure(events, None)
        return events

    # -- while a line is still arriving ----------------------------------------

    def _scan(self, piece: str, events: list[Event]) -> None:
        if self._fence is not None:
            return  # inside the echo JSON: its lines are read when they end
        if len(self._head) < 8:
            self._head = (self._head + piece)[:8]
        window = self._tail + piece
        base = len(self._tail)
        self._tail = window[-_TAIL:]
        if self._head.lstrip(" >").startswith(("`", "*", "_", "#")):
            return  # a markdown "reasoning" preface
        if not self._line_is_progress and not piece.strip("."):
            # a poll's dots: no status word ends in a dot, no number is here
            return
        found: list[tuple[int, Event]] = []
        for match in _STATUS_WORDS.finditer(window):
            if match.end() > base:
                status = "queued" if match.group("queued") else "generating"
                found.append((match.start(), StatusEvent(status)))  # type: ignore[arg-type]
        numbers_from = 0
        if not self._line_is_progress:
            word = _PROGRESS_WORD.search(window)
            if word is None or word.end() <= base:
                word = None
            else:
                self._line_is_progress = True
                numbers_from = word.end()
        if self._line_is_progress:
            for match in _PROGRESS_NUMBER.finditer(window, numbers_from):
                if match.end() > base:
                    value = int(match.group(1) or match.group(2))
                    found.append((match.start(), ProgressEvent(min(value, 100))))
        for _, event in sorted(found, key=lambda item: item[0]):
            self._line_scanned = True
            if isinstance(event, StatusEvent) and event.status != self._status:
                self._status = event.status
                events.append(event)
            elif isinstance(event, ProgressEvent) and event.percent > self._percent:
                self._percent = event.percent
                events.append(event)

    # -- when a line is complete -----------------------------------------------

    def _end_line(self, events: list[Event]) -> None:
        line = "".join(self._line).rstrip("\r")
        scanned = self._line_scanned
        self._line.clear()
        self._tail = self._head = ""
        self._line_scanned = self._line_is_progress = False
        self._classify(line, scanned, events)

    def _classify(self, line: str, scanned: bool, events: list[Event]) -> None:
        stripped = line.strip()
        if self._fence is not None:
            if stripped.startswith("```"):
                self._close_fence(events)
            else:
                self._fence.append(line)
            return
        if stripped.startswith("```"):
            self._fence = []
            return
        if not stripped:
            return
        body = _QUOTE.sub("", line).strip()
        links = list(_LINK.finditer(body))
        if self._pending_task and not links:
            self._emit_pending_task(events)
        if self._pending_failure is not None:
            reason = _REASON.search(body)
            self._emit_pending_failure(events, reason.group(1).strip() if reason else body)
            return
        if self._task_line(body, links, events) or self._failure_line(body, events):
            return
        if self._completion_line(body, links, events) or scanned:
            return
        events.append(TextEvent(line))

    def _task_line(self, body: str, links: list[re.Match[str]], events: list[Event]) -> bool:
        match = _TASK_ID.search(body)
        if match and self.task_id is None:
            self._pending_task = self.task_id = match.group("id")
        if not self._pending_task:
            return bool(match)
        for link in links:
            text = link.group("label") + " " + link.group("url")
            if _PREVIEW_LABEL.search(text) and not self.preview_url:
                self.preview_url = link.group("url")
            elif _SOURCE_LABEL.search(text) and not self.source_url:
                self.source_url = link.group("url")
        if links:
            self._emit_pending_task(events)
        return bool(match or links)

    def _failure_line(self, body: str, events: list[Event]) -> bool:
        if not _FAILED.search(body):
            return False
        reason = _REASON.search(body)
        after_colon = re.split(r"[:：]", body, maxsplit=1)
        if reason and not reason.group(1).strip().endswith("如下"):
            self._emit_failure(events, reason.group(1).strip())
        elif len(after_colon) == 2 and after_colon[1].strip():
            self._emit_failure(events, after_colon[1].strip())
        else:
            # "> 生成失败，错误原因如下" then a JSON block, or a reason on the
            # next line.
            self._pending_failure = body
        return True

    def _completion_line(self, body: str, links: list[re.Match[str]], events: list[Event]) -> bool:
        sid = _SID.search(body)
        if sid:
            self._sid = sid.group("sid")
        handled = bool(sid) or bool(re.search(r"生成完成|已生成|✅|🎉|[Cc]omplete", body))
        if self._result(body, events):
            return True
        for link in links:
            url = link.group("url")
            if link.group("label").strip().isdigit():
                # "72..[100](url)" closes a progress line; it is not the video
                continue
            if link.group("bang"):
                self._thumbnail = self._thumbnail or url
            elif self.completed is None and (
                _VIDEO_URL.search(url) or _VIDEO_LABEL.search(link.group("label"))
            ):
                self.completed = CompletedEvent(self._sid, self._thumbnail, url)
                events.append(self.completed)
            handled = True
        return handled

    def _close_fence(self, events: list[Event]) -> None:
        raw = "\n".join(self._fence or [])
        self._fence = None
        try:
            obj = json.loads(raw)
        except ValueError:
            obj = None
        if self._pending_failure is not None:
            self._emit_pending_failure(events, _reason_from_json(obj) if obj else raw.strip())
        elif obj is None and self._result(raw, events):
            pass
        elif isinstance(obj, dict) and self.echo is None and self.task_id is None:
            sid = obj.get("sid")
            orientation = obj.get("orientation")
            prompt = obj.get("prompt")
            self.echo = EchoEvent(
                prompt=prompt if isinstance(prompt, str) else None,
                orientation=orientation if isinstance(orientation, str) else None,
                sid=sid if isinstance(sid, str) and sid else None,
                data=obj,
            )
            events.append(self.echo)
        elif isinstance(obj, dict) and any(k in obj for k in ("error", "failure_reason")):
            self._emit_failure(events, _reason_from_json(obj))
        elif raw.strip():
            events.append(TextEvent(raw))

    def _result(self, text: str, events: list[Event]) -> bool:
        """A result in the dialect's own markup; the seed writes only links."""
        return False

    # -- pending parts ---------------------------------------------------------

    def _emit_pending_task(self, events: list[Event]) -> None:
        if self._pending_task:
            events.append(TaskEvent(self._pending_task, self.preview_url, self.source_url))
            self._pending_task = None

    def _emit_pending_failure(self, events: list[Event], reason: str | None) -> None:
        if self._pending_failure is not None:
            header = self._pending_failure
            self._pending_failure = None
            self._emit_failure(events, reason or header)

    def _emit_failure(self, events: list[Event], reason: str) -> None:
        if self.failed is None:
            self.failed = FailedEvent(reason, self.task_id)
            events.append(self.failed)
