"""The seed relay's dialect: a markdown transcript streamed in
``delta.content``.

Its lines name the task, report progress, and end with the video's links and
``sid:`` line (docs/protocol.md). An edit sends the whole branch back; the relay
finds the parent's sid in it, so the new prompt goes as it is. Emulated by
``sora_nb/emulator/_transcript.py``.
"""

from __future__ import annotations

from dataclasses import replace

from ..records._video import Video
from ._chat import ChatCompletions

__all__ = ["Transcript"]


class Transcript(ChatCompletions):
    """A relay that writes its progress and result as a markdown transcript."""

    name = "transcript"
    title = "transcript"

    @classmethod
    def recognise(cls, video: Video) -> Video | None:
        """Any chat video saved before dialects were recorded: what is not
        sora2api's.
        """
        offered = ("remix",) if video.sid or "sid:" in video.transcript else ()
        return replace(video, dialect=cls.name, continuations=offered)
