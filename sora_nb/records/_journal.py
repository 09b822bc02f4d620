"""A batch's durable journal: append-only JSON lines, each commit fsynced off
the event loop.

A batch writes its plan (one line per item) before anything is sent, then one
line when an item is about to be sent and one the moment its task id is known; a
kernel killed at any point leaves a file from which ``resume`` knows, per item,
whether it never started (send it), started with a known task (collect it from
its source URL) or was sent just before the kill (it may have been billed: never
re-sent silently). See docs/protocol.md, "Batches".

Nothing is ever rewritten, so there is no temporary file to leave behind: a line
is one ``write`` on a file opened with ``O_APPEND``, and a line torn by a kill
is ignored on reading. Writers queue their lines and one flusher commits every
queued line with a single ``fsync`` in a worker thread (group commit), so a
thousand items cost a handful of syncs, not the event loop's time.

Pure core: one file, no HTTP, no Jupyter.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .._exceptions import InvalidRequest
from .._messages import t
from ._files import NOFOLLOW, sound, try_lock

__all__ = ["FORMAT", "ItemRecord", "Journal", "JournalState", "read_journal"]

logger = logging.getLogger("sora_nb")

FORMAT = "sora_nb.batch"
VERSION = 1

#: What the journal knows of an item: planned (never sent), sent (no task id
#: yet), task (the relay named its task), done, or failed.
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
    # how many times it was sent (a retry of a failed item adds one)
    sends: int = 0


@dataclass(slots=True)
class JournalState:
    """A journal file's contents: its header and each item's last stage."""

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
        # why the file cannot be written, once a commit failed
        self.broken: str | None = None

    @classmethod
    def create(cls, path: Path, header: dict[str, Any], items: list[dict[str, Any]]) -> Journal:
        """Start a new journal with its plan, synced before this returns."""
        head = {"format": FORMAT, "version": VERSION, "created": time.time(), **header}
        lines = [_line(head), *(_line({"i": i, "item": item}) for i, item in enumerate(items))]
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidRequest(t("journal.cannot_open", path=path, detail=exc)) from None
        journal = cls(path, _open_locked(path, os.O_CREAT))
        # under the lock: a batch started since the caller looked is seen
        try:
            if os.fstat(journal._fd).st_size and not read_journal(path).finished:
                raise InvalidRequest(t("batch.journal_unfinished", path=path))
            os.ftruncate(journal._fd, 0)
            journal._commit(lines)
        except BaseException:
            journal.close()
            raise
        return journal

    @classmethod
    def reopen(cls, path: Path) -> Journal:
        """Append to an existing journal (a resumed batch); read it after this
        returns, as the one writer.
        """
        journal = cls(path, _open_locked(path, 0))
        size = os.fstat(journal._fd).st_size
        if size and not _ends_a_line(path, size):
            # end the line a kill cut, and say so
            journal._commit(["\n", _TORN + "\n"])
        return journal

    async def write(self, record: dict[str, Any]) -> None:
        """Append ``record`` and return once it is durable; ``InvalidRequest``
        in one sentence when the file cannot be written (then nothing more is).
        """
        if self.broken is not None:
            raise InvalidRequest(self.broken)
        future = asyncio.get_running_loop().create_future()
        self._queue.append((_line(record), future))
        self._start_flusher()
        # a cancelled writer's line is still written
        await asyncio.shield(future)

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
        """Commit what is queued and close the file (a write reopens it)."""
        await self.drain()
        self.close()

    def close(self) -> None:
        """Close the file now, which lets another batch write it."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    # -- internals -------------------------------------------------------------

    def _start_flusher(self) -> None:
        if self._flusher is None or self._flusher.done():
            try:
                loop = asyncio.get_running_loop()
            # no loop yet: the next write or drain commits it
            except RuntimeError:
                return
            self._flusher = loop.create_task(self._flush())

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            failure: InvalidRequest | None = None
            try:
                if self.broken is None:
                    await asyncio.to_thread(self._commit, [line for line, _ in batch])
            # a full disk, a bad file: whatever it is, no waiter hangs
            except Exception as exc:
                self.broken = t("journal.unwritable", path=self.path, detail=exc)
                logger.warning("sora_nb: %s", self.broken)
            if self.broken is not None:
                failure = InvalidRequest(self.broken)
            for _, future in batch:
                if future is not None and not future.done():
                    if failure is None:
                        future.set_result(None)
                    else:
                        future.set_exception(failure)

    def _commit(self, lines: list[str]) -> None:
        if self._fd < 0:
            self._fd = _open_locked(self.path, 0)
        data = memoryview(sound("".join(lines)).encode("utf-8"))
        # one write for a regular file; the loop covers a short write anyway
        while data:
            data = data[os.write(self._fd, data) :]
        os.fsync(self._fd)
        self.syncs += 1


