"""The default setting, ``chat``: either chat dialect, told apart as the seeds
allow.

Before sending, a sora2api model name (docs/dialects.md, "Model names") or a
parent made by a sora2api relay picks ``Sora2api``'s request; anything else is
sent as the seed relay wants it. After sending, the stream itself says which
dialect answered.
"""

from __future__ import annotations

from ..records._ask import Ask
from ..records._video import Video
from ..wire._protocol import ChatParser, TranscriptParser
from ._base import Content, Relay
from ._chat import ChatCompletions
from ._shape import model_info
from .sora2api import Sora2api
from .transcript import Transcript

__all__ = ["Chat"]


class Chat(ChatCompletions):
    """``/v1/chat/completions`` in whichever chat dialect the relay speaks."""

    name = "chat"
    aliases = ("transcript", "sora2api")  # the emulator's names for the two
    title = "chat"

    def __init__(self, relay: Relay) -> None:
        super().__init__(relay)
        self._sora2api = Sora2api(relay)

    async def place_image(self, ask: Ask) -> Ask:
        info = model_info(ask.model)
        if info is not None and info.dialect == Sora2api.name:
            return await self._sora2api.place_image(ask)
        return ask

    def edit_content(self, content: Content, parent: Video) -> Content:
        if parent.dialect == Sora2api.name:
            return self._sora2api.edit_content(content, parent)
        return content

    def parser(self) -> ChatParser:
        return TranscriptParser()  # it tells the two apart as it reads

    def made_by(self, parser: ChatParser) -> str:
        return parser.dialect

    @classmethod
    def recognise(cls, video: Video) -> Video | None:
        return Sora2api.recognise(video) or Transcript.recognise(video)
