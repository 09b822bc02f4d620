"""The kernel's history of turns: what was asked, what came back, and how turns branch.

Continuous modification sends the conversation back (docs/protocol.md, "Continuous
modification"): an edit's request is its base video's messages, the base's assistant
transcript **verbatim**, then the change; so each turn keeps its exact request messages and
transcript, and an edit of an older turn starts a new branch that carries only that branch.
Every job records a ``running`` turn before anything is sent, so an interrupted or failed job
keeps its task id (the relay bills it either way) and an interrupted one can be resumed in
place.

Pure core: files and HTTP only, no Jupyter. Turns and their file format are in ``_turn``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ._batch import Batch, BatchResults
from ._batch_items import BatchItem
from ._callback import call
from ._client import EventCallback, PendingTask, SoraClient
from ._download import download
from ._events import Event, JobEvent, TaskEvent
from ._exceptions import InvalidRequest, SoraError
from ._request import Prepared, prepare
from ._turn import (
    SCHEMA_VERSION,
    Ending,
    SessionFileError,
    Turn,
    TurnStatus,
    done_changes,
    failure_message,
    failure_status,
    pending_task,
    read_file,
    with_session,
    with_video,
    write_file,
)
from ._video import Message, Video

__all__ = ["SCHEMA_VERSION", "Session", "SessionFileError", "Turn", "TurnStatus", "get_session"]

logger = logging.getLogger("sora_nb")

_TASK_REF = re.compile(r"task_[A-Za-z0-9]+\Z")
_VIDEO_SUFFIXES = (".mp4", ".webm", ".mov", ".m4v")
_THUMB_SUFFIXES = (".webp", ".jpg", ".jpeg", ".png", ".gif")

Call = Callable[[EventCallback], Awaitable[Video]]


class _Job:
    """One job's event hook: records the task id as soon as it is known, forwards the rest."""

    def __init__(self, session: Session, index: int, on_event: EventCallback | None) -> None:
        self._session = session
        self._index = index
        self._on_event = on_event
        self._shown = (0.0, 0)  # last download fraction and byte count reported

    async def __call__(self, event: Event | JobEvent) -> None:
        if isinstance(event, TaskEvent):
            self._session._note_task(self._index, event)
        await self.emit(event)

    async def emit(self, event: Event | JobEvent) -> None:
        try:
            await call(self._on_event, event)
        except Exception:
            # A broken progress view must not lose a generation the relay bills anyway.
            logger.warning("sora_nb: on_event failed on a %s event.", event.type, exc_info=True)

    async def progress(self, have: int, total: int | None) -> None:
        fraction, shown_bytes = self._shown
        if total:  # throttled to 1 % steps: one frontend update each, not one per block
            if have / total - fraction < 0.01 and have < total:
                return
            self._shown = (have / total, have)
            await self.emit(JobEvent("downloading", fraction=min(1.0, have / total)))
        elif have - shown_bytes >= 2**20:
            self._shown = (fraction, have)
            await self.emit(JobEvent("downloading", detail=f"{have / 2**20:.1f} MiB"))

    async def downloaded(self) -> None:
        if self._shown[0] < 1.0:  # the size was unknown, or the copy was already on disk
            self._shown = (1.0, self._shown[1])
            await self.emit(JobEvent("downloading", fraction=1.0))


