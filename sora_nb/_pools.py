"""The client's connections to a relay: several small httpx pools instead of one large one.

httpcore's pool looks at every connection it holds each time a request starts or a
response ends, so a thousand open streams in one pool cost a thousand checks per stream
start and end: quadratic in the batch, and most of the client's CPU in a large one.
Streams are spread round-robin over pools of
about ``PER_POOL`` connections each. How many are open at once is still decided by the
relay's limiter (``_limiter``), never by a pool: every pool is unbounded
(docs/protocol.md, "Concurrency").
"""

from __future__ import annotations

import itertools

import httpx

__all__ = ["PER_POOL", "POOL_LIMITS", "Pools"]

#: Connections a pool holds when every slot of the limiter is in use.
PER_POOL = 32
#: Jobs wait for a slot in the relay's limiter, never in a pool.
POOL_LIMITS = httpx.Limits(max_connections=None, max_keepalive_connections=None)


class Pools(httpx.AsyncBaseTransport):
    """An httpx transport over ``ceil(streams / PER_POOL)`` pools, used in turn."""

    def __init__(self, streams: int) -> None:
        count = max(1, -(-streams // PER_POOL))
        tls = httpx.create_ssl_context()  # one for all: each takes milliseconds to load
        self.pools = [
            httpx.AsyncHTTPTransport(verify=tls, limits=POOL_LIMITS) for _ in range(count)
        ]
        self._turn = itertools.cycle(self.pools)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await next(self._turn).handle_async_request(request)

    async def aclose(self) -> None:
        for pool in self.pools:
            await pool.aclose()
