"""Generation tasks: each runs on the server by itself and writes its transcript
as it goes.

A task's transcript is a list of entries, one per chunk the relay would send (a
token of the echo, one queue dot, one progress number, …). Streams follow that
list, so a client that drops its stream loses nothing: the task finishes anyway
and ``/source/{id}`` reports it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import random
import re
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

from . import _markdown as tx
from ._ids import new_sid, new_task_id
from ._images import ImageInput
from ._media import MediaError, MediaStore, RenderSpec
from ._request import ChatRequest, media_model

__all__ = ["Entry", "Task", "TaskStore", "Timing"]

logger = logging.getLogger("sora_nb.emulator")

Status = Literal["queued", "running", "completed", "failed"]
EntryKind = Literal["echo", "task", "queue", "generating", "progress", "completed", "failed"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One chunk of transcript, tagged with the phase it belongs to."""

    kind: EntryKind
    text: str


@dataclass(frozen=True, slots=True)
class Timing:
    """Seconds between polls at speed 1: a finished video in about five
    seconds.
    """

    echo: float = 0.012
    queue_polls: int = 5
    queue: float = 0.2
    slow_queue: float = 60.0
    slow_progress: float = 60.0
    generating_polls: int = 2
    generating: float = 0.3
    progress_steps: int = 6
    progress: float = 0.4

    def at_speed(self, speed: float) -> Timing:
        """Every delay divided by ``speed``."""
        scaled = {
            f.name: getattr(self, f.name) / speed
            for f in fields(self)
            if isinstance(getattr(self, f.name), float)
        }
        return replace(self, **scaled)


