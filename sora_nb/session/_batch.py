"""Many generations at once: a journal on disk, a shared limit, nothing paid
twice.

A ``Batch`` runs each item as an ordinary session job (``generate`` or
``edit``), so every item is a recorded turn like any other. The batch adds what
a single job does not need (docs/protocol.md, "Batches"):

- a durable journal (``_journal``): the plan before anything is sent, each item
  again just before its request goes out (inside the relay's limiter slot, so an
  item still queued is never mistaken for a sent one) and the moment its task id
  is known;
- ``resume`` from that journal after a kernel restart: started tasks are
  collected from their source URL, items that never started are sent, and an
  item sent just before the kill (before the relay named its task) is reported
  rather than silently paid again;
- the session's autosave, rewritten at most every ``AUTOSAVE_EVERY`` seconds in
  a worker thread while the batch runs, instead of on every change on the event
  loop;
- a snapshot of counts, throughput and time left for one aggregate view.

Pure core: no Jupyter. It drives a session through ``SessionLike`` so it sits
below ``_history`` in the layers.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, Protocol

from .._exceptions import (
    GenerationFailed,
    InvalidRequest,
    RateLimitError,
    SoraError,
    StreamInterrupted,
)
from .._messages import t
from ..client._client import EventCallback, SoraClient
from ..dialects import recognised
from ..records._ask import DEFAULT_MODEL
from ..records._autosave import locked
from ..records._batch_items import BatchItem, items_from
from ..records._journal import ItemRecord, Journal, read_journal
from ..records._model import Request
from ..records._video import Video, video_from_record, video_record
from ..wire._events import Event, JobEvent, ProgressEvent, TaskEvent

__all__ = ["AUTOSAVE_EVERY", "Batch", "BatchResults", "BatchStatus", "ItemState", "journal_beside"]

logger = logging.getLogger("sora_nb")

ItemState = Literal["queued", "running", "done", "failed"]
Result = Video | SoraError
#: Seconds between autosaves of the session while a batch runs.
AUTOSAVE_EVERY = 2.0


class SessionLike(Protocol):
    """What a batch needs of a ``Session`` (layers: no ``_history`` import)."""

    name: str
    autosave: Path | None

    @property
    def client(self) -> SoraClient: ...

    def video(self, ref: int | str) -> Video: ...

    def save(self, path: str | os.PathLike[str]) -> Path: ...

    def _merge_into(self, path: Path) -> None: ...

    # Read-only views of the session's job methods (their keyword arguments are
    # its own).
    @property
    def generate(self) -> Callable[..., Awaitable[Video]]: ...

    @property
    def edit(self) -> Callable[..., Awaitable[Video]]: ...

    @property
    def resume(self) -> Callable[..., Awaitable[Video]]: ...


@dataclass(frozen=True, slots=True)
class BatchStatus:
    """The batch at one moment, for a progress view."""

    total: int
    done: int
    failed: int
    running: int
    queued: int
    elapsed: float
    per_minute: float | None  # finished items per minute so far
    # seconds left at that pace, None until one has finished
    remaining: float | None

    @property
    def finished(self) -> bool:
        return self.done + self.failed == self.total


class BatchResults(list[Result]):
    """The results in input order: a ``Video`` or the item's ``SoraError``."""

    def __init__(self, results: Iterable[Result], items: list[BatchItem]) -> None:
        super().__init__(results)
        self.items = items

    @property
    def videos(self) -> list[Video]:
        return [r for r in self if isinstance(r, Video)]

    @property
    def errors(self) -> dict[int, SoraError]:
        return {i: r for i, r in enumerate(self) if isinstance(r, SoraError)}

    def rows(self) -> list[dict[str, Any]]:
        """One plain dict per item: what it asked for and what came of it."""
        pairs = zip(self.items, self, strict=True)
        return [_row(i, item, result) for i, (item, result) in enumerate(pairs)]

    def to_dataframe(self) -> Any:
        """The rows as a pandas ``DataFrame`` if pandas is there, else dicts."""
        try:
            # optional: not a dependency
            pandas = importlib.import_module("pandas")
        except ImportError:
            return self.rows()
        return pandas.DataFrame(self.rows()).set_index("item")


def _row(index: int, item: BatchItem, result: Result) -> dict[str, Any]:
    video = result if isinstance(result, Video) else None
    return {
        "item": index,
        "name": item.name,
        "prompt": item.prompt,
        "status": "done" if video else "failed",
        "task_id": video.task_id if video else getattr(result, "task_id", None),
        "sid": video.sid if video else None,
        "video_url": video.video_url if video else None,
        "local_path": video.local_path if video else None,
        "elapsed": round(video.elapsed, 2) if video and video.elapsed is not None else None,
        "error": None if video else str(result),
    }


