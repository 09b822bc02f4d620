"""The Videos task API path keeps the same promises as the chat path against a
hostile relay: the key never comes back in a failure, a careless progress never
raises, and the deadline holds on the clock while a status answer trickles
(docs/protocol.md, "Promises").
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

import sora_nb

from .hostile import escaped
from .scripted import Receive, Send, serve

pytestmark = pytest.mark.anyio

KEY = "sk-hostile-videos-0123456789"


class VideosRelay:
    """``POST /v1/videos`` makes task_1; each ``GET`` of it answers the next
    status.
    """

    def __init__(self, statuses: list[Any], trickle: bool = False, task_id: str = "task_1") -> None:
        self.statuses = statuses
        self.trickle = trickle
        self.task_id = task_id
        self.polls = 0

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        bearer = dict(scope["headers"]).get(b"authorization", b"").decode()
        if scope["method"] == "POST":
            await self._json(send, {"id": self.task_id, "status": "queued", "progress": 0})
        # headers, then a body that never ends while the client listens
        elif self.trickle:
            # the (empty) request body; the next message is the disconnect
            await receive()
            gone = asyncio.ensure_future(receive())
            start = {"type": "http.response.start", "status": 200}
            await send({**start, "headers": [(b"content-type", b"application/json")]})
            while not gone.done():
                await send({"type": "http.response.body", "body": b" ", "more_body": True})
                await asyncio.sleep(0.05)
        else:
            self.polls += 1
            status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
            text = json.dumps(status).replace("{bearer}", bearer)
            key = bearer.removeprefix("Bearer ")
            await self._raw(send, text.replace("{bearer_json}", escaped(key)).encode())

    @staticmethod
    async def _json(send: Send, obj: Any) -> None:
        await VideosRelay._raw(send, json.dumps(obj).encode())

    @staticmethod
    async def _raw(send: Send, body: bytes) -> None:
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
def serve_videos() -> Iterator[Any]:
    stops: list[Iterator[str]] = []

    def start(app: VideosRelay) -> str:
        urls = serve(app)
        stops.append(urls)
        return next(urls)

    yield start
    for urls in stops:
        for _ in urls:
            pass


def client(url: str, **kwargs: Any) -> sora_nb.SoraClient:
    return sora_nb.SoraClient(url, KEY, dialect="videos", poll_interval=0.01, **kwargs)


async def test_videos_failure_never_carries_the_key(serve_videos: Any) -> None:
    failed = {"status": "failed", "error": {"message": "refused for {bearer}"}}
    url = serve_videos(VideosRelay([{"status": "in_progress", "progress": 10}, failed]))
    async with client(url) as relay:
        with pytest.raises(sora_nb.GenerationFailed) as info:
            await relay.generate("a cow")
    assert "refused for" in str(info.value)
    assert KEY not in str(info.value) and KEY not in repr(info.value)


async def test_videos_error_message_never_carries_the_key_escaped(serve_videos: Any) -> None:
    failed = {"status": "failed", "error": {"message": "refused for {bearer_json}"}}
    url = serve_videos(VideosRelay([failed]))
    async with client(url) as relay:
        with pytest.raises(sora_nb.GenerationFailed) as info:
            await relay.generate("a cow")
    assert KEY not in str(info.value) and "refused for sk-…6789" in str(info.value)


async def test_videos_careless_progress_is_no_percentage(serve_videos: Any) -> None:
    statuses = [
        {"status": "in_progress", "progress": float("inf")},
        {"status": "in_progress", "progress": float("nan")},
        {"status": "in_progress", "progress": 40},
        {"status": "completed", "progress": 100},
    ]
    url = serve_videos(VideosRelay(statuses))
    seen: list[int] = []

    def on_event(event: Any) -> None:
        if event.type == "progress":
            seen.append(event.percent)

    async with client(url) as relay:
        video = await relay.generate("a cow", on_event=on_event)
    assert video.video_url.endswith("/v1/videos/task_1/content")
    assert seen == [40]


# Without the deadline on the clock the poll would wait for the endless body
# until the read timeout (minutes); pytest-timeout fails long before.
@pytest.mark.timeout(60)
async def test_videos_deadline_holds_while_a_status_trickles(serve_videos: Any) -> None:
    url = serve_videos(VideosRelay([], trickle=True))
    async with client(url, deadline=1.0) as relay:
        with pytest.raises(sora_nb.StreamInterrupted) as info:
            await relay.generate("a cow")
    assert info.value.task_id == "task_1"  # kept, so it can be resumed later


@pytest.mark.parametrize("word", ["error", "FAILED", "cancelled", "canceled"])
async def test_videos_an_ended_task_ends_the_wait_at_once(serve_videos: Any, word: str) -> None:
    app = VideosRelay([{"status": word, "error": {"message": "the model gave up"}}])
    url = serve_videos(app)
    async with client(url, deadline=30.0) as relay:
        with pytest.raises(sora_nb.GenerationFailed, match="the model gave up") as info:
            await relay.generate("a cow")
    # not polled to the deadline
    assert info.value.task_id == "task_1" and app.polls == 1


async def test_videos_a_task_id_no_url_can_carry_is_one_sentence(serve_videos: Any) -> None:
    url = serve_videos(VideosRelay([{"status": "completed"}], task_id="task_1\nHost: evil"))
    async with client(url) as relay:
        with pytest.raises(sora_nb.SoraError) as info:
            await relay.generate("a cow")
    assert "\n" not in str(info.value) and "no URL can carry" in str(info.value)
