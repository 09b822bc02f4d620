"""Reference images for image-to-video: ``data:`` URLs, this emulator's own
files, or neither.

There is no network here, so an ``https://`` image elsewhere cannot be fetched:
the video then shows a labelled placeholder in its place instead of failing.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote_to_bytes, urlsplit

__all__ = ["FILE_NAME", "ImageInput", "resolve_image_url"]

FILE_NAME = re.compile(r"^[0-9a-f]{30}\.(?:mp4|webp)$")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True, slots=True)
class ImageInput:
    """One of: encoded image bytes, a file of ours to read, or a URL we could
    not fetch.
    """

    data: bytes | None = None
    path: Path | None = None
    unreachable_url: str | None = None

    def read(self) -> bytes | None:
        """The encoded image, or None for a placeholder (reads a file: call off
        the loop).
        """
        if self.path is not None:
            return self.path.read_bytes()
        return self.data


def resolve_image_url(url: str, files_dir: Path, own_netloc: str) -> ImageInput:
    """Classify an ``image_url``; raise ValueError for a ``data:`` URL that does
    not decode.
    """
    if url.startswith("data:"):
        return ImageInput(data=_decode_data_url(url))
    own = _own_file(url, files_dir, own_netloc)
    if own is not None:
        return ImageInput(path=own)
    return ImageInput(unreachable_url=url)


def _decode_data_url(url: str) -> bytes:
    header, comma, payload = url[5:].partition(",")
    if not comma:
        raise ValueError("a data: URL needs a comma before its data")
    if header.endswith(";base64"):
        try:
            return base64.b64decode(payload, validate=False)
        except binascii.Error:
            raise ValueError("the data: URL is not valid base64") from None
    return unquote_to_bytes(payload)


def _own_file(url: str, files_dir: Path, own_netloc: str) -> Path | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return None
    if parts.netloc != own_netloc and (parts.hostname or "") not in _LOOPBACK:
        return None
    folder, _, name = parts.path.rpartition("/")
    if folder != "/files" or not FILE_NAME.match(name):
        return None
    path = files_dir / name
    return path if path.is_file() else None
