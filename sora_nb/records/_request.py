"""Building requests exactly as the relay's seeds show, and refusing bad input before sending.

Text to video sends the prompt as a string; image to video sends ``[text, image_url]``
(``tests/fixtures/seed/image_request.json``). The seed relay has no orientation field:
words at the end of the prompt choose it (docs/protocol.md, "Request"). Other
relays encode orientation and duration in the model name (docs/dialects.md, "Model names"):
``--orientation`` then picks the variant instead of adding words.

Model names are free: a name this module does not know is sent as it is, and the relay's
own refusal is what the user sees.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .._exceptions import InvalidRequest
from .._messages import t
from ._model import Options

__all__ = [
    "MAX_IMAGE_BYTES",
    "MODELS",
    "ImageInput",
    "ModelInfo",
    "Prepared",
    "apply_orientation",
    "build_body",
    "can_remix",
    "image_to_url",
    "make_options",
    "model_for",
    "model_info",
    "normalize_orientation",
    "prepare",
    "user_content",
    "validate_model",
    "validate_prompt",
    "videos_remix_target",
    "with_share_id",
]

MODELS: tuple[str, ...] = ("sora-2", "sora-2-pro")
#: Images sent inline as ``data:`` URLs are refused above this size (10 MiB), before sending:
#: relays of this family reject larger request bodies, and a notebook keeps the request.
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
# The words the relay understands, appended to the prompt (docs/protocol.md, "Request").
_ORIENTATION_WORDS: dict[Orientation, str] = {"portrait": "竖屏", "landscape": "横屏"}
_ORIENTATION_SUFFIX = re.compile(r"(横屏|竖屏|窄屏|16:9|9:16|landscape|portrait)\W*$", re.I)

_IMAGE_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),
)
_DATA_URL = re.compile(r"data:(image/(?:png|jpeg|jpg|webp|gif));base64,", re.I)

# How each dialect names the video an edit remixes (docs/dialects.md).
_SID_LINE = re.compile(r"\bsid\s*[:：]\s*`?(?P<sid>s_[A-Za-z0-9]+)")
_SORA2API_RESULT = re.compile(r"<video\b[^>]*\bsrc\s*=", re.IGNORECASE)
_VIDEOS_CONTENT = re.compile(r"/v1/videos/(?P<id>[A-Za-z0-9][\w\-]*)/content\b")


def validate_prompt(prompt: object) -> str:
    """Return the prompt stripped, or refuse an empty or non-text one."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidRequest(t("request.empty_prompt"))
    return prompt.strip()


def validate_model(model: object) -> str:
    """Return the model name; any name goes, since each relay has its own (docs/dialects.md).

    Only what no relay could serve is refused here: an empty name or one with spaces.
    """
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest(t("request.model_empty", model=model))
    if re.search(r"\s", model.strip()):
        raise InvalidRequest(t("request.model_spaces", model=model))
    return model.strip()


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What a known model name says about its videos (for the UI and the history)."""

    name: str
    dialect: Literal["transcript", "sora2api", "videos"]
    orientation: Orientation | None  # None: the prompt's words choose it
    seconds: int


def _tables() -> dict[str, ModelInfo]:
    """Each dialect's documented names (docs/dialects.md, "Model names")."""
    table = {
        "sora-2": ModelInfo("sora-2", "transcript", None, 10),
        "sora-2-pro": ModelInfo("sora-2-pro", "transcript", None, 15),
    }
    shapes: tuple[tuple[str, Literal["sora2api", "videos"], tuple[int, ...]], ...] = (
        ("sora2-{o}-{s}s", "sora2api", (10, 15, 25)),
        ("sora2pro-{o}-{s}s", "sora2api", (10, 15, 25)),
        ("sora2pro-hd-{o}-{s}s", "sora2api", (10, 15)),
        ("sora-video-{o}-{s}s", "sora2api", (10, 15)),
        ("sora-2-{o}-{s}s", "videos", (10, 15, 25)),
        ("sora-2-pro-{o}-hd-{s}s", "videos", (10, 15, 25)),
    )
    for shape, dialect, durations in shapes:
        for orientation in ("landscape", "portrait"):
            for seconds in durations:
                name = shape.format(o=orientation, s=seconds)
                table[name] = ModelInfo(name, dialect, orientation, seconds)
    for seconds in (10, 15):  # the legacy names without a shape were landscape
        name = f"sora-video-{seconds}s"
        table[name] = ModelInfo(name, "sora2api", "landscape", seconds)
    return table


_KNOWN = _tables()
_SHAPE_WORD = re.compile(r"(?<![a-z])(landscape|portrait)(?![a-z])")


def model_info(model: str) -> ModelInfo | None:
    """What a known name says (orientation, duration, dialect); None for an unknown name."""
    return _KNOWN.get(model.strip().lower())


def model_for(model: str, orientation: Orientation | None) -> str:
    """The variant of ``model`` with ``orientation``, where the dialect encodes it in the name.

    ``sora2-landscape-10s`` with portrait is ``sora2-portrait-10s``; a name that does not
    carry an orientation (``sora-2``, or one this module does not know) is returned as is.
    """
    info = model_info(model)
    if orientation is None or info is None or info.orientation is None:
        return model
    if model.startswith("sora-video-") and _SHAPE_WORD.search(model) is None:
        model = model.replace("sora-video-", "sora-video-landscape-")
    variant = _SHAPE_WORD.sub(orientation, model.lower())
    return variant if variant in _KNOWN else model


