"""The sora2api relays' chat stream, parsed incrementally with no I/O
(docs/dialects.md).

Their ``content`` is read as the seed's markdown is; what is theirs alone is
read here: progress in ``reasoning_content``, a task id in ``delta.output``, and
the result as a ``<video src=…>`` tag.
"""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from ._chunks import ChatChunk
from ._events import CompletedEvent, Event, ProgressEvent, StatusEvent, TaskEvent, TextEvent
from ._markdown import ChatDialect, MarkdownParser

__all__ = ["VIDEO_TAG", "Sora2apiParser"]

# sora2api's result: ```html\n<video src='URL' controls></video>\n```
# (docs/dialects.md).
VIDEO_TAG = re.compile(r"<video\b[^>]*?\bsrc\s*=\s*(['\"])(?P<url>[^'\"]+)\1", re.IGNORECASE)

# sora2api reasoning lines (docs/dialects.md, "sora2api chat").
_R_PROGRESS = re.compile(
    r"Video Generation Progress\**\s*[:：]\s*(?P<pct>\d{1,3})(?:\.\d+)?%\s*\((?P<status>[\w ]+)\)"
)
_R_STAGE = re.compile(
    r"^\[(?P<stage>\w+)\]\s*\((?P<status>\w+)\)(?:\s*(?P<pct>\d{1,3})(?:\.\d+)?%)?"
)
# flow2api's progress line (docs/dialects.md, "flow2api").
_R_FLOW = re.compile(r"生成进度\s*[:：]\s*(?P<pct>\d{1,3})(?:\.\d+)?%")
_R_TASK = re.compile(r"\btask_id\s*[:：]\s*(?P<id>[A-Za-z0-9][\w\-]*)")
_R_POST = re.compile(r"\bPost ID\s*[:：]\s*(?P<sid>s_[A-Za-z0-9]+)")
_R_QUEUED = {"queued", "pending", "waiting"}
_R_RUNNING = {"running", "processing", "in_progress", "generating"}


class Sora2apiParser(MarkdownParser):
    """Incremental parser of a sora2api (or flow2api) chat stream.

    Fed chunks with ``feed_chunk``; ``feed``, ``flush`` and the summing-up
    attributes are ``MarkdownParser``'s.
    """

    dialect: ClassVar[ChatDialect] = "sora2api"

    @classmethod
    def taking_over(cls, parser: MarkdownParser) -> Sora2apiParser:
        """Go on from what ``parser`` has read (taking its fields)."""
        successor = cls()
        vars(successor).update(vars(parser))
        return successor

    def feed_chunk(self, chunk: ChatChunk) -> list[Event]:
        """Consume a chat chunk (``reasoning_content``, ``content``, …)."""
        events = self.feed_reasoning(chunk.reasoning) if chunk.reasoning else []
        if chunk.task_id:
            self._reasoning_task(chunk.task_id, events)
        return events + self.feed(chunk.content)

    def feed_reasoning(self, text: str) -> list[Event]:
        """Consume one ``reasoning_content`` message (sora2api's progress
        channel).

        Each relay of that family writes whole messages per chunk (some with no
        trailing newline), so a message is read line by line as it comes; only
        ``content`` is fragmented mid-line, and that goes through ``feed``.
        """
        events: list[Event] = []
        for line in text.splitlines():
            line = line.strip()
            if line and not self._reasoning_line(line, events):
                events.append(TextEvent(line))
        return events

    def _reasoning_line(self, line: str, events: list[Event]) -> bool:
        flow = _R_FLOW.search(line)
        if flow is not None:
            self._reasoning_status("generating", events)
            if int(flow.group("pct")) > self._percent:
                self._percent = min(100, int(flow.group("pct")))
                events.append(ProgressEvent(self._percent))
            return True
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

    def _result(self, text: str, events: list[Event]) -> bool:
        tag = VIDEO_TAG.search(text)
        if tag is None:
            return False
        # The tag's URL is often a signed CDN link: kept whole, query included.
        if self.completed is None:
            url = tag.group("url").replace("&amp;", "&")
            self.completed = CompletedEvent(self._sid, self._thumbnail, url)
            events.append(self.completed)
        return True
