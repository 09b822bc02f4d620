"""A Session's turns, and the JSON file they are saved in.

A turn keeps its request messages exactly as sent and the relay's transcript
verbatim: an edit sends both back (docs/protocol.md, "Continuous modification").
The file has a format name and a schema version; it holds turns only, never the
client or its API key, and a file that is corrupt or from a newer sora_nb is
refused rather than overwritten.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, cast, get_args

from .._exceptions import (
    APIError,
    GenerationFailed,
    SessionFileError,
    StreamInterrupted,
)
from .._messages import t
from ._files import sound
from ._model import Described, Message, PendingTask, ReadThrough, Request, Task
from ._video import Video, video_record

__all__ = [
    "LOG_VERSION",
    "SCHEMA_VERSION",
    "Ending",
    "SessionFileError",
    "Turn",
    "TurnLog",
    "TurnStatus",
    "failure_message",
    "failure_status",
    "finished",
    "log_header",
    "log_header_line",
    "log_line",
    "read_file",
    "unwritable",
    "write_file",
]

TurnStatus = Literal["running", "done", "failed", "interrupted"]
Ending = Literal["failed", "interrupted"]
_STATUSES: tuple[str, ...] = get_args(TurnStatus)

#: The version of the session file format this sora_nb writes; it reads this one
#: and older. Version 1 kept every field flat on the turn; version 2 nests the
#: request, task and video. A video's ``dialect``, ``continuations`` and
#: ``handle`` came later, optional: an older sora_nb ignores them, and files
#: without them are upgraded on load (docs/architecture.md).
SCHEMA_VERSION = 2
_FORMAT = "sora_nb.session"


@dataclass(frozen=True, slots=True)
class Turn(Described):
    """One request of a Session and what became of it.

    ``request`` is what was sent, ``task`` the relay's task once known and
    ``video`` the finished Video (None unless ``done``); ``answer`` keeps the
    relay's transcript so far when the turn failed or was interrupted.
    ``parent`` is the index of the turn this one edits.
    """

    index: int
    request: Request
    status: TurnStatus = "running"
    task: Task | None = None
    video: Video | None = field(default=None, repr=False)
    answer: str = field(default="", repr=False)
    parent: int | None = None
    started_at: float = field(default_factory=time.time, repr=False)
    finished_at: float | None = field(default=None, repr=False)
    error: str | None = None
    name: str | None = None

    # The request's and task's fields read through (``Described``), and the
    # video's here.
    sid = ReadThrough[str | None]("video")
    video_url = ReadThrough[str | None]("video")
    thumbnail_url = ReadThrough[str | None]("video")
    local_path = ReadThrough[str | None]("video")
    local_thumbnail = ReadThrough[str | None]("video")
    echo = ReadThrough[dict[str, Any] | None]("video")

    @property
    def orientation(self) -> str | None:  # type: ignore[override]
        return self.video.orientation if self.video else self.request.orientation

    @property
    def transcript(self) -> str:
        """The relay's answer: the transcript, or what came before a stop."""
        return self.video.transcript if self.video else self.answer

    @property
    def elapsed(self) -> float | None:
        """The generation time; for a turn that stopped, the time until then."""
        if self.video is not None:
            return self.video.elapsed
        return None if self.finished_at is None else self.finished_at - self.started_at

    @property
    def pending(self) -> PendingTask:
        """What ``SoraClient.resume`` needs to collect this turn's task."""
        assert self.task is not None
        return PendingTask(self.request, self.task, self.answer, None, self.started_at)


def finished(turn: Turn, video: Video) -> Turn:
    """``turn`` done with ``video``: the video's request and task describe it
    from now on (they are the turn's own, or what the relay said of a task
    resumed by id alone).
    """
    return replace(
        turn,
        status="done",
        request=video.request,
        task=video.task,
        video=video,
        answer="",
        error=None,
        finished_at=time.time(),
    )


def failure_status(exc: BaseException, task_id: str | None) -> Ending:
    """``interrupted`` when the task may still finish on the relay, else
    ``failed``.

    A broken stream, a kernel interrupt or a cancellation leave the task
    running; so does an error while polling a known task (a resume), which the
    relay bills all the same.
    """
    if isinstance(exc, GenerationFailed):
        return "failed"
    if isinstance(exc, StreamInterrupted) or not isinstance(exc, Exception):
        return "interrupted"
    return "interrupted" if task_id and isinstance(exc, APIError) else "failed"


