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
    make_options,
    normalize_orientation,
    validate_model,
    validate_prompt,
)

__all__ = ["DEFAULT_MODEL", "Ask", "ask_options"]

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
    # What the gateways' models take (docs/dialects.md, "Options"); None leaves it to them.
    duration: int | None = None
    aspect_ratio: str | None = None
    resolution: str | None = None
    last_frame: str | None = field(default=None, repr=False)
    audio: bool | None = None
    #: For an edit on a gateway: remix, edit, extend or last-frame (None: the model's first).
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
        """Check every input, refusing bad input with one sentence before anything is sent.

        The checks run in a fixed order (orientation, model, image, prompt), so the sentence
        a user sees for several mistakes does not depend on the surface they used.
        """
        if unknown:
            raise InvalidRequest(t("ask.unknown_option", name=sorted(unknown)[0]))
        shape = normalize_orientation(orientation)
        name = validate_model(model)
        url = image_to_url(image)
        text = validate_prompt(prompt)
        options = make_options(duration, aspect_ratio, resolution, last_frame, audio)
        kind = None if how is None else str(how).strip().lower()
        if kind is not None and kind not in ("remix", "edit", "extend", "last-frame"):
            raise InvalidRequest(t("ask.how", value=how))
        return cls(text, name, shape, url, options.duration, options.aspect_ratio,
                   options.resolution, options.last_frame, options.audio, kind)  # fmt: skip


def ask_options() -> tuple[str, ...]:
    """The option names an Ask takes besides its prompt (a batch row's columns)."""
    return tuple(f.name for f in fields(Ask) if f.name != "prompt")
