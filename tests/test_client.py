"""SoraClient against a scripted relay on a real loopback port."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sora_nb import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    CompletedEvent,
    GenerationFailed,
    InvalidRequest,
    JobEvent,
    RateLimitError,
    SoraClient,
    StreamInterrupted,
    TaskEvent,
    Video,
)

from .conftest import SEED
from .scripted import ScriptedRelay, Step, free_port, json_script, serve, sse_script

pytestmark = pytest.mark.anyio

FIRST = (SEED / "first_turn.content.md").read_text(encoding="utf-8")
EDIT = (SEED / "edit_stream.content.md").read_text(encoding="utf-8")
TASK = "task_01k7dzptgwf2z87wj2c3t36qk0"
KEY = "sk-test-SECRET-0123456789"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def relay() -> Iterator[tuple[ScriptedRelay, str]]:
    app = ScriptedRelay()
    for url in serve(app):
        yield app, url


def client_for(url: str, **kwargs: object) -> SoraClient:
    kwargs.setdefault("api_key", KEY)
    kwargs.setdefault("poll_interval", 0.05)
    return SoraClient(url, **kwargs)  # type: ignore[arg-type]


def with_local_source(text: str, url: str) -> str:
    return text.replace("https://asyncdata.net", url)


async def test_generate_returns_the_video_and_reports_every_event(relay) -> None:
    app, url = relay
    app.scripts.append(sse_script(FIRST, piece=3))
    seen: list[Any] = []
    async with client_for(url) as client:
        video = await client.generate("生成一段高清的，牛马跳舞的视频", on_event=seen.append)
    assert isinstance(video, Video)
    assert video.task_id == TASK
    assert video.sid == "s_68ec8accd80c8191ae1fc957af78caaa"
    assert video.video_url.endswith("5781a601c5ce5e216e914fef119c99.mp4")
    assert video.thumbnail_url and video.thumbnail_url.endswith(".webp")
    assert video.source_url == f"https://asyncdata.net/source/{TASK}"
    assert video.transcript == FIRST
    assert video.orientation == "portrait"
    assert video.messages == [{"role": "user", "content": "生成一段高清的，牛马跳舞的视频"}]
    assert [e.type for e in seen] == [
        "job",
        "echo",
        "task",
        "status",
        "status",
        "progress",
        "completed",
    ]
    assert app.requests[0] == {"model": "sora-2", "stream": True, "messages": video.messages}
    assert app.headers[0]["authorization"] == f"Bearer {KEY}"


async def test_image_url_request_equals_the_seed(relay) -> None:
    app, url = relay
    app.scripts.append(sse_script(FIRST))
    seed = json.loads((SEED / "image_request.json").read_text(encoding="utf-8"))
    image = seed["messages"][0]["content"][1]["image_url"]["url"]
    async with client_for(url) as client:
        await client.generate("一只狗在图片出场景中跑步", image=image)
    assert app.requests[0] == seed


@pytest.mark.parametrize("kind", ["path", "bytes"])
async def test_local_image_becomes_a_data_url(relay, tmp_path: Path, kind: str) -> None:
    app, url = relay
    app.scripts.append(sse_script(FIRST))
    path = tmp_path / "dog.png"
    path.write_bytes(PNG)
    async with client_for(url) as client:
        await client.generate("a dog", image=path if kind == "path" else PNG)
    content = app.requests[0]["messages"][0]["content"]
    assert content[0] == {"type": "text", "text": "a dog"}
    assert content[1]["image_url"]["url"].startswith("data:image/png;base64,iVBORw0KGgo")


@pytest.mark.parametrize(
    ("orientation", "text"),
    [("portrait", "a cat 竖屏"), ("16:9", "a cat 横屏"), ("landscape", "a cat 横屏")],
)
async def test_orientation_words_are_appended(relay, orientation: str, text: str) -> None:
    app, url = relay
    app.scripts.append(sse_script(FIRST))
    async with client_for(url) as client:
        await client.generate("a cat", orientation=orientation)
    assert app.requests[0]["messages"][0]["content"] == text


async def test_edit_sends_the_branch_as_the_seed_shows(relay) -> None:
    app, url = relay
    app.scripts += [sse_script(FIRST), sse_script(EDIT)]
    async with client_for(url) as client:
        first = await client.generate("生成一段高清的，牛马跳舞的视频")
        edited = await client.edit(first, "让牛的头上顶着光圈，马的脚下踩着祥云")
    seed = json.loads((SEED / "edit_request.json").read_text(encoding="utf-8"))
    assert app.requests[1] == seed
    assert edited.parent is first
    assert edited.sid == "s_68eca3f141808191b1fd30fea1b731bd"


async def test_non_streamed_completion(relay) -> None:
    app, url = relay
    completion = {"choices": [{"index": 0, "message": {"role": "assistant", "content": FIRST}}]}
    app.scripts.append(json_script(200, completion))
    async with client_for(url) as client:
        events = [e async for e in client.stream([{"role": "user", "content": "x"}], stream=False)]
    assert app.requests[0]["stream"] is False
    assert [e.type for e in events][-1] == "completed"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("> ❌ 生成失败: 内容违反使用政策", "内容违反使用政策"),
        ('> 生成失败，错误原因如下\n```json\n{"reason": "policy"}\n```', "policy"),
        ("Generation failed\nFailure reason: nsfw", "nsfw"),
    ],
)
async def test_relay_failure_raises_generation_failed(relay, line: str, reason: str) -> None:
    app, url = relay
    head = FIRST[: FIRST.index("> 生成中")]
    app.scripts.append(sse_script(head + line + "\n"))
    async with client_for(url) as client:
        with pytest.raises(GenerationFailed) as info:
            await client.generate("x")
    assert (info.value.reason, info.value.task_id) == (reason, TASK)


async def test_in_stream_error_object(relay) -> None:
    app, url = relay
    script = sse_script(FIRST[:200], done=False)
    script.steps.append(Step(b'data: {"error": {"message": "upstream overloaded"}}\n\n'))
    app.scripts.append(script)
    async with client_for(url) as client:
        with pytest.raises(GenerationFailed, match="upstream overloaded"):
            await client.generate("x")


@pytest.mark.parametrize(
    ("status", "error", "body"),
    [
        (401, AuthenticationError, {"error": {"message": "Invalid token", "type": "auth"}}),
        (403, AuthenticationError, {"error": {"message": "forbidden"}}),
        (400, APIStatusError, {"error": {"message": "model not found"}}),
        (404, APIStatusError, b"<html><title>Not Found</title></html>"),
    ],
)
async def test_status_codes_raise_without_retrying(relay, status, error, body) -> None:
    app, url = relay
    app.scripts.append(json_script(status, body))
    async with client_for(url) as client:
        with pytest.raises(error) as info:
            await client.generate("x")
    assert info.value.status_code == status
    assert len(app.requests) == 1
    message = body["error"]["message"] if isinstance(body, dict) else "Not Found"
    assert message in str(info.value)


async def test_429_honours_retry_after_then_succeeds(relay) -> None:
    app, url = relay
    app.scripts += [
        json_script(429, {"error": {"message": "slow down"}}, {"retry-after": "0.2"}),
        sse_script(FIRST),
    ]
    loop = asyncio.get_running_loop()
    async with client_for(url) as client:
        started = loop.time()
        video = await client.generate("x")
    assert video.task_id == TASK
    assert len(app.requests) == 2
    # the server asked for 0.2 s, and was obeyed
    assert loop.time() - started >= 0.2


async def test_429_waits_past_the_retries_until_the_deadline(relay) -> None:
    # A 429 started nothing, so it is no retry: it waits until the deadline.
    app, url = relay
    too_many = {"error": {"message": "slow down"}}
    app.scripts += [json_script(429, too_many, {"retry-after": "0.1"}) for _ in range(30)]
    async with client_for(url, max_retries=1, deadline=1.0) as client:
        with pytest.raises(RateLimitError, match=r"slow down.*never accepted"):
            await client.generate("x")
    assert 3 <= len(app.requests) <= 11


async def test_5xx_is_retried_with_backoff(relay) -> None:
    app, url = relay
    html = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    app.scripts += [json_script(502, html), json_script(503, html), sse_script(FIRST)]
    async with client_for(url, max_retries=2) as client:
        assert (await client.generate("x")).task_id == TASK


async def test_5xx_after_the_retries(relay) -> None:
    app, url = relay
    html = b"<html><head><title>500 Internal Server Error</title></head></html>"
    app.scripts += [json_script(500, html) for _ in range(2)]
    async with client_for(url, max_retries=1) as client:
        with pytest.raises(APIStatusError, match="500 Internal Server Error") as info:
            await client.generate("x")
    assert info.value.status_code == 500


async def test_connection_refused() -> None:
    async with client_for(f"http://127.0.0.1:{free_port()}", max_retries=1) as client:
        with pytest.raises(APIConnectionError, match="Could not connect"):
            await client.generate("x")


def partial(text: str, until: str) -> str:
    return text[: text.index(until)]


async def test_cut_after_task_id_is_resumed_from_the_source_url(relay) -> None:
    app, url = relay
    first = with_local_source(FIRST, url)
    script = sse_script(partial(first, ">🏃‍"), done=False)
    script.cut = True
    app.scripts.append(script)
    mp4, webp = f"{url}/files/v.mp4", f"{url}/files/t.webp"
    app.sources += [
        {"status": "running", "progress": 50},
        {"status": "completed", "progress": 100, "url": mp4, "thumbnail_url": webp, "sid": "s_1"},
    ]
    seen: list[object] = []
    async with client_for(url) as client:
        video = await client.generate("x", on_event=seen.append)
    assert (video.video_url, video.thumbnail_url, video.sid) == (mp4, webp, "s_1")
    assert JobEvent("resuming", detail=seen[-4].detail) in seen  # type: ignore[attr-defined]
    assert seen[-1] == CompletedEvent("s_1", webp, mp4)
    assert video.transcript.startswith(partial(first, ">🏃‍"))
    assert "> sid: s_1" in video.transcript  # the next edit can find it
    # same origin as the relay
    assert app.headers[-1]["authorization"] == f"Bearer {KEY}"


async def test_stream_ending_without_video_is_resumed(relay) -> None:
    app, url = relay
    app.scripts.append(sse_script(partial(with_local_source(FIRST, url), "> 生成完成")))
    app.sources.append({"status": "completed", "url": "https://cdn.test/v.mp4", "sid": "s_2"})
    async with client_for(url) as client:
        video = await client.generate("x")
    assert (video.video_url, video.sid) == ("https://cdn.test/v.mp4", "s_2")


async def test_resume_that_fails_raises_generation_failed(relay) -> None:
    app, url = relay
    app.scripts.append(sse_script(partial(with_local_source(FIRST, url), "> 生成完成")))
    app.sources.append({"status": "failed", "failure_reason": "moderation"})
    async with client_for(url) as client:
        with pytest.raises(GenerationFailed, match="moderation") as info:
            await client.generate("x")
    assert info.value.task_id == TASK


async def test_resume_gives_up_at_the_deadline(relay) -> None:
    app, url = relay
    app.scripts.append(sse_script(partial(with_local_source(FIRST, url), "> 生成完成")))
    app.sources.append({"status": "running", "progress": 10})
    async with client_for(url, deadline=1.0) as client:
        with pytest.raises(StreamInterrupted) as info:
            await client.generate("x")
    assert info.value.task_id == TASK
    assert info.value.source_url == f"{url}/source/{TASK}"
    # all resume() needs, partial transcript included
    pending = info.value.pending
    assert pending is not None and pending.transcript.startswith("```json")
    assert pending.prompt == "x" and pending.messages == [{"role": "user", "content": "x"}]


async def test_cut_before_the_task_is_a_connection_error(relay) -> None:
    app, url = relay
    script = sse_script(FIRST[:40], done=False)
    script.cut = True
    app.scripts.append(script)
    async with client_for(url) as client:
        with pytest.raises(APIConnectionError, match="before a task was created"):
            await client.generate("x")


async def test_stream_with_no_task_and_no_video(relay) -> None:
    app, url = relay
    app.scripts.append(sse_script("**thinking**\n"))
    async with client_for(url) as client:
        with pytest.raises(GenerationFailed, match="no video"):
            await client.generate("x")


async def test_slow_stream_with_silent_gaps(relay) -> None:
    app, url = relay
    script = sse_script(FIRST, piece=60)
    # silence between progress lines
    script.steps[3].delay = script.steps[6].delay = 0.7
    app.scripts.append(script)
    async with client_for(url, timeout=httpx.Timeout(5.0, read=3.0)) as client:
        assert (await client.generate("x")).sid == "s_68ec8accd80c8191ae1fc957af78caaa"


async def test_gap_longer_than_the_read_timeout_is_resumed(relay) -> None:
    app, url = relay
    script = sse_script(with_local_source(FIRST, url), piece=60)
    script.steps[5].delay = 2.0
    app.scripts.append(script)
    app.sources.append({"status": "completed", "url": "https://cdn.test/v.mp4", "sid": "s_3"})
    async with client_for(url, timeout=httpx.Timeout(5.0, read=0.3)) as client:
        assert (await client.generate("x")).sid == "s_3"


async def test_cancelling_closes_the_connection_at_once(relay) -> None:
    app, url = relay
    script = sse_script(FIRST, piece=20, delay=0.3)
    app.scripts.append(script)
    got_task = asyncio.Event()

    def on_event(event: object) -> None:
        if isinstance(event, TaskEvent):
            got_task.set()

    async with client_for(url) as client:
        job = asyncio.ensure_future(client.generate("x", on_event=on_event))
        await asyncio.wait_for(got_task.wait(), 10)
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
        # The server sees the disconnect while it still had most of the stream
        # to send.
        assert await asyncio.to_thread(app.disconnected.wait, 5)


async def test_stream_raises_stream_interrupted_with_the_task(relay) -> None:
    app, url = relay
    script = sse_script(partial(FIRST, ">🏃‍"), done=False)
    script.cut = True
    app.scripts.append(script)
    async with client_for(url) as client:
        with pytest.raises(StreamInterrupted) as info:
            async for _ in client.stream([{"role": "user", "content": "x"}]):
                pass
    assert (info.value.task_id, info.value.source_url) == (
        TASK,
        f"https://asyncdata.net/source/{TASK}",
    )


@pytest.mark.parametrize("form", ["id", "url"])
async def test_resume_by_task_id_or_source_url(relay, form: str) -> None:
    app, url = relay
    done = {"status": "completed", "url": "https://cdn.test/v.mp4", "sid": "s_4"}
    app.sources.append({**done, "prompt": "a cow", "model": "sora-2-pro"})
    async with client_for(url) as client:
        video = await client.resume(TASK if form == "id" else f"{url}/source/{TASK}")
    assert (video.task_id, video.sid) == (TASK, "s_4")
    assert (video.prompt, video.model) == ("a cow", "sora-2-pro")


async def test_key_is_not_sent_to_another_origin(relay) -> None:
    app, url = relay
    other = url.replace("127.0.0.1", "localhost")
    app.sources.append({"status": "completed", "url": "https://cdn.test/v.mp4"})
    async with client_for(url) as client:
        await client.resume(f"{other}/source/{TASK}")
    assert "authorization" not in app.headers[-1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prompt": "  "}, "prompt is empty"),
        ({"model": "sora 3"}, "has spaces"),
        ({"orientation": "square"}, "Unknown orientation 'square'"),
        ({"image": "/nonexistent/cat.png"}, "No image file"),
        ({"image": b"GIF-not-really"}, "not a PNG, JPEG, WebP or GIF"),
        ({"image": b"\x89PNG\r\n\x1a\n" + b"0" * (10 * 2**20)}, "limited to 10 MiB"),
        ({"image": "data:text/html;base64,PGI+"}, "not a base64 PNG"),
    ],
)
async def test_bad_input_is_refused_before_sending(relay, kwargs, message) -> None:
    app, url = relay
    args = {"prompt": "a cow", **kwargs}
    async with client_for(url) as client:
        with pytest.raises(InvalidRequest, match=message) as info:
            await client.generate(args.pop("prompt"), **args)
    assert app.requests == []
    assert str(info.value).count(".") >= 1 and "\n" not in str(info.value)


async def test_non_image_file_is_refused(relay, tmp_path: Path) -> None:
    app, url = relay
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    async with client_for(url) as client:
        with pytest.raises(InvalidRequest, match=r"'notes\.txt' is not a PNG"):
            await client.generate("x", image=path)
    assert app.requests == []


async def test_the_key_never_appears_in_reprs_errors_or_logs(relay, caplog) -> None:
    app, url = relay
    caplog.set_level(logging.DEBUG)
    app.scripts += [json_script(401, {"error": {"message": "bad key"}}), sse_script(FIRST)]
    client = client_for(url)
    texts = [repr(client)]
    with pytest.raises(AuthenticationError) as info:
        await client.generate("x")
    texts += [str(info.value), repr(info.value)]
    video = await client.generate("x")
    texts += [repr(video), json.dumps(video.messages)]
    await client.aclose()
    texts += [record.getMessage() for record in caplog.records]
    texts.append(caplog.text)
    assert caplog.records  # httpx logged the requests
    assert not [t for t in texts if KEY in t]
    assert "***" in texts[0]


async def test_injected_transport_and_http_client() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": {"message": "nope"}})

    transport = httpx.MockTransport(handler)
    async with SoraClient("http://relay.test", api_key=KEY, transport=transport) as client:
        with pytest.raises(AuthenticationError):
            await client.generate("x")
    async with httpx.AsyncClient(transport=transport) as http:
        client = SoraClient("http://relay.test", api_key=KEY, http_client=http)
        with pytest.raises(AuthenticationError):
            await client.generate("x")
        await client.aclose()
        assert not http.is_closed  # an injected client belongs to the caller


def test_base_url_and_key_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("SORA_BASE_URL", "https://relay.example/")
    monkeypatch.setenv("SORA_API_KEY", KEY)
    client = SoraClient()
    assert client.base_url == "https://relay.example"
    assert client.has_api_key and not client.uses_emulator
    assert KEY not in repr(client)


async def test_a_real_relay_without_a_key_is_refused_before_sending(relay) -> None:
    app, url = relay
    async with SoraClient(url) as client:
        with pytest.raises(InvalidRequest, match="No API key: set SORA_API_KEY"):
            await client.generate("a cow")
    assert app.requests == []


def test_bad_base_url() -> None:
    with pytest.raises(InvalidRequest, match="not an http"):
        SoraClient("ftp://relay.example")


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("soon", id="word"),
        pytest.param("\x01garbage, 99 Foo 2026 ::", id="garbage"),
        pytest.param("Wed, 21 Oct 2015 07:28:00 GMT", id="past-date"),
        pytest.param("-3", id="negative"),
        pytest.param("nan", id="nan"),
    ],
)
async def test_a_malformed_retry_after_falls_back_to_the_backoff(relay, value: str) -> None:
    app, url = relay
    app.scripts += [json_script(429, {"error": {"message": "slow"}}, {"retry-after": value})]
    app.scripts.append(sse_script(FIRST))
    async with client_for(url, max_retries=1) as client:
        video = await client.generate("x")
    assert video.task_id == TASK and len(app.requests) == 2


async def test_resume_refuses_a_source_url_httpx_cannot_send_to(relay) -> None:
    _, url = relay
    async with client_for(url) as client:
        with pytest.raises(InvalidRequest, match="not a valid source URL"):
            await client.resume("http://127.0.0.1:1 --model/source/task_1")
