"""Real media: H.264 mp4 (PyAV) and a WebP thumbnail (Pillow), rendered off the
event loop.

Rendering is deterministic: the same request (prompt, model, orientation, turn,
image, parent video) gives the same files, named by a hash of it. So hundreds of
identical demo requests cost one encode, and a data dir kept between runs serves
its old links again.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import av
from PIL import Image, ImageOps

from ._draw import TurnLayer, fresh_frames, placeholder
from ._images import ImageInput

__all__ = [
    "FPS",
    "SECONDS",
    "MediaError",
    "MediaFiles",
    "MediaStore",
    "RenderSpec",
    "frame_size",
    "render",
]

FPS = 8  # low on purpose: a 10 s clip encodes in ~0.2 s on two cores
SECONDS = {"sora-2": 10, "sora-2-pro": 15}
_PORTRAIT_SIZE = {"sora-2": (360, 640), "sora-2-pro": (540, 960)}
# bump when frames change, so kept data dirs do not serve stale files
_RENDER_VERSION = b"2"


class MediaError(Exception):
    """A render failed for a reason the stream reports as a failure line."""


def frame_size(model: str, orientation: str) -> tuple[int, int]:
    """(width, height) of a model's frames in an orientation."""
    short, long = _PORTRAIT_SIZE[model]
    return (long, short) if orientation == "landscape" else (short, long)


@dataclass(frozen=True, slots=True)
class RenderSpec:
    """Everything a video depends on."""

    prompt: str
    model: str
    orientation: str
    turn: int = 1
    image: ImageInput | None = None
    parent_video: Path | None = None

    def key(self) -> str:
        """30 hex digits naming the files, as the relay's CDN names are."""
        digest = hashlib.sha256(_RENDER_VERSION)
        for part in (self.prompt, self.model, self.orientation, str(self.turn)):
            digest.update(part.encode() + b"\0")
        if self.image is not None:
            digest.update(self.image.data or b"")
            digest.update(str(self.image.path or self.image.unreachable_url or "").encode())
        digest.update(self.parent_video.name.encode() if self.parent_video else b"-")
        return digest.hexdigest()[:30]


@dataclass(frozen=True, slots=True)
class MediaFiles:
    """File names (under the files dir) of a rendered video and its
    thumbnail.
    """

    video: str
    thumbnail: str


def render(spec: RenderSpec, files_dir: Path) -> MediaFiles:
    """Render ``spec`` into ``files_dir`` unless already there. Blocking: run in
    a worker.
    """
    key = spec.key()
    files = MediaFiles(f"{key}.mp4", f"{key}.webp")
    if (files_dir / files.video).is_file() and (files_dir / files.thumbnail).is_file():
        return files
    width, height = frame_size(spec.model, spec.orientation)
    count = SECONDS[spec.model] * FPS
    thumbnail: list[Image.Image] = []
    frames = _frames(spec, width, height, count, thumbnail)
    _write_atomically(files_dir / files.video, lambda tmp: _encode(frames, tmp, width, height))
    _write_atomically(
        files_dir / files.thumbnail, lambda tmp: thumbnail[0].save(tmp, "WEBP", quality=75)
    )
    return files


def _write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    # A reader (or a second emulator on the same data dir) never sees a
    # half-written file.
    tmp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.part")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _frames(
    spec: RenderSpec, width: int, height: int, count: int, thumbnail: list[Image.Image]
) -> Iterator[Image.Image]:
    footer = f"sora_nb emulator · {spec.model} · {width}x{height}" if spec.turn == 1 else None
    layer = TurnLayer(spec.turn, spec.prompt, width, height, footer)
    picture = _picture(spec.image, width, height)
    if spec.parent_video is None:
        base = fresh_frames(spec.prompt, picture, width, height, count)
        inset = None
    else:
        base = _parent_frames(spec.parent_video, width, height, count)
        inset = ImageOps.contain(picture, (width * 2 // 5, width * 2 // 5)) if picture else None
    for index, frame in enumerate(base):
        if inset is not None:
            frame.paste(inset, (width - inset.width - width // 40, height * 9 // 20))
        layer.apply(frame, index, count)
        if index == count // 3:
            thumbnail.append(frame.copy())
        yield frame


def _picture(image: ImageInput | None, width: int, height: int) -> Image.Image | None:
    if image is None:
        return None
    if image.unreachable_url is not None:
        return placeholder(image.unreachable_url, width, height)
    try:
        data = image.read() or b""
        with Image.open(io.BytesIO(data)) as opened:
            return ImageOps.exif_transpose(opened).convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError):
        raise MediaError("参考图片无法解码 (the reference image could not be decoded)") from None


def _parent_frames(path: Path, width: int, height: int, count: int) -> Iterator[Image.Image]:
    """The parent video's frames, resampled to ``count`` frames of this size."""
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError):
        raise MediaError("原视频无法读取 (the video being edited cannot be read)") from None
    with container:
        stream = container.streams.video[0]
        total = stream.frames or count
        # PyAV's to_image/from_image carry no annotations.
        decoded = (
            frame.to_image()  # type: ignore[no-untyped-call]
            for frame in container.decode(stream)
        )
        current: Image.Image | None = None
        have = -1
        for index in range(count):
            want = index * total // count
            while have < want and (image := next(decoded, None)) is not None:
                current, have = image, have + 1
            if current is None:
                raise MediaError("原视频没有画面 (the video being edited has no frames)")
            # Copy: a repeated parent frame must not carry this turn's drawing.
            if current.size == (width, height):
                yield current.copy()
            else:
                yield ImageOps.fit(current, (width, height))


def _encode(frames: Iterator[Image.Image], path: Path, width: int, height: int) -> None:
    # faststart puts the moov atom first, so browsers play the mp4 before it has
    # all arrived.
    with av.open(str(path), mode="w", format="mp4", options={"movflags": "faststart"}) as out:
        stream = out.add_stream("libx264", rate=FPS, options={"preset": "ultrafast", "crf": "26"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for image in frames:
            frame = av.VideoFrame.from_image(image)  # type: ignore[no-untyped-call]
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


class MediaStore:
    """Renders in a small thread pool, one encode per distinct spec at a
    time.
    """

    def __init__(self, files_dir: Path, workers: int | None = None) -> None:
        self.files_dir = files_dir
        workers = workers or max(1, min(4, os.cpu_count() or 1))
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="sora-emulator-render")
        self._pending: dict[str, asyncio.Future[MediaFiles]] = {}

    async def render(self, spec: RenderSpec) -> MediaFiles:
        """Render ``spec`` (or join the render of an identical one already
        running).
        """
        key = spec.key()
        future = self._pending.get(key)
        if future is None:
            loop = asyncio.get_running_loop()
            future = loop.run_in_executor(self._executor, render, spec, self.files_dir)
            self._pending[key] = future
            future.add_done_callback(lambda done: self._forget(key, done))
        # Shielded: one cancelled waiter must not cancel a render that others
        # wait for.
        return await asyncio.shield(future)

    def _forget(self, key: str, done: asyncio.Future[MediaFiles]) -> None:
        self._pending.pop(key, None)
        if not done.cancelled():
            # retrieved, so an unwatched failure is not logged as lost
            done.exception()

    def close(self) -> None:
        """Stop the workers (a render in progress finishes first)."""
        self._executor.shutdown(wait=True, cancel_futures=True)
