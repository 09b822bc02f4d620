"""Shaping a checked Ask as the seeds show it: model variants, orientation
words, content.

Text to video sends the prompt as a string; image to video sends ``[text,
image_url]`` (``tests/fixtures/seed/image_request.json``). The seed relay has no
orientation field: words at the end of the prompt choose it (docs/protocol.md,
"Request"). Other relays encode orientation and duration in the model name
(docs/dialects.md, "Model names"): ``--orientation`` then picks the variant
instead of adding words. A name this module does not know is sent as it is, and
the relay's own refusal is what the user sees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Literal

from .._exceptions import InvalidRequest
from .._messages import t
from ..records._request import (
    ImageInput,
    Orientation,
    image_to_url,
    normalize_orientation,
    validate_model,
    validate_prompt,
)

__all__ = [
    "ModelInfo",
    "Prepared",
    "apply_orientation",
    "build_body",
    "model_for",
    "model_info",
    "prepare",
    "shaped",
    "user_content",
]

# Words the relay understands, appended to the prompt (docs/protocol.md).
_ORIENTATION_WORDS: dict[Orientation, str] = {"portrait": "竖屏", "landscape": "横屏"}
_ORIENTATION_SUFFIX = re.compile(r"(横屏|竖屏|窄屏|16:9|9:16|landscape|portrait)\W*$", re.I)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What a known model name says about its videos (for UI and history)."""

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
    """What a known name says (orientation, duration, dialect), else None."""
    return _KNOWN.get(model.strip().lower())


def model_for(model: str, orientation: Orientation | None) -> str:
    """The variant of ``model`` with ``orientation``, where the dialect encodes
    it in the name.

    ``sora2-landscape-10s`` with portrait is ``sora2-portrait-10s``; a name that
    does not carry an orientation (``sora-2``, or one this module does not know)
    is returned as is.
    """
    info = model_info(model)
    if orientation is None or info is None or info.orientation is None:
        return model
    if model.startswith("sora-video-") and _SHAPE_WORD.search(model) is None:
        model = model.replace("sora-video-", "sora-video-landscape-")
    variant = _SHAPE_WORD.sub(orientation, model.lower())
    return variant if variant in _KNOWN else model


def apply_orientation(prompt: str, orientation: Orientation | None) -> str:
    """Append the relay's orientation word unless the prompt already ends with
    one.
    """
    if orientation is None or _ORIENTATION_SUFFIX.search(prompt):
        return prompt
    return f"{prompt} {_ORIENTATION_WORDS[orientation]}"


def user_content(
    prompt: str, orientation: Orientation | None = None, image_url: str | None = None
) -> str | list[dict[str, Any]]:
    """A user message's content: a string, or ``[text, image_url]`` with an
    image.
    """
    text = apply_orientation(prompt, orientation)
    if image_url is None:
        return text
    return [
        {"type": "text", "text": text},
        {"type": "image_url", "image_url": {"url": image_url}},
    ]


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

        A model whose name carries the orientation gets no orientation words:
        the name already says it, and those relays read the prompt as it is.
        """
        info = model_info(self.model)
        words = None if info is not None and info.orientation else self.orientation
        return user_content(self.prompt, words, self.image_url)


def prepare(prompt: object, model: object, orientation: object, image: ImageInput) -> Prepared:
    """Check a turn's input, refusing bad input with one sentence before
    anything is sent.
    """
    shape = normalize_orientation(orientation)
    name = validate_model(model)
    turn = shaped("", name, shape, image_to_url(image))
    return replace(turn, prompt=validate_prompt(prompt))


def shaped(
    prompt: str, model: str, orientation: Orientation | None, image_url: str | None
) -> Prepared:
    """Checked input as the relay's names want it: the model variant its
    orientation names.
    """
    name = model_for(model, orientation)
    info = model_info(name)
    if info is not None and info.dialect == "sora2api" and _is_link(image_url):
        # That relay keeps only data: images, dropping links (docs/dialects.md).
        raise InvalidRequest(t("request.sora2api_link", name=name))
    return Prepared(prompt, name, orientation or (info.orientation if info else None), image_url)


def _is_link(url: str | None) -> bool:
    return url is not None and url.startswith(("http://", "https://"))
