"""A batch's durable journal: append-only JSON lines, each commit fsynced off the event loop.

A batch writes its plan (one line per item) before anything is sent, then one line when an
item is about to be sent and one the moment its task id is known; a kernel killed at any point
leaves a file from which ``resume`` knows, per item, whether it never started (send it),
started with a known task (collect it from its source URL) or was sent just before the kill
(it may have been billed: never re-sent silently). See docs/protocol.md, "Batches".

Nothing is ever rewritten, so there is no temporary file to leave behind: a line is one
``write`` on a file opened with ``O_APPEND``, and a line torn by a kill is ignored on reading.
Writers queue their lines and one flusher commits every queued line with a single ``fsync``
in a worker thread (group commit), so a thousand items cost a handful of syncs, not the
event loop's time.

Pure core: one file, no HTTP, no Jupyter.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .._exceptions import InvalidRequest
from .._messages import t

__all__ = ["FORMAT", "ItemRecord", "Journal", "JournalState", "read_journal"]

logger = logging.getLogger("sora_nb")

FORMAT = "sora_nb.batch"
VERSION = 1

#: What the journal knows of an item: planned (never sent), sent (no task id yet), task (the
#: relay named its task), done, or failed.
Stage = Literal["planned", "sent", "task", "done", "failed"]


@dataclass(slots=True)
class ItemRecord:
    """One item as the journal last saw it."""

    item: dict[str, Any]
    stage: Stage = "planned"
    task_id: str | None = None
    source_url: str | None = None
    preview_url: str | None = None
    video: dict[str, Any] | None = None
    error: str | None = None
    sends: int = 0  # how many times it was sent (a retry of a failed item adds one)


@dataclass(slots=True)
class JournalState:
    """Everything a journal file holds: its header and each item's last known stage."""

    header: dict[str, Any]
    items: list[ItemRecord] = field(default_factory=list)
    torn: int = 0  # lines a kill cut short, ignored

    @property
    def finished(self) -> bool:
        """Whether every planned item ended (done or failed)."""
        complete = len(self.items) == self.header.get("items", len(self.items))
        return complete and all(r.stage in ("done", "failed") for r in self.items)


class Journal:
    """An open journal file; ``write`` returns once its line is on disk."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd
        self._queue: list[tuple[str, asyncio.Future[None] | None]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.syncs = 0  # how many fsyncs, for benchmarks

    @classmethod
    def create(cls, path: Path, header: dict[str, Any], items: list[dict[str, Any]]) -> Journal:
        """Start a new journal with its plan, synced before this returns (nothing sent yet)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        head = {"format": FORMAT, "version": VERSION, "created": time.time(), **header}
        lines = [_line(head), *(_line({"i": i, "item": item}) for i, item in enumerate(items))]
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        journal = cls(path, fd)
        journal._commit(lines)
        return journal

    @classmethod
    def reopen(cls, path: Path) -> Journal:
        """Append to an existing journal (a resumed batch)."""
        return cls(path, os.open(path, os.O_WRONLY | os.O_APPEND))

    async def write(self, record: dict[str, Any]) -> None:
        """Append ``record`` and return once it is durable."""
        future = asyncio.get_running_loop().create_future()
        self._queue.append((_line(record), future))
        self._start_flusher()
        await asyncio.shield(future)  # a cancelled writer's line is still written

    def write_soon(self, record: dict[str, Any]) -> None:
        """Append ``record`` with the next commit, without waiting for it."""
        self._queue.append((_line(record), None))
        self._start_flusher()

    async def drain(self) -> None:
        """Return once every queued line is on disk."""
        while self._queue or (self._flusher is not None and not self._flusher.done()):
            self._start_flusher()
            assert self._flusher is not None
            await asyncio.shield(self._flusher)

    async def aclose(self) -> None:
        """Commit what is queued and close the file (a later write opens it again)."""
        await self.drain()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    # -- internals ----------------------------------------------------------------------------

    def _start_flusher(self) -> None:
        if self._flusher is None or self._flusher.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop yet: the next write or drain commits it
                return
            self._flusher = loop.create_task(self._flush())

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                await asyncio.to_thread(self._commit, [line for line, _ in batch])
            except OSError as exc:
                # The batch goes on (the relay bills it anyway); resume will know less.
                logger.warning("sora_nb: could not write the journal %s: %s", self.path, exc)
            for _, future in batch:
                if future is not None and not future.done():
                    future.set_result(None)

    def _commit(self, lines: list[str]) -> None:
        if self._fd < 0:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        data = memoryview("".join(lines).encode("utf-8"))
        while data:  # one write for a regular file; the loop covers a short write anyway
            data = data[os.write(self._fd, data) :]
        os.fsync(self._fd)
        self.syncs += 1


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def read_journal(path: Path) -> JournalState:
    """The state a journal file records; one clear error when it is not a journal."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InvalidRequest(t("journal.unreadable", path=path, detail=exc)) from None
    state: JournalState | None = None
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            if state is not None:
                state.torn += 1
            continue
        if state is None:
            state = _header(record, path)
        elif isinstance(record, dict):
            _apply(state, record)
    if state is None:
        raise InvalidRequest(t("journal.no_header", path=path))
    return state


def _header(record: Any, path: Path) -> JournalState:
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise InvalidRequest(t("journal.not_journal", path=path))
    if not isinstance(record.get("version"), int) or record["version"] > VERSION:
        raise InvalidRequest(t("journal.newer", path=path, version=record.get("version")))
    return JournalState(record)


def _apply(state: JournalState, record: dict[str, Any]) -> None:
    index = record.get("i")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        return
    if "item" in record:
        if index == len(state.items) and isinstance(record["item"], dict):
            state.items.append(ItemRecord(record["item"]))
        return
    if index >= len(state.items):
        return
    item = state.items[index]
    if "sent" in record:
        item.stage, item.sends, item.error = "sent", item.sends + 1, None
        item.task_id = item.source_url = item.preview_url = None
    elif "done" in record:
        item.stage, item.video, item.error = "done", record["done"], None
    elif "failed" in record:
        item.stage, item.error = "failed", str(record["failed"])
        item.task_id = record.get("task_id") or item.task_id
    elif isinstance(record.get("task_id"), str):
        item.stage = "task" if item.stage in ("sent", "task") else item.stage
        item.task_id = record["task_id"]
        item.source_url = record.get("source_url")
        item.preview_url = record.get("preview_url")
