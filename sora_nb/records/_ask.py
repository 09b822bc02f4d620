"""One Ask: everything a user can ask of one generation, checked once.

Every surface (``%%sora``, ``sora_nb.generate()``/``edit()``, ``Session``, the
studio, a batch row) builds an ``Ask`` with ``Ask.build`` and hands it on
unchanged; the client's dialect turns it into the exact ``Request`` that is
recorded and sent (docs/architecture.md).

A new option that reaches the relay is one field here (with its check in
``build``), one flag in the magic's parser, and the lines of the dialects that
send it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any

from .._exceptions import InvalidRequest
from .._messages import t
from ._request import (
    ImageInput,
    Orientation,
    image_to_url,
    normalize_orientation,
    validate_model,
    validate_prompt,
)

__all__ = ["DEFAULT_MODEL", "Ask", "ask_options", "extras"]

DEFAULT_MODEL = "sora-2"


@dataclass(frozen=True, slots=True)
class Ask:
    """A checked generation request, before any dialect has shaped it.

    ``image`` is an ``https://`` or ``data:image/…`` URL (a path or bytes become
    the latter).
    """

    prompt: str
    model: str = DEFAULT_MODEL
    orientation: Orientation | None = None
    image: str | None = field(default=None, repr=False)
    duration: int | None = None  # seconds; None: the model's own
    # What the gateways' models take (docs/dialects.md, "Options"); None: the
    # model's own.
    aspect_ratio: str | None = None  # "16:9", "9:16", "1:1"
    resolution: str | None = None  # "720p", "1080p"
    # an image URL, as ``image``
    last_frame: str | None = field(default=None, repr=False)
    audio: bool | None = None
    #: An edit's continuation on a gateway: remix, edit, extend or last-frame.
    how: str | None = None

    @classmethod
    def build(
        cls,
        prompt: object,
        *,
        model: object = DEFAULT_MODEL,
        orientation: object = None,
        image: ImageInput = None,
        duration: object = None,
        aspect_ratio: object = None,
        resolution: object = None,
        last_frame: ImageInput = None,
        audio: object = None,
        how: object = None,
        **unknown: Any,
    ) -> Ask:
        """Check every input, refusing bad input with one sentence before
        anything is sent.

        The checks run in a fixed order (orientation, model, image, prompt), so
        the sentence a user sees for several mistakes does not depend on the
        surface they used.
        """
        if unknown:
            raise InvalidRequest(t("ask.unknown_option", name=sorted(unknown)[0]))
        shape = normalize_orientation(orientation)
        name = validate_model(model)
        url = image_to_url(image)
        seconds = _seconds("duration", duration)
        text = validate_prompt(prompt)
        return cls(
            text, name, shape, url, seconds,
            _matching(_RATIO, "aspect_ratio", aspect_ratio),
            _matching(_RESOLUTION, "resolution", resolution),
            image_to_url(last_frame), _flag("audio", audio), _how(how),
        )  # fmt: skip


def _seconds(name: str, value: object) -> int | None:
    """Whole seconds above 0 (``8`` or ``"8"``), or None when not given."""
    if value is None or value == "":
        return None
    text = str(value).strip().removesuffix("s")
    if isinstance(value, bool) or not text.isdigit() or int(text) == 0:
        raise InvalidRequest(t("ask.seconds", name=name, value=value))
    return int(text)


_RATIO = re.compile(r"^\d{1,2}:\d{1,2}$")
_RESOLUTION = re.compile(r"^(\d{3,4}p|[248]k)$")
_HOWS = ("remix", "edit", "extend", "last-frame")


def _matching(shape: re.Pattern[str], name: str, value: object) -> str | None:
    if value is None or value == "":
        return None
    text = str(value).strip().lower()
    if not shape.match(text):
        raise InvalidRequest(t(f"request.{name}", value=value))
    return text


_WORDS = {"true": True, "yes": True, "on": True, "1": True,
          "false": False, "no": False, "off": False, "0": False}  # fmt: skip


def _flag(name: str, value: object) -> bool | None:
    """True or False, also as a column's text (``true``, ``no``…), or None."""
    if value is None or value == "" or isinstance(value, bool):
        return None if value == "" else value  # type: ignore[return-value]
    word = _WORDS.get(str(value).strip().lower())
    if word is None:
        raise InvalidRequest(t(f"request.{name}", value=value))
    return word


def _how(value: object) -> str | None:
    if value is None or value == "":
        return None
    text = str(value).strip().lower()
    if text not in _HOWS:
        raise InvalidRequest(t("ask.how", value=value))
    return text


# what a Request has fields for
_SHAPED = ("prompt", "model", "orientation", "image")


def extras(ask: Ask) -> dict[str, Any]:
    """The options a Request carries by name: those given, beyond prompt, model,
    orientation and image."""
    return {
        f.name: getattr(ask, f.name)
        for f in fields(ask)
        if f.name not in _SHAPED and getattr(ask, f.name) is not None
    }


def ask_options() -> tuple[str, ...]:
    """The options an Ask takes besides its prompt (a batch row's columns)."""
    return tuple(f.name for f in fields(Ask) if f.name != "prompt")