class Task:
    """One generation: its request, its state as ``/source`` shows it, and its
    transcript.
    """

    def __init__(self, request: ChatRequest, base_url: str, *, orientation: str, turn: int):
        self.id = new_task_id()
        self.request = request
        self.base_url = base_url
        self.orientation = orientation
        self.turn = turn
        self.created_at = int(time.time())
        self.completed_at: int | None = None
        self.status: Status = "queued"
        self.progress = 0
        self.sid: str | None = None
        self.video_file: str | None = None
        self.thumbnail_file: str | None = None
        self.failure_reason: str | None = None
        self.entries: list[Entry] = []
        self.finished = False
        self._waiters: list[asyncio.Future[None]] = []

    def add(self, kind: EntryKind, text: str) -> None:
        """Append a chunk of transcript and wake the streams that follow this
        task.
        """
        self.entries.append(Entry(kind, text))
        self._notify()

    def fail(self, reason: str, text: str) -> None:
        """End in failure, with ``text`` as the transcript's failure line or
        block.
        """
        self.status, self.failure_reason = "failed", reason
        self.add("failed", text)

    def finish(self) -> None:
        """No more entries will come."""
        self.finished = True
        self.completed_at = self.completed_at or int(time.time())
        self._notify()

    def _notify(self) -> None:
        # A future per waiting stream. It was a new Event per entry, on top of
        # the future its wait() makes: with ids drawn a character at a time,
        # about 7% of the emulator's CPU when a thousand tasks start at once
        # (measured side by side).
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():  # a stream cancelled while it waited
                waiter.set_result(None)

    async def _changed(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        await waiter

    async def entry(self, index: int) -> Entry | None:
        """Entry ``index``, once it exists; None if the task ended before
        writing it.
        """
        while index >= len(self.entries):
            if self.finished:
                return None
            await self._changed()
        return self.entries[index]

    async def entries_from(self, index: int) -> list[Entry]:
        """Every entry from ``index`` on, once there is one; empty if the task
        ended first.

        A stream that fell behind its task (a busy server, a slow reader) gets
        all it missed at once and sends it in one write: the same chunks, fewer
        sends.
        """
        while index >= len(self.entries):
            if self.finished:
                return []
            await self._changed()
        return self.entries[index:]

    def transcript(self) -> str:
        """The whole assistant content so far."""
        return "".join(entry.text for entry in self.entries)

    def as_json(self, base_url: str) -> dict[str, Any]:
        """The task as ``GET /source/{id}`` shows it."""
        files = f"{base_url}/files/"
        return {
            "id": self.id,
            "object": "video.task",
            "status": self.status,
            "progress": self.progress,
            "url": files + self.video_file if self.video_file else None,
            "thumbnail_url": files + self.thumbnail_file if self.thumbnail_file else None,
            "failure_reason": self.failure_reason,
            "sid": self.sid,
            "parent_sid": self.request.parent_sid,
            "prompt": self.request.prompt,
            "model": self.request.model,
            "orientation": self.orientation,
            "turn": self.turn,
            "created_at": self.created_at,
            "completed_at": self.completed_at if self.finished else None,
            "preview_url": f"{base_url}/web/{self.id}",
        }


class TaskStore:
    """All tasks of one emulator, the runner that advances them, and the sid
    index.
    """

    def __init__(self, media: MediaStore, timing: Timing, data_dir: Path) -> None:
        self.media = media
        self.timing = timing
        self._records = data_dir / "tasks"
        self._records.mkdir(parents=True, exist_ok=True)
        # Records are written by one worker thread, in order: a thousand tasks
        # ending at once must not hold the event loop (and every stream) for two
        # file writes each.
        self._writer = concurrent.futures.ThreadPoolExecutor(1, "sora-nb-records")
        self._tasks: dict[str, Task] = {}
        self._by_sid: dict[str, Task] = {}
        self._runners: set[asyncio.Task[None]] = set()
        # Cleared, no task completes until it is set again: a test that kills a
        # client mid-batch holds the batch open by this instead of hoping its
        # kill comes in time.
        self.completing = asyncio.Event()
        self.completing.set()

    def get(self, task_id: str) -> Task | None:
        """A task of this emulator, or of an earlier one that used the same data
        dir.
        """
        return self._tasks.get(task_id) or self._load(task_id)

    def by_sid(self, sid: str) -> Task | None:
        """The completed task whose video has this sid."""
        task = self._by_sid.get(sid)
        if task is None:
            index = self._records / f"{sid}.sid"
            if index.is_file():
                task = self._load(index.read_text().strip())
        return task if task is not None and task.video_file else None

    def start(self, request: ChatRequest, base_url: str, image: ImageInput | None) -> Task:
        """Create a task for ``request`` and run it in the background."""
        parent = self.by_sid(request.parent_sid) if request.parent_sid else None
        orientation = request.orientation or (parent.orientation if parent else "portrait")
        turn = parent.turn + 1 if parent else 1
        task = Task(request, base_url, orientation=orientation, turn=turn)
        self._tasks[task.id] = task
        runner = asyncio.create_task(self._run(task, parent, image), name=f"emulator {task.id}")
        self._runners.add(runner)
        runner.add_done_callback(self._runners.discard)
        return task

    async def aclose(self) -> None:
        """Cancel every running task and wait for them (their streams then
        end).
        """
        runners = list(self._runners)
        for runner in runners:
            runner.cancel()
        await asyncio.gather(*runners, return_exceptions=True)
        # every record is on disk for the next emulator
        self._writer.shutdown(wait=True)

    async def _run(self, task: Task, parent: Task | None, image: ImageInput | None) -> None:
        try:
            await _Run(self, task, parent, image).run()
        except MediaError as exc:
            task.fail(str(exc), tx.failure_line(str(exc)))
        except asyncio.CancelledError:
            task.fail("emulator stopped", tx.failure_line("模拟器已停止 (emulator stopped)"))
            raise
        except Exception:
            logger.exception("Task %s failed in the emulator", task.id)
            task.fail("internal error", tx.failure_line("内部错误 (emulator internal error)"))
        finally:
            task.finish()
            self._save(task)

    def index_sid(self, task: Task) -> None:
        """Index a finished video by its sid, for the edits that will name
        it.
        """
        assert task.sid is not None
        self._by_sid[task.sid] = task
        self._write(self._records / f"{task.sid}.sid", task.id)

    def _save(self, task: Task) -> None:
        request = {f.name: getattr(task.request, f.name) for f in fields(task.request)}
        record = {
            "request": request | {"fault": None},
            "task": {name: getattr(task, name) for name in _RECORD},
        }
        self._write(self._records / f"{task.id}.json", json.dumps(record, ensure_ascii=False))

    def _write(self, path: Path, text: str) -> None:
        self._writer.submit(_write_record, path, text)

    def _load(self, task_id: str) -> Task | None:
        path = self._records / f"{task_id}.json"
        if not _TASK_ID.match(task_id) or not path.is_file():
            return None
        try:
            record = json.loads(path.read_text())
            request = ChatRequest(**record["request"])
        except (OSError, ValueError, TypeError, KeyError):
            return None
        task = Task(request, "", orientation="portrait", turn=1)
        for name in _RECORD:
            setattr(task, name, record["task"].get(name, getattr(task, name)))
        task.finished = True
        self._tasks[task.id] = task
        return task


def _write_record(path: Path, text: str) -> None:
    try:
        path.write_text(text)
    except OSError:
        logger.warning("Could not save %s in the data dir", path.name)


# also keeps URL path params out of file names
_TASK_ID = re.compile(r"^task_[0-9a-z]{26}$")

# What a finished task keeps on disk, so a later emulator on the same data dir
# knows it.
_RECORD = (
    "id",
    "base_url",
    "orientation",
    "turn",
    "created_at",
    "completed_at",
    "status",
    "progress",
    "sid",
    "video_file",
    "thumbnail_file",
    "failure_reason",
)


class _Run:
    """The life of one task, poll by poll (see docs/protocol.md, "Response
    stream").
    """

    def __init__(
        self, store: TaskStore, task: Task, parent: Task | None, image: ImageInput | None
    ) -> None:
        self.store, self.task, self.parent, self.image = store, task, parent, image
        self.timing = store.timing
        fault = task.request.fault
        self.fault = fault.name if fault else None
        self.random = random.Random(task.id)  # noqa: S311 - progress numbers, not secrets
        self._loop = asyncio.get_running_loop()
        self._due = self._loop.time()

    async def _wait(self, delay: float) -> None:
        """Sleep until ``delay`` after the previous step was due, not after it
        ran.

        The timeline is the relay's, not this server's: when the loop is busy (a
        thousand streams at once) a late step is written at once instead of
        pushing every later one back, so a task still ends about when it would
        alone (docs/protocol.md).
        """
        self._due += delay
        pause = self._due - self._loop.time()
        if pause > 0:
            await asyncio.sleep(pause)

    async def run(self) -> None:
        task, request = self.task, self.task.request
        echo = tx.echo_block(request.prompt, task.orientation, request.parent_sid)
        for token in tx.echo_tokens(echo):
            task.add("echo", token)
            await self._wait(self.timing.echo)
        task.add("task", tx.task_header(task.id, task.base_url))
        await self._polls("queue", self.timing.queue_polls, self.timing.queue)
        if self._refused():
            return
        task.status = "running"
        task.add("generating", tx.GENERATING)
        await self._polls("generating", self.timing.generating_polls, self.timing.generating)
        if self.fault == "fail-json":
            await self._progress(2)
            reason = self._failure_reason()
            task.fail(reason["failure_reason"], tx.failure_json(reason))
            return
        render = asyncio.ensure_future(self.store.media.render(self._spec()))
        try:
            await self._progress(self.timing.progress_steps)
            files = await render
        finally:
            # a no-op once done; shielded, so others' renders go on
            render.cancel()
        await self.store.completing.wait()
        self._complete(files.video, files.thumbnail)

    async def _polls(self, kind: EntryKind, count: int, delay: float) -> None:
        if kind == "queue" and self.fault == "slow-queue":
            # silent: no dot, no keep-alive
            await self._wait(self.timing.slow_queue)
        for _ in range(count):
            await self._wait(delay)
            self.task.add(kind, tx.POLL_DOT)

    def _refused(self) -> bool:
        request = self.task.request
        if request.parent_sid and self.parent is None:
            reason = f"未找到 sid {request.parent_sid} 对应的视频 (unknown sid)"
        elif self.fault == "content-policy":
            reason = tx.CONTENT_POLICY
        else:
            return False
        self.task.fail(reason, tx.failure_line(reason))
        return True

    async def _progress(self, steps: int) -> None:
        percent = self.random.randint(3, 15)
        for step in range(steps):
            await self._wait(self.timing.progress)
            self.task.progress = percent
            self.task.add("progress", tx.progress(percent, first=step == 0))
            if step == 1 and self.fault == "slow-progress":
                # a bar held part-way, live
                await self._wait(self.timing.slow_progress)
            percent = min(99, percent + self.random.randint(6, 18))

    def _spec(self) -> RenderSpec:
        task, parent = self.task, self.parent
        parent_video = None
        if parent is not None and parent.video_file:
            parent_video = self.store.media.files_dir / parent.video_file
        return RenderSpec(
            prompt=task.request.prompt,
            model=media_model(task.request.model),
            orientation=task.orientation,
            turn=task.turn,
            image=self.image,
            parent_video=parent_video,
        )

    def _failure_reason(self) -> dict[str, Any]:
        return {
            "task_id": self.task.id,
            "status": "failed",
            "failure_reason": "视频生成失败：模型无法渲染该场景 (emulated generation failure)",
            "code": "generation_failed",
        }

    def _complete(self, video: str, thumbnail: str) -> None:
        task = self.task
        task.sid, task.video_file, task.thumbnail_file = new_sid(), video, thumbnail
        task.status, task.progress = "completed", 100
        task.completed_at = int(time.time())
        self.store.index_sid(task)
        files = f"{task.base_url}/files/"
        task.add("completed", tx.completed(task.sid, files + thumbnail, files + video))
