"""How many streams a kernel keeps open to one relay: a shared, adaptive limit.

Every job of a kernel (a ``%%sora`` cell, the panel, a batch) waits for a slot
here before it sends, so jobs queue in sora_nb rather than in httpx's connection
pool, where they would time out (``PoolTimeout``) and cost the client its CPU in
connection assignment (docs/protocol.md, "Concurrency"). A 429 means the relay
started nothing: the limit drops to the streams the relay is holding for us (the
others in flight), which is its limit as a per-key gate counts it, and new sends
pause for its ``Retry-After``. It grows back by one per full window of accepted
streams, and only after ``REGROW_AFTER`` quiet seconds, so it does not keep
probing above the relay's limit.

Pure asyncio: no HTTP, no Jupyter.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable

__all__ = [
    "DEFAULT_MAX_STREAMS",
    "REGROW_AFTER",
    "AdaptiveLimiter",
    "limiter_for",
    "max_streams_from_env",
]

#: Streams a kernel keeps open to one relay unless told otherwise
#: (``$SORA_MAX_STREAMS``).
DEFAULT_MAX_STREAMS = 100
#: Seconds after a 429 before the learned limit may grow again.
REGROW_AFTER = 30.0


def max_streams_from_env() -> int:
    """``$SORA_MAX_STREAMS`` when it is a positive integer, else the default."""
    try:
        value = int(os.environ.get("SORA_MAX_STREAMS", "") or DEFAULT_MAX_STREAMS)
    except ValueError:
        return DEFAULT_MAX_STREAMS
    return value if value > 0 else DEFAULT_MAX_STREAMS


class AdaptiveLimiter:
    """At most ``limit`` holders at a time, first come first served; the limit
    adapts.

    ``rate_limited(seconds)``, called by a holder the relay refused, learns the
    limit (the other holders: never below one) and holds every new slot back for
    ``seconds``; ``succeeded()`` grows it by one per ``limit`` accepted streams
    once ``REGROW_AFTER`` seconds passed without a 429, up to ``ceiling``.
    """

    def __init__(self, ceiling: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if ceiling < 1:
            raise ValueError(f"A limit needs at least one slot, not {ceiling}.")
        self.ceiling = ceiling
        self.limit = ceiling
        self.in_flight = 0
        # how many 429s shrank it, for views and benchmarks
        self.rate_limits = 0
        self._clock = clock
        self._paused_until = 0.0
        # no growth before this instant (the last 429 + REGROW_AFTER)
        self._calm_from = 0.0
        self._accepted = 0  # accepted streams since the limit last changed
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return f"<AdaptiveLimiter {self.in_flight}/{self.limit} (ceiling {self.ceiling})>"

    @property
    def waiting(self) -> int:
        """Jobs waiting for a slot."""
        return len(self._waiters)

    def paused_for(self) -> float:
        """Seconds until slots are handed out again after a 429 (or 0)."""
        return max(0.0, self._paused_until - self._clock())

    def set_ceiling(self, ceiling: int) -> None:
        """Change the ceiling; the current limit follows it down at once."""
        self.ceiling = max(1, ceiling)
        self.limit = min(self.limit, self.ceiling) if self.rate_limits else self.ceiling
        self._wake()

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot for the body of the ``async with``."""
        await self.acquire()
        try:
            yield
        finally:
            self.release()

    async def acquire(self) -> None:
        """Wait for a slot, in arrival order."""
        self._bind_loop()
        if not self._waiters and self._free():
            self.in_flight += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        # starts the end-of-pause timer when a 429 holds every slot back
        self._wake()
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                # granted just as it was cancelled: give the slot back
                self.release()
            else:
                self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        """Give a slot back and let the next waiter in."""
        self.in_flight = max(0, self.in_flight - 1)
        self._wake()

    def succeeded(self) -> None:
        """A stream was accepted: grow toward the ceiling, a window a time."""
        if self.limit >= self.ceiling:
            return
        self._accepted += 1
        if self._accepted >= self.limit and self._clock() >= self._calm_from:
            self.limit, self._accepted = self.limit + 1, 0
            self._wake()

    def rate_limited(self, retry_after: float | None) -> None:
        """The caller's request got a 429: the relay holds only the other
        holders' streams, so that is its limit; hold new slots for
        ``retry_after``.
        """
        self.rate_limits += 1
        self.limit = max(1, min(self.limit, self.in_flight - 1))
        self._accepted = 0
        pause = retry_after if retry_after is not None else 1.0
        self._paused_until = max(self._paused_until, self._clock() + pause)
        self._calm_from = self._clock() + max(pause, REGROW_AFTER)

    # -- internals -------------------------------------------------------------

    def _free(self) -> bool:
        return self.in_flight < self.limit and self._clock() >= self._paused_until

    def _bind_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # A script that calls asyncio.run() twice: the old loop's holders
            # are gone.
            self._loop, self.in_flight, self._timer = loop, 0, None
            self._waiters.clear()

    def _wake(self) -> None:
        while self._waiters and self._free():
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.in_flight += 1
                waiter.set_result(None)
        pause = self._paused_until - self._clock()
        if self._waiters and pause > 0 and self._timer is None and self._loop is not None:
            self._timer = self._loop.call_later(pause, self._after_pause)

    def _after_pause(self) -> None:
        self._timer = None
        self._wake()


_limiters: dict[str, AdaptiveLimiter] = {}
_registry_lock = threading.Lock()


def limiter_for(base_url: str, ceiling: int | None = None) -> AdaptiveLimiter:
    """The one limiter of this process for the relay at ``base_url``, made on
    first use.

    ``ceiling`` (when given) becomes its configured limit, shared by every
    client of the relay in the kernel.
    """
    key = base_url.rstrip("/")
    with _registry_lock:
        limiter = _limiters.get(key)
        if limiter is None:
            limiter = _limiters[key] = AdaptiveLimiter(ceiling or max_streams_from_env())
        elif ceiling is not None and ceiling != limiter.ceiling:
            limiter.set_ceiling(ceiling)
        return limiter
