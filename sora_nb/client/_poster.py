"""A poster for a video that came without a thumbnail link: its first frame, or nothing.

sora2api relays and the Videos API give only the video (docs/dialects.md). The player and the
history still want a picture, so one is cut from the downloaded file with PyAV. A file PyAV
cannot read gets no poster: this is a nicety and never fails the turn.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

__all__ = ["first_frame_poster"]

logger = logging.getLogger("sora_nb")

_LONG_SIDE = 640  # enough for a poster and a history row; keeps the file small


def first_frame_poster(video: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path | None:
    """Write the first frame of ``video`` to ``dest`` (JPEG); return it, or None if it can't."""
    import av  # heavy, and needed only here

    target = Path(dest)
    try:
        with av.open(os.fspath(video)) as container:
            frame = next(container.decode(video=0))
            image = frame.to_image()
        image.thumbnail((_LONG_SIDE, _LONG_SIDE))
        partial = target.with_name(target.name + ".part")
        image.convert("RGB").save(partial, format="JPEG", quality=85)
        os.replace(partial, target)
    except (OSError, ValueError, StopIteration, av.FFmpegError) as exc:
        logger.info("sora_nb: no poster for %s: %s", video, exc)
        return None
    return target