def failure_message(exc: BaseException, task_id: str | None) -> str:
    if isinstance(exc, Exception) and str(exc):
        return str(exc)
    what = "interrupted" if isinstance(exc, KeyboardInterrupt) else "cancelled"
    if task_id:
        return t(f"turn.{what}_task", task=task_id)
    return t(f"turn.{what}_none")


# -- the file format -----------------------------------------------------------


def write_file(path: Path, name: str, turns: list[Turn]) -> None:
    """Save ``turns`` as session ``name`` to ``path``, atomically."""
    document = {
        "format": _FORMAT,
        "version": SCHEMA_VERSION,
        "name": name,
        "saved_at": time.time(),
        "turns": [_turn_to_json(turn, turns) for turn in turns],
    }
    try:
        _atomic_write(path, json.dumps(document, ensure_ascii=False, indent=1))
    # a full disk, a read-only folder: one sentence naming the file
    except OSError as exc:
        raise unwritable(path, exc) from None


def unwritable(path: Path, exc: OSError) -> SessionFileError:
    """The one-sentence error for ``path`` that ``exc`` kept from being written
    (the OS may name a temporary file beside it, or no file at all).
    """
    return SessionFileError(t("error.file", name=path, reason=exc.strerror or exc))


def _atomic_write(path: Path, text: str) -> None:
    """Write beside ``path``, then rename over it: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            # any text the relay sent, even half a character
            out.write(sound(text))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _turn_to_json(turn: Turn, turns: list[Turn]) -> dict[str, Any]:
    request = _plain(turn.request)
    parent = turns[turn.parent] if turn.parent is not None else None
    # An edit's messages repeat its branch (and any data: image in it): store
    # the new part.
    if parent is not None and turn.messages[:-1] == _branch(parent):
        request["messages"] = {"branch_of": parent.index, "then": turn.messages[-1:]}
    video = None
    # its request and task are the turn's: stored once, there
    if turn.video is not None:
        video = video_record(turn.video)
        del video["request"], video["task"]
    return {
        "index": turn.index,
        "status": turn.status,
        "request": request,
        "task": _plain(turn.task) if turn.task else None,
        "video": video,
        "answer": turn.answer,
        "parent": turn.parent,
        "started_at": turn.started_at,
        "finished_at": turn.finished_at,
        "error": turn.error,
        "name": turn.name,
    }


def _plain(record: Request | Task) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) for f in fields(record)}


def _branch(parent: Turn) -> list[Message]:
    return [*parent.messages, {"role": "assistant", "content": parent.transcript}]


def read_file(path: Path, session: str | None) -> tuple[str, list[Turn]]:
    """The session name (``session`` if given) and turns saved in ``path``: a
    document (``save()``, schema 1 or 2) or an autosave record (schema 3,
    ``_autosave``).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SessionFileError(f"Cannot read the session file {path}: {exc}.") from None
    header = log_header(text.split("\n", 1)[0])
    if header is not None:
        name = session or header.get("name")
        log = TurnLog()
        for line in text.split("\n")[1:]:
            log.apply(line)
        return (name if isinstance(name, str) and name else "default"), log.turns
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise SessionFileError(
            f"The session file {path} is corrupt ({exc}); it was left untouched."
        ) from None
    if not isinstance(document, dict) or document.get("format") != _FORMAT:
        raise SessionFileError(f"{path} is not a sora_nb session file; it was left untouched.")
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SessionFileError(f"{path} has no valid schema version; it was left untouched.")
    if version > SCHEMA_VERSION:
        raise SessionFileError(
            f"{path} was written by a newer sora_nb (schema {version!r}, this one reads up to "
            f"{SCHEMA_VERSION}); upgrade sora_nb to open it."
        )
    name = session or document.get("name")
    if not isinstance(name, str) or not name:
        name = "default"
    try:
        return name, _turns_from_json(document.get("turns"), version)
    except (TypeError, ValueError, KeyError, IndexError) as exc:
        raise SessionFileError(
            f"The session file {path} is corrupt ({exc}); it was left untouched."
        ) from None


