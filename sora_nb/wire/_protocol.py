"""The relay's wire format, with no I/O.

Two layers, both pure:

* ``parse_chunk`` turns one SSE ``data:`` payload (a ``chat.completion.chunk``) into the
  content fragment it carries, its ``reasoning_content`` and ``output`` task ids, an in-stream
  error, or the ``[DONE]`` sentinel.
* ``TranscriptParser`` is fed those fragments, of any size, and returns typed events. It
  gives the same events whatever the fragmenting (docs/protocol.md, "Response stream").

The chat dialects are told apart by the stream itself (docs/dialects.md): the seed relay
writes a markdown transcript in ``content``; the sora2api relays write their progress in
``reasoning_content`` and end with a ```` ```html <video src=…> ``` ```` block in ``content``.
``feed_chunk`` reads both, so callers need no setting.

Status words and progress numbers are recognised as soon as they are complete, before their
line ends, because the relay keeps a line open for minutes while it appends one ``.`` or one
``NN..`` per poll. Everything else is classified when its line is complete. The current line
is kept as a list of fragments plus a short tail, so the cost stays linear in the stream's
length whatever the fragment size.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Literal

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

__all__ = [
    "ChatChunk",
    "Dialect",
    "SourceStatus",
    "TranscriptParser",
    "completion_content",
    "completion_tail",
    "parse_chunk",
    "parse_source",
    "parse_transcript",
]


#: The chat dialects a stream can be in; the Videos task API is chosen, not detected.
Dialect = Literal["transcript", "sora2api"]


# --- chat chunks --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChatChunk:
    """What one SSE payload carries."""

    content: str = ""
    finish_reason: str | None = None
    error: str | None = None
    done: bool = False
    reasoning: str = ""  # ``delta.reasoning_content`` (sora2api relays)
    task_id: str | None = None  # ``delta.output[0].task_id`` (a sora2api fork)


def _error_message(error: Any) -> str:
    if isinstance(error, dict):
        for key in ("message", "msg", "detail", "code", "type"):
            value = error.get(key)
            if value:
                return str(value)
        return json.dumps(error, ensure_ascii=False)
    return str(error)


def parse_chunk(data: str) -> ChatChunk:
    """Decode one SSE ``data`` payload; unknown shapes yield an empty chunk, never an error."""
    data = data.strip()
    if data == "[DONE]":
        return ChatChunk(done=True)
    try:
        obj = json.loads(data)
    except ValueError:
        return ChatChunk()
    if not isinstance(obj, dict):
        return ChatChunk()
    if obj.get("error"):
        return ChatChunk(error=_error_message(obj["error"]))
    choices = obj.get("choices") or []  # a trailing usage chunk has none
    if not choices or not isinstance(choices[0], dict):
        return ChatChunk()
    choice = choices[0]
    delta = choice.get("delta") or choice.get("message") or {}
    if not isinstance(delta, dict):
        delta = {}
    content, reasoning = delta.get("content"), delta.get("reasoning_content")
    finish = choice.get("finish_reason")
    return ChatChunk(
        content=content if isinstance(content, str) else "",
        finish_reason=finish if isinstance(finish, str) else None,
        reasoning=reasoning if isinstance(reasoning, str) else "",
        task_id=_output_task_id(delta.get("output")),
    )


def _output_task_id(output: Any) -> str | None:
    """``[{"task_id": "task_…"}]``, as the ShakeChanDev fork sends once the task exists."""
    if isinstance(output, list) and output and isinstance(output[0], dict):
        task_id = output[0].get("task_id")
        if isinstance(task_id, str) and task_id:
            return task_id
    return None


def completion_content(obj: Any) -> str:
    """The transcript of a non-streamed completion (``stream: false``)."""
    try:
        content = obj["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return ""
    return content if isinstance(content, str) else ""


# --- transcript ---------------------------------------------------------------------------

# Recognised before the line ends (see the module docstring).
_STATUS_WORDS = re.compile(
    r"(?P<queued>排队中|等待处理中|等待中|[Qq]ueued|[Ii]n queue|[Ww]aiting)"
    r"|(?P<generating>生成中|正在生成|[Gg]enerating|[Ii]n progress|[Pp]rocessing)"
)
_PROGRESS_WORD = re.compile(r"进度|[Pp]rogress")
# "36..", and the "[100](url)" that some relays put at the end of the progress line.
_PROGRESS_NUMBER = re.compile(r"(?<!\d)(\d{1,3})(?:\.\.|%)|\[(\d{1,3})\]\(")
_TAIL = 32  # longer than any word or number above, so a match split across fragments is seen

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
# sora2api's result: ```html\n<video src='URL' controls></video>\n``` (docs/dialects.md).
_VIDEO_TAG = re.compile(r"<video\b[^>]*?\bsrc\s*=\s*(['\"])(?P<url>[^'\"]+)\1", re.IGNORECASE)

# sora2api reasoning lines (docs/dialects.md, "sora2api chat").
_R_PROGRESS = re.compile(
    r"Video Generation Progress\**\s*[:：]\s*(?P<pct>\d{1,3})(?:\.\d+)?%\s*\((?P<status>[\w ]+)\)"
)
_R_STAGE = re.compile(
    r"^\[(?P<stage>\w+)\]\s*\((?P<status>\w+)\)(?:\s*(?P<pct>\d{1,3})(?:\.\d+)?%)?"
)
_R_TASK = re.compile(r"\btask_id\s*[:：]\s*(?P<id>[A-Za-z0-9][\w\-]*)")
_R_POST = re.compile(r"\bPost ID\s*[:：]\s*(?P<sid>s_[A-Za-z0-9]+)")
_R_QUEUED = {"queued", "pending", "waiting"}
_R_RUNNING = {"running", "processing", "in_progress", "generating"}


def _reason_from_json(obj: Any) -> str:
    if isinstance(obj, dict):
        for key in ("failure_reason", "fail_reason", "reason", "message", "msg", "error", "detail"):
            value = obj.get(key)
            if value:
                return _error_message(value) if isinstance(value, dict) else str(value)
    return json.dumps(obj, ensure_ascii=False)


class TranscriptParser:
    """Incremental parser of the relay's markdown transcript.

    ``feed(fragment)`` returns the events completed by that fragment; ``flush()`` ends the
    stream and returns the rest. After parsing, the attributes sum the stream up:
    ``task_id``, ``preview_url``, ``source_url``, ``echo``, ``completed``, ``failed``.
    """

    def __init__(self) -> None:
        self._fragments: list[str] = []
        self._line: list[str] = []  # fragments of the current, unfinished line
        self._tail = ""  # its last few characters, for matches across fragments
        self._head = ""  # its first few characters, to know what kind of line it is
        self._line_scanned = False  # a status word or progress number was found in it
        self._line_is_progress = False
        self._fence: list[str] | None = None  # lines of an open ``` block
        self._pending_task: str | None = None
        self._pending_failure: str | None = None  # a failure header awaiting its reason
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
        self.dialect: Dialect = "transcript"  # "sora2api" once its marks are seen

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
        """Consume one fragment of assistant content; return the events it completed."""
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
        """Consume one chat chunk: its ``reasoning_content``, ``output`` and ``content``."""
        events = self.feed_reasoning(chunk.reasoning) if chunk.reasoning else []
        if chunk.task_id:
            self._reasoning_task(chunk.task_id, events)
        return events + self.feed(chunk.content)

    def feed_reasoning(self, text: str) -> list[Event]:
        """Consume one ``reasoning_content`` message (sora2api's progress channel).

        Each relay of that family writes whole messages per chunk (some with no trailing
        newline), so a message is read line by line as it comes; only ``content`` is
        fragmented mid-line, and that goes through ``feed``.
        """
        self.dialect = "sora2api"
        events: list[Event] = []
        for line in text.splitlines():
            line = line.strip()
            if line and not self._reasoning_line(line, events):
                events.append(TextEvent(line))
        return events

    def flush(self) -> list[Event]:
        """End of stream: classify the unfinished line and anything still pending."""
        events: list[Event] = []
        if self._line:
            self._end_line(events)
        if self._fence is not None:
            self._close_fence(events)
        self._emit_pending_task(events)
        self._emit_pending_failure(events, None)
        return events

    # -- while a line is still arriving ---------------------------------------------------

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
            return  # a poll's dots: no status word ends in a dot, and no number is read here
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

    # -- sora2api reasoning -------------------------------------------------------------

    def _reasoning_line(self, line: str, events: list[Event]) -> bool:
        progress = _R_PROGRESS.search(line) or _R_STAGE.search(line)
        task, post = _R_TASK.search(line), _R_POST.search(line)
        if task:
            self._reasoning_task(task.group("id"), events)
        if post:
            self._sid = post.group("sid")
        if progress is None:
            return bool(task or post)
        status = progress.group("status").strip().lower().replace(" ", "_")
        if status in _R_QUEUED | _R_RUNNING:
            self._reasoning_status("queued" if status in _R_QUEUED else "generating", events)
        if progress.group("pct") is not None and int(progress.group("pct")) > self._percent:
            self._percent = min(100, int(progress.group("pct")))
            events.append(ProgressEvent(self._percent))
        return progress.re is _R_PROGRESS or progress.group("pct") is not None

    def _reasoning_status(
        self, status: Literal["queued", "generating"], events: list[Event]
    ) -> None:
        if status != self._status:
            self._status = status
            events.append(StatusEvent(status))

    def _reasoning_task(self, task_id: str, events: list[Event]) -> None:
        if self.task_id is None:
            self.task_id = task_id
            events.append(TaskEvent(task_id, None, None))

    # -- when a line is complete ----------------------------------------------------------

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
            # "> 生成失败，错误原因如下" then a JSON block, or a reason on the next line.
            self._pending_failure = body
        return True

    def _completion_line(self, body: str, links: list[re.Match[str]], events: list[Event]) -> bool:
        sid = _SID.search(body)
        if sid:
            self._sid = sid.group("sid")
        handled = bool(sid) or bool(re.search(r"生成完成|已生成|✅|🎉|[Cc]omplete", body))
        tag = _VIDEO_TAG.search(body)
        if tag:
            self._complete_from_tag(tag.group("url"), events)
            return True
        for link in links:
            url = link.group("url")
            if link.group("label").strip().isdigit():
                continue  # "72..[100](url)" closes a progress line; it is not the video
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
        tag = _VIDEO_TAG.search(raw) if obj is None else None
        if self._pending_failure is not None:
            self._emit_pending_failure(events, _reason_from_json(obj) if obj else raw.strip())
        elif tag is not None:
            self._complete_from_tag(tag.group("url"), events)
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

    def _complete_from_tag(self, url: str, events: list[Event]) -> None:
        # The tag's URL is often a signed CDN link: keep it whole, query string included.
        self.dialect = "sora2api"
        if self.completed is None:
            self.completed = CompletedEvent(self._sid, self._thumbnail, url.replace("&amp;", "&"))
            events.append(self.completed)

    # -- pending parts --------------------------------------------------------------------

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


def parse_transcript(text: str) -> list[Event]:
    """Parse a whole transcript at once (a saved turn, a ``stream: false`` answer)."""
    parser = TranscriptParser()
    return parser.feed(text) + parser.flush()


# --- task status (the "原始数据" source URL) ---------------------------------------------------

_DONE_WORDS = {"completed", "complete", "succeeded", "success", "done", "finished", "ready"}
_FAILED_WORDS = {"failed", "failure", "error", "cancelled", "canceled", "rejected", "expired"}
_QUEUED_WORDS = {"queued", "pending", "waiting", "submitted", "created", "not_start", "queue"}


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """A task's status as read from its source URL, whatever the relay's JSON shape."""

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
    if not math.isfinite(number):  # json.loads reads Infinity and NaN; a number of nothing
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
    """Read ``status``/``progress``/``url``/``failure_reason``, top-level or nested."""
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
        failure_reason=None if reason is None else _error_message(reason),
        prompt=prompt if isinstance(prompt, str) else None,
        model=model if isinstance(model, str) else None,
        orientation=orientation if isinstance(orientation, str) else None,
    )


def completion_tail(sid: str | None, thumbnail_url: str | None, video_url: str) -> str:
    """The relay's closing lines, for a transcript completed by polling the source URL.

    An edit sends the assistant transcript back; the relay finds the sid in it, so a turn
    recovered after a broken stream must still carry ``> sid: …`` in the relay's own form.
    """
    lines = ["", "", "> 生成完成 ✅"]
    if sid:
        lines.append(f"> sid: {sid}")
    lines.append("")
    if thumbnail_url:
        lines.append(f"![{thumbnail_url}]({thumbnail_url})")
    lines.append(f"[在线播放▶️]({video_url})")
    return "\n".join(lines)
