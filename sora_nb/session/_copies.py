"""A finished video's local copies: the mp4 and its thumbnail, beside the
notebook.

A copy that fails leaves the video playable from its link; the failure is said
once, as a ``downloading`` event, and logged. Files are named after the task id,
so a copy made again (``Session.save_copy``) overwrites its own file and nothing
else.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from .._exceptions import SoraError
from .._messages import t
from ..client._client import SoraClient
from ..client._poster import first_frame_poster
from ..records._video import Video
from ..wire._events import JobEvent
from ._turn_events import TurnEvents

__all__ = ["LocalCopies", "own_copy"]

logger = logging.getLogger("sora_nb")

_VIDEO_SUFFIXES = (".mp4", ".webm", ".mov", ".m4v")
_THUMB_SUFFIXES = (".webp", ".jpg", ".jpeg", ".png", ".gif")


class LocalCopies:
    """Copies into ``folder`` through ``client`` (its pool and key)."""

    def __init__(self, client: SoraClient, folder: Path, max_bytes: int | None) -> None:
        self._client = client
        self._folder = folder
        self._max_bytes = max_bytes

    async def copy(self, video: Video, events: TurnEvents) -> Video:
        """``video`` with its local copies made (those on disk are kept)."""
        folder, stem = self._folder, _file_stem(video)
        await events.emit(JobEvent("downloading", fraction=0.0))
        # a file this turn wrote is known to be it
        thumb = own_copy(video.local_thumbnail)
        if video.thumbnail_url and thumb is None:
            name = stem + _suffix(video.thumbnail_url, _THUMB_SUFFIXES)
            thumb = await self._fetch(video.thumbnail_url, folder / name, events, None)
        path = own_copy(video.local_path)
        if path is None:
            name = stem + _suffix(video.video_url, _VIDEO_SUFFIXES)
            path = await self._fetch(video.video_url, folder / name, events, events.progress)
        # no thumbnail link (docs/dialects.md)
        if thumb is None and path is not None:
            thumb = await asyncio.to_thread(first_frame_poster, path, folder / f"{stem}.jpg")
        return replace(video, local_path=_relative(path), local_thumbnail=_relative(thumb))

    async def _fetch(
        self,
        url: str,
        dest: Path,
        events: TurnEvents,
        progress: Callable[[int, int | None], object] | None,
    ) -> Path | None:
        try:
            return await self._client.download(
                url, dest, on_progress=progress, max_bytes=self._max_bytes
            )
        except SoraError as exc:  # download() turns every failure into one
            logger.warning("sora_nb: no local copy of %s: %s", url, exc)
            await events.emit(JobEvent("downloading", detail=t("history.copy_failed", detail=exc)))
            return None


def _file_stem(video: Video) -> str:
    key = video.task_id or video.sid or hashlib.sha256(video.video_url.encode()).hexdigest()[:16]
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", key)
    # LiteLLM's ids run to 330 characters: too long for a file name
    if len(stem) > 64:
        stem = f"{stem[:24]}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    return stem


def own_copy(path: str | None) -> Path | None:
    return Path(path) if path and Path(path).is_file() else None


def _suffix(url: str, allowed: tuple[str, ...]) -> str:
    suffix = Path(url.split("?", 1)[0].split("#", 1)[0]).suffix.lower()
    return suffix if suffix in allowed else allowed[0]


def _relative(path: Path | None) -> str | None:
    """A path relative to the working directory (the notebook's), with ``/``."""
    if path is None:
        return None
    try:
        return Path(os.path.relpath(path)).as_posix()
    except ValueError:  # another drive on Windows
        return str(path)
