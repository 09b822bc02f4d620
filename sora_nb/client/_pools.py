"""The client's connections to a relay: several small httpx pools instead of one large one.

httpcore's pool looks at every connection it holds each time a request starts or a
response ends, so a thousand open streams in one pool cost a thousand checks per stream
start and end: quadratic in the batch, and most of the client's CPU in a large one.
Generations (POSTs) are spread round-robin over pools of about ``PER_POOL`` connections
each; how many are open at once is still decided by the relay's limiter (``_limiter``),
never by a pool: every pool is unbounded (docs/protocol.md, "Concurrency").

Those pools keep no idle connection. A stream is left at ``[DONE]``, so its connection is
dropped anyway; and an idle one would stall a burst: httpcore hands an idle HTTP/1.1
connection to every request that arrives before the first of them starts on it, and the
others then wait for the pool's next event (measured: a pool's share of a 1,000-item batch
started 1.5 s late after one download had left a connection there). Everything else
(status polls, downloads, images) is short and reuses its connections in a pool of its own.

Every pool reaches the network through ``_network.AsyncioBackend`` instead of httpcore's
anyio default: the same connections for about a fifth less of the kernel's CPU.
"""

from __future__ import annotations

import itertools
import ssl

import httpcore
import httpx

from ._network import AsyncioBackend

__all__ = ["PER_POOL", "POOL_LIMITS", "Pools"]

#: Connections a pool holds when every slot of the limiter is in use.
PER_POOL = 32
#: Jobs wait for a slot in the relay's limiter, never in a pool.
POOL_LIMITS = httpx.Limits(max_connections=None, max_keepalive_connections=None)
#: The generations' pools: unbounded, and no connection kept once its response ends.
STREAM_LIMITS = httpx.Limits(max_connections=None, max_keepalive_connections=0)


class Pools(httpx.AsyncBaseTransport):
    """An httpx transport: POSTs over ``ceil(streams / PER_POOL)`` pools used in turn,
    every other request over one keep-alive pool."""

    def __init__(self, streams: int) -> None:
        count = max(1, -(-streams // PER_POOL))
        tls = httpx.create_ssl_context()  # one for all: each takes milliseconds to load
        self.pools = [_transport(tls, STREAM_LIMITS) for _ in range(count)]
        self.other = _transport(tls, POOL_LIMITS)
        self._turn = itertools.cycle(self.pools)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        pool = next(self._turn) if request.method == "POST" else self.other
        return await pool.handle_async_request(request)

    async def aclose(self) -> None:
        for pool in [*self.pools, self.other]:
            await pool.aclose()


def _transport(tls: ssl.SSLContext, limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    """httpx's transport (request and error mapping) over an httpcore pool on our backend.

    httpx takes no network backend, so its pool is replaced by one built the same way
    (HTTP/1.1, no retries) with ``network_backend`` set: httpcore's public parameter.
    """
    transport = httpx.AsyncHTTPTransport(verify=tls, limits=limits)
    transport._pool = httpcore.AsyncConnectionPool(  # httpx has no public way to pass it
        ssl_context=tls,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=AsyncioBackend(),
    )
    return transport