# -- the autosave record: one turn a line --------------------------------------

#: The autosave file's schema: a header line, then one turn a line; a later line
#: for a turn (the same ``started_at``) replaces the earlier one, so a change
#: appends one line.
LOG_VERSION = 3


def log_header(line: str) -> dict[str, Any] | None:
    """The header of an autosave record, or None when ``line`` is not one."""
    if not line.startswith("{") or '"version": 3' not in line:
        return None
    try:
        header = json.loads(line)
    except ValueError:
        return None
    ok = isinstance(header, dict) and header.get("format") == _FORMAT and "record" in header
    return header if ok and header.get("version") == LOG_VERSION else None


def log_header_line(name: str) -> str:
    header = {
        "format": _FORMAT,
        "version": LOG_VERSION,
        "record": "one turn a line; a later line for a started_at replaces an earlier one",
        "name": name,
        "saved_at": time.time(),
    }
    return json.dumps(header, ensure_ascii=False) + "\n"


def log_line(turn: Turn, turns: list[Turn]) -> str:
    """``turn`` as one line of the record: its parent named by when it started,
    not by an index (another kernel numbers the same turns in its own order).
    """
    record = _turn_to_json(turn, turns)
    del record["index"]
    if turn.parent is not None:
        record["parent"] = turns[turn.parent].started_at
        messages = record["request"]["messages"]
        if isinstance(messages, dict):
            messages["branch_of"] = record["parent"]
    # A lone surrogate from a relay stays a JSON escape, not an encoding error.
    text = json.dumps(record, ensure_ascii=False)
    return text.encode("utf-8", "backslashreplace").decode("utf-8") + "\n"


class TurnLog:
    """Turns as a record's lines build them, in the file's first order."""

    def __init__(self) -> None:
        self.turns: list[Turn] = []
        self.where: dict[float, int] = {}  # started_at → index
        self.torn = 0  # lines a kill cut short, or garbled: skipped

    def apply(self, line: str) -> tuple[int, Turn] | None:
        """One line's (index, turn), or None for a blank or unreadable line."""
        if not line.strip():
            return None
        try:
            obj = json.loads(line)
            index, turn = self._read(obj)
        except (TypeError, ValueError, KeyError, IndexError, AttributeError):
            self.torn += 1
            return None
        if index == len(self.turns):
            self.turns.append(turn)
            self.where[turn.started_at] = index
        else:
            self.turns[index] = turn
        return index, turn

    def _read(self, obj: dict[str, Any]) -> tuple[int, Turn]:
        key = float(obj["started_at"])
        index = self.where.get(key, len(self.turns))
        parent = obj.get("parent")
        obj = {**obj, "index": index, "parent": None if parent is None else self.where[parent]}
        messages = obj["request"].get("messages")
        if isinstance(messages, dict):
            branch = {**messages, "branch_of": self.where[messages["branch_of"]]}
            obj["request"] = {**obj["request"], "messages": branch}
        return index, _turn_from_json(obj, index, self.turns)


def _turns_from_json(items: Any, version: int) -> list[Turn]:
    if not isinstance(items, list):
        raise ValueError("its turns are not a list")
    turns: list[Turn] = []
    for index, obj in enumerate(items):
        turns.append(_turn_from_json(_upgrade(obj) if version == 1 else obj, index, turns))
    return turns


# What each record holds in the file: key → (accepted types, default; _NEEDED
# when required).
_NEEDED = object()
_TEXT = (str, type(None))
_NUMBER = (int, float, type(None))
_REQUEST: dict[str, tuple[Any, Any]] = {
    "prompt": (str, _NEEDED),
    "model": (str, _NEEDED),
    "orientation": (_TEXT, None),
    "image": (_TEXT, None),
    "options": ((dict, type(None)), None),
}
_TASK: dict[str, tuple[Any, Any]] = {
    "task_id": (str, _NEEDED),
    "source_url": (_TEXT, None),
    "preview_url": (_TEXT, None),
}
_VIDEO: dict[str, tuple[Any, Any]] = {
    "sid": (_TEXT, None),
    "video_url": (str, _NEEDED),
    "thumbnail_url": (_TEXT, None),
    "transcript": (str, ""),
    "echo": ((dict, type(None)), None),
    "created_at": ((int, float), _NEEDED),
    "elapsed": (_NUMBER, None),
    "local_path": (_TEXT, None),
    "local_thumbnail": (_TEXT, None),
    "dialect": (_TEXT, None),
    "continuations": ((list, type(None)), None),
    "handle": (_TEXT, None),
}
_TURN: dict[str, tuple[Any, Any]] = {
    "answer": (str, ""),
    "started_at": ((int, float), _NEEDED),
    "finished_at": (_NUMBER, None),
    "error": (_TEXT, None),
    "name": (_TEXT, None),
}


