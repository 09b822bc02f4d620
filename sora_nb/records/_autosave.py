"""One autosave file shared by several kernels: merged under a file lock, never
overwritten.

Two notebooks in one folder with the same ``%sora config --autosave
history.json`` both write it. Each write takes an exclusive lock on a
``.NAME.lock`` file beside it, reads what the other kernel wrote, adds the turns
it does not have, and writes: no turn a relay was paid for drops out of the file
(docs/notebook.md, "Autosave").

The file is an append-only record (``HistoryLog``): a change appends one line,
and what another kernel appended is read from where this one stopped, so a
change costs the same at ten thousand turns as at one. When the lines outnumber
the turns twice over, the file is rewritten with one line a turn (compaction),
atomically.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from ._files import NOFOLLOW, lock, unlock
from ._turn import (
    Turn,
    TurnLog,
    _atomic_write,
    log_header,
    log_header_line,
    log_line,
    read_file,
    unwritable,
)

__all__ = ["HistoryLog", "locked", "merge", "sync"]

_RANK = {"running": 0, "interrupted": 1, "failed": 2, "done": 3}


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock for ``path`` (others wait; POSIX and Windows)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(f".{path.name}.lock")
    # never a planted link
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | NOFOLLOW, 0o600)
    try:
        lock(fd)
        try:
            yield
        finally:
            unlock(fd)
    finally:
        os.close(fd)


def merge(mine: list[Turn], theirs: list[Turn]) -> list[Turn]:
    """``mine`` plus the turns only ``theirs`` has, appended with their parents
    re-indexed.

    A turn is the same turn in both when it started at the same instant. For a
    turn both have, the more finished state wins, except that a turn this kernel
    is running stays its. Indices of ``mine`` never change, so a running job's
    index stays valid.
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
    # The session re-owns the merged videos (their index and parent video) after
    # a merge.
    parent = moved.get(turn.parent) if turn.parent is not None else None
    return replace(turn, index=index, parent=parent)


def _newer(theirs: Turn, ours: Turn) -> bool:
    # this kernel is running it: its state is the true one
    if ours.status == "running":
        return False
    return _RANK[theirs.status] > _RANK[ours.status]


def sync(path: Path, name: str, turns: list[Turn]) -> list[Turn]:
    """Merge ``turns`` with ``path`` under its lock, write the union, and return
    it.

    A file that is not a session file raises ``SessionFileError`` and is left
    untouched.
    """
    return HistoryLog(path, name).sync(turns, None)[0]


class HistoryLog:
    """A session's autosave file, appended where this kernel left it."""

    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self.name = name
        # device, inode, bytes read
        self._mark: tuple[int, int, int] | None = None
        self._lines = 0  # turn lines in the file

    def load(self) -> list[Turn]:
        """The turns the file holds now (any schema), read under its lock."""
        with locked(self.path):
            turns = read_file(self.path, self.name)[1]
            self._remember(self._whole_log())
        return turns

    def sync(self, turns: list[Turn], changed: Iterable[int] | None) -> tuple[list[Turn], set[int]]:
        """Add what other kernels wrote to ``turns``, then write the ``changed``
        turns (all of them when None). Returns the turns and the indices that
        came from the file.
        """
        try:
            with locked(self.path):
                turns, touched = self._catch_up(turns)
                if changed is None or self._mark is None or self._lines > 2 * len(turns) + 64:
                    self._rewrite(turns)
                else:
                    # theirs are in the file
                    self._append(turns, sorted(set(changed)))
        # the lock, a read: the file named, not its lock or part
        except OSError as exc:
            raise unwritable(self.path, exc) from None
        return turns, touched

    # -- reading ---------------------------------------------------------------

    def _catch_up(self, turns: list[Turn]) -> tuple[list[Turn], set[int]]:
        try:
            now = os.stat(self.path)
        except FileNotFoundError:
            self._mark = None
            return turns, set()
        mark = self._mark
        if mark is None or (now.st_dev, now.st_ino) != mark[:2] or now.st_size < mark[2]:
            # replaced (compacted, saved whole) or new to us
            return self._merge_all(turns)
        with open(self.path, "rb") as handle:  # only what was appended since
            handle.seek(mark[2])
            data = handle.read()
        # a line still being written is read later
        whole = data[: data.rfind(b"\n") + 1]
        self._mark = (mark[0], mark[1], mark[2] + len(whole))
        return self._merge_lines(turns, whole.decode("utf-8", "replace").split("\n"))

    def _merge_all(self, turns: list[Turn]) -> tuple[list[Turn], set[int]]:
        theirs = read_file(self.path, self.name)[1]
        before = {turn.started_at: turn for turn in turns}
        merged = merge(turns, theirs)
        self._remember(self._whole_log())
        touched = {t.index for t in merged if before.get(t.started_at) is not t}
        return merged, touched

    def _merge_lines(self, turns: list[Turn], lines: list[str]) -> tuple[list[Turn], set[int]]:
        if not any(lines):
            return turns, set()
        # their turns, resolved against what the file said before
        log = TurnLog()
        log.turns, log.where = list(turns), {t.started_at: t.index for t in turns}
        touched: set[int] = set()
        for line in lines:
            read = log.apply(line)
            if read is None:
                continue
            self._lines += 1
            index, theirs = read
            if index < len(turns) and not _newer(theirs, turns[index]):
                # ours stays: it is the truer state
                log.turns[index] = turns[index]
                continue
            touched.add(index)
        return log.turns, touched

    def _whole_log(self) -> int:
        """How many turn lines the file holds (0 for a document: rewritten)."""
        try:
            with open(self.path, encoding="utf-8", errors="replace") as handle:
                if log_header(handle.readline()) is None:
                    return -1
                return sum(1 for line in handle if line.strip())
        except FileNotFoundError:
            return -1

    def _remember(self, lines: int) -> None:
        """Where the file ends now (a document, ``lines`` < 0, is rewritten)."""
        if lines < 0:
            self._mark = None
            return
        now = os.stat(self.path)
        self._mark, self._lines = (now.st_dev, now.st_ino, now.st_size), lines

    # -- writing ---------------------------------------------------------------

    def _append(self, turns: list[Turn], indices: list[int]) -> None:
        assert self._mark is not None
        text = "".join(log_line(turns[i], turns) for i in indices if i < len(turns))
        data = text.encode("utf-8")
        try:
            with open(self.path, "ab") as out:
                # a torn line a kill left: start afresh
                if out.tell() != self._mark[2]:
                    data = b"\n" + data
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
                end = out.tell()
        except OSError as exc:
            raise unwritable(self.path, exc) from None
        self._mark = (self._mark[0], self._mark[1], end)
        self._lines += len(indices)

    def _rewrite(self, turns: list[Turn]) -> None:
        text = log_header_line(self.name) + "".join(log_line(turn, turns) for turn in turns)
        try:
            _atomic_write(self.path, text)
        except OSError as exc:
            raise unwritable(self.path, exc) from None
        self._remember(len(turns))
