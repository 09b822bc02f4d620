"""One SSE response following one task, with the stream-level faults applied."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from starlette.responses import StreamingResponse

from . import _markdown as tx
from ._tasks import Entry, Task

__all__ = ["StreamCut", "event_stream", "install_log_filter"]


class StreamCut(Exception):
    """Raised on purpose to drop a connection mid-body (fault ``cut``).

    An ASGI app cannot close its socket; raising after the response started
    makes uvicorn close it without the final chunk, which is exactly what a
    client sees when a relay's connection breaks.
    """


def event_stream(task: Task, meta: tx.ChunkMeta, fault: str | None) -> StreamingResponse:
    """The relay's SSE answer for ``task``."""
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(
        _events(task, meta, fault), media_type="text/event-stream", headers=headers
    )


async def _events(task: Task, meta: tx.ChunkMeta, fault: str | None) -> AsyncIterator[bytes]:
    content = tx.ContentChunks(meta)
    # The role chunk goes out with the first entries (the echo's first token
    # exists with the task): one write fewer per stream, the same bytes.
    head = tx.sse_chunk(meta, "", role=True)
    index = 0
    while entries := await task.entries_from(index):
        index += len(entries)
        body, end = _body(entries, content, fault)
        if head or body:
            yield head + body
            head = b""
        if end == "cut":
            raise StreamCut(f"emulated transport cut of {task.id}")
        if end == "error-in-stream":
            yield tx.sse_error("The upstream video service failed (emulated).", "server_error")
            return
        if end == "no-video":
            break  # the task has its video; only this stream never says so
    yield head + tx.sse_chunk(meta, stop=True) + tx.sse_done()


def _body(
    entries: list[Entry], content: tx.ContentChunks, fault: str | None
) -> tuple[bytes, str | None]:
    """One chunk per entry, joined into one write; and the fault that ends the
    stream there.
    """
    chunks: list[bytes] = []
    for entry in entries:
        if fault == "no-video" and entry.kind == "completed":
            return b"".join(chunks), fault
        chunks.append(content(entry.text))
        if entry.kind == "progress" and fault in ("cut", "error-in-stream"):
            return b"".join(chunks), fault
    return b"".join(chunks), None


def _is_cut(error: BaseException | None) -> bool:
    if isinstance(error, StreamCut):
        return True
    # an exception group, on any Python
    nested = getattr(error, "exceptions", None)
    return isinstance(nested, tuple) and bool(nested) and all(_is_cut(e) for e in nested)


class _QuietCuts(logging.Filter):
    """Keeps deliberate cuts out of uvicorn's error log; every other error still
    shows.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and _is_cut(record.exc_info[1]))


_FILTER = _QuietCuts()


def install_log_filter() -> None:
    """Attach the filter to uvicorn's error logger (idempotent)."""
    logging.getLogger("uvicorn.error").addFilter(_FILTER)