def _turn_from_json(obj: Any, index: int, earlier: list[Turn]) -> Turn:
    if not isinstance(obj, dict) or obj.get("index") != index:
        raise ValueError(f"turn {index} is not a turn object with index {index}")
    parent = _parent(obj.get("parent"), index)
    request = obj.get("request")
    if not isinstance(request, dict):
        raise ValueError(f"turn {index} has no request")
    messages = _messages(request.get("messages"), index, earlier)
    values = _typed(obj, _TURN, index)
    status = obj.get("status")
    if status not in _STATUSES:
        raise ValueError(f"turn {index} has an unknown status {status!r}")
    # the kernel that ran it is gone; its task may still finish
    if status == "running":
        status = "interrupted"
        values["error"] = values["error"] or "The kernel stopped while this turn ran."
    values_of_request = _typed(request, _REQUEST, index)
    options = values_of_request.pop("options") or {}
    made = Request(**values_of_request, messages=messages, options=dict(options))
    task = _task(obj.get("task"), index)
    video = None
    if obj.get("video") is not None:
        if not isinstance(obj["video"], dict):
            raise ValueError(f"turn {index} has a bad video")
        parent_video = earlier[parent].video if parent is not None else None
        outcome = _typed(obj["video"], _VIDEO, index)
        if outcome["continuations"] is not None:
            outcome["continuations"] = tuple(str(c) for c in outcome["continuations"])
        video = Video(made, task, parent=parent_video, turn=index, **outcome)
    return Turn(index, made, cast(TurnStatus, status), task, video, parent=parent, **values)


def _task(obj: Any, index: int) -> Task | None:
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise ValueError(f"turn {index} has a bad task")
    return Task(**_typed(obj, _TASK, index))


def _typed(obj: dict[str, Any], spec: dict[str, tuple[Any, Any]], index: int) -> dict[str, Any]:
    values = {}
    for key, (kinds, default) in spec.items():
        value = obj.get(key, default)
        if value is _NEEDED or not isinstance(value, kinds) or isinstance(value, bool):
            raise ValueError(f"turn {index} has a bad {key!r}: {str(obj.get(key))[:40]!r}")
        values[key] = float(value) if kinds == (int, float) else value
    return values


def _upgrade(obj: Any) -> Any:
    """A schema 1 turn (every field flat) in the schema 2 shape."""
    if not isinstance(obj, dict):
        return obj
    done = obj.get("status") == "done" and obj.get("video_url") is not None
    task = {key: obj.get(key) for key in _TASK} if obj.get("task_id") is not None else None
    video = {key: obj.get(key) for key in _VIDEO if key in obj} if done else None
    if video is not None:
        video["created_at"] = obj.get("started_at")
    return {
        **{key: obj.get(key) for key in ("index", "status", "parent", *_TURN) if key in obj},
        "request": {key: obj.get(key) for key in (*_REQUEST, "messages") if key in obj},
        "task": task,
        "video": video,
        "answer": "" if done else obj.get("transcript", ""),
    }


def _parent(value: Any, index: int) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < index:
        raise ValueError(f"turn {index} has a bad parent {value!r}")
    return value


def _messages(value: Any, index: int, earlier: list[Turn]) -> list[Message]:
    if isinstance(value, dict):
        parent = _parent(value.get("branch_of"), index)
        if parent is None or not isinstance(value.get("then"), list):
            raise ValueError(f"turn {index} has bad messages")
        value = [*_branch(earlier[parent]), *value["then"]]
    if not isinstance(value, list) or not all(isinstance(m, dict) for m in value):
        raise ValueError(f"turn {index} has bad messages")
    return value
