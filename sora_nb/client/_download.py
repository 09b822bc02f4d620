"""Local copies of finished videos: streamed to disk, resumable, with progress.

Relay links expire, and a remote Jupyter server's browser cannot reach a local
emulator, so a finished video is copied beside the notebook, where JupyterLab
serves it (docs/notebook.md, "Frontend limits"). Bytes go to a ``.part`` file
named after the URL first; a broken transfer continues from there with an HTTP
``Range`` request, and only a whole file gets ``NAME``, or ``NAME-2``… when
``NAME`` is taken: an existing file is never reused nor overwritten, since
nothing says it is this video (docs/protocol.md, "Promises"). Every failure,
whatever httpx, anyio or the disk raise, is one ``SoraError``; a body over
``max_bytes`` is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from .._callback import call
from .._exceptions import APIConnectionError, APIError, APIStatusError, InvalidRequest, SoraError
from .._messages import t
from ..records._files import NOFOLLOW, claim_name, try_lock
from ..wire._limits import DeadlinePassed, detaching, exception_text, request_error, until

__all__ = ["DEFAULT_MAX_BYTES", "ProgressCallback", "download", "part_path"]

#: The default cap on one download (a sora-2-pro video is tens of MiB).
DEFAULT_MAX_BYTES = 2 * 2**30

#: Called with (bytes on disk, total or None); may be a coroutine function.
ProgressCallback = Callable[[int, int | None], object]

_TIMEOUT = httpx.Timeout(connect=15.0, read=120.0, write=60.0, pool=30.0)
_MAX_REDIRECTS = 20
_CONTENT_RANGE = re.compile(r"bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)", re.I)


class _Incomplete(Exception):
    """The server closed the body before the announced length (internal)."""


@detaching
async def download(
    url: str,
    dest: str | os.PathLike[str],
    *,
    http: httpx.AsyncClient | None = None,
    auth: httpx.Auth | None = None,
    on_progress: ProgressCallback | None = None,
    retries: int = 3,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    deadline: float | None = None,
) -> Path:
    """Stream ``url`` to ``dest`` (or ``dest-2``… when it exists) and return the
    path written.

    ``http`` is reused when given (its pool, its transport); ``auth`` should add
    credentials only for the hosts that need them, never for a CDN. A transfer
    that breaks is continued from its ``.part`` file, up to ``retries`` times. A
    body over ``max_bytes`` is refused, and a copy still running at ``deadline``
    (``time.monotonic()``) is given up, on the clock.
    """
    if _scheme(url) not in ("http", "https"):
        raise InvalidRequest(t("download.scheme", url=url[:80]))
    path = Path(dest)
    part, held = path, -1
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        part, held = _take_part(url, path)
        client = http or httpx.AsyncClient(timeout=_TIMEOUT)
        try:
            fetch = _with_retries(client, url, part, auth, on_progress, retries, max_bytes)
            await until(deadline, fetch)
        finally:
            if http is None:
                await client.aclose()
        _check_media(url, part)
        return claim_name(part, path)
    except SoraError:
        raise
    except DeadlinePassed:
        raise APIConnectionError(t("download.deadline", url=_short(url))) from None
    except OSError as exc:  # the disk: a full or unwritable folder
        raise InvalidRequest(t("download.disk", url=_short(url), path=path, detail=exc)) from None
    # httpx, anyio's ExceptionGroup, a bad port: one sentence each
    except Exception as exc:
        raise request_error(exc, t("download.what", url=_short(url))) from None
    finally:
        if held >= 0:
            # nothing to continue: no empty part left behind
            if os.fstat(held).st_size == 0:
                with contextlib.suppress(OSError):
                    os.unlink(part)
            # lets the next download of this URL continue the part
            os.close(held)


def _take_part(url: str, dest: Path) -> tuple[Path, int]:
    """The first ``.part`` of ``url`` no other download is writing, opened and
    locked: two downloads of one URL at once never share one (a symlink planted
    there is refused).
    """
    for n in range(1, 1000):
        part = part_path(url, dest, n)
        try:
            fd = os.open(part, os.O_RDWR | os.O_CREAT | NOFOLLOW, 0o600)
        except OSError as exc:
            # a symlink planted there: use another name
            if exc.errno == errno.ELOOP:
                continue
            raise
        if try_lock(fd):
            return part, fd
        os.close(fd)
    raise InvalidRequest(t("download.too_many", name=dest.name, folder=dest.parent))


def _scheme(url: str) -> str:
    try:
        return urlsplit(url).scheme
    except ValueError:  # "http://[::1/…": not a URL at all
        return ""


def part_path(url: str, dest: Path, n: int = 1) -> Path:
    """Where ``url``'s bytes collect: named after the URL, so only its own part
    is continued (``n``: the n-th download of it running at once).
    """
    digest = hashlib.sha256(url.encode()).hexdigest()[:12]
    return dest.with_name(f"{dest.name}.{digest}{'' if n == 1 else f'-{n}'}.part")


async def _with_retries(
    client: httpx.AsyncClient,
    url: str,
    part: Path,
    auth: httpx.Auth | None,
    on_progress: ProgressCallback | None,
    retries: int,
    max_bytes: int | None,
) -> None:
    for attempt in range(retries + 1):
        try:
            await _fetch(client, url, part, auth, on_progress, max_bytes)
            return
        except (httpx.TransportError, _Incomplete) as exc:
            if attempt == retries:
                raise APIConnectionError(
                    t("download.broken", url=_short(url), detail=exception_text(exc))
                ) from None
            await asyncio.sleep(min(4.0, 0.25 * 2**attempt))


async def _fetch(
    client: httpx.AsyncClient,
    url: str,
    part: Path,
    auth: httpx.Auth | None,
    on_progress: ProgressCallback | None,
    max_bytes: int | None,
) -> None:
    have = _size(part)
    # identity encoding: byte ranges must count the bytes we write, not
    # compressed ones.
    headers = {"Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    response = await _follow(client, url, headers, auth)
    try:
        _check_kind(url, response.headers.get("content-type", ""))
        have, total = _start(response, part, have)
        _check_size(url, part, total, max_bytes)
        if total is not None and have >= total:
            return
        await _copy(response, part, have, total, on_progress, max_bytes)
    finally:
        await response.aclose()


async def _follow(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], auth: httpx.Auth | None
) -> httpx.Response:
    """GET ``url``, following redirects hop by hop: ``auth`` decides afresh for
    each hop, so the key never follows a redirect to another origin (httpx keeps
    it on an upgrade from http to https, which is another origin: port 443).
    """
    for _ in range(_MAX_REDIRECTS):
        request = client.build_request("GET", url, headers=headers)
        response = await client.send(request, stream=True, auth=auth)
        if response.next_request is None:
            return response
        url = str(response.next_request.url)
        await response.aclose()
    raise httpx.TooManyRedirects(t("download.loop"), request=request)


#: Answers that are a document, not media: a login page, a JSON error.
_DOCUMENTS = {"text/html": "an HTML page", "application/json": "JSON", "text/plain": "text"}


def _check_kind(url: str, content_type: str) -> None:
    kind = content_type.split(";", 1)[0].strip().lower()
    what = _DOCUMENTS.get(kind) or ("XML" if kind.endswith(("/xml", "+xml")) else None)
    if what is not None and kind != "image/svg+xml":
        raise APIError(t("download.not_media", url=_short(url), what=what))


def _check_media(url: str, part: Path) -> None:
    """Refuse a body that reads as a document whatever its type said (``<``,
    ``{``, ``[``): no video or image format starts with those.
    """
    with part.open("rb") as body:
        start = body.read(512).lstrip()
    if start[:1] in (b"<", b"{", b"["):
        part.unlink(missing_ok=True)
        what = _DOCUMENTS["text/html" if start[:1] == b"<" else "application/json"]
        raise APIError(t("download.not_media", url=_short(url), what=what))


def _check_size(url: str, part: Path, size: int | None, max_bytes: int | None) -> None:
    if max_bytes is not None and size is not None and size > max_bytes:
        _restart(part)
        raise APIError(t("download.too_big", url=_short(url), mib=max_bytes / 2**20))


def _size(part: Path) -> int:
    return part.lstat().st_size


def _restart(part: Path) -> None:
    """Empty the part in place: its inode and lock stay this download's."""
    os.close(os.open(part, os.O_WRONLY | os.O_TRUNC | NOFOLLOW))


def _start(response: httpx.Response, part: Path, have: int) -> tuple[int, int | None]:
    """Where this response continues the part file; the full size if known."""
    status = response.status_code
    if status == 206:
        start, total = _content_range(response)
        if start != have:  # the server sent another range: start over
            _restart(part)
            raise _Incomplete(t("download.other_range"))
        return have, total
    if status == 416 and have:
        _, total = _content_range(response)
        if total == have:  # the part was already whole
            return have, total
        _restart(part)
        raise _Incomplete(t("download.part_changed"))
    if status == 200:
        length = response.headers.get("content-length")
        return 0, int(length) if length and length.isdigit() else None
    raise APIStatusError(
        t("download.status", url=_short(str(response.url)), status=status),
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
    max_bytes: int | None,
) -> None:
    # A 200 restarts the file; a 206 continues it.
    flags = os.O_WRONLY | NOFOLLOW | (os.O_APPEND if have else os.O_TRUNC)
    with os.fdopen(os.open(part, flags), "ab" if have else "wb") as out:
        await call(on_progress, have, total)
        async for block in response.aiter_bytes():
            out.write(block)
            have += len(block)
            # a length that lied, or none
            if max_bytes is not None and have > max_bytes:
                out.close()
                _check_size(str(response.url), part, have, max_bytes)
            await call(on_progress, have, total)
    if total is not None and have < total:
        raise _Incomplete(t("download.short", have=have, total=total))


def _short(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return url[:60]
    name = parts.path.rsplit("/", 1)[-1]
    return f"{parts.netloc}/…/{name}" if name else parts.netloc
