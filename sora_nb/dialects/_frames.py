"""The last frame of a video, the first frame of its continuation
(docs/dialects.md).

A gateway model that takes a first frame continues an earlier video from here.
This is the request itself, unlike a poster, so a file PyAV cannot read raises.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

__all__ = ["last_frame_png"]


def last_frame_png(path: str | os.PathLike[str] | None, data: bytes | None) -> bytes | None:
    """PNG bytes of the last frame of the file at ``path`` (if it exists), else
    of ``data``; None when neither is there.
    """
    if path is not None and Path(path).is_file():
        return _last_frame(Path(path))
    if data is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "parent.mp4"
        copy.write_bytes(data)
        return _last_frame(copy)


def _last_frame(path: Path) -> bytes:
    import av  # heavy, and needed only here

    last = None
    with av.open(os.fspath(path)) as container:
        for frame in container.decode(video=0):
            last = frame
    if last is None:
        raise ValueError(f"{path.name} has no video frames")
    out = io.BytesIO()
    # PyAV's stub leaves to_image untyped
    last.to_image().convert("RGB").save(out, format="PNG")  # type: ignore[no-untyped-call]
    return out.getvalue()
