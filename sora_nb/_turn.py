"""A Session's turns, and the JSON file they are saved in.

A turn keeps its request messages exactly as sent and the relay's transcript verbatim: an edit
sends both back (docs/protocol.md, "Continuous modification"). The file has a format name and
a schema version; it holds turns only, never the client or its API key, and a file that is
corrupt or from a newer sora_nb is refused rather than overwritten.
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

from ._client import PendingTask
from ._exceptions import (
    APIError,
    GenerationFailed,
    SessionFileError,
    StreamInterrupted,
)
from ._video import Message, Video

__all__ = [
    "SCHEMA_VERSION",
    "Ending",
    "SessionFileError",
    "Turn",
    "TurnStatus",
    "done_changes",
    "failure_message",
    "failure_status",
    "pending_task",
    "read_file",
    "with_session",
    "with_video",
    "write_file",
]

TurnStatus = Literal["running", "done", "failed", "interrupted"]
Ending = Literal["failed", "interrupted"]
_STATUSES: tuple[str, ...] = get_args(TurnStatus)

#: The version of the session file format this sora_nb writes; it reads this one and older.
SCHEMA_VERSION = 1
_FORMAT = "sora_nb.session"
_TRANSIENT = {"persist": False}  # Turn fields rebuilt on load rather than stored


@dataclass(frozen=True, slots=True)
class Turn:
    """One request of a Session and what became of it.

    ``messages`` is the request exactly as sent and ``transcript`` the relay's answer
    verbatim (partial when the turn failed or was interrupted). ``parent`` is the index of
    the turn this one edits. ``video`` is the finished Video, or None unless ``done``.
    """

    index: int
    prompt: str
    model: str
    orientation: str | None = None
    image: str | None = field(default=None, repr=False)
    messages: list[Message] = field(default_factory=list, repr=False)
    transcript: str = field(default="", repr=False)
    status: TurnStatus = "running"
    task_id: str | None = None
    sid: str | None = None
    video_url: str | None = field(default=None, repr=False)
    thumbnail_url: str | None = field(default=None, repr=False)
    preview_url: str | None = field(default=None, repr=False)
    source_url: str | None = field(default=None, repr=False)
    parent: int | None = None
    started_at: float = field(default_factory=time.time, repr=False)
    finished_at: float | None = field(default=None, repr=False)
    elapsed: float | None = None
    error: str | None = None
    local_path: str | None = None
    local_thumbnail: str | None = field(default=None, repr=False)
    name: str | None = None
    echo: dict[str, Any] | None = field(default=None, repr=False)
    session: str | None = field(default=None, repr=False, metadata=_TRANSIENT)
    parent_video: Video | None = field(default=None, repr=False, compare=False, metadata=_TRANSIENT)

    @property
    def video(self) -> Video | None:
        """The finished video of this turn (None unless ``done``)."""
        if self.status != "done" or not self.video_url:
            return None
        return Video(
            prompt=self.prompt,
            model=self.model,
            orientation=self.orientation,
            task_id=self.task_id,
            sid=self.sid,
            video_url=self.video_url,
            thumbnail_url=self.thumbnail_url,
            preview_url=self.preview_url,
            source_url=self.source_url,
            transcript=self.transcript,
            messages=self.messages,
            parent=self.parent_video,
            image=self.image,
            echo=self.echo,
            created_at=self.started_at,
            elapsed=self.elapsed,
            local_path=self.local_path,
            local_thumbnail=self.local_thumbnail,
            session=self.session,
            turn=self.index,
        )


# -- turns changing state -----------------------------------------------------------------------


def with_session(turn: Turn, session: str, parent_video: Video | None) -> Turn:
    return replace(turn, session=session, parent_video=parent_video)


def with_video(turn: Turn, video: Video) -> Turn:
    return replace(
        turn,
        **done_changes(turn, video),
        started_at=video.created_at,
        image=video.image,
        local_path=video.local_path,
        local_thumbnail=video.local_thumbnail,
    )


def done_changes(turn: Turn, video: Video) -> dict[str, Any]:
    now = time.time()
    return {
        "status": "done",
        "prompt": turn.prompt or video.prompt,  # a bare task id learns it from the relay
        "model": video.model or turn.model,
        "orientation": video.orientation or turn.orientation,
        "messages": video.messages,
        "transcript": video.transcript,
        "task_id": video.task_id or turn.task_id,
        "sid": video.sid,
        "video_url": video.video_url,
        "thumbnail_url": video.thumbnail_url,
        "preview_url": video.preview_url or turn.preview_url,
        "source_url": video.source_url or turn.source_url,
        "echo": video.echo,
        "error": None,
        "finished_at": now,
        "elapsed": video.elapsed if video.elapsed is not None else now - turn.started_at,
    }


def pending_task(turn: Turn) -> PendingTask:
    assert turn.task_id is not None
    return PendingTask(
        turn.task_id,
        turn.source_url,
        turn.preview_url,
        turn.prompt,
        turn.model,
        turn.orientation,
        messages=turn.messages,
        transcript=turn.transcript,
        parent=turn.parent_video,
        image=turn.image,
        echo=turn.echo,
        started_at=turn.started_at,
    )


def failure_status(exc: BaseException, task_id: str | None) -> Ending:
    """``interrupted`` when the task may still finish on the relay, else ``failed``.

    A broken stream, a kernel interrupt or a cancellation leave the task running; so does an
    error while polling a known task (a resume), which the relay bills all the same.
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
        return f"The job was {what} while task {task_id} ran; resume() collects it."
    return f"The job was {what} before the relay made a task."


