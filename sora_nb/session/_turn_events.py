"""What a running turn tells its caller: events, and a copy's progress."""

from __future__ import annotations

import logging
from collections.abc import Callable

from .._callback import call
from .._exceptions import SoraError
from ..client._client import EventCallback
from ..wire._events import Event, JobEvent, TaskEvent

__all__ = ["TurnEvents"]

logger = logging.getLogger("sora_nb")


class TurnEvents:
    """One turn's event hook: hands on the task id as soon as it is known
    (``on_task``), forwards everything to ``on_event``, and reports a copy's
    progress in 1 % steps.
    """

    def __init__(
        self, on_task: Callable[[TaskEvent], object], on_event: EventCallback | None
    ) -> None:
        self._on_task = on_task
        self._on_event = on_event
        self._shown = (0.0, 0)  # last download fraction and byte count reported

    async def __call__(self, event: Event | JobEvent) -> None:
        if isinstance(event, TaskEvent):
            self._on_task(event)
        await self.emit(event)

    async def emit(self, event: Event | JobEvent) -> None:
        try:
            await call(self._on_event, event)
        except SoraError:
            if isinstance(event, JobEvent) and event.phase == "sending":
                # nothing sent yet: a batch whose journal fails stops here
                raise
            logger.warning("sora_nb: on_event failed on a %s event.", event.type, exc_info=True)
        except Exception:
            # A broken progress view must not lose a generation the relay bills.
            logger.warning("sora_nb: on_event failed on a %s event.", event.type, exc_info=True)

    async def progress(self, have: int, total: int | None) -> None:
        fraction, shown_bytes = self._shown
        # throttled to 1 % steps: one frontend update each, not one per block
        if total:
            if have / total - fraction < 0.01 and have < total:
                return
            self._shown = (have / total, have)
            await self.emit(JobEvent("downloading", fraction=min(1.0, have / total)))
        elif have - shown_bytes >= 2**20:
            self._shown = (fraction, have)
            await self.emit(JobEvent("downloading", detail=f"{have / 2**20:.1f} MiB"))

    async def downloaded(self) -> None:
        # the size was unknown, or the copy was already on disk
        if self._shown[0] < 1.0:
            self._shown = (1.0, self._shown[1])
            await self.emit(JobEvent("downloading", fraction=1.0))
