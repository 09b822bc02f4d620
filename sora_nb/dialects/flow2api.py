"""flow2api (TheSmallHanCat/flow2api): Veo 3.1 through Google Flow, on the chat stream.

It is a sibling of sora2api: progress is ``生成进度: N%`` in ``reasoning_content``, the video
a bare ``<video src='…' data-media-id='…'>`` tag in ``content``. Orientation is in the model
name, and the only continuation is extend: model ``veo_3_1_extend`` with the parent's media id
as an ``extend://ID`` image. It cancels the job when the client disconnects, so its stream is
never dropped except on the user's cancel (docs/dialects.md, "flow2api").
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["EXTEND_MODEL", "extend_content", "is_flow2api_model", "media_id", "model_for"]

EXTEND_MODEL = {"landscape": "veo_3_1_extend", "portrait": "veo_3_1_extend_portrait"}

#: (landscape, portrait) names where the portrait one is not a plain word swap.
_PAIRS = (
    ("veo_3_1_i2v_s_fast_fl", "veo_3_1_i2v_s_fast_portrait_fl"),
    ("veo_3_1_i2v_s_fast_ultra_fl", "veo_3_1_i2v_s_fast_portrait_ultra_fl"),
    ("veo_3_1_t2v_fast_ultra", "veo_3_1_t2v_fast_portrait_ultra"),
    ("veo_3_1_r2v_fast", "veo_3_1_r2v_fast_portrait"),
    ("veo_3_1_r2v_fast_ultra", "veo_3_1_r2v_fast_portrait_ultra"),
    ("veo_3_1_extend", "veo_3_1_extend_portrait"),
)
_MEDIA = re.compile(r"data-media-id\s*=\s*(['\"])(?P<id>[^'\"]+)\1")


def is_flow2api_model(model: str) -> bool:
    """Whether ``model`` is one of flow2api's Veo names (``veo_…``)."""
    return model.startswith(("veo_3_1_", "veo_2_"))


def orientation_of(model: str) -> str:
    """``portrait`` or ``landscape``, as the name says (landscape unless it says portrait)."""
    return "portrait" if "portrait" in model else "landscape"


def model_for(model: str, orientation: str | None) -> str:
    """The variant of a flow2api name with ``orientation`` (the others pass as written)."""
    if orientation is None or not is_flow2api_model(model) or orientation_of(model) == orientation:
        return model
    for landscape, portrait in _PAIRS:
        if model == (portrait if orientation == "landscape" else landscape):
            return landscape if orientation == "landscape" else portrait
    if orientation == "portrait":
        return model.replace("_landscape", "_portrait")
    return model.replace("_portrait", "_landscape")


def media_id(transcript: str) -> str | None:
    """The media id flow2api gave the video (in its ``<video>`` tag), which extend needs."""
    found = _MEDIA.search(transcript)
    return found.group("id") if found else None


def extend_content(prompt: str, media: str) -> list[dict[str, Any]]:
    """The user message of an extend: the prompt and the parent as ``extend://ID``."""
    return [
        {"type": "text", "text": prompt},
        {"type": "image_url", "image_url": {"url": f"extend://{media}"}},
    ]
