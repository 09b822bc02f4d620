"""A streamed answer's bytes as a dialect reads them: one ``await`` per socket
read.

The client's transport puts a coroutine function under ``READ`` in the
response's extensions that returns what the socket has delivered, with no
iterator between its buffer and the parser. Any other response (a content
coding, another transport) goes through httpx's decoding iterator instead.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable

import httpx

__all__ = ["READ", "Reader"]

#: The response extension holding the transport's direct read.
READ = "sora_nb.read"

Read = Callable[[], Awaitable[bytes]]


class Reader:
    """``response``'s bytes, one ``await read()`` at a time (``b""`` at the
    end).

    ``aclose`` finalizes httpx's iterator when one is used: a stream left at
    ``[DONE]`` must not leave it for the garbage collector ("Task was destroyed
    but it is pending").
    """

    def __init__(self, response: httpx.Response) -> None:
        direct = response.extensions.get(READ)
        self._chunks: AsyncIterator[bytes] | None = None
        if callable(direct) and "content-encoding" not in response.headers:
            self.read: Read = direct
        else:
            self._chunks = chunks = response.aiter_bytes()
            self.read = functools.partial(anext, chunks, b"")

    async def aclose(self) -> None:
        if isinstance(self._chunks, AsyncGenerator):
            await self._chunks.aclose()