def normalize_orientation(orientation: object) -> Orientation | None:
    """``portrait``/``landscape`` (or ``9:16``/``16:9``, ``竖屏``/``横屏``), or None."""
    if orientation is None or orientation == "":
        return None
    key = str(orientation).strip().lower()
    if key not in _ORIENTATION_ALIASES:
        raise InvalidRequest(t("request.orientation", value=orientation))
    return _ORIENTATION_ALIASES[key]


def apply_orientation(prompt: str, orientation: Orientation | None) -> str:
    """Append the relay's orientation word unless the prompt already ends with one."""
    if orientation is None or _ORIENTATION_SUFFIX.search(prompt):
        return prompt
    return f"{prompt} {_ORIENTATION_WORDS[orientation]}"


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
    """An ``https://`` or ``data:image/…`` URL for the relay, from a URL, a path or bytes."""
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


def user_content(
    prompt: str, orientation: Orientation | None = None, image_url: str | None = None
) -> str | list[dict[str, Any]]:
    """A user message's content: a string, or ``[text, image_url]`` with an image."""
    text = apply_orientation(prompt, orientation)
    if image_url is None:
        return text
    return [
        {"type": "text", "text": text},
        {"type": "image_url", "image_url": {"url": image_url}},
    ]


def can_remix(sid: str | None, transcript: str) -> bool:
    """Whether the relay that made a video can be asked to remix it.

    The seed relay finds the ``sid:`` line in the history; sora2api needs the share id,
    which it gives only in watermark-free mode; the Videos API remixes any finished task.
    """
    return bool(sid) or "sid:" in transcript or _VIDEOS_CONTENT.search(transcript) is not None


def with_share_id(
    user_content: str | list[dict[str, Any]], transcript: str, sid: str | None
) -> str | list[dict[str, Any]]:
    """An edit's user content, with the share id where a sora2api relay looks for it.

    That relay reads only the last message and takes any ``s_…`` id in its prompt as the
    video to remix, then removes it from the prompt. The seed relay reads the history, so
    its edits are left as they are.
    """
    if not sid or not _SORA2API_RESULT.search(transcript) or "sid:" in transcript:
        return user_content
    if isinstance(user_content, str):
        return f"{user_content} {sid}"
    return [
        {**part, "text": f"{part['text']} {sid}"} if part.get("type") == "text" else part
        for part in user_content
    ]


def videos_remix_target(messages: list[dict[str, Any]]) -> tuple[str, str | None] | None:
    """For the Videos API: the task id (and share id, if known) an edit's history remixes.

    None for a new video. The history's last assistant message is the parent's transcript,
    which holds its ``/v1/videos/{id}/content`` link, so a saved and reloaded session can
    still edit.
    """
    for message in reversed(messages):
        content = message.get("content")
        if message.get("role") != "assistant" or not isinstance(content, str):
            continue
        task = _VIDEOS_CONTENT.search(content)
        sid = _SID_LINE.search(content)
        return (task.group("id"), sid.group("sid") if sid else None) if task else None
    return None


def build_body(
    messages: list[dict[str, Any]], model: str, *, stream: bool = True
) -> dict[str, Any]:
    """The JSON body of ``POST /v1/chat/completions``."""
    return {"model": model, "stream": stream, "messages": messages}


@dataclass(frozen=True, slots=True)
class Prepared:
    """A user turn that passed every check and is ready to send."""

    prompt: str
    model: str
    orientation: Orientation | None
    image_url: str | None

    @property
    def content(self) -> str | list[dict[str, Any]]:
        """The user message's content, as the seeds show it.

        A model whose name carries the orientation gets no orientation words: the name
        already says it, and those relays read the prompt as it is.
        """
        info = model_info(self.model)
        words = None if info is not None and info.orientation else self.orientation
        return user_content(self.prompt, words, self.image_url)


def prepare(prompt: object, model: object, orientation: object, image: ImageInput) -> Prepared:
    """Check a turn's input, refusing bad input with one sentence before anything is sent."""
    shape = normalize_orientation(orientation)
    name = model_for(validate_model(model), shape)
    info = model_info(name)
    image_url = image_to_url(image)
    if info is not None and info.dialect == "sora2api" and _is_link(image_url):
        # That relay keeps only data: images and drops links without a word (docs/dialects.md).
        raise InvalidRequest(t("request.sora2api_link", name=name))
    return Prepared(
        validate_prompt(prompt),
        name,
        shape or (info.orientation if info else None),
        image_url,
    )


_RATIO = re.compile(r"^\d{1,2}:\d{1,2}$")
_RESOLUTION = re.compile(r"^\d{3,4}p$|^[248]k$", re.I)


def make_options(
    duration: object = None,
    aspect_ratio: object = None,
    resolution: object = None,
    last_frame: ImageInput = None,
    audio: object = None,
) -> Options:
    """The gateway options, checked in one sentence each before anything is sent."""
    if duration is not None and (
        isinstance(duration, bool) or not str(duration).strip().rstrip("s").isdigit()
    ):
        raise InvalidRequest(t("request.duration", value=duration))
    ratio = None if aspect_ratio in (None, "") else str(aspect_ratio).strip()
    if ratio is not None and not _RATIO.match(ratio):
        raise InvalidRequest(t("request.aspect_ratio", value=aspect_ratio))
    lines = None if resolution in (None, "") else str(resolution).strip().lower()
    if lines is not None and not _RESOLUTION.match(lines):
        raise InvalidRequest(t("request.resolution", value=resolution))
    if audio is not None and not isinstance(audio, bool):
        raise InvalidRequest(t("request.audio", value=audio))
    seconds = None if duration is None else int(str(duration).strip().rstrip("s"))
    return Options(seconds, ratio, lines, image_to_url(last_frame), audio)


def _is_link(url: str | None) -> bool:
    return url is not None and url.startswith(("http://", "https://"))
