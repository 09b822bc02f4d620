"""One Ask: everything a user can ask of one generation, checked once.

Every surface (``%%sora``, ``sora_nb.generate()``/``edit()``, ``Session``, the studio, a batch
row) builds an ``Ask`` with ``Ask.build`` and hands it on unchanged; the client's dialect
turns it into the exact ``Request`` that is recorded and sent (docs/architecture.md).

A new option that reaches the relay is one field here (with its check in ``build``), one
flag in the magic's parser, and the lines of the dialects that send it.
"""

from __future__ import annotations

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

    ``image`` is an ``https://`` or ``data:image/…`` URL (a path or bytes become the latter).
    """

    prompt: str
    model: str = DEFAULT_MODEL
    orientation: Orientation | None = None
    image: str | None = field(default=None, repr=False)
    duration: int | None = None  # seconds; None: the model's own

    @classmethod
    def build(
        cls,
        prompt: object,
        *,
        model: object = DEFAULT_MODEL,
        orientation: object = None,
        image: ImageInput = None,
        duration: object = None,
        **unknown: Any,
    ) -> Ask:
        """Check every input, refusing bad input with one sentence before anything is sent.

        The checks run in a fixed order (orientation, model, image, prompt), so the sentence
        a user sees for several mistakes does not depend on the surface they used.
        """
        if unknown:
            raise InvalidRequest(t("ask.unknown_option", name=sorted(unknown)[0]))
        shape = normalize_orientation(orientation)
        name = validate_model(model)
        url = image_to_url(image)
        seconds = _seconds("duration", duration)
        return cls(validate_prompt(prompt), name, shape, url, seconds)


def _seconds(name: str, value: object) -> int | None:
    """A whole number of seconds above 0 (``8`` or ``"8"``), or None when not given."""
    if value is None or value == "":
        return None
    text = str(value).strip().removesuffix("s")
    if isinstance(value, bool) or not text.isdigit() or int(text) == 0:
        raise InvalidRequest(t("ask.seconds", name=name, value=value))
    return int(text)


_SHAPED = ("prompt", "model", "orientation", "image")  # what a Request has fields for


def extras(ask: Ask) -> dict[str, Any]:
    """The options a Request carries by name: those given, beyond prompt, model,
    orientation and image."""
    return {
        f.name: getattr(ask, f.name)
        for f in fields(ask)
        if f.name not in _SHAPED and getattr(ask, f.name) is not None
    }


def ask_options() -> tuple[str, ...]:
    """The option names an Ask takes besides its prompt (a batch row's columns)."""
    return tuple(f.name for f in fields(Ask) if f.name != "prompt")
