"""Refusing bad input before sending: a prompt, a model name, an orientation, an
image.

Each check says what is wrong in one sentence. How a checked input is then
shaped for a relay (model variants, orientation words, messages) is the
dialects' (``sora_nb/dialects``). Model names are free: a name no relay could
serve is refused, any other is sent as it is.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path
from typing import Literal

from .._exceptions import InvalidRequest
from .._messages import t

__all__ = [
    "MAX_IMAGE_BYTES",
    "MODELS",
    "ImageInput",
    "Orientation",
    "image_to_url",
    "normalize_orientation",
    "validate_model",
    "validate_prompt",
]

MODELS: tuple[str, ...] = ("sora-2", "sora-2-pro")
#: Images sent inline as ``data:`` URLs are refused above this size (10 MiB),
#: before sending: relays of this family reject larger request bodies, and a
#: notebook keeps the request.
MAX_IMAGE_BYTES = 10 * 1024 * 1024

Orientation = Literal["portrait", "landscape"]
ImageInput = str | bytes | os.PathLike[str] | None

_ORIENTATION_ALIASES: dict[str, Orientation] = {
    "portrait": "portrait",
    "vertical": "portrait",
    "9:16": "portrait",
    "竖屏": "portrait",
    "landscape": "landscape",
    "horizontal": "landscape",
    "16:9": "landscape",
    "横屏": "landscape",
}
_IMAGE_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),
)
_DATA_URL = re.compile(r"data:(image/(?:png|jpeg|jpg|webp|gif));base64,", re.I)


def validate_prompt(prompt: object) -> str:
    """Return the prompt stripped, or refuse an empty or non-text one."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidRequest(t("request.empty_prompt"))
    return prompt.strip()


def validate_model(model: object) -> str:
    """Return the model name; any name goes, since each relay has its own
    (docs/dialects.md).

    Only what no relay could serve is refused here: an empty name or one with
    spaces.
    """
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest(t("request.model_empty", model=model))
    if re.search(r"\s", model.strip()):
        raise InvalidRequest(t("request.model_spaces", model=model))
    return model.strip()


def normalize_orientation(orientation: object) -> Orientation | None:
    """``portrait``/``landscape`` (or ``9:16``/``16:9``, ``竖屏``/``横屏``), or
    None.
    """
    if orientation is None or orientation == "":
        return None
    key = str(orientation).strip().lower()
    if key not in _ORIENTATION_ALIASES:
        raise InvalidRequest(t("request.orientation", value=orientation))
    return _ORIENTATION_ALIASES[key]


def _sniff(data: bytes) -> str | None:
    for signature, offset, mime in _IMAGE_SIGNATURES:
        if data[offset : offset + len(signature)] == signature:
            return mime
    return None


def _check_size(size: int, what: str) -> None:
    if size > MAX_IMAGE_BYTES:
        raise InvalidRequest(
            t("request.image_size", what=what, size=size / 2**20, limit=MAX_IMAGE_BYTES // 2**20)
        )


def _bytes_to_url(data: bytes, what: str) -> str:
    _check_size(len(data), what)
    mime = _sniff(data)
    if mime is None:
        raise InvalidRequest(t("request.not_image", what=what))
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def image_to_url(image: ImageInput) -> str | None:
    """An ``https://`` or ``data:image/…`` URL from a URL, a path or bytes."""
    if image is None:
        return None
    if isinstance(image, (bytes, bytearray, memoryview)):
        return _bytes_to_url(bytes(image), t("request.what_bytes"))
    if isinstance(image, str) and not image.strip():
        raise InvalidRequest(t("request.image_empty"))
    if isinstance(image, str) and image.startswith("http://"):
        raise InvalidRequest(t("request.image_http", url=image[:80]))
    if isinstance(image, str) and image.startswith("https://"):
        return image
    if isinstance(image, str) and image.startswith("data:"):
        return _check_data_url(image)
    try:  # "~nobody", a name too long, no permission: one sentence each
        path = Path(os.fspath(image)).expanduser()
        if not path.is_file():
            raise InvalidRequest(t("request.no_file", path=str(path)))
        _check_size(path.stat().st_size, repr(path.name))
        data = path.read_bytes()
    except (OSError, RuntimeError, ValueError) as exc:
        if isinstance(exc, InvalidRequest):
            raise
        raise InvalidRequest(
            t("request.image_unreadable", what=str(image)[:80], detail=exc)
        ) from None
    return _bytes_to_url(data, repr(path.name))


def _check_data_url(url: str) -> str:
    match = _DATA_URL.match(url)
    if match is None:
        raise InvalidRequest(t("request.data_url_kind"))
    try:
        data = base64.b64decode(url[match.end() :], validate=True)
    except ValueError:
        raise InvalidRequest(t("request.data_url_base64")) from None
    _bytes_to_url(data, t("request.what_data_url"))
    return url
