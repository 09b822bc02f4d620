"""Local copies of finished videos: streamed to disk, resumable, with progress.

Relay links expire, and a remote Jupyter server's browser cannot reach a local emulator, so a
finished video is copied beside the notebook, where JupyterLab serves it (docs/notebook.md,
"Frontend limits"). Bytes go to ``NAME.part`` first; a broken transfer continues from there
with an HTTP ``Range`` request, and only a whole file is renamed to ``NAME``.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from ._callback import call
from ._exceptions import APIConnectionError, APIStatusError, InvalidRequest

__all__ = ["ProgressCallback", "download"]

#: Called with (bytes on disk, total bytes or None); may be a coroutine function.
ProgressCallback = Callable[[int, int | None], object]

_TIMEOUT = httpx.Timeout(connect=15.0, read=120.0, write=60.0, pool=30.0)
_CONTENT_RANGE = re.compile(r"bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)", re.I)


class _Incomplete(Exception):
    """The server closed the body before the announced length (internal)."""


async def download(
    url: str,
    dest: str | os.PathLike[str],
    *,
    http: httpx.AsyncClient | None = None,
    auth: httpx.Auth | None = None,
    on_progress: ProgressCallback | None = None,
    retries: int = 3,
) -> Path:
    """Stream ``url`` to ``dest`` and return its path; an existing ``dest`` is kept as is.

    ``http`` is reused when given (its pool, its transport); ``auth`` should add credentials
    only for the hosts that need them, never for a CDN. A transfer that breaks is continued
    from its ``.part`` file, up to ``retries`` times.
    """
    if urlsplit(url).scheme not in ("http", "https"):
        raise InvalidRequest(f"Cannot download {url[:80]!r}: only http(s) URLs are fetched.")
    path = Path(dest)
    if _prepare(path):
        return path
    part = path.with_name(path.name + ".part")
    client = http or httpx.AsyncClient(timeout=_TIMEOUT)
    try:
        await _with_retries(client, url, part, auth, on_progress, retries)
    finally:
        if http is None:
            await client.aclose()
    os.replace(part, path)
    return path


async def _with_retries(
    client: httpx.AsyncClient,
    url: str,
    part: Path,
    auth: httpx.Auth | None,
    on_progress: ProgressCallback | None,
    retries: int,
) -> None:
    for attempt in range(retries + 1):
        try:
            await _fetch(client, url, part, auth, on_progress)
            return
        except (httpx.TransportError, _Incomplete) as exc:
            if attempt == retries:
                raise APIConnectionError(
                    f"The download of {_short(url)} kept breaking ({exc or type(exc).__name__}); "
                    "run it again to continue from the part already saved."
                ) from None
            await asyncio.sleep(min(4.0, 0.25 * 2**attempt))


async def _fetch(
    client: httpx.AsyncClient,
    url: str,
    part: Path,
    auth: httpx.Auth | None,
    on_progress: ProgressCallback | None,
) -> None:
    have = _size(part)
    # identity encoding: byte ranges must count the bytes we write, not compressed ones.
    headers = {"Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = client.build_request("GET", url, headers=headers)
    response = await client.send(request, stream=True, auth=auth, follow_redirects=True)
    try:
        have, total = _start(response, part, have)
        if total is not None and have >= total:
            return
        await _copy(response, part, have, total, on_progress)
    finally:
        await response.aclose()


def _prepare(path: Path) -> bool:
    """Make the folder; True when the file is already there (copies are renamed whole)."""
    if path.is_file():
        return True
    path.parent.mkdir(parents=True, exist_ok=True)
    return False


def _size(part: Path) -> int:
    return part.stat().st_size if part.is_file() else 0


def _start(response: httpx.Response, part: Path, have: int) -> tuple[int, int | None]:
    """Where this response continues the part file, and the whole file's size if known."""
    status = response.status_code
    if status == 206:
        start, total = _content_range(response)
        if start != have:  # the server sent another range: start over
            part.unlink(missing_ok=True)
            raise _Incomplete("the server answered a different byte range")
        return have, total
    if status == 416 and have:
        _, total = _content_range(response)
        if total == have:  # the part was already whole
            return have, total
        part.unlink(missing_ok=True)
        raise _Incomplete("the saved part no longer matches the file")
    if status == 200:
        length = response.headers.get("content-length")
        return 0, int(length) if length and length.isdigit() else None
    raise APIStatusError(
        f"The download of {_short(str(response.url))} answered {status}; "
        "the link may have expired.",
        status_code=status,
    )


def _content_range(response: httpx.Response) -> tuple[int | None, int | None]:
    match = _CONTENT_RANGE.match(response.headers.get("content-range", ""))
    if match is None:
        return None, None
    start, _, total = match.groups()
    return (int(start) if start else None), (int(total) if total and total != "*" else None)


async def _copy(
    response: httpx.Response,
    part: Path,
    have: int,
    total: int | None,
    on_progress: ProgressCallback | None,
) -> None:
    # A 200 restarts the file; a 206 continues it.
    with part.open("ab" if have else "wb") as out:
        await call(on_progress, have, total)
        async for block in response.aiter_bytes():
            out.write(block)
            have += len(block)
            await call(on_progress, have, total)
    if total is not None and have < total:
        raise _Incomplete(f"{have} of {total} bytes arrived")


def _short(url: str) -> str:
    parts = urlsplit(url)
    name = parts.path.rsplit("/", 1)[-1]
    return f"{parts.netloc}/…/{name}" if name else parts.netloc