# -- the file format ---------------------------------------------------------------------------


def write_file(path: Path, name: str, turns: list[Turn]) -> None:
    """Save ``turns`` as session ``name`` to ``path``, atomically."""
    document = {
        "format": _FORMAT,
        "version": SCHEMA_VERSION,
        "name": name,
        "saved_at": time.time(),
        "turns": [_turn_to_json(turn, turns) for turn in turns],
    }
    _atomic_write(path, json.dumps(document, ensure_ascii=False, indent=1))


def _atomic_write(path: Path, text: str) -> None:
    """Write beside ``path`` then rename over it: a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _turn_to_json(turn: Turn, turns: list[Turn]) -> dict[str, Any]:
    obj = {f.name: getattr(turn, f.name) for f in fields(Turn) if f.metadata.get("persist", True)}
    parent = turns[turn.parent] if turn.parent is not None else None
    # An edit's messages repeat its branch (and any data: image in it): store the new part.
    if parent is not None and turn.messages[:-1] == _branch(parent):
        obj["messages"] = {"branch_of": parent.index, "then": turn.messages[-1:]}
    return obj


def _branch(parent: Turn) -> list[Message]:
    return [*parent.messages, {"role": "assistant", "content": parent.transcript}]


def read_file(path: Path, session: str | None) -> tuple[str, list[Turn]]:
    """The session name (``session`` if given) and turns saved in ``path``."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SessionFileError(f"Cannot read the session file {path}: {exc}.") from None
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
        return name, _turns_from_json(document.get("turns"), name)
    except (TypeError, ValueError, KeyError, IndexError) as exc:
        raise SessionFileError(
            f"The session file {path} is corrupt ({exc}); it was left untouched."
        ) from None


def _turns_from_json(items: Any, session: str) -> list[Turn]:
    if not isinstance(items, list):
        raise ValueError("its turns are not a list")
    turns: list[Turn] = []
    for index, obj in enumerate(items):
        turn = _turn_from_json(obj, index, turns)
        parent_video = turns[turn.parent].video if turn.parent is not None else None
        turns.append(with_session(turn, session, parent_video))
    return turns


_TEXT = (
    "orientation",
    "image",
    "task_id",
    "sid",
    "video_url",
    "thumbnail_url",
    "preview_url",
    "source_url",
    "error",
    "local_path",
    "local_thumbnail",
    "name",
)
_NUMBERS = ("finished_at", "elapsed")


def _turn_from_json(obj: Any, index: int, earlier: list[Turn]) -> Turn:
    if not isinstance(obj, dict) or obj.get("index") != index:
        raise ValueError(f"turn {index} is not a turn object with index {index}")
    values: dict[str, Any] = {"index": index}
    for key, kinds in (("prompt", str), ("model", str), ("transcript", str)):
        values[key] = _typed(obj, key, kinds, "" if key == "transcript" else None, index)
    for key in _TEXT:
        values[key] = _typed(obj, key, (str, type(None)), None, index)
    for key in _NUMBERS:
        values[key] = _typed(obj, key, (int, float, type(None)), None, index)
    values["started_at"] = float(_typed(obj, "started_at", (int, float), None, index))
    values["echo"] = _typed(obj, "echo", (dict, type(None)), None, index)
    values["parent"] = _parent(obj.get("parent"), index)
    values["messages"] = _messages(obj.get("messages"), index, earlier)
    status = obj.get("status")
    if status not in _STATUSES:
        raise ValueError(f"turn {index} has an unknown status {status!r}")
    if status == "running":  # the kernel that ran it is gone; its task may still finish
        status = "interrupted"
        values["error"] = values["error"] or "The kernel stopped while this turn ran."
    return Turn(status=cast(TurnStatus, status), **values)


def _typed(obj: dict[str, Any], key: str, kinds: Any, default: Any, index: int) -> Any:
    value = obj.get(key, default)
    if not isinstance(value, kinds) or isinstance(value, bool):
        raise ValueError(f"turn {index} has a bad {key!r}: {str(value)[:40]!r}")
    return value


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
