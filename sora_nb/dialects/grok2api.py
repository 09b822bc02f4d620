"""grok2api (chenyme/grok2api): xAI's video API copied, with a progress in each
pending status and the video as a relative ``/v1/videos/{id}/content`` link
behind the key (docs/dialects.md, "xAI and grok2api"). Emulated by
``sora_nb/emulator/_grok2api.py``.
"""

from __future__ import annotations

from ._gateway import GatewayDialect
from .xai import GROK2API

__all__ = ["Grok2api"]


class Grok2api(GatewayDialect):
    """grok2api as a dialect (``SoraClient(dialect="grok2api")``)."""

    name = "grok2api"
    title = "grok2api"
    gateway = GROK2API
