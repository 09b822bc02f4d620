"""flow2api (TheSmallHanCat/flow2api): Veo 3.1 through Google Flow, on the chat
stream.

It is a sibling of sora2api: progress is ``生成进度: N%`` in
``reasoning_content``, the video a bare ``<video src='…' data-media-id='…'>``
tag in ``content``. Orientation is in the model name, and the only continuation
is extend: model ``veo_3_1_extend`` with the parent's media id as an
``extend://ID`` image. It cancels the job when the client disconnects, so its
stream is never dropped except on the user's cancel (docs/dialects.md,
"flow2api").
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import Any

from .._callback import call as _call
from .._exceptions import InvalidRequest
from .._messages import t
from ..records._ask import Ask, extras
from ..records._model import Request
from ..records._video import Video
from ..wire._events import CompletedEvent, Event, JobEvent, ProgressEvent
from ..wire._protocol import ChatParser, Sora2apiParser
from ._base import EventCallback
from ._catalog import capabilities_for, check_options
from ._chat import ChatCompletions

__all__ = [
    "EXTEND_MODEL",
    "Flow2api",
    "extend_content",
    "is_flow2api_model",
    "media_id",
    "model_for",
]

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
    """``portrait`` or ``landscape``, as the name says (landscape unless it says
    portrait).
    """
    return "portrait" if "portrait" in model else "landscape"


def model_for(model: str, orientation: str | None) -> str:
    """The variant of a flow2api name with ``orientation`` (the others pass as
    written).
    """
    if orientation is None or not is_flow2api_model(model) or orientation_of(model) == orientation:
        return model
    for landscape, portrait in _PAIRS:
        if model == (portrait if orientation == "landscape" else landscape):
            return landscape if orientation == "landscape" else portrait
    if orientation == "portrait":
        return model.replace("_landscape", "_portrait")
    return model.replace("_portrait", "_landscape")


def media_id(transcript: str) -> str | None:
    """The media id flow2api gave the video (in its ``<video>`` tag), which
    extend needs.
    """
    found = _MEDIA.search(transcript)
    return found.group("id") if found else None


def extend_content(prompt: str, media: str) -> list[dict[str, Any]]:
    """The user message of an extend: the prompt and the parent as
    ``extend://ID``.
    """
    return [
        {"type": "text", "text": prompt},
        {"type": "image_url", "image_url": {"url": f"extend://{media}"}},
    ]


class Flow2api(ChatCompletions):
    """flow2api as a dialect (``SoraClient(dialect="flow2api")``)."""

    name = "flow2api"
    title = "flow2api"

    def parser(self) -> ChatParser:
        # its progress line and its tag are sora2api's kind
        return Sora2apiParser()

    def continuations(self, model: str) -> tuple[str, ...]:
        return ("extend",)

    @property
    def cancels_on_disconnect(self) -> bool:
        # its generation_handler cancels the job when the client goes
        return True

    async def continue_from(self, ask: Ask, parent: Video) -> Ask:
        if ask.how not in (None, "extend"):
            raise InvalidRequest(t("gateway.no_continuation", model=parent.model, kind=ask.how,
                                   offered="extend"))  # fmt: skip
        return replace(ask, how="extend")

    def request(self, ask: Ask, parent: Video | None = None) -> Request:
        """The name with the orientation asked for; an edit extends the parent's
        media.
        """
        options = extras(ask)
        check_options(capabilities_for(ask.model), options, ask.image)
        if parent is None:
            model = model_for(ask.model, ask.orientation)
            content: Any = ask.prompt
            if ask.image:
                content = [{"type": "text", "text": ask.prompt},
                           {"type": "image_url", "image_url": {"url": ask.image}}]  # fmt: skip
            messages = [{"role": "user", "content": content}]
            return Request(ask.prompt, model, ask.orientation, ask.image, messages, options)
        media = parent.handle or media_id(parent.transcript)
        if media is None:
            raise InvalidRequest(t("gateway.no_continuation", model=parent.model, kind="extend",
                                   offered=t("gateway.none")))  # fmt: skip
        shape = ask.orientation or orientation_of(parent.model)
        model = EXTEND_MODEL["portrait" if shape == "portrait" else "landscape"]
        messages = [{"role": "user", "content": extend_content(ask.prompt, media)}]
        return Request(ask.prompt, model, ask.orientation, None, messages, options)

    async def models(self) -> list[str] | None:
        """The names its ``GET /v1/models`` lists (owned by ``flow2api``)."""
        response = await self.relay.get(self.relay.base_url + "/v1/models")
        if not response.is_success:
            return None
        data = (
            response.json().get("data")
            if "json" in response.headers.get("content-type", "")
            else None
        )
        return [str(row.get("id")) for row in data or [] if isinstance(row, dict)] or None

    async def run(
        self, request: Request, parent: Video | None, on_event: EventCallback | None,
        deadline: float,
    ) -> Video:  # fmt: skip
        async def relay_event(event: Event | JobEvent) -> None:
            # its last progress line says 95 at most
            if isinstance(event, CompletedEvent):
                await _call(on_event, ProgressEvent(100))
            await _call(on_event, event)

        # flow2api cancels the job when the stream drops: only the user's cancel
        # ends it.
        return await super().run(request, parent, relay_event, math.inf)

    def finished(self, video: Video, dialect: str) -> Video:
        media = media_id(video.transcript)
        return replace(video, dialect=self.name, continuations=("extend",) if media else (),
                       handle=media)  # fmt: skip
