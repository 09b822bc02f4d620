"""The kernel's history of turns: what was asked, what came back, and how turns
branch.

Continuous modification sends the conversation back (docs/protocol.md,
"Continuous modification"): an edit's request is its base video's messages, the
base's assistant transcript **verbatim**, then the change; so each turn keeps
its exact request messages and transcript, and an edit of an older turn starts a
new branch that carries only that branch. Every job records a ``running`` turn
before anything is sent, so an interrupted or failed job keeps its task id (the
relay bills it either way) and an interrupted one can be resumed in place.

Pure core: files and HTTP only, no Jupyter. Turns and their file format are in
``_turn``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from .._display import mimebundle
from .._exceptions import InvalidRequest, SoraError
from .._messages import t
from ..client._client import EventCallback, SoraClient
from ..client._download import DEFAULT_MAX_BYTES
from ..client._poster import chain_export
from ..dialects import recognised
from ..records._ask import Ask
from ..records._autosave import HistoryLog, merge
from ..records._batch_items import BatchItem
from ..records._model import PendingTask, Request, Task
from ..records._turn import (
    SCHEMA_VERSION,
    Ending,
    SessionFileError,
    Turn,
    TurnStatus,
    failure_message,
    failure_status,
    finished,
    read_file,
    unwritable,
    write_file,
)
from ..records._video import Video
from ..wire._events import Event, JobEvent, TaskEvent
from ._batch import Batch, BatchResults
from ._copies import LocalCopies, own_copy
from ._turn_events import TurnEvents

__all__ = ["SCHEMA_VERSION", "Session", "SessionFileError", "Turn", "TurnStatus", "get_session"]

logger = logging.getLogger("sora_nb")

_TASK_REF = re.compile(r"task_[A-Za-z0-9]+\Z")

Call = Callable[[EventCallback], Awaitable[Video]]


class Session:
    """A history of turns: every request, the branch it continues, its local
    copies.

    A kernel has a default one per name, made and remembered by
    ``get_session()``; a Session made or loaded directly is the caller's own and
    replaces nothing. ``save_dir`` is where finished videos are copied (relative
    to the notebook); ``download=False`` turns copies off. With ``autosave`` the
    history is written to that file after every change, and read back from it
    when it exists, so a kernel restart loses nothing.
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
            raise InvalidRequest(t("history.no_name"))
        self.name = name
        self.save_dir = save_dir
        self.download = download
        self._client = client
        self._own_client = False
        # what the magic's settings gave it
        self._settings_client: SoraClient | None = None
        self._turns: list[Turn] = []
        self._lock = threading.RLock()
        # files known to be ours, safe to overwrite
        self._checked: set[Path] = set()
        #: Downloads larger than this are refused (the video stays playable from
        #: its link).
        self.max_download_bytes: int | None = DEFAULT_MAX_BYTES
        self._observers: list[Callable[[Session], object]] = []
        self.autosave = Path(autosave) if autosave is not None else None
        # the autosave file, read where we left it
        self._log: HistoryLog | None = None
        if self.autosave is not None:
            log = self._history_log(self.autosave)
            if self.autosave.exists():
                self._turns = self._owned(log.load())
                self._checked.add(self.autosave.absolute())

    def __repr__(self) -> str:
        return f"<sora_nb.Session {self.name!r}: {len(self._turns)} turns>"

    # -- properties ------------------------------------------------------------

    @property
    def client(self) -> SoraClient:
        """The relay client, made on first use (no base URL: the emulator)."""
        if self._client is None:
            self._client = SoraClient()
            self._own_client = True
        return self._client

    @client.setter
    def client(self, value: SoraClient | None) -> None:
        self._client, self._own_client = value, False

    def _use_settings_client(self, client: SoraClient) -> None:
        """Take the notebook settings' client unless this session has one."""
        chosen = self._client is not None and not self._own_client
        if not chosen or self._client is self._settings_client:
            self._client, self._own_client = client, False
            self._settings_client = client

    def _autosave_to(self, path: Path) -> None:
        """Save to ``path`` after every change; the turns an existing file holds
        and this session lacks are added first (a restarted kernel, or the file
        of an earlier run).
        """
        if self.autosave == path:
            return
        if path.exists():
            theirs = read_file(path, self.name)[1]
            with self._lock:
                self._turns = self._owned(merge(self._turns, theirs))
        self.autosave = path
        self._sync(path, None)

    @property
    def turns(self) -> list[Turn]:
        """A copy of the turns, in the order they were asked."""
        with self._lock:
            return list(self._turns)

    async def aclose(self) -> None:
        """Close the client's connections if this session made the client."""
        if self._client is not None and self._own_client:
            await self._client.aclose()

    # -- lookups ---------------------------------------------------------------

    def turn(self, ref: int | str) -> Turn:
        """A turn by index (negative: from the end), name, task id or sid."""
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
            raise InvalidRequest(t("history.no_index", ref=ref, name=self.name, n=len(turns)))
        text = str(ref).strip()
        for turn in reversed(turns):
            if turn.name == text:
                return turn.index
        if re.fullmatch(r"-?\d+", text):
            return self._find(int(text))
        for turn in reversed(turns):
            if text and text in (turn.task_id, turn.sid, turn.source_url):
                return turn.index
        raise InvalidRequest(t("history.no_ref", ref=ref, name=self.name))

    def _latest_done(self) -> int | None:
        return next((t.index for t in reversed(self._turns) if t.status == "done"), None)

    def _require_done(self, index: int) -> Video:
        turn = self._turns[index]
        video = turn.video
        if video is None:
            known = turn.status in ("running", "interrupted", "failed")
            hint = t(f"history.hint.{turn.status if known else 'other'}")
            status = t(f"status.{turn.status}")
            raise InvalidRequest(t("history.no_video", index=index, status=status, hint=hint))
        return video

    def _index_of(self, video: Video) -> int:
        """The turn that made ``video`` (one from elsewhere: a done turn)."""
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
            turn = Turn(index, video.request, parent=parent, started_at=video.created_at)
            self._turns.append(finished(turn, self._own(video, turn, self._turns)))
        self._changed(index)
        return index

    def _own(self, video: Video, turn: Turn, earlier: list[Turn]) -> Video:
        """``video`` as made by this session's ``turn``; its parent is that
        turn's parent's.

        A video saved before videos said what their dialect offers is upgraded
        here.
        """
        parent = earlier[turn.parent].video if turn.parent is not None else None
        return replace(recognised(video), session=self, turn=turn.index, parent=parent)

    def _owned(self, turns: list[Turn]) -> list[Turn]:
        """Turns read from a file, their videos owned by this session."""
        owned: list[Turn] = []
        for turn in turns:
            if turn.video is not None:
                turn = replace(turn, video=self._own(turn.video, turn, owned))
            owned.append(turn)
        return owned

    # -- jobs ------------------------------------------------------------------

    async def generate(
        self,
        prompt: str | Ask,
        *,
        model: str = "sora-2",
        orientation: str | None = None,
        image: Any = None,
        on_event: EventCallback | None = None,
        save: bool | None = None,
        name: str | None = None,
        **options: Any,
    ) -> Video:
        """Make a new video (a new branch), record it, and save a local copy.

        ``prompt`` is the text, or an ``Ask`` a surface built (then it is taken
        as it is); ``options`` are the rest of what an ``Ask`` takes
        (``sora_nb.records._ask``).
        """
        ask = _ask(prompt, model=model, orientation=orientation, image=image, **options)
        request = await self.client.request(ask)
        return await self._send(request, None, name, on_event, save)

    async def edit(
        self,
        video: Video | int | str | None,
        prompt: str | Ask,
        *,
        model: str | None = None,
        orientation: str | None = None,
        image: Any = None,
        on_event: EventCallback | None = None,
        save: bool | None = None,
        name: str | None = None,
        **options: Any,
    ) -> Video:
        """Continuous modification of ``video`` (a Video, an index, a name, a
        task id or sid; None for the latest finished one): its branch is sent
        back with ``prompt``.
        """
        base_index = self._base(video)
        base = self._require_done(base_index)
        ask = _ask(
            prompt, model=model or base.model, orientation=orientation, image=image, **options
        )
        request = await self.client.request(ask, base)
        if not base.remixable:
            raise InvalidRequest(t("history.no_sid", index=base_index))
        return await self._send(request, base_index, name, on_event, save)

    async def _send(
        self,
        request: Request,
        parent: int | None,
        name: str | None,
        on_event: EventCallback | None,
        save: bool | None,
    ) -> Video:
        """Record the turn, then send exactly the request recorded."""
        client = self.client
        # a refusal records nothing, like any InvalidRequest
        client.check_ready()
        index = self._start(request, parent, name)
        base = self._turns[parent].video if parent is not None else None

        def call(events: EventCallback) -> Awaitable[Video]:
            return client.send(request, parent=base, on_event=events)

        return await self._track(index, call, on_event, save)

    async def resume(
        self,
        turn: int | str | None = None,
        *,
        on_event: EventCallback | None = None,
        request: Request | None = None,
        source_url: str | None = None,
    ) -> Video:
        """Collect an interrupted turn in place (by index, name or task id; None
        for the latest interrupted one). A task id this session never saw gets a
        new turn.

        ``request`` is what was sent for that task id (a batch journal's plan):
        the turn keeps it, and the id is taken as the relay named it, any shape,
        at ``source_url`` if given, else where the dialect's status lives.
        """
        client = self.client
        if request is not None and turn is not None:
            return await self._collect(str(turn), source_url, request, on_event)
        index = self._resumable(turn)
        if index is None:
            ref = str(turn).strip()
            # a task the relay does not know records no turn
            await client.lookup(ref)
            # Nothing is known of it yet; the client learns prompt and model
            # from its status.
            index = self._start(Request(prompt="", model=""), None, None)
            task_id = ref.rstrip("/").rsplit("/", 1)[-1]
            self._note_task(index, TaskEvent(task_id, None, None if task_id == ref else ref))
            return await self._track(
                index, lambda events: client.resume(ref, on_event=events), on_event
            )
        pending = self._turns[index].pending
        self._update(index, status="running", error=None, finished_at=None)
        return await self._track(
            index, lambda events: client.resume(pending, on_event=events), on_event
        )

    async def _collect(
        self,
        task_id: str,
        source_url: str | None,
        request: Request,
        on_event: EventCallback | None,
    ) -> Video:
        """A new turn for ``request``, from the task the relay named."""
        started = self._start(request, None, None)
        self._note_task(started, TaskEvent(task_id, source_url, None))
        pending = PendingTask(request, Task(task_id, source_url))
        client = self.client
        return await self._track(
            started, lambda events: client.resume(pending, on_event=events), on_event
        )

    async def generate_many(
        self,
        prompts: Iterable[str | Mapping[str, Any] | BatchItem],
        *,
        concurrency: int | None = None,
        journal: str | os.PathLike[str] | bool | None = None,
        unconfirmed: int | None = None,
        save: bool | None = None,
        on_event: Callable[[int, Event | JobEvent], object] | None = None,
        **defaults: Any,
    ) -> BatchResults:
        """Generate one video per prompt (or per mapping of the batch columns),
        each recorded; a failure is returned in its place instead of stopping
        the others. The relay's shared limit decides how many run at once
        (``concurrency`` bounds this batch further). ``journal`` (default:
        beside the autosave file) makes it resumable after a restart: see
        ``resume_many``; ``unconfirmed`` bounds how many items a crash can leave
        in doubt (sent, task not named yet). ``defaults``: ``model``,
        ``orientation``, ``image``.
        """
        try:
            batch = Batch.start(
                self, prompts, journal=journal, defaults=defaults,
                concurrency=concurrency, unconfirmed=unconfirmed, save=save, on_event=on_event,
            )  # fmt: skip
        except OSError as exc:  # the journal's folder: full or read-only
            raise unwritable(Path(str(exc.filename or journal)), exc) from None
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
        unconfirmed: int | None = None,
        save: bool | None = None,
    ) -> BatchResults:
        """Finish the batch a journal records: collect its started tasks, send
        only the items that never started; nothing is paid twice (see
        ``Batch.resume``).
        """
        try:
            batch = Batch.resume(
                self, journal, resend_unknown=resend_unknown,
                concurrency=concurrency, unconfirmed=unconfirmed, save=save,
            )  # fmt: skip
        except OSError as exc:
            raise unwritable(Path(journal), exc) from None
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
                raise InvalidRequest(t("history.nothing_to_edit", name=self.name))
            return index
        return self._find(ref)

    def _resumable(self, ref: int | str | None) -> int | None:
        if ref is None:
            index = next((t.index for t in reversed(self._turns) if t.status == "interrupted"), -1)
            if index < 0:
                raise InvalidRequest(t("history.nothing_to_resume", name=self.name))
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
            raise InvalidRequest(
                t("history.not_interrupted", index=index, status=t(f"status.{turn.status}"))
            )
        if not turn.task_id:
            raise InvalidRequest(t("history.no_task", index=index))
        return index

    # -- recording -------------------------------------------------------------

    def _start(self, request: Request, parent: int | None, name: str | None) -> int:
        """Record a running turn before sending, so an interrupt keeps it."""
        with self._lock:
            index = len(self._turns)
            self._turns.append(Turn(index, request, parent=parent, name=name))
        self._changed(index)
        return index

    async def _track(
        self, index: int, call: Call, on_event: EventCallback | None, save: bool | None = None
    ) -> Video:
        events = self._events(index, on_event)
        try:
            video = await call(events)
        # kernel interrupts and cancellation included
        except BaseException as exc:
            status = self._record_failure(index, exc)
            await events.emit(JobEvent(status, detail=self._turns[index].error))
            raise
        # The video exists from here on: an interrupt while copying it must not
        # undo that.
        with self._lock:
            turn = self._turns[index]
            self._turns[index] = finished(turn, self._own(video, turn, self._turns))
        self._changed(index)
        if (self.download if save is None else save) and self.save_dir is not None:
            try:
                await self._copy_media(index, events)
            # a copy is a nicety: the paid video is done whatever it meets
            except Exception:
                logger.warning("sora_nb: no local copy for turn %d.", index, exc_info=True)
        await events.emit(JobEvent("done"))
        result = self._turns[index].video
        assert result is not None
        return result

    def _record_failure(self, index: int, exc: BaseException) -> Ending:
        # the turn's record, else the error's
        task = self._turns[index].task or _task_of(exc)
        status = failure_status(exc, task.task_id if task else None)
        changes: dict[str, Any] = {
            "status": status,
            "error": failure_message(exc, task.task_id if task else None),
            "finished_at": time.time(),
            "task": task,
        }
        # the partial transcript, when the client has it
        pending = getattr(exc, "pending", None)
        if isinstance(pending, PendingTask) and pending.transcript:
            changes.update(answer=pending.transcript)
        self._update(index, **changes)
        return status

    def _events(self, index: int, on_event: EventCallback | None) -> TurnEvents:
        """Turn ``index``'s event hook: records its task id once known."""
        return TurnEvents(lambda event: self._note_task(index, event), on_event)

    def _note_task(self, index: int, event: TaskEvent) -> None:
        self._update(index, task=Task(event.task_id, event.source_url, event.preview_url))

    def _update(self, index: int, **changes: Any) -> Turn:
        with self._lock:
            turn = self._turns[index] = replace(self._turns[index], **changes)
        self._changed(index)
        return turn

    def subscribe(self, callback: Callable[[Session], object]) -> Callable[[], None]:
        """Call ``callback(session)`` after every change to the turns (made,
        updated, resumed, failed or cleared, from any caller); returns a
        function that unsubscribes.
        """
        with self._lock:
            self._observers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._observers:
                    self._observers.remove(callback)

        return unsubscribe

    def _changed(self, index: int | None = None) -> None:
        """Tell the observers; autosave turn ``index`` (None: every turn)."""
        for observer in list(self._observers):
            try:
                observer(self)
            except Exception:
                # A broken view (a closed panel) must not stop the job that
                # changed the turn.
                logger.warning("sora_nb: a session observer failed.", exc_info=True)
        if self.autosave is None:
            return
        try:
            self._sync(self.autosave, None if index is None else [index])
        except (OSError, SoraError) as exc:
            # Losing the autosave must not lose the video the relay is making.
            logger.warning("sora_nb: could not autosave to %s: %s", self.autosave, exc)

    def _history_log(self, path: Path) -> HistoryLog:
        if self._log is None or self._log.path != path:
            self._log = HistoryLog(path, self.name)
        return self._log

    def _sync(self, path: Path, changed: list[int] | None) -> None:
        """Merge with what other kernels wrote to ``path``, then write
        ``changed`` (all of them when None): one appended line per change
        (docs/notebook.md, "Autosave").
        """
        with self._lock:
            turns, touched = self._history_log(path).sync(self._turns, changed)
            # only what came from the file needs owning
            for index in sorted(touched):
                turn = turns[index]
                if turn.video is not None:
                    turns[index] = replace(turn, video=self._own(turn.video, turn, turns))
            self._turns = turns
            self._checked.add(path.absolute())

    def _merge_into(self, path: Path) -> None:
        """Merge the history with a shared autosave file, under its lock."""
        self._sync(path, None)

    # -- local copies ----------------------------------------------------------

    async def save_copy(
        self, ref: int | str | None = None, *, on_event: EventCallback | None = None
    ) -> Video:
        """Make (again) the local copies of a finished turn (None: the latest),
        e.g. after a copy failed; the video was playable from its link all
        along.
        """
        index = self._find(ref) if ref is not None else self._latest_done()
        if index is None:
            raise InvalidRequest(t("history.nothing_to_copy", name=self.name))
        self._require_done(index)
        if self.save_dir is None:
            raise InvalidRequest(t("history.copies_off"))
        await self._copy_media(index, self._events(index, on_event))
        video = self._turns[index].video
        assert video is not None
        return video

    async def _copy_media(self, index: int, events: TurnEvents) -> None:
        video = self._turns[index].video
        assert self.save_dir is not None and video is not None
        copier = LocalCopies(self.client, Path(self.save_dir), self.max_download_bytes)
        copies = await copier.copy(video, events)
        self._update(index, video=copies)
        if copies.local_path is not None:
            await events.downloaded()

    # -- persistence -----------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the history to ``path`` as JSON, atomically; never the API key.

        An existing file that is not a session file of this or an older version
        is refused.
        """
        path = Path(path)
        if path.absolute() not in self._checked and path.exists():
            read_file(path, self.name)
        if self._log is not None and self._log.path == path:
            # the autosave file: merged under its lock, as a record
            self._sync(path, None)
            return path
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
        """Read a ``save()`` file; SessionFileError if corrupt or newer."""
        name, turns = read_file(Path(path), None)
        session = cls(name, client=client, save_dir=save_dir, download=download)
        session._turns = session._owned(turns)
        return session

    async def export_chain(
        self, ref: int | str | None = None, dest: str | os.PathLike[str] | None = None
    ) -> Path:
        """One mp4 of a chain of continuations, first video to ``ref`` (None:
        the latest), with its lineage beside it as ``<dest>.lineage.json``
        (docs/dialects.md).
        """
        index = self._find(ref) if ref is not None else self._latest_done()
        if index is None:
            raise InvalidRequest(t("history.nothing_to_copy", name=self.name))
        chain: list[int] = []
        while index is not None:
            chain.insert(0, index)
            index = self._turns[index].parent
        files = [await self._local_file(i) for i in chain]
        target = Path(dest) if dest else Path(self.save_dir or ".") / f"chain-{chain[-1]}.mp4"
        await asyncio.to_thread(chain_export, files, target)
        lineage = [_link_of(self._turns[i], files[n]) for n, i in enumerate(chain)]
        lines = target.with_name(target.name + ".lineage.json")
        await asyncio.to_thread(lines.write_text, json.dumps(lineage, indent=1), "utf-8")
        return target

    async def _local_file(self, index: int) -> Path:
        video = self._require_done(index)
        copy = own_copy(video.local_path)
        if copy is None:
            if self.save_dir is None:
                raise InvalidRequest(t("history.copies_off"))
            video = await self.save_copy(index)
            copy = own_copy(video.local_path)
        if copy is None:
            raise InvalidRequest(t("gateway.no_parent_file", index=index, detail=video.video_url))
        return copy

    def clear(self) -> None:
        """Forget every turn (local copies stay on disk)."""
        with self._lock:
            self._turns = []
        self._changed()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return mimebundle(self)


# -- the per-process registry --------------------------------------------------

_sessions: dict[str, Session] = {}
_registry_lock = threading.RLock()


def get_session(
    name: str = "default",
    *,
    autosave: str | os.PathLike[str] | None = None,
    client: SoraClient | None = None,
) -> Session:
    """The session called ``name`` in this process (a kernel), made and
    remembered on first use; the only place that remembers one. With
    ``autosave`` it saves to that file after every change, reading the file's
    turns back first when it exists (a restarted kernel). ``client`` is the
    notebook settings' client: it is used unless someone set another.
    """
    with _registry_lock:
        session = _sessions.get(name)
        if session is None:
            session = _sessions[name] = Session(name)
        if autosave is not None:
            session._autosave_to(Path(autosave))
        if client is not None:
            session._use_settings_client(client)
        return session


# -- helpers -------------------------------------------------------------------


def _ask(prompt: str | Ask, **options: Any) -> Ask:
    """The Ask a surface built, or one built here from prompt and options."""
    return prompt if isinstance(prompt, Ask) else Ask.build(prompt, **options)


def _link_of(turn: Turn, path: Path) -> dict[str, Any]:
    """One link of an exported chain: what made it, how it continues."""
    request = turn.request
    how = request.options.get("how") or ("edit" if turn.parent is not None else None)
    return {"turn": turn.index, "parent": turn.parent, "prompt": request.prompt,
            "model": request.model, "continuation": how, "task_id": turn.task_id,
            "file": path.as_posix()}  # fmt: skip


def _task_of(exc: BaseException) -> Task | None:
    """The task an error reports (a failure or a broken stream knows its id)."""
    task_id = getattr(exc, "task_id", None)
    return Task(task_id, getattr(exc, "source_url", None)) if task_id else None
