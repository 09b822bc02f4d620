"""A poster for a video that came without a thumbnail link: its first frame, or
nothing.

sora2api relays and the Videos API give only the video (docs/dialects.md). The
player and the history still want a picture, so one is cut from the downloaded
file with PyAV. A file PyAV cannot read gets no poster: this is a nicety and
never fails the turn.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .._exceptions import SoraError
from ..records._files import claim_name

__all__ = ["chain_export", "first_frame_poster"]

logger = logging.getLogger("sora_nb")

_LONG_SIDE = 640  # enough for a poster and a history row; keeps the file small


def first_frame_poster(video: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path | None:
    """Write the first frame of ``video`` as a JPEG at ``dest``, or ``dest-2``…
    when that name is taken (a file there is never overwritten); return it, or
    None if it can't.
    """
    import av  # heavy, and needed only here

    target = Path(dest)
    try:
        with av.open(os.fspath(video)) as container:
            if not container.streams.video:  # sound only: nothing to show
                logger.info("sora_nb: no poster for %s: it has no video stream", video)
                return None
            frame = next(container.decode(video=0))
            # PyAV's stub leaves to_image untyped
            image = frame.to_image()  # type: ignore[no-untyped-call]
        image.thumbnail((_LONG_SIDE, _LONG_SIDE))
        fd, partial = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                image.convert("RGB").save(out, format="JPEG", quality=85)
            return claim_name(Path(partial), target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(partial)
    except (OSError, ValueError, IndexError, StopIteration, SoraError, av.FFmpegError) as exc:
        logger.info("sora_nb: no poster for %s: %s", video, exc)
        return None


def chain_export(
    videos: Sequence[str | os.PathLike[str]], dest: str | os.PathLike[str], fps: int = 24
) -> Path:
    """Join the files of a chain of continuations into one mp4 (H.264), first to
    last.

    Each clip's frames are scaled to the first clip's size, so clips of mixed
    sizes still make one playable file; audio is left out, since not every model
    makes it.
    """
    import av

    target = Path(dest)
    partial = target.with_name(target.name + ".part.mp4")
    with av.open(os.fspath(partial), "w") as out:
        stream = None
        for video in videos:
            with av.open(os.fspath(video)) as source:
                for frame in source.decode(video=0):
                    if stream is None:
                        stream = out.add_stream("libx264", rate=fps)
                        stream.width, stream.height = frame.width, frame.height
                        stream.pix_fmt = "yuv420p"
                    picture = frame.reformat(stream.width, stream.height, "yuv420p")
                    picture.pts = None
                    for packet in stream.encode(picture):
                        out.mux(packet)
        if stream is None:
            raise ValueError("the chain has no video frames")
        for packet in stream.encode():
            out.mux(packet)
    os.replace(partial, target)
    return target