def _open_locked(path: Path, create: int) -> int:
    """The journal opened for appending (never through a symlink), with its one
    writer's lock taken: a second batch or resume on it, in any process, is
    refused in one sentence.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | NOFOLLOW | create, 0o600)
    except OSError as exc:
        raise InvalidRequest(t("journal.cannot_open", path=path, detail=exc)) from None
    if not try_lock(fd):
        os.close(fd)
        raise InvalidRequest(t("journal.busy", path=path))
    return fd


def _ends_a_line(path: Path, size: int) -> bool:
    fd = os.open(path, os.O_RDONLY | NOFOLLOW)
    try:
        return os.pread(fd, 1, size - 1) == b"\n"
    finally:
        os.close(fd)


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def read_journal(path: Path) -> JournalState:
    """The state a journal file records; one clear error if it is not one."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InvalidRequest(t("journal.unreadable", path=path, detail=exc)) from None
    state: JournalState | None = None
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except ValueError:
            if state is not None and (number == len(lines) or lines[number] == _TORN):
                # the tail a kill cut: its writer never got it back, unsent
                state.torn += 1
            elif state is not None:
                _garbled(state, line)
            continue
        if state is None:
            state = _header(record, path)
        elif isinstance(record, dict):
            _apply(state, record)
    if state is None:
        raise InvalidRequest(t("journal.no_header", path=path))
    _plan_lost(state, state.header.get("items"))
    return state


#: The line a resume adds after a tail a kill cut short: not read as damage.
_TORN = '{"torn":1}'
_INDEX = re.compile(r'"i"\s*:\s*(\d+)')


def _garbled(state: JournalState, line: str) -> None:
    """A damaged line before the tail: assumed to say the worst, not dropped."""
    match = _INDEX.search(line)
    index = int(match.group(1)) if match else None
    if '"item"' in line and index is not None:
        # its plan line: the item stays, its prompt is lost
        _plan_lost(state, index + 1)
        return
    doubtful = [index] if index is not None and index < len(state.items) else None
    for n in doubtful if doubtful is not None else range(len(state.items)):
        item = state.items[n]
        # it may have been a sent line: never send it again
        if item.stage == "planned":
            item.stage, item.sends = "sent", item.sends + 1


def _plan_lost(state: JournalState, count: object) -> None:
    """Items up to ``count`` with no plan line: kept, refused with a reason."""
    if not isinstance(count, int) or isinstance(count, bool):
        return
    while len(state.items) < count:
        n = len(state.items)
        state.items.append(ItemRecord({"problem": t("journal.plan_lost", n=n)}))


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
        if isinstance(record["item"], dict):
            _plan_lost(state, index)
            if index == len(state.items):
                state.items.append(ItemRecord(record["item"]))
            # a damaged copy came first
            elif "problem" in state.items[index].item:
                state.items[index].item = record["item"]
        return
    if index >= len(state.items):
        return
    item = state.items[index]
    if "sent" in record:
        item.stage, item.sends, item.error = "sent", item.sends + 1, None
        item.task_id = item.source_url = item.preview_url = None
    # a 429: the relay started nothing, so it is planned again
    elif "refused" in record:
        item.stage, item.sends, item.error = "planned", max(0, item.sends - 1), None
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
