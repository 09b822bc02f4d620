"""Following a task by polling its status: the loop every task API shares.

A failed poll (reset, timeout, 429, 5xx) is to a task API what a broken stream
is to chat: the task goes on at the relay, so the client says it is resuming and
polls again. After ``MISSES`` failures in a row, or at the deadline, it gives up
with ``VideosPollLost``, which the dialect hands back as ``StreamInterrupted``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from .._callback import call as _call
from .._exceptions import AuthenticationError
from .._messages import t
from ..wire._events import JobEvent
from ..wire._limits import DeadlinePassed, until
from ..wire._protocol import SourceStatus
from ._base import EventCallback

__all__ = ["MISSES", "VideosPollLost", "follow", "json_object", "poll"]

MISSES = 10  # failed polls in a row before the task counts as interrupted


class VideosPollLost(Exception):
    """The polls failed too often, or the deadline passed (internal)."""


#: One poll: the status object, or None and why it failed (to wait out).
Poll = Callable[[], Awaitable[tuple[dict[str, Any] | None, str]]]
#: Reports one status as events; the final status once the task has ended.
Report = Callable[[dict[str, Any]], Awaitable[SourceStatus | None]]


async def follow(
    poll_once: Poll,
    report: Report,
    on_event: EventCallback | None,
    deadline: float,
    interval: Callable[[], float],
) -> SourceStatus:
    """Poll until ``report`` says the task ended; ``interval()`` each time."""
    misses, lost, wait = 0, "", min(1.0, interval())
    while time.monotonic() < deadline and misses < MISSES:
        obj, error = await poll_once()
        if obj is None:
            if misses == 0:  # said once per outage, as for a broken stream
                detail = t("videos.poll_failed", error=error)
                await _call(on_event, JobEvent("resuming", detail=detail))
            misses, lost = misses + 1, error
        else:
            misses = 0
            done = await report(obj)
            if done is not None:
                return done
        await asyncio.sleep(max(0.0, min(wait, deadline - time.monotonic())))
        wait = min(wait * 1.5, interval())
    raise VideosPollLost(lost or t("videos.deadline"))


async def poll(
    get: Callable[[str], Awaitable[httpx.Response]],
    url: str,
    deadline: float,
    redact: Callable[[str], str],
    own: frozenset[int] = frozenset(),
) -> httpx.Response | str:
    """One status ``GET``: the answer, or why it failed when waiting may help.

    A refused key raises ``AuthenticationError``: polling again cannot fix it. A
    status in ``own`` is the caller's to read, even a 5xx.
    """
    try:  # the deadline holds on the clock, even for an answer that trickles
        response = await until(deadline, get(url))
    except DeadlinePassed:
        return t("videos.deadline")
    except httpx.HTTPError as exc:  # transport, redirects, bad bodies
        return redact(str(exc) or type(exc).__name__)
    if response.status_code in (401, 403):
        raise AuthenticationError(
            t("videos.refused_key", status=response.status_code),
            status_code=response.status_code,
        )
    if response.status_code in own:
        return response
    if response.status_code == 429 or response.status_code >= 500:
        return f"{response.status_code} {redact(response.reason_phrase)}"
    return response


def json_object(response: httpx.Response, redact: Callable[[str], str]) -> dict[str, Any]:
    """The answer's JSON object, masked of the key; ``{}`` for anything else."""
    try:
        obj = json.loads(redact(response.content.decode("utf-8", "replace")))
    except ValueError:
        return {}
    return obj if isinstance(obj, dict) else {}