def journal_beside(autosave: Path) -> Path:
    """The batch journal beside an autosave file: ``<stem>.batch.jsonl``."""
    return autosave.with_name(f"{autosave.stem}.batch.jsonl")


class Batch:
    """A batch of items run through a session; ``await batch.run()``."""

    def __init__(
        self,
        session: SessionLike,
        items: list[BatchItem],
        *,
        journal: Journal | None = None,
        concurrency: int | None = None,
        unconfirmed: int | None = None,
        save: bool | None = None,
        on_event: Callable[[int, Event | JobEvent], object] | None = None,
    ) -> None:
        for what, value in (("concurrency", concurrency), ("unconfirmed", unconfirmed)):
            if value is not None and value < 1:
                raise InvalidRequest(t("batch.at_least_one", what=what, value=value))
        self.session = session
        self.items = items
        self.journal = journal
        self.save = save
        self.on_event = on_event
        self.states: list[ItemState] = ["queued"] * len(items)
        self.results: list[Result | None] = [None] * len(items)
        self.task_ids: list[str | None] = [None] * len(items)
        self.percent: list[int] = [0] * len(items)
        self._todo: list[Callable[[], Awaitable[Video]] | None] = [None] * len(items)
        self._gate = asyncio.Semaphore(concurrency) if concurrency else None
        # At most this many items sent whose task id the relay has not named
        # yet: the items a kill can leave in doubt (docs/protocol.md,
        # "Batches").
        self._window = asyncio.Semaphore(unconfirmed) if unconfirmed else None
        self._unconfirmed: set[int] = set()
        self._listeners: list[Callable[[], None]] = []
        self._started: float | None = None
        self._finished_at: float | None = None
        # Items that ended in this run: a restored result is not in the pace.
        self._ended_here: set[int] = set()

    # -- making one ------------------------------------------------------------

    @classmethod
    def start(
        cls,
        session: SessionLike,
        entries: Iterable[str | Mapping[str, Any] | BatchItem],
        *,
        journal: str | os.PathLike[str] | bool | None = None,
        defaults: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Batch:
        """A new batch; each item is checked (its edit found) before sending."""
        items = items_from(entries, defaults=defaults)
        # no key for a real relay: refused before the journal
        session.client.check_ready()
        items = [_edit_checked(session, item) for item in items]
        path = _journal_path(session, journal)
        opened = None
        if path is not None:
            header = {"session": session.name, "items": len(items)}
            opened = Journal.create(path, header, [item.to_json() for item in items])
        batch = cls(session, items, journal=opened, **options)
        for index, item in enumerate(items):
            # bad input: never sent, failed in its place
            if item.problem is not None:
                batch._settle(index, InvalidRequest(item.problem))
        return batch

    @classmethod
    def resume(
        cls,
        session: SessionLike,
        journal: str | os.PathLike[str],
        *,
        resend_unknown: bool = False,
        **options: Any,
    ) -> Batch:
        """The batch a journal records: finished items keep their results,
        started tasks are collected, items that never started are sent. An item
        sent just before the kernel stopped, before the relay named its task,
        may have been billed: it is reported as failed unless
        ``resend_unknown``.
        """
        path = Path(journal)
        # A finished journal needs no write: it resumes from a read-only folder.
        read_only = not os.access(path, os.W_OK) and read_journal(path).finished
        # the one writer, then the file
        opened = None if read_only else Journal.reopen(path)
        try:
            state = read_journal(path)
            items = items_from([r.item for r in state.items], "batch.where.journal", path)
        except BaseException:
            if opened is not None:
                opened.close()
            raise
        batch = cls(session, items, journal=opened, **options)
        for index, record in enumerate(state.items):
            batch._restore(index, record, resend_unknown)
        return batch

    def _restore(self, index: int, record: ItemRecord, resend_unknown: bool) -> None:
        if record.stage == "done" and record.video is not None:
            self._settle(index, recognised(video_from_record(record.video)), restored=True)
        elif record.stage == "failed":
            self._settle(index, SoraError(record.error or t("status.failed")), restored=True)
        elif record.stage == "task" and record.task_id:
            self.task_ids[index] = task_id = record.task_id
            item, source = self.items[index], record.source_url

            async def collect() -> Video:
                request = await _planned(self.session.client, item)
                hook = self._hook(index)
                return await self.session.resume(
                    task_id, request=request, source_url=source, on_event=hook
                )

            self._todo[index] = collect
        # a plan line the journal lost
        elif self.items[index].problem is not None:
            self._settle(index, InvalidRequest(self.items[index].problem or ""), restored=True)
        elif record.stage == "sent" and not resend_unknown:
            message = (
                f"Item {index} was sent just before the kernel stopped, before the relay named "
                "its task, so it may have been billed; retry it to send it again."
            )
            interrupted = StreamInterrupted(message, task_id=None, source_url=None)
            self._settle(index, interrupted, restored=True)

    # -- running ---------------------------------------------------------------

    async def run(self) -> BatchResults:
        """Run every item with no result yet; return all, in input order."""
        return await self._run([i for i, result in enumerate(self.results) if result is None])

    async def retry_failed(self) -> BatchResults:
        """Send again only the items that failed (each is paid again)."""
        failed = [i for i, state in enumerate(self.states) if state == "failed"]
        for index in failed:
            self.states[index], self.results[index], self._todo[index] = "queued", None, None
            self._ended_here.discard(index)
        self._notify()
        try:
            return await self._run(failed)
        finally:
            # the journal reopened for the retry: let other batches in
            await self.aclose()

    async def aclose(self) -> None:
        """Close the journal file."""
        if self.journal is not None:
            await self.journal.aclose()

    async def _run(self, indexes: list[int]) -> BatchResults:
        self._started = self._started or time.monotonic()
        self._finished_at = None
        async with _autosave_deferred(self.session):
            tasks = [asyncio.ensure_future(self._one(i)) for i in indexes]
            try:
                await asyncio.gather(*tasks)
            except BaseException:
                for task in tasks:
                    task.cancel()
                if tasks:
                    # each records its turn as interrupted
                    await asyncio.wait(tasks)
                raise
            finally:
                if self.journal is not None:
                    await self.journal.drain()
        self._finished_at = time.monotonic()
        self._notify()
        if self.journal is not None and self.journal.broken is not None:
            raise InvalidRequest(self.journal.broken)
        return self.outcome()

    def outcome(self) -> BatchResults:
        """The results so far as ``BatchResults`` (``None``: not ended)."""
        pending = SoraError(t("batch.not_run"))
        return BatchResults([r if r is not None else pending for r in self.results], self.items)

    async def _one(self, index: int) -> None:
        async with self._gate or contextlib.nullcontext():
            self.states[index] = "running"
            self._notify()
            try:
                video = await self._call(index)
            except SoraError as exc:
                self._settle(index, exc)
            # a fault in one item (a bug, a stray error) ends only it
            except Exception as exc:
                logger.warning("sora_nb: batch item %d failed.", index, exc_info=True)
                self._settle(index, SoraError(t("batch.unexpected", detail=repr(exc))))
            except BaseException:
                self.states[index] = "queued" if self.task_ids[index] is None else "running"
                raise
            else:
                self._settle(index, video)
            finally:
                self._confirmed(index)

    def _call(self, index: int) -> Awaitable[Video]:
        todo = self._todo[index]
        if todo is not None:
            return todo()
        item, hook = self.items[index], self._hook(index)
        options: dict[str, Any] = {"on_event": hook, "save": self.save, "name": item.name}
        if item.edit is not None:
            ask = item.ask(self.session.video(item.edit).model)
            return self.session.edit(item.edit, ask, **options)
        return self.session.generate(item.ask(), **options)

    def _hook(self, index: int) -> EventCallback:
        async def hook(event: Event | JobEvent) -> None:
            if isinstance(event, JobEvent) and event.phase == "sending":
                await self._sent(index)
            elif (
                isinstance(event, JobEvent) and event.phase == "retrying" and event.detail == "429"
            ):
                self._refused(index)
            elif isinstance(event, TaskEvent):
                self._task(index, event)
            elif isinstance(event, ProgressEvent):
                self.percent[index] = event.percent
            if self.on_event is not None:
                self.on_event(index, event)

        return hook

    async def _sent(self, index: int) -> None:
        # Called in the relay's limiter slot, before the POST: durable first.
        self.task_ids[index] = None
        if self._window is not None:
            await self._window.acquire()
            self._unconfirmed.add(index)
        if self.journal is not None:
            await self.journal.write({"i": index, "sent": time.time()})

    def _refused(self, index: int) -> None:
        # A 429 started nothing: the item is planned again until its next send.
        self._confirmed(index)
        if self.journal is not None:
            self.journal.write_soon({"i": index, "refused": time.time()})

    def _confirmed(self, index: int) -> None:
        if self._window is not None and index in self._unconfirmed:
            self._unconfirmed.discard(index)
            self._window.release()

    def _task(self, index: int, event: TaskEvent) -> None:
        self.task_ids[index] = event.task_id
        self._confirmed(index)
        if self.journal is not None:
            record = {"i": index, "task_id": event.task_id, "source_url": event.source_url}
            self.journal.write_soon({**record, "preview_url": event.preview_url})

    def _settle(self, index: int, result: Result, restored: bool = False) -> None:
        self.results[index] = result
        self.states[index] = "done" if isinstance(result, Video) else "failed"
        # a restored result is in the journal and ended in an earlier run
        if not restored:
            self._ended_here.add(index)
            if self.journal is not None:
                self.journal.write_soon(_journal_record(index, result, self.task_ids[index]))
        self._notify()

    # -- watching --------------------------------------------------------------

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after each change of an item's state."""
        self._listeners.append(listener)

    def _notify(self) -> None:
        for listener in self._listeners:
            listener()

    def status(self) -> BatchStatus:
        """Counts, throughput and time left, now."""
        counts = {state: self.states.count(state) for state in ("done", "failed", "running")}
        end = self._finished_at or time.monotonic()
        elapsed = end - self._started if self._started is not None else 0.0
        finished = counts["done"] + counts["failed"]
        ended = len(self._ended_here)
        rate = ended / elapsed if elapsed > 0 and ended else None
        left = len(self.items) - finished
        return BatchStatus(
            total=len(self.items),
            done=counts["done"],
            failed=counts["failed"],
            running=counts["running"],
            queued=left - counts["running"],
            elapsed=elapsed,
            per_minute=rate * 60 if rate else None,
            remaining=left / rate if rate else None,
        )


# -- helpers -------------------------------------------------------------------


async def _planned(client: SoraClient, item: BatchItem) -> Request:
    """The request a plan's item sent (for a new video; an edit's branch is not
    in the plan), so a task collected on resume keeps its prompt, model and
    messages.
    """
    try:
        return await client.request(item.ask())
    except SoraError:
        return Request(item.prompt, item.model or DEFAULT_MODEL, item.orientation)


def _edit_checked(session: SessionLike, item: BatchItem) -> BatchItem:
    if item.edit is None or item.problem is not None:
        return item
    try:
        # an unknown or unfinished video is refused now
        session.video(item.edit)
    except InvalidRequest as exc:
        return replace(item, problem=str(exc))
    return item


def _journal_path(
    session: SessionLike, journal: str | os.PathLike[str] | bool | None
) -> Path | None:
    if journal is False:
        return None
    if journal is None or journal is True:
        autosave = _autosave_path(session)
        if autosave is None:
            if journal is True:
                raise InvalidRequest(t("batch.journal_needs_autosave"))
            return None
        return journal_beside(autosave)
    return Path(journal)


def _journal_record(index: int, result: Result, task_id: str | None) -> dict[str, Any]:
    if isinstance(result, Video):
        return {"i": index, "done": video_record(result)}
    if isinstance(result, RateLimitError):  # never accepted: resume sends it
        return {"i": index, "refused": str(result)}
    task_id = getattr(result, "task_id", None) or task_id
    if task_id and not isinstance(result, GenerationFailed):
        # The task may still finish on the relay: resume collects, not re-sends.
        return {"i": index, "task_id": task_id, "source_url": getattr(result, "source_url", None)}
    return {"i": index, "failed": str(result), "task_id": task_id}


# -- the session's autosave while batches run ----------------------------------

_deferred: weakref.WeakKeyDictionary[Any, tuple[Path, int]] = weakref.WeakKeyDictionary()


def _autosave_path(session: SessionLike) -> Path | None:
    held = _deferred.get(session)
    return held[0] if held is not None else session.autosave


@contextlib.asynccontextmanager
async def _autosave_deferred(session: SessionLike) -> AsyncIterator[None]:
    """Autosave on a timer, in a worker thread, while any batch of ``session``
    runs.

    A session rewrites its whole file on every change (two per item, and more):
    for a thousand items that is seconds of the event loop's time and thousands
    of fsyncs. The journal already holds what a restart needs, so the session
    file may lag a little.
    """
    path, users = _deferred.get(session, (session.autosave, 0))
    if path is None:
        yield
        return
    await asyncio.to_thread(_sweep_temporaries, path)
    _deferred[session] = (path, users + 1)
    session.autosave = None
    saver = asyncio.ensure_future(_save_every(session, path))
    try:
        yield
    finally:
        saver.cancel()
        path, users = _deferred[session]
        if users == 1:
            del _deferred[session]
            session.autosave = path
        else:
            _deferred[session] = (path, users - 1)
        await _save(session, path)


def _sweep_temporaries(path: Path) -> None:
    """Remove what a kernel killed mid-autosave left beside the file
    (``.name.*.tmp``): under the file's lock, which every writer holds while its
    temporary file exists.
    """
    with locked(path):
        for stale in path.parent.glob(f".{path.name}.*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()


async def _save_every(session: SessionLike, path: Path) -> None:
    while True:
        await asyncio.sleep(AUTOSAVE_EVERY)
        await _save(session, path)


async def _save(session: SessionLike, path: Path) -> None:
    try:
        # Merged under the lock: another kernel's turns written meanwhile stay
        # in the file.
        await asyncio.shield(asyncio.to_thread(session._merge_into, path))
    except Exception as exc:  # whatever failed, the batch and its waiters go on
        logger.warning("sora_nb: could not autosave to %s: %s", path, exc)
