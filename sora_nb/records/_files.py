"""What every file sora_nb writes needs: locks, no symlink followed, any text
encodable.

Pure core: the os module only (POSIX and Windows).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .._exceptions import InvalidRequest
from .._messages import t

__all__ = ["NOFOLLOW", "claim_name", "lock", "sound", "try_lock", "unlock"]

#: Added to ``os.open`` flags: a symlink planted at the path is refused.
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def sound(text: str) -> str:
    """``text`` as UTF-8 can hold it: surrogate pairs joined, a lone surrogate
    (a relay that cut a character in two) replaced by U+FFFD. The usual text is
    returned as it is.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def claim_name(part: Path, dest: Path) -> Path:
    """Give the whole file ``part`` the first free name of ``dest``,
    ``dest-2``…, atomically: a file already there, whoever made it, is never
    overwritten.
    """
    for n in range(1, 10_000):
        candidate = dest if n == 1 else dest.with_name(f"{dest.stem}-{n}{dest.suffix}")
        try:
            # fails if the name is taken (even by a symlink)
            os.link(part, candidate)
        except FileExistsError:
            continue
        except OSError:  # no hard links on this file system
            if os.path.lexists(candidate):
                continue
            os.replace(part, candidate)
            return candidate
        part.unlink()
        return candidate
    raise InvalidRequest(t("download.too_many", name=dest.name, folder=dest.parent))


if sys.platform == "win32":  # pragma: no cover  (the suite runs on Linux)
    import msvcrt

    def lock(fd: int) -> None:
        """Wait for the exclusive lock of ``fd``'s file."""
        msvcrt.locking(fd, msvcrt.LK_LOCK, 1)

    def try_lock(fd: int) -> bool:
        """Take the exclusive lock of ``fd``'s file if no one holds it."""
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def unlock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def lock(fd: int) -> None:
        """Wait for the exclusive lock of ``fd``'s file."""
        fcntl.flock(fd, fcntl.LOCK_EX)

    def try_lock(fd: int) -> bool:
        """Take the exclusive lock of ``fd``'s file if no one holds it (a dead
        process's lock is gone with it).
        """
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
