"""One autosave file shared by several kernels: merged under a file lock, never overwritten.

Two notebooks in one folder with the same ``%sora config --autosave history.json`` both
write it. Each write takes an exclusive lock on a ``.NAME.lock`` file beside it, reads what
the other kernel wrote, adds the turns it does not have, and writes the union: no turn a
relay was paid for drops out of the file (docs/notebook.md, "Autosave").
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from ._turn import Turn, read_file, write_file

__all__ = ["locked", "merge", "sync"]

_RANK = {"running": 0, "interrupted": 1, "failed": 2, "done": 3}


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock for ``path`` (another process waits; POSIX and Windows)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "a+b") as handle:
        _lock(handle.fileno())
        try:
            yield
        finally:
            _unlock(handle.fileno())


if sys.platform == "win32":  # pragma: no cover  (the suite runs on Linux)
    import msvcrt

    def _lock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_LOCK, 1)

    def _unlock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def merge(mine: list[Turn], theirs: list[Turn]) -> list[Turn]:
    """``mine`` plus the turns only ``theirs`` has, appended with their parents re-indexed.

    A turn is the same turn in both when it started at the same instant. For a turn both
    have, the more finished state wins, except that a turn this kernel is running stays its.
    Indices of ``mine`` never change, so a running job's index stays valid.
    """
    merged = list(mine)
    where = {turn.started_at: turn.index for turn in mine}
    moved: dict[int, int] = {}  # their index → index in merged
    for turn in theirs:
        index = where.get(turn.started_at)
        if index is None:
            index = len(merged)
            merged.append(_adopted(turn, index, moved))
            where[turn.started_at] = index
        elif _newer(turn, merged[index]):
            merged[index] = replace(turn, index=index, parent=merged[index].parent)
        moved[turn.index] = index
    return merged


def _adopted(turn: Turn, index: int, moved: dict[int, int]) -> Turn:
    # The session re-owns the merged videos (their index and parent video) after a merge.
    parent = moved.get(turn.parent) if turn.parent is not None else None
    return replace(turn, index=index, parent=parent)


def _newer(theirs: Turn, ours: Turn) -> bool:
    if ours.status == "running":  # this kernel is running it: its state is the true one
        return False
    return _RANK[theirs.status] > _RANK[ours.status]


def sync(path: Path, name: str, turns: list[Turn]) -> list[Turn]:
    """Merge ``turns`` with ``path`` under its lock, write the union, and return it.

    A file that is not a session file raises ``SessionFileError`` and is left untouched.
    """
    with locked(path):
        if path.exists():
            turns = merge(turns, read_file(path, name)[1])
        write_file(path, name, turns)
    return turns
