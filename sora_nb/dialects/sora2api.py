"""The sora2api relays' dialect: progress in ``reasoning_content``, a
``<video>`` result.

Those relays read only the last message, keep only ``data:`` images, and remix
the ``s_…`` share id they find in its prompt (docs/dialects.md, "sora2api
chat"). Emulated by ``sora_nb/emulator/_sora2api.py``.
"""

from __future__ import annotations

import re
from dataclasses import replace

import httpx

from .._exceptions import InvalidRequest
from ..records._ask import Ask
from ..records._request import MAX_IMAGE_BYTES, image_to_url
from ..records._video import Video
from ..wire._limits import exception_text
from ..wire._protocol import ChatParser, Sora2apiParser
from ._base import Content
from ._chat import ChatCompletions

__all__ = ["Sora2api"]

_RESULT = re.compile(r"<video\b[^>]*\bsrc\s*=", re.IGNORECASE)


class Sora2api(ChatCompletions):
    """A relay of the TheSmallHanCat/sora2api family."""

    name = "sora2api"
    title = "sora2api"

    def parser(self) -> ChatParser:
        return Sora2apiParser()

    async def place_image(self, ask: Ask) -> Ask:
        """An https image, fetched and sent inline: these relays drop image
        links.

        The image's host is another origin, so no key goes there
        (docs/dialects.md).
        """
        if ask.image is None or not ask.image.startswith("https://"):
            return ask
        try:
            data = await self.relay.fetch(ask.image, MAX_IMAGE_BYTES)
        except httpx.HTTPError as exc:
            detail = exception_text(exc)
            raise InvalidRequest(
                f"Could not fetch the image {ask.image!r} to send it inline ({detail}): "
                "pass a local file instead."
            ) from None
        # its size and kind checked as any
        return replace(ask, image=image_to_url(data))

    def edit_content(self, content: Content, parent: Video) -> Content:
        """The change, with the parent's share id where these relays look for
        it.
        """
        sid = parent.sid
        if not sid:
            return content
        if isinstance(content, str):
            return f"{content} {sid}"
        return [
            {**part, "text": f"{part['text']} {sid}"} if part.get("type") == "text" else part
            for part in content
        ]

    @classmethod
    def recognise(cls, video: Video) -> Video | None:
        """A video whose answer ends with the ``<video>`` block (and no seed
        ``sid:`` line).
        """
        if not _RESULT.search(video.transcript) or "sid:" in video.transcript:
            return None
        offered = ("remix",) if video.sid else ()
        return replace(video, dialect=cls.name, continuations=offered)
