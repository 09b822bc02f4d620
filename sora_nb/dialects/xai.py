"""xAI's video API and grok2api (chenyme/grok2api), which copies it.

``POST /v1/videos/generations`` answers ``{"request_id"}``; ``GET
/v1/videos/{id}`` is ``pending`` (grok2api adds a progress) then ``done`` with
``video.url`` (a CDN link on xAI, a relative ``/v1/…`` link on grok2api), or
``failed``/``expired``. ``/v1/videos/edits`` and ``/v1/videos/extensions``
continue a video given as ``video.url``, which xAI fetches; it takes no id of an
earlier request. Its result links are temporary (and a reseller's may answer
once), so an edit or extension sends the parent's local copy inline as a
``data:video/mp4`` URI, as xAI takes for ``video.url``; with no copy, the link
the parent's status gives now (docs/dialects.md, "xAI").
"""

from __future__ import annotations

import asyncio
import base64
import os
from dataclasses import replace
from typing import Any

from ..records._model import Request
from ..records._video import Video
from ._gateway import Gateway, GatewayDialect, Route, ratio_of

__all__ = ["GATEWAY", "GROK2API", "XAI"]

#: The largest local copy sent inline (xAI reads about 15 s of 720p at most).
INLINE_LIMIT = 48 * 1024 * 1024


def _common(request: Request) -> dict[str, Any]:
    options = request.options
    body: dict[str, Any] = {"model": request.model, "prompt": request.prompt}
    ratio = options.get("aspect_ratio") or ratio_of(request.orientation)
    for key, value in (
        ("duration", options.get("duration")),
        ("aspect_ratio", ratio),
        ("resolution", options.get("resolution")),
    ):
        if value is not None:
            body[key] = value
    return body


def _body(request: Request, parent: Video | None) -> dict[str, Any]:
    body = _common(request)
    if request.image:
        body["image"] = {"url": request.image}
    return body


def _continue(request: Request, parent: Video | None) -> dict[str, Any]:
    body = _common(request)
    body["video"] = {"url": parent.video_url if parent else ""}
    return body


GATEWAY = Gateway(
    name="xai",
    title="xAI",
    create_path="/v1/videos/generations",
    status_path="/v1/videos/{id}",
    body=_body,
    routes={
        "edit": Route("/v1/videos/edits", _continue),
        "extend": Route("/v1/videos/extensions", _continue),
    },
    no_field=("last_frame",),
)

GROK2API = replace(GATEWAY, name="grok2api", title="grok2api")


class XAI(GatewayDialect):
    """xAI as a dialect (``SoraClient(dialect="xai")``)."""

    name = "xai"
    title = "xAI"
    gateway = GATEWAY

    async def parent_source(self, parent: Video) -> str | None:
        """The parent's local copy inline, else its link as its status gives."""
        inline = await asyncio.to_thread(_inline_video, parent.local_path)
        if inline is not None:
            return inline
        task = parent.handle or parent.task_id
        return await self.api.fresh_link(task) if task else None


def _inline_video(path: str | None) -> str | None:
    """A local mp4 as a ``data:`` URI, or None (no copy, unreadable, or too
    large).
    """
    try:
        if not path or os.path.getsize(path) > INLINE_LIMIT:
            return None
        with open(path, "rb") as file:
            data = file.read()
    except OSError:
        return None
    return "data:video/mp4;base64," + base64.b64encode(data).decode("ascii")
