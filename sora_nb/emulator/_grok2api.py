"""grok2api (docs/dialects.md, "xAI and grok2api"): xAI's routes, with a
progress in each pending status and the video as a relative
``/v1/videos/{id}/content`` link behind the key.
"""

from __future__ import annotations

from . import _gateway as gw
from ._xai import routes

__all__ = ["SPEAKER"]

SPEAKER = gw.GatewaySpeaker("grok2api", lambda: routes(grok2api=True))