class Session:
    """A history of turns: every request, the branch it continues, its local copies.

    A kernel has a default one (``get_session()``); more are made by name. Creating or
    loading a Session makes it the one ``get_session(name)`` returns. ``save_dir`` is where
    finished videos are copied (relative to the notebook); ``download=False`` turns copies
    off. With ``autosave`` the history is written to that file after every change, and read
    back from it when it exists, so a kernel restart loses nothing.
    """

    def __init__(
        self,
        name: str = "default",
        *,
        client: SoraClient | None = None,
        save_dir: str | os.PathLike[str] | None = "sora_outputs",
        download: bool = True,
        autosave: str | os.PathLike[str] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise InvalidRequest("A session needs a non-empty name.")
        self.name = name
        self.save_dir = save_dir
        self.download = download
        self._client = client
        self._own_client = False
        self._turns: list[Turn] = []
        self._lock = threading.RLock()
        self._checked: set[Path] = set()  # files known to be ours, safe to overwrite
        self._observers: list[Callable[[Session], object]] = []
        self.autosave = Path(autosave) if autosave is not None else None
        if self.autosave is not None and self.autosave.exists():
            self._turns = read_file(self.autosave, name)[1]
            self._checked.add(self.autosave.absolute())
        with _registry_lock:
            _sessions[name] = self

    def __repr__(self) -> str:
        return f"<sora_nb.Session {self.name!r}: {len(self._turns)} turns>"

    # -- properties ----------------------------------------------------------------------------

    @property
    def client(self) -> SoraClient:
        """The relay client; made on first use (starting the emulator with no base URL)."""
        if self._client is None:
            self._client = SoraClient()
            self._own_client = True
        return self._client

    @client.setter
    def client(self, value: SoraClient | None) -> None:
        self._client, self._own_client = value, False

    @property
    def turns(self) -> list[Turn]:
        """A copy of the turns, in the order they were asked."""
        with self._lock:
            return list(self._turns)

    async def aclose(self) -> None:
        """Close the client's connections if this session made the client."""
        if self._client is not None and self._own_client:
            await self._client.aclose()

    # -- lookups -------------------------------------------------------------------------------

    def turn(self, ref: int | str) -> Turn:
        """A turn by index (negative counts from the end), name, task id or sid."""
        return self._turns[self._find(ref)]

    def video(self, ref: int | str) -> Video:
        """The finished video of a turn, found as ``turn()`` finds it."""
        return self._require_done(self._find(ref))

    def latest(self) -> Video | None:
        """The video of the last finished turn, or None."""
        index = self._latest_done()
        return None if index is None else self._turns[index].video

    def _find(self, ref: int | str) -> int:
        turns = self._turns
        if isinstance(ref, int) and not isinstance(ref, bool):
            index = ref + len(turns) if ref < 0 else ref
            if 0 <= index < len(turns):
                return index
            raise InvalidRequest(f"No turn {ref} in session {self.name!r}: it has {len(turns)}.")
        text = str(ref).strip()
        for turn in reversed(turns):
            if turn.name == text:
                return turn.index
        if re.fullmatch(r"-?\d+", text):
            return self._find(int(text))
        for turn in reversed(turns):
            if text and text in (turn.task_id, turn.sid, turn.source_url):
                return turn.index
        raise InvalidRequest(
            f"No turn {ref!r} in session {self.name!r}: use an index, a name, a task id or a sid."
        )

    def _latest_done(self) -> int | None:
        return next((t.index for t in reversed(self._turns) if t.status == "done"), None)

    def _require_done(self, index: int) -> Video:
        turn = self._turns[index]
        video = turn.video
        if video is None:
            hint = {
                "running": "wait for it to finish",
                "interrupted": "resume it first",
                "failed": "edit a finished turn instead",
            }.get(turn.status, "pick a finished turn")
            raise InvalidRequest(f"Turn #{index} is {turn.status}, so it has no video: {hint}.")
        return video

    def _index_of(self, video: Video) -> int:
        """The turn that made ``video``; a video from elsewhere is adopted as a done turn."""
        with self._lock:
            known = isinstance(video.turn, int) and 0 <= video.turn < len(self._turns)
            guess = [self._turns[video.turn]] if known and video.turn is not None else []
            candidates = guess + list(reversed(self._turns))
            for turn in candidates:
                if turn.status == "done" and (turn.task_id, turn.video_url) == (
                    video.task_id,
                    video.video_url,
                ):
                    return turn.index
            parent = self._index_of(video.parent) if video.parent is not None else None
            return self._adopt(video, parent)

    def _adopt(self, video: Video, parent: int | None) -> int:
        with self._lock:
            index = len(self._turns)
            turn = Turn(index, video.prompt, video.model, status="done", parent=parent)
            self._turns.append(with_video(with_session(turn, self.name, video.parent), video))
        self._changed()
        return index

    # -- jobs ----------------------------------------------------------------------------------

    async def generate(
        self,
        prompt: str,
        *,
        model: str = "sora-2",
        orientation: str | None = None,
        image: Any = None,
        on_event: EventCallback | None = None,
        save: bool | None = None,
        name: str | None = None,
    ) -> Video:
        """Make a new video (a new branch), record it, and save a local copy."""
        turn = prepare(prompt, model, orientation, image)
        messages: list[Message] = [{"role": "user", "content": turn.content}]
        return await self._send(turn, messages, None, None, name, on_event, save)

    async def edit(
        self,
        video: Video | int | str | None,
        prompt: str,
        *,
        model: str | None = None,
        orientation: str | None = None,
        image: Any = None,
        on_event: EventCallback | None = None,
        save: bool | None = None,
        name: str | None = None,
    ) -> Video:
        """Continuous modification of ``video`` (a Video, an index, a name, a task id or sid;
        None for the latest finished one): its branch is sent back with ``prompt``."""
        base_index = self._base(video)
        base = self._require_done(base_index)
        turn = prepare(prompt, model or base.model, orientation, image)
        if not base.remixable:
            raise InvalidRequest(f"Turn #{base_index} has no sid, so the relay cannot remix it.")
        messages = base.next_messages(turn.content)
        return await self._send(turn, messages, base_index, base, name, on_event, save)

    async def _send(
        self,
        turn: Prepared,
        messages: list[Message],
        parent: int | None,
        parent_video: Video | None,
        name: str | None,
        on_event: EventCallback | None,
        save: bool | None,
    ) -> Video:
        """Record the turn, then send exactly the messages recorded."""
        client = self.client
        client.check_ready()  # a refusal records nothing, like any InvalidRequest
        index = self._start(turn, messages, parent, parent_video, name)

        def call(job: EventCallback) -> Awaitable[Video]:
            return client.run(turn, messages, parent=parent_video, on_event=job)

        return await self._run(index, call, on_event, save)

    async def resume(
        self, turn: int | str | None = None, *, on_event: EventCallback | None = None
    ) -> Video:
        """Collect an interrupted turn in place (by index, name or task id; None for the
        latest interrupted one). A task id this session never saw gets a new turn."""
        index = self._resumable(turn)
        client = self.client
        if index is None:
            ref = str(turn).strip()
            # Nothing is known of it yet; the client fills prompt and model from its status.
            unknown = Prepared(prompt="", model="sora-2", orientation=None, image_url=None)
            index = self._start(unknown, [], None, None, None)
            task_id = ref.rstrip("/").rsplit("/", 1)[-1]
            self._note_task(index, TaskEvent(task_id, None, None if task_id == ref else ref))
            return await self._run(index, lambda job: client.resume(ref, on_event=job), on_event)
        pending = pending_task(self._turns[index])
        self._update(index, status="running", error=None, finished_at=None)
        return await self._run(index, lambda job: client.resume(pending, on_event=job), on_event)

    async def generate_many(
        self,
        prompts: Iterable[str | Mapping[str, Any] | BatchItem],
        *,
        concurrency: int | None = None,
        journal: str | os.PathLike[str] | bool | None = None,
        save: bool | None = None,
        on_event: Callable[[int, Event | JobEvent], object] | None = None,
        **defaults: Any,
    ) -> BatchResults:
        """Generate one video per prompt (or per mapping of the batch columns), each recorded;
        a failure is returned in its place instead of stopping the others. The relay's shared
        limit decides how many run at once (``concurrency`` bounds this batch further).
        ``journal`` (default: beside the autosave file) makes it resumable after a restart:
        see ``resume_many``. ``defaults`` are ``model``, ``orientation`` and ``image``."""
        batch = Batch.start(
            self, prompts, journal=journal, defaults=defaults,
            concurrency=concurrency, save=save, on_event=on_event,
        )  # fmt: skip
        try:
            return await batch.run()
        finally:
            await batch.aclose()

    async def resume_many(
        self,
        journal: str | os.PathLike[str],
        *,
        resend_unknown: bool = False,
        concurrency: int | None = None,
        save: bool | None = None,
    ) -> BatchResults:
        """Finish the batch a journal records: collect its started tasks, send only the items
        that never started; nothing is paid twice (see ``Batch.resume``)."""
        batch = Batch.resume(
            self, journal, resend_unknown=resend_unknown, concurrency=concurrency, save=save
        )
        try:
            return await batch.run()
        finally:
            await batch.aclose()

    def _base(self, ref: Video | int | str | None) -> int:
        if isinstance(ref, Video):
            return self._index_of(ref)
        if ref is None:
            index = self._latest_done()
            if index is None:
                raise InvalidRequest(
                    f"Session {self.name!r} has no finished video to edit: generate one first."
                )
            return index
        return self._find(ref)

    def _resumable(self, ref: int | str | None) -> int | None:
        if ref is None:
            index = next((t.index for t in reversed(self._turns) if t.status == "interrupted"), -1)
            if index < 0:
                raise InvalidRequest(f"Session {self.name!r} has no interrupted turn to resume.")
            return index
        try:
            index = self._find(ref)
        except InvalidRequest:
            text = str(ref).strip()
            if _TASK_REF.match(text) or text.startswith(("http://", "https://")):
                return None
            raise
        turn = self._turns[index]
        if turn.status != "interrupted":
            raise InvalidRequest(f"Turn #{index} is {turn.status}: only interrupted turns resume.")
        if not turn.task_id:
            raise InvalidRequest(
                f"Turn #{index} stopped before the relay made a task, so generate it again."
            )
        return index

    # -- recording -----------------------------------------------------------------------------

    def _start(
        self,
        prepared: Prepared,
        messages: list[Message],
        parent: int | None,
        parent_video: Video | None,
        name: str | None,
    ) -> int:
        """Record a running turn before anything is sent, so an interrupt keeps it."""
        with self._lock:
            index = len(self._turns)
            turn = Turn(
                index,
                prepared.prompt,
                prepared.model,
                prepared.orientation,
                prepared.image_url,
                messages,
                parent=parent,
            )
            self._turns.append(replace(with_session(turn, self.name, parent_video), name=name))
        self._changed()
        return index

    async def _run(
        self, index: int, call: Call, on_event: EventCallback | None, save: bool | None = None
    ) -> Video:
        job = _Job(self, index, on_event)
        try:
            video = await call(job)
        except BaseException as exc:  # kernel interrupts and cancellation included
            status = self._record_failure(index, exc)
            await job.emit(JobEvent(status, detail=self._turns[index].error))
            raise
        # The video exists from here on: an interrupt while copying it must not undo that.
        self._update(index, **done_changes(self._turns[index], video))
        if (self.download if save is None else save) and self.save_dir is not None:
            await self._copy_media(index, job)
        await job.emit(JobEvent("done"))
        result = self._turns[index].video
        assert result is not None
        return result

    def _record_failure(self, index: int, exc: BaseException) -> Ending:
        turn = self._turns[index]
        task_id = getattr(exc, "task_id", None) or turn.task_id
        status = failure_status(exc, task_id)
        now = time.time()
        changes: dict[str, Any] = {
            "status": status,
            "error": failure_message(exc, task_id),
            "finished_at": now,
            "elapsed": now - turn.started_at,
            "task_id": task_id,
            "source_url": getattr(exc, "source_url", None) or turn.source_url,
        }
        pending = getattr(exc, "pending", None)  # the partial transcript, when the client has it
        if isinstance(pending, PendingTask) and pending.transcript:
            changes.update(transcript=pending.transcript, echo=pending.echo)
        self._update(index, **changes)
        return status

    def _note_task(self, index: int, event: TaskEvent) -> None:
        turn = self._turns[index]
        self._update(
            index,
            task_id=event.task_id,
            preview_url=event.preview_url or turn.preview_url,
            source_url=event.source_url or turn.source_url,
        )

    def _update(self, index: int, **changes: Any) -> Turn:
        with self._lock:
            turn = self._turns[index] = replace(self._turns[index], **changes)
        self._changed()
        return turn

    def subscribe(self, callback: Callable[[Session], object]) -> Callable[[], None]:
        """Call ``callback(session)`` after every change to the turns (made, updated,
        resumed, failed or cleared, from any caller); returns a function that unsubscribes."""
        with self._lock:
            self._observers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._observers:
                    self._observers.remove(callback)

        return unsubscribe

    def _changed(self) -> None:
        for observer in list(self._observers):
            try:
                observer(self)
            except Exception:
                # A broken view (a closed panel) must not stop the job that changed the turn.
                logger.warning("sora_nb: a session observer failed.", exc_info=True)
        if self.autosave is None:
            return
        try:
            self.save(self.autosave)
        except (OSError, SoraError) as exc:
            # Losing the autosave must not lose the video the relay is making.
            logger.warning("sora_nb: could not autosave to %s: %s", self.autosave, exc)

    # -- local copies --------------------------------------------------------------------------

    async def _copy_media(self, index: int, job: _Job) -> None:
        turn = self._turns[index]
        assert self.save_dir is not None and turn.video_url is not None
        folder, stem = Path(self.save_dir), _file_stem(turn)
        await job.emit(JobEvent("downloading", fraction=0.0))
        thumb = None
        if turn.thumbnail_url:
            name = stem + _suffix(turn.thumbnail_url, _THUMB_SUFFIXES)
            thumb = await self._fetch(turn.thumbnail_url, folder / name, job, None)
        name = stem + _suffix(turn.video_url, _VIDEO_SUFFIXES)
        path = await self._fetch(turn.video_url, folder / name, job, job.progress)
        self._update(index, local_path=_relative(path), local_thumbnail=_relative(thumb))
        if path is not None:
            await job.downloaded()

    async def _fetch(
        self, url: str, dest: Path, job: _Job, progress: Callable[[int, int | None], object] | None
    ) -> Path | None:
        client = self.client
        try:
            # The client's pool, and its auth, which adds the key for the relay's origin only.
            return await download(
                url, dest, http=client.http(), auth=client.auth, on_progress=progress
            )
        except (SoraError, OSError) as exc:
            logger.warning("sora_nb: no local copy of %s: %s", url, exc)
            await job.emit(JobEvent("downloading", detail=f"No local copy was saved: {exc}"))
            return None

    # -- persistence ---------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the history to ``path`` as JSON, atomically; never the API key.

        An existing file that is not a session file of this or an older version is refused.
        """
        path = Path(path)
        if path.absolute() not in self._checked and path.exists():
            read_file(path, self.name)
        with self._lock:
            write_file(path, self.name, list(self._turns))
            self._checked.add(path.absolute())
        return path

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        client: SoraClient | None = None,
        save_dir: str | os.PathLike[str] | None = "sora_outputs",
        download: bool = True,
    ) -> Session:
        """Read a session saved by ``save()``; a corrupt or newer file raises SessionFileError."""
        name, turns = read_file(Path(path), None)
        session = cls(name, client=client, save_dir=save_dir, download=download)
        session._turns = turns
        return session

    def clear(self) -> None:
        """Forget every turn (local copies stay on disk)."""
        with self._lock:
            self._turns = []
        self._changed()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from ._render import history_mimebundle

        return history_mimebundle(self)


# -- the per-process registry -----------------------------------------------------------------

_sessions: dict[str, Session] = {}
_registry_lock = threading.RLock()


def get_session(name: str = "default") -> Session:
    """The session called ``name`` in this process (a kernel), made on first use."""
    with _registry_lock:
        session = _sessions.get(name)
        return session if session is not None else Session(name)


# -- helpers -----------------------------------------------------------------------------------


def _file_stem(turn: Turn) -> str:
    key = turn.task_id or turn.sid or hashlib.sha256(str(turn.video_url).encode()).hexdigest()[:16]
    return re.sub(r"[^A-Za-z0-9_.-]", "_", key)


def _suffix(url: str, allowed: tuple[str, ...]) -> str:
    suffix = Path(url.split("?", 1)[0].split("#", 1)[0]).suffix.lower()
    return suffix if suffix in allowed else allowed[0]


def _relative(path: Path | None) -> str | None:
    """A path relative to the working directory (the notebook's folder), with ``/``."""
    if path is None:
        return None
    try:
        return Path(os.path.relpath(path)).as_posix()
    except ValueError:  # another drive on Windows
        return str(path)
