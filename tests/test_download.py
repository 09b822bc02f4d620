"""Local copies: streamed to a .part file, continued with Range, renamed only
when whole.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sora_nb import APIConnectionError, APIStatusError, InvalidRequest, SoraClient, _messages
from sora_nb.client._download import download, part_path
from sora_nb.emulator import serve_in_thread

from .scripted import Receive, Send, serve
from .words import english_words

pytestmark = pytest.mark.anyio

DATA = random.Random(4).randbytes(300_000)
BLOCK = 16_384
KEY = "sk-test-SECRET-download-0123456789"


class MediaServer:
    """Serves ``DATA`` at ``/clip.mp4`` with Range support, and can drop a
    transfer midway.
    """

    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []
        # for the next requests: drop the body after N bytes
        self.cuts: list[int] = []
        self.honour_range = True

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self.headers.append({k.decode(): v.decode() for k, v in scope["headers"]})
        if scope["path"] != "/clip.mp4":
            await _start(send, 404, [])
            await send({"type": "http.response.body", "body": b"not found"})
            return
        start = self._range_start()
        if start is not None and start >= len(DATA):
            await _start(send, 416, [("content-range", f"bytes */{len(DATA)}")])
            await send({"type": "http.response.body", "body": b""})
            return
        await self._send_from(send, start or 0, start is not None)

    def _range_start(self) -> int | None:
        match = re.fullmatch(r"bytes=(\d+)-", self.headers[-1].get("range", ""))
        return int(match.group(1)) if match and self.honour_range else None

    async def _send_from(self, send: Send, start: int, partial: bool) -> None:
        headers = [("content-length", str(len(DATA) - start)), ("content-type", "video/mp4")]
        if partial:
            headers.append(("content-range", f"bytes {start}-{len(DATA) - 1}/{len(DATA)}"))
        await _start(send, 206 if partial else 200, headers)
        cut = self.cuts.pop(0) if self.cuts else None
        for offset in range(start, len(DATA), BLOCK):
            if cut is not None and offset - start >= cut:
                # uvicorn drops the connection
                raise ConnectionAbortedError("scripted cut")
            block = DATA[offset : offset + BLOCK]
            await send({"type": "http.response.body", "body": block, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


async def _start(send: Send, status: int, headers: list[tuple[str, str]]) -> None:
    raw = [(k.encode(), v.encode()) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})


@pytest.fixture
def media() -> Iterator[tuple[MediaServer, str]]:
    app = MediaServer()
    for url in serve(app):
        yield app, url


class Progress:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int | None]] = []

    async def __call__(self, have: int, total: int | None) -> None:
        self.calls.append((have, total))


async def test_download_streams_to_disk_with_progress(
    media: tuple[MediaServer, str], tmp_path: Path
) -> None:
    _, url = media
    progress = Progress()
    path = await download(f"{url}/clip.mp4", tmp_path / "out" / "clip.mp4", on_progress=progress)
    assert path.read_bytes() == DATA
    assert [p.name for p in path.parent.iterdir()] == ["clip.mp4"]
    haves = [have for have, _ in progress.calls]
    assert len(haves) > 3 and haves == sorted(haves)
    assert progress.calls[0] == (0, len(DATA)) and progress.calls[-1] == (len(DATA), len(DATA))


async def test_download_continues_a_part_file_with_range(
    media: tuple[MediaServer, str], tmp_path: Path
) -> None:
    app, url = media
    part_path(f"{url}/clip.mp4", tmp_path / "clip.mp4").write_bytes(DATA[:100_000])
    progress = Progress()
    path = await download(f"{url}/clip.mp4", tmp_path / "clip.mp4", on_progress=progress)
    assert path.read_bytes() == DATA
    assert app.headers[0]["range"] == "bytes=100000-"
    assert app.headers[0]["accept-encoding"] == "identity"
    assert progress.calls[0] == (100_000, len(DATA))


async def test_a_broken_transfer_continues_where_it_broke(
    media: tuple[MediaServer, str], tmp_path: Path
) -> None:
    app, url = media
    app.cuts = [5 * BLOCK]
    async with httpx.AsyncClient() as http:
        path = await download(f"{url}/clip.mp4", tmp_path / "clip.mp4", http=http)
        assert not http.is_closed  # a client passed in is the caller's to close
    assert path.read_bytes() == DATA
    assert len(app.headers) == 2 and "range" not in app.headers[0]
    resumed_at = int(app.headers[1]["range"].removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at < len(DATA)


async def test_a_server_ignoring_range_restarts_the_file(
    media: tuple[MediaServer, str], tmp_path: Path
) -> None:
    app, url = media
    app.honour_range = False
    part = part_path(f"{url}/clip.mp4", tmp_path / "clip.mp4")
    part.write_bytes(b"stale bytes from another file")
    path = await download(f"{url}/clip.mp4", tmp_path / "clip.mp4")
    assert path.read_bytes() == DATA


async def test_a_whole_part_file_is_finished_without_a_body(
    media: tuple[MediaServer, str], tmp_path: Path
) -> None:
    app, url = media
    part_path(f"{url}/clip.mp4", tmp_path / "clip.mp4").write_bytes(DATA)
    path = await download(f"{url}/clip.mp4", tmp_path / "clip.mp4")
    assert path.read_bytes() == DATA and len(app.headers) == 1


async def test_a_transfer_that_keeps_breaking_keeps_its_part(
    media: tuple[MediaServer, str], tmp_path: Path
) -> None:
    app, url = media
    app.cuts = [2 * BLOCK, 2 * BLOCK]
    with pytest.raises(APIConnectionError, match="continue from the part"):
        await download(f"{url}/clip.mp4", tmp_path / "clip.mp4", retries=1)
    part = part_path(f"{url}/clip.mp4", tmp_path / "clip.mp4")
    assert not (tmp_path / "clip.mp4").exists()
    assert 0 < part.stat().st_size < len(DATA) and DATA.startswith(part.read_bytes())
    path = await download(f"{url}/clip.mp4", tmp_path / "clip.mp4")
    assert path.read_bytes() == DATA


async def test_an_error_status_raises_and_leaves_no_file(
    media: tuple[MediaServer, str], tmp_path: Path
) -> None:
    _, url = media
    with pytest.raises(APIStatusError, match="404") as caught:
        await download(f"{url}/expired.mp4", tmp_path / "clip.mp4")
    assert caught.value.status_code == 404
    assert list(tmp_path.iterdir()) == []


async def test_an_existing_file_is_never_reused_nor_overwritten(
    media: tuple[MediaServer, str], tmp_path: Path
) -> None:
    _, url = media
    (tmp_path / "clip.mp4").write_bytes(b"another video")
    path = await download(f"{url}/clip.mp4", tmp_path / "clip.mp4")
    again = await download(f"{url}/clip.mp4", tmp_path / "clip.mp4")
    assert (path.name, again.name) == ("clip-2.mp4", "clip-3.mp4")
    assert path.read_bytes() == again.read_bytes() == DATA
    assert (tmp_path / "clip.mp4").read_bytes() == b"another video"


async def test_another_urls_part_file_is_not_continued(
    media: tuple[MediaServer, str], tmp_path: Path
) -> None:
    app, url = media
    part_path(f"{url}/other.mp4", tmp_path / "clip.mp4").write_bytes(b"another video's start")
    path = await download(f"{url}/clip.mp4", tmp_path / "clip.mp4")
    assert path.read_bytes() == DATA and "range" not in app.headers[0]


@pytest.mark.parametrize("url", ["javascript:alert(1)", "file:///etc/passwd", "clip.mp4"])
async def test_only_http_urls_are_fetched(url: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest):
        await download(url, tmp_path / "clip.mp4")


async def test_the_key_goes_to_the_relay_origin_only(
    media: tuple[MediaServer, str], tmp_path: Path
) -> None:
    app, url = media
    other_origin = url.replace("127.0.0.1", "localhost")
    async with SoraClient(base_url=url, api_key=KEY) as client:
        http, auth = client._client(), client._auth
        await download(f"{other_origin}/clip.mp4", tmp_path / "a.mp4", http=http, auth=auth)
        await download(f"{url}/clip.mp4", tmp_path / "b.mp4", http=http, auth=auth)
    assert "authorization" not in app.headers[0]
    assert app.headers[1]["authorization"] == f"Bearer {KEY}"


async def test_an_emulator_video_resumes_with_range(tmp_path: Path) -> None:
    with serve_in_thread(speed=50) as server:
        async with SoraClient(base_url=server.url, api_key=KEY) as client:
            video = await client.generate("a cow and a horse dancing")
            whole = (await client._client().get(video.video_url)).content
            part_path(video.video_url, tmp_path / "v.mp4").write_bytes(whole[: len(whole) // 2])
            progress = Progress()
            path = await download(
                video.video_url, tmp_path / "v.mp4", http=client._client(), on_progress=progress
            )
    assert path.read_bytes() == whole and whole[4:8] == b"ftyp"
    assert progress.calls[0] == (len(whole) // 2, len(whole))


@pytest.fixture
def chinese() -> Iterator[None]:
    _messages.set_language("zh")
    yield
    _messages.set_language("auto")


async def test_a_download_failure_speaks_chinese(
    chinese: None, media: tuple[MediaServer, str], tmp_path: Path
) -> None:
    app, url = media
    app.cuts = [2 * BLOCK, 2 * BLOCK]
    failures = []
    for target, retries in ((f"{url}/clip.mp4", 1), (f"{url}/expired.mp4", 3), ("file:///x", 3)):
        with pytest.raises((APIConnectionError, APIStatusError, InvalidRequest)) as caught:
            await download(target, tmp_path / "clip.mp4", retries=retries)
        failures.append(str(caught.value))
    assert "下载多次中断" in failures[0] and "链接可能已过期" in failures[1]
    # What stays Latin: the user's URL and httpx's account of the break.
    ours = [re.sub(r"'[^']*'|（[^）]*）", " ", text) for text in failures]
    assert [english_words(text) for text in ours] == [[], [], []], failures
