"""Dialects: one module per kind of relay, behind one small interface
(``_base.Dialect``).

The client builds the one its setting names (``dialect_for``) and never asks
which it holds. A new dialect is a module here plus its line in ``DIALECTS``
(docs/dialects.md, "Adding a dialect").
"""

from __future__ import annotations

from .._exceptions import InvalidRequest
from .._messages import t
from ..records._video import Video
from ._base import Content, Continuation, Dialect, EventCallback, Relay
from .chat import Chat
from .detect import Detect
from .flow2api import Flow2api
from .grok2api import Grok2api
from .litellm import LiteLLM
from .newapi import NewAPI
from .openrouter import OpenRouter
from .reseller import Reseller
from .sora2api import Sora2api
from .transcript import Transcript
from .videos import Videos
from .xai import XAI

__all__ = [
    "DIALECTS",
    "GATEWAYS",
    "KINDS",
    "Content",
    "Continuation",
    "Dialect",
    "EventCallback",
    "Relay",
    "dialect_for",
    "recognised",
]

#: Every dialect a setting can choose, in the order saved videos are recognised.
#: The gateways (docs/dialects.md, "Gateways"): one module each, on one engine.
GATEWAYS: tuple[type[Dialect], ...] = (
    NewAPI, LiteLLM, OpenRouter, XAI, Grok2api, Reseller, Flow2api,
)  # fmt: skip
DIALECTS: tuple[type[Dialect], ...] = (Videos, *GATEWAYS, Detect, Chat)
#: Every kind of relay spoken: each one module, emulator file, fixtures folder,
#: doc section.
KINDS: tuple[type[Dialect], ...] = (Transcript, Sora2api, Videos, *GATEWAYS)


def dialect_for(setting: str | None) -> type[Dialect]:
    """The dialect a setting names (None or empty: ``chat``), or a refusal."""
    key = (setting or Chat.name).strip().lower()
    for dialect in DIALECTS:
        if key == dialect.name or key in dialect.aliases:
            return dialect
    known = " or ".join(d.name for d in DIALECTS[::-1])
    raise InvalidRequest(t("dialect.unknown", name=key, known=known))


def recognised(video: Video) -> Video:
    """``video`` with its dialect's data, if saved before videos had it."""
    if video.continuations is not None:
        return video
    for dialect in DIALECTS:
        found = dialect.recognise(video)
        if found is not None:
            return found
    return video
