"""Call a user's callback, a plain function or a coroutine function."""

from __future__ import annotations

import inspect
from collections.abc import Callable

__all__ = ["call"]


async def call(callback: Callable[..., object] | None, *args: object) -> None:
    """``callback(*args)``, awaited if it returns an awaitable."""
    if callback is None:
        return
    result = callback(*args)
    if inspect.isawaitable(result):
        await result
