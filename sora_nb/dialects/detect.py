"""``dialect="auto"`` (or ``"detect"``): the gateway found by free GETs, then
spoken.

Nothing is sent until it is known: the first call that needs the relay asks
``_recognize.by_get`` (never a paid POST), builds that dialect, and hands
everything on. When nothing says which it is, one sentence names the settings
(docs/dialects.md, "Recognition").
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from .._exceptions import InvalidRequest
from .._messages import t
from ..records._ask import Ask
from ..records._model import Message, PendingTask, Request
from ..records._video import Video
from ..wire._events import Event
from . import _recognize
from ._base import Dialect, EventCallback, Relay
from ._catalog import Capabilities

__all__ = ["Detect"]


class Detect(Dialect):
    """Whichever dialect the relay answers like, found once."""

    name = "detect"
    aliases = ("auto",)
    title = "the relay"

    def __init__(self, relay: Relay) -> None:
        super().__init__(relay)
        self._found: Dialect | None = None

    async def _settle(self) -> Dialect:
        if self._found is None:
            from . import DIALECTS  # the registry imports this module

            name = await _recognize.by_get(self.relay)
            if name is None:
                names = ", ".join(d.name for d in DIALECTS if d.name != self.name)
                raise InvalidRequest(t("gateway.cannot_tell", url=self.relay.base_url,
                                       names=names))  # fmt: skip
            self._found = next(d for d in DIALECTS if d.name == name)(self.relay)
        return self._found

    def _known(self) -> Dialect:
        if self._found is None:  # only reached before anything asked the relay
            raise InvalidRequest(t("gateway.cannot_tell", url=self.relay.base_url, names="…"))
        return self._found

    async def place_image(self, ask: Ask) -> Ask:
        return await (await self._settle()).place_image(ask)

    async def continue_from(self, ask: Ask, parent: Video) -> Ask:
        return await (await self._settle()).continue_from(ask, parent)

    def request(self, ask: Ask, parent: Video | None = None) -> Request:
        return self._known().request(ask, parent)

    async def run(
        self, request: Request, parent: Video | None, on_event: EventCallback | None,
        deadline: float,
    ) -> Video:  # fmt: skip
        return await (await self._settle()).run(request, parent, on_event, deadline)

    def pending_for(self, task: str) -> PendingTask:
        return self._known().pending_for(task)

    async def lookup(self, task: str) -> None:
        await (await self._settle()).lookup(task)

    async def resume(
        self, pending: PendingTask, on_event: EventCallback | None, deadline: float
    ) -> Video:
        return await (await self._settle()).resume(pending, on_event, deadline)

    async def stream(
        self, messages: list[Message], model: str, *, stream: bool = True
    ) -> AsyncGenerator[Event, None]:
        async for event in (await self._settle()).stream(messages, model, stream=stream):
            yield event

    async def models(self) -> list[str] | None:
        return await (await self._settle()).models()

    async def capabilities(self) -> list[Capabilities]:
        return await (await self._settle()).capabilities()

    def continuations(self, model: str) -> tuple[str, ...]:
        return self._known().continuations(model)

    @property
    def cancels_on_disconnect(self) -> bool:
        return self._found is not None and self._found.cancels_on_disconnect

    @property
    def found(self) -> str:
        """The dialect recognised so far (``detect`` until the first call)."""
        return self._found.name if self._found is not None else self.name
