"""OpenRouter's video API (``/api/v1/videos``): JSON with frames, 202 and a
polling URL.

``duration``, ``resolution``, ``aspect_ratio``, ``generate_audio``,
``frame_images[]`` with ``frame_type`` first/last; statuses
pending/in_progress/completed/failed/cancelled/expired; signed ``urls[]`` and
key-only ``unsigned_urls[]``; ``GET /api/v1/videos/models`` lists what each
model takes (docs/dialects.md, "OpenRouter").
"""

from __future__ import annotations

from typing import Any

from ..records._model import Request
from ..records._video import Video
from ._gateway import Gateway, GatewayDialect, ratio_of

__all__ = ["GATEWAY"]


def _frame(url: str, kind: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}, "frame_type": kind}


def _body(request: Request, parent: Video | None) -> dict[str, Any]:
    options = request.options
    body: dict[str, Any] = {"model": request.model, "prompt": request.prompt}
    ratio = options.get("aspect_ratio") or ratio_of(request.orientation)
    for key, value in (
        ("duration", options.get("duration")),
        ("resolution", options.get("resolution")),
        ("aspect_ratio", ratio),
        ("generate_audio", options.get("audio")),
    ):
        if value is not None:
            body[key] = value
    frames = [_frame(request.image, "first_frame")] if request.image else []
    if options.get("last_frame"):
        frames.append(_frame(options["last_frame"], "last_frame"))
    if frames:
        body["frame_images"] = frames
    return body


GATEWAY = Gateway(
    name="openrouter",
    title="OpenRouter",
    create_path="/api/v1/videos",
    status_path="/api/v1/videos/{id}",
    body=_body,
    content_path="/api/v1/videos/{id}/content?index=0",
    models_path="/api/v1/videos/models",
)


class OpenRouter(GatewayDialect):
    """OpenRouter as a dialect (``SoraClient(dialect="openrouter")``)."""

    name = "openrouter"
    title = "OpenRouter"
    gateway = GATEWAY
