"""The seed relay's dialect: a markdown transcript streamed as chat chunks.

It reads the whole history, knows two model names, and finds the video an edit
remixes by the last ``sid:`` line of the assistant turns (docs/protocol.md,
"Request"). The transcript's text is ``_markdown``'s.
"""

from __future__ import annotations

from typing import Any

from ._chat import ChatSpeaker
from ._request import last_sid, seed_model

__all__ = ["SPEAKER"]


class _Transcript(ChatSpeaker):
    name = "transcript"

    def model(self, value: Any) -> str:
        return seed_model(value)

    def parent(
        self, messages: list[dict[str, Any]], obj: dict[str, Any], prompt: str
    ) -> str | None:
        return last_sid(messages)


SPEAKER = _Transcript()
