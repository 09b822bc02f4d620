"""The embedded emulator over a real loopback port: wire format, media, faults,
capacity.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import httpx
import openai
import pytest
from PIL import Image, ImageStat

from sora_nb import (
    APIStatusError,
    AuthenticationError,
    GenerationFailed,
    RateLimitError,
    SoraClient,
    TranscriptParser,
    Video,
    parse_transcript,
)
from sora_nb.emulator import (
    EmulatorServer,
    _markdown,
    _media,
    _request,
    _stream,
    _tasks,
    serve_in_thread,
)
from sora_nb.emulator._draw import badge_box, turn_colour
from sora_nb.wire._events import CompletedEvent, EchoEvent, FailedEvent

from .conftest import SEED

pytestmark = pytest.mark.anyio

KEY = "sk-emulator-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
FIRST = (SEED / "first_turn.content.md").read_text(encoding="utf-8")
EDIT = (SEED / "edit_stream.content.md").read_text(encoding="utf-8")
SEED_SSE = (SEED / "edit_stream.sse").read_text(encoding="utf-8")
FIRST_PROMPT = "生成一段高清的，牛马跳舞的视频"
EDIT_PROMPT = "让牛的头上顶着光圈，马的脚下踩着祥云"
TASK_ID = re.compile(r"^task_[0-9a-hjkmnp-tv-z]{26}$")
SID = re.compile(r"^s_[0-9a-f]{32}$")
BLUE = (20, 60, 230)


# -- helpers -------------------------------------------------------------------


def chat(
    content: Any, *, model: str = "sora-2", stream: bool = True, history: Any = ()
) -> dict[str, Any]:
    messages = [*history, {"role": "user", "content": content}]
    return {"model": model, "stream": stream, "messages": messages}


@dataclass
class Raw:
    status: int
    headers: httpx.Headers
    body: bytes
    broken: bool  # the connection dropped before the body was complete

    @property
    def payloads(self) -> list[str]:
        text = self.body.decode()
        return [event[len("data: ") :] for event in text.split("\n\n") if event]

    @property
    def chunks(self) -> list[dict[str, Any]]:
        return [json.loads(p) for p in self.payloads if p != "[DONE]"]

    @property
    def contents(self) -> list[str]:
        return [c["choices"][0]["delta"].get("content", "") for c in self.chunks if "choices" in c]

    @property
    def transcript(self) -> str:
        return "".join(self.contents)


def post(url: str, payload: Any, headers: dict[str, str] | None = None) -> Raw:
    """POST and read the raw body to its end, or to the point where the
    connection broke.
    """
    body = bytearray()
    broken = False
    with (
        httpx.Client(timeout=30) as client,
        client.stream(
            "POST",
            f"{url}/v1/chat/completions",
            json=payload,
            headers=AUTH if headers is None else headers,
        ) as response,
    ):
        try:
            for piece in response.iter_raw():
                body += piece
        except httpx.RemoteProtocolError:
            broken = True
    return Raw(response.status_code, response.headers, bytes(body), broken)


def parsed(transcript: str) -> TranscriptParser:
    parser = TranscriptParser()
    parser.feed(transcript)
    parser.flush()
    return parser


def get(url: str, **kwargs: Any) -> httpx.Response:
    with httpx.Client(timeout=30) as client:
        return client.get(url, **kwargs)


def client_for(server: EmulatorServer, **kwargs: Any) -> SoraClient:
    kwargs.setdefault("poll_interval", 0.02)
    return SoraClient(server.url, KEY, **kwargs)


@dataclass
class Clip:
    codec: str
    pix_fmt: str | None
    width: int
    height: int
    duration: float
    frames: list[Image.Image]


def clip(url: str) -> Clip:
    """Download and decode an mp4 with PyAV."""
    data = get(url).content
    with av.open(io.BytesIO(data), "r") as container:
        stream = container.streams.video[0]
        frames = [frame.to_image() for frame in container.decode(stream)]
        assert container.duration is not None
        return Clip(
            stream.codec_context.name,
            stream.codec_context.pix_fmt,
            stream.width,
            stream.height,
            container.duration / av.time_base,
            frames,
        )


def median(image: Image.Image, box: tuple[int, int, int, int]) -> tuple[int, ...]:
    return tuple(int(v) for v in ImageStat.Stat(image.crop(box)).median)


def close_to(colour: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 30) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected, strict=True))


def badge_colour(frame: Image.Image, turn: int) -> tuple[int, ...]:
    left, top, _, _ = badge_box(turn, *frame.size)
    # a corner, away from the digit
    return median(frame, (left + 2, top + 2, left + 7, top + 7))


def png(colour: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def normalise(transcript: str) -> str:
    """The transcript with everything that differs between runs replaced by a
    placeholder.
    """
    text = re.sub(r"https?://[^)\s\]]+", "URL", transcript)
    text = re.sub(r"task_[0-9a-z]{26}", "TASK", text)
    text = re.sub(r"s_[0-9a-f]{32}", "SID", text)
    text = re.sub(r"(\d{1,3}\.\.)+", "N..", text)
    return re.sub(r"(排队中|生成中)\.+", r"\1.", text)


# -- wire format ---------------------------------------------------------------


def test_stream_bytes_have_the_seed_shape(emulator: EmulatorServer) -> None:
    raw = post(emulator.url, chat(FIRST_PROMPT))
    assert raw.status == 200
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert raw.body.endswith(b"\n\ndata: [DONE]\n\n")
    chunks = raw.chunks
    for payload, chunk in zip(raw.payloads, chunks, strict=False):
        # Compact JSON, non-ASCII kept, keys in the seed's order.
        assert payload == json.dumps(chunk, separators=(",", ":"), ensure_ascii=False)
        assert list(chunk) == ["id", "object", "created", "model", "choices"]
        assert list(chunk["choices"][0]) == ["index", "delta", "finish_reason"]
    assert len({(c["id"], c["created"]) for c in chunks}) == 1
    assert chunks[0]["id"].startswith("chatcmpl-")
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    assert normalise(raw.transcript) == normalise(FIRST)


@pytest.mark.parametrize(
    "text", ["", "a", '"quoted" \\ back/slash', "\n> 排队中", "\u2028\x00\t🏃\u200d ✅"]
)
def test_content_chunks_are_sse_chunk_byte_for_byte(text: str) -> None:
    meta = _markdown.ChunkMeta("chatcmpl-abc", 1_700_000_000, "sora-2")
    assert _markdown.ContentChunks(meta)(text) == _markdown.sse_chunk(meta, text)


def test_a_stream_behind_its_task_sends_the_same_chunks_in_one_write() -> None:
    async def scenario() -> list[bytes]:
        request = _request.ChatRequest("sora-2", True, "a", None, None, None, None)
        task = _tasks.Task(request, "http://relay", orientation="portrait", turn=1)
        texts = ["```json", "\n{", "\n> ID: `task_1`", "12.."]
        for text in texts:
            task.add("echo", text)
        # the whole transcript is written before the stream reads any of it
        task.finish()
        meta = _markdown.ChunkMeta("chatcmpl-abc", 1_700_000_000, "sora-2")
        return [part async for part in _stream._events(task, meta, None)]

    meta = _markdown.ChunkMeta("chatcmpl-abc", 1_700_000_000, "sora-2")
    body, end = asyncio.run(scenario())
    texts = ["```json", "\n{", "\n> ID: `task_1`", "12.."]
    role = _markdown.sse_chunk(meta, "", role=True)
    assert body == role + b"".join(_markdown.sse_chunk(meta, text) for text in texts)
    assert end == _markdown.sse_chunk(meta, stop=True) + _markdown.sse_done()


def test_stream_fragments_like_the_seed(emulator: EmulatorServer) -> None:
    first = post(emulator.url, chat(FIRST_PROMPT))
    history = [
        {"role": "user", "content": FIRST_PROMPT},
        {"role": "assistant", "content": first.transcript},
    ]
    raw = post(emulator.url, chat(EDIT_PROMPT, history=history))
    assert normalise(raw.transcript) == normalise(EDIT)

    def shape(contents: list[str]) -> list[str]:
        # The echo is typed a few characters a chunk; then one chunk per poll.
        closing = contents.index("```", 2)
        after = [normalise(c) for c in contents[closing + 1 :]]
        return [c for i, c in enumerate(after) if i == 0 or c != after[i - 1]]

    seed = [json.loads(e[6:]) for e in SEED_SSE.split("\n\n") if e.startswith("data: {")]
    seed_contents = [c["choices"][0]["delta"].get("content", "") for c in seed]
    assert shape(raw.contents[1:-1]) == shape(seed_contents[1:-1])
    echo = raw.contents[1 : raw.contents.index("```", 2)]
    assert max(len(piece) for piece in echo) <= 12
    assert "".join(echo) + "```" == raw.transcript[: raw.transcript.index("```", 3) + 3]


def test_ids_have_the_relays_formats(emulator: EmulatorServer) -> None:
    parser = parsed(post(emulator.url, chat("a red kite")).transcript)
    assert parser.task_id and TASK_ID.match(parser.task_id)
    assert parser.completed and parser.completed.sid and SID.match(parser.completed.sid)
    assert parser.source_url == f"{emulator.url}/source/{parser.task_id}"
    assert parser.preview_url == f"{emulator.url}/web/{parser.task_id}"


def test_stream_false_answers_one_completion(emulator: EmulatorServer) -> None:
    with httpx.Client(timeout=30) as client:
        response = client.post(
            f"{emulator.url}/v1/chat/completions", json=chat("a boat", stream=False), headers=AUTH
        )
    obj = response.json()
    assert response.status_code == 200
    assert obj["object"] == "chat.completion"
    assert obj["choices"][0]["finish_reason"] == "stop"
    content = obj["choices"][0]["message"]["content"]
    assert obj["choices"][0]["message"]["role"] == "assistant"
    assert normalise(content) == normalise(FIRST).replace(FIRST_PROMPT, "a boat")


async def test_openai_sdk_reassembles_the_transcript(emulator: EmulatorServer) -> None:
    messages: list[Any] = [{"role": "user", "content": FIRST_PROMPT}]
    async with openai.AsyncOpenAI(base_url=f"{emulator.url}/v1", api_key="x") as sdk:
        stream = await sdk.chat.completions.create(model="sora-2", messages=messages, stream=True)
        parts: list[str] = []
        finish = None
        async for chunk in stream:
            assert chunk.model == "sora-2"
            parts.append(chunk.choices[0].delta.content or "")
            finish = chunk.choices[0].finish_reason or finish
        whole = await sdk.chat.completions.create(model="sora-2", messages=messages)
    transcript = "".join(parts)
    assert finish == "stop"
    assert normalise(transcript) == normalise(FIRST)
    assert normalise(whole.choices[0].message.content or "") == normalise(FIRST)
    # The links in the transcript are the ones /source reports.
    parser = parsed(transcript)
    assert parser.source_url is not None and parser.completed is not None
    source = get(parser.source_url).json()
    assert source["sid"] == parser.completed.sid
    assert source["url"] == parser.completed.video_url
    assert source["thumbnail_url"] == parser.completed.thumbnail_url


async def test_openai_sdk_raises_on_an_in_stream_error(emulator: EmulatorServer) -> None:
    async with openai.AsyncOpenAI(base_url=f"{emulator.url}/v1", api_key="x") as sdk:
        stream = await sdk.chat.completions.create(
            model="sora-2",
            messages=[{"role": "user", "content": "a fox [fault:error-in-stream]"}],
            stream=True,
        )
        with pytest.raises(openai.APIError, match="upstream video service failed"):
            async for _ in stream:
                pass
        await stream.close()


# -- semantics and media -------------------------------------------------------


async def test_text_to_video_through_the_client(emulator: EmulatorServer) -> None:
    async with client_for(emulator) as client:
        video = await client.generate("a cow and a horse dancing in a field")
    assert isinstance(video, Video)
    assert video.sid and SID.match(video.sid)
    assert video.video_url.startswith(f"{emulator.url}/files/")
    decoded = clip(video.video_url)
    assert (decoded.codec, decoded.pix_fmt) == ("h264", "yuv420p")
    assert (decoded.width, decoded.height) == (360, 640)
    assert decoded.duration == pytest.approx(10, abs=0.2)
    assert len(decoded.frames) == 10 * _media.FPS
    thumbnail = get(video.thumbnail_url or "")
    assert thumbnail.headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(thumbnail.content)).size == (360, 640)


def test_mp4_is_faststart(emulator: EmulatorServer) -> None:
    parser = parsed(post(emulator.url, chat("a kite")).transcript)
    assert parser.completed is not None
    data = get(parser.completed.video_url).content
    assert 0 < data.index(b"moov") < data.index(b"mdat")


@pytest.mark.parametrize(
    ("words", "orientation"),
    [
        pytest.param("", "portrait", id="default"),
        pytest.param(" 横屏", "landscape", id="横屏"),
        pytest.param(" 16:9", "landscape", id="16:9"),
        pytest.param(", landscape", "landscape", id="landscape"),
        pytest.param(" 竖屏", "portrait", id="竖屏"),
        pytest.param(" 9:16", "portrait", id="9:16"),
        pytest.param(" portrait", "portrait", id="portrait"),
        pytest.param(" 窄屏", "portrait", id="窄屏"),
    ],
)
def test_orientation_comes_from_the_prompts_words(
    emulator: EmulatorServer, words: str, orientation: str
) -> None:
    events = parse_transcript(post(emulator.url, chat("a lighthouse" + words)).transcript)
    echo = next(e for e in events if isinstance(e, EchoEvent))
    done = next(e for e in events if isinstance(e, CompletedEvent))
    assert echo.orientation == orientation
    decoded = clip(done.video_url)
    expected = (640, 360) if orientation == "landscape" else (360, 640)
    assert (decoded.width, decoded.height) == expected


@pytest.mark.parametrize(
    ("model", "orientation", "size", "seconds"),
    [
        pytest.param("sora-2", "portrait", (360, 640), 10, id="sora-2"),
        pytest.param("sora-2-pro", "portrait", (540, 960), 15, id="pro-portrait"),
        pytest.param("sora-2-pro", "landscape", (960, 540), 15, id="pro-landscape"),
    ],
)
async def test_models_differ_in_duration_and_size(
    emulator: EmulatorServer, model: str, orientation: str, size: tuple[int, int], seconds: int
) -> None:
    async with client_for(emulator) as client:
        video = await client.generate("a waterfall", model=model, orientation=orientation)
    decoded = clip(video.video_url)
    assert (decoded.width, decoded.height) == size
    assert decoded.duration == pytest.approx(seconds, abs=0.2)
    assert decoded.codec == "h264"


async def test_image_to_video_shows_the_image(emulator: EmulatorServer) -> None:
    green = (0, 200, 0)
    async with client_for(emulator) as client:
        video = await client.generate("a dog running in the picture", image=png(green))
    frame = clip(video.video_url).frames[40]
    w, h = frame.size
    assert close_to(median(frame, (w // 5, h * 2 // 5, w * 4 // 5, h * 3 // 5)), green)
    # An image the emulator serves (a thumbnail) works as a reference too. The
    # client refuses plain-http image links, so this request goes raw.
    assert video.thumbnail_url is not None
    parts = [
        {"type": "text", "text": "the same place at night"},
        {"type": "image_url", "image_url": {"url": video.thumbnail_url}},
    ]
    again = parsed(post(emulator.url, chat(parts)).transcript).completed
    assert again is not None
    frame = clip(again.video_url).frames[40]
    assert close_to(median(frame, (w // 5, h * 2 // 5, w * 4 // 5, h * 3 // 5)), green)


def test_unreachable_image_url_gets_a_placeholder(emulator: EmulatorServer) -> None:
    content = [
        {"type": "text", "text": "一只狗在图片出场景中跑步"},
        {"type": "image_url", "image_url": {"url": "https://filesystem.site/cdn/x/dog.png"}},
    ]
    events = parse_transcript(post(emulator.url, chat(content)).transcript)
    done = next(e for e in events if isinstance(e, CompletedEvent))
    frame = clip(done.video_url).frames[40]
    w, h = frame.size
    grey = median(frame, (w // 5, h * 3 // 5, w * 4 // 5, h * 2 // 3))
    assert close_to(grey, (95, 95, 95), 20)


def test_undecodable_image_fails_the_task(emulator: EmulatorServer) -> None:
    url = "data:image/png;base64," + base64.b64encode(b"not an image").decode()
    content = [{"type": "text", "text": "a cat"}, {"type": "image_url", "image_url": {"url": url}}]
    events = parse_transcript(post(emulator.url, chat(content)).transcript)
    failed = next(e for e in events if isinstance(e, FailedEvent))
    assert "image could not be decoded" in failed.reason


async def test_edit_chain_derives_each_video_from_the_last(emulator: EmulatorServer) -> None:
    async with client_for(emulator) as client:
        first = await client.generate("a cow and a horse dancing", orientation="landscape")
        second = await client.edit(first, "put a halo on the cow")
        third = await client.edit(second, "add this sign", image=png(BLUE))
    assert second.echo and second.echo["sid"] == first.sid
    assert third.echo and third.echo["sid"] == second.sid
    assert len({first.sid, second.sid, third.sid}) == 3
    assert get(third.source_url or "").json()["parent_sid"] == second.sid
    clips = [clip(v.video_url) for v in (first, second, third)]
    # edits keep the orientation
    assert {(c.width, c.height) for c in clips} == {(640, 360)}
    for turn, decoded in enumerate(clips, start=1):
        frame = decoded.frames[len(decoded.frames) // 2]
        for badge in (1, 2, 3):
            present = close_to(badge_colour(frame, badge), turn_colour(badge))
            assert present == (badge <= turn), (turn, badge)
    # An image sent with an edit is inset on the right of the edited frames.
    frame = clips[2].frames[40]
    assert close_to(median(frame, (432, 210, 560, 306)), BLUE)
    assert not close_to(median(clips[1].frames[40], (432, 210, 560, 306)), BLUE)


def test_edit_of_an_unknown_sid_is_a_failure_line(emulator: EmulatorServer) -> None:
    history = [
        {"role": "user", "content": FIRST_PROMPT},
        # the seed's sid: not one of ours
        {"role": "assistant", "content": FIRST},
    ]
    raw = post(emulator.url, chat(EDIT_PROMPT, history=history))
    assert raw.status == 200 and raw.body.endswith(b"data: [DONE]\n\n")
    events = parse_transcript(raw.transcript)
    echo = next(e for e in events if isinstance(e, EchoEvent))
    failed = next(e for e in events if isinstance(e, FailedEvent))
    assert echo.sid == "s_68ec8accd80c8191ae1fc957af78caaa"
    assert "unknown sid" in failed.reason
    assert not any(isinstance(e, CompletedEvent) for e in events)


def test_data_dir_keeps_sids_across_restarts(tmp_path: Path) -> None:
    with serve_in_thread(speed=500, data_dir=tmp_path) as server:
        first = post(server.url, chat("a paper boat"))
        task_id = TranscriptParser()
        task_id.feed(first.transcript)
    with serve_in_thread(speed=500, data_dir=tmp_path) as server:
        history = [
            {"role": "user", "content": "a paper boat"},
            {"role": "assistant", "content": first.transcript},
        ]
        events = parse_transcript(post(server.url, chat("add rain", history=history)).transcript)
        assert any(isinstance(e, CompletedEvent) for e in events)
        source = get(f"{server.url}/source/{task_id.task_id}").json()
        assert source["status"] == "completed"
        assert source["url"].startswith(server.url)
    assert any(tmp_path.joinpath("files").glob("*.mp4"))


# -- status, preview, files ----------------------------------------------------


def test_source_and_web_report_the_task(emulator: EmulatorServer) -> None:
    parser = parsed(post(emulator.url, chat("a snail racing 横屏", model="sora-2-pro")).transcript)
    source = get(parser.source_url or "").json()
    assert source["id"] == parser.task_id
    assert source["status"] == "completed"
    assert source["progress"] == 100
    assert source["failure_reason"] is None
    assert parser.completed and source["sid"] == parser.completed.sid
    assert source["url"] == parser.completed.video_url
    assert (source["prompt"], source["model"], source["orientation"]) == (
        "a snail racing 横屏",
        "sora-2-pro",
        "landscape",
    )
    page = get(parser.preview_url or "")
    assert page.headers["content-type"].startswith("text/html")
    assert f'<video src="{source["url"]}"' in page.text
    assert get(f"{emulator.url}/source/task_unknown").status_code == 404
    assert get(f"{emulator.url}/web/task_unknown").status_code == 404


def test_files_answer_range_requests(emulator: EmulatorServer) -> None:
    parser = parsed(post(emulator.url, chat("a clock")).transcript)
    assert parser.completed is not None
    url = parser.completed.video_url
    whole = get(url)
    assert whole.headers["content-type"] == "video/mp4"
    assert whole.headers["accept-ranges"] == "bytes"
    part = get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
    assert part.content == whole.content[100:200]
    with httpx.Client() as client:
        head = client.head(url)
    assert int(head.headers["content-length"]) == len(whole.content)
    assert get(url, headers={"Range": f"bytes={len(whole.content) + 10}-"}).status_code == 416
    assert get(f"{emulator.url}/files/../tasks").status_code == 404


def test_a_dropped_stream_still_finishes_on_the_server(emulator: EmulatorServer) -> None:
    with (
        httpx.Client(timeout=30) as client,
        client.stream(
            "POST", f"{emulator.url}/v1/chat/completions", json=chat("a comet"), headers=AUTH
        ) as response,
    ):
        parser = TranscriptParser()
        for line in response.iter_lines():
            if line.startswith("data: {"):
                parser.feed(json.loads(line[6:])["choices"][0]["delta"].get("content", ""))
            if parser.task_id:
                break  # hang up as soon as the task exists
    source = _wait_for_source(f"{emulator.url}/source/{parser.task_id}")
    assert source["status"] == "completed" and source["url"]


def _wait_for_source(url: str) -> dict[str, Any]:
    with httpx.Client(timeout=30) as client:
        for _ in range(2000):
            source = client.get(url).json()
            if source["status"] in ("completed", "failed"):
                return source
            threading.Event().wait(0.01)
    raise AssertionError(f"{url} never finished")


# -- auth and bad requests -----------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="none"),
        pytest.param({"Authorization": "Bearer"}, id="empty"),
        pytest.param({"Authorization": f"Basic {KEY}"}, id="not-bearer"),
    ],
)
def test_missing_token_is_401_in_openai_shape(
    emulator: EmulatorServer, headers: dict[str, str]
) -> None:
    raw = post(emulator.url, chat("a fox"), headers=headers)
    assert raw.status == 401
    error = json.loads(raw.body)["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "invalid_api_key"


def test_api_key_option_accepts_only_that_key() -> None:
    with serve_in_thread(speed=500, api_key=KEY) as server:
        wrong = post(server.url, chat("a fox"), headers={"Authorization": "Bearer sk-other"})
        right = post(server.url, chat("a fox"))
    assert wrong.status == 401 and b"sk-other" not in wrong.body
    assert right.status == 200


@pytest.mark.parametrize(
    ("body", "param"),
    [
        pytest.param(b"{not json", None, id="not-json"),
        pytest.param(b"[1, 2]", None, id="not-object"),
        pytest.param({"model": "sora-3", "messages": [{"role": "user", "content": "x"}]}, "model"),
        pytest.param({"model": "sora-2", "messages": []}, "messages", id="no-messages"),
        pytest.param({"model": "sora-2", "messages": [{"content": "x"}]}, "messages", id="role"),
        pytest.param(
            {"model": "sora-2", "messages": [{"role": "system", "content": "x"}]},
            "messages",
            id="no-user",
        ),
        pytest.param(
            {"model": "sora-2", "messages": [{"role": "user", "content": " "}]}, "messages"
        ),
        pytest.param(chat("x") | {"stream": "yes"}, "stream", id="stream-type"),
        pytest.param(chat("x [fault:meteor]"), "fault", id="unknown-fault"),
    ],
)
def test_malformed_requests_are_400(emulator: EmulatorServer, body: Any, param: str | None) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    with httpx.Client() as client:
        response = client.post(
            f"{emulator.url}/v1/chat/completions",
            content=content,
            headers={**AUTH, "Content-Type": "application/json"},
        )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert error["message"].endswith(".")


# -- faults --------------------------------------------------------------------


def test_fault_tag_is_stripped_and_header_wins(emulator: EmulatorServer) -> None:
    raw = post(emulator.url, chat("a fox [fault:content-policy] in snow"))
    echo = next(e for e in parse_transcript(raw.transcript) if isinstance(e, EchoEvent))
    assert echo.prompt == "a fox in snow"
    headed = post(
        emulator.url, chat("a fox [fault:content-policy]"), {**AUTH, "X-Sora-Fault": "503"}
    )
    assert headed.status == 503


def test_content_policy_fails_after_the_queue(emulator: EmulatorServer) -> None:
    raw = post(emulator.url, chat("a fox", stream=True), {**AUTH, "X-Sora-Fault": "content-policy"})
    assert "> 排队中" in raw.transcript
    assert raw.transcript.endswith("\n> ❌ 生成失败: 内容违反使用政策 (content policy violation)")
    assert raw.body.endswith(b"data: [DONE]\n\n")


async def test_failures_reach_the_client_as_generation_failed(emulator: EmulatorServer) -> None:
    async with client_for(emulator) as client:
        with pytest.raises(GenerationFailed, match="content policy") as policy:
            await client.generate("a fox [fault:content-policy]")
        with pytest.raises(GenerationFailed, match="emulated generation failure"):
            await client.generate("a fox [fault:fail-json]")
        with pytest.raises(GenerationFailed, match="upstream video service failed"):
            await client.generate("a fox [fault:error-in-stream]")
    assert policy.value.task_id and TASK_ID.match(policy.value.task_id)
    source = get(f"{emulator.url}/source/{policy.value.task_id}").json()
    assert source["status"] == "failed" and "content policy" in source["failure_reason"]


def test_fail_json_sends_a_reason_block(emulator: EmulatorServer) -> None:
    raw = post(emulator.url, chat("a fox [fault:fail-json]"))
    head, _, block = raw.transcript.rpartition("> 生成失败，错误原因如下\n```json\n")
    assert ">🏃\u200d 进度 " in head
    reason = json.loads(block.removesuffix("\n```"))
    assert reason["code"] == "generation_failed" and reason["task_id"].startswith("task_")


def test_cut_drops_the_connection_and_the_task_still_finishes(emulator: EmulatorServer) -> None:
    raw = post(emulator.url, chat("a fox [fault:cut]"))
    assert raw.status == 200 and raw.broken
    assert b"[DONE]" not in raw.body
    parser = parsed(raw.transcript)
    assert parser.percent is not None and parser.completed is None
    source = _wait_for_source(parser.source_url or "")
    assert source["status"] == "completed" and SID.match(source["sid"])


def test_cut_without_stream_sends_half_a_body(emulator: EmulatorServer) -> None:
    with pytest.raises(httpx.RemoteProtocolError), httpx.Client(timeout=30) as client:
        client.post(
            f"{emulator.url}/v1/chat/completions",
            json=chat("a fox [fault:cut]", stream=False),
            headers=AUTH,
        )


def test_no_video_ends_cleanly_without_links(emulator: EmulatorServer) -> None:
    raw = post(emulator.url, chat("a fox [fault:no-video]"))
    assert not raw.broken and raw.body.endswith(b"data: [DONE]\n\n")
    assert raw.chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert (
        "进度" in raw.transcript and "sid:" not in raw.transcript and ".mp4" not in raw.transcript
    )
    parser = parsed(raw.transcript)
    assert get(parser.source_url or "").json()["status"] == "completed"


@pytest.mark.parametrize("fault", ["cut", "no-video"])
async def test_client_recovers_a_lost_video_from_source(
    emulator: EmulatorServer, fault: str
) -> None:
    async with client_for(emulator) as client:
        video = await client.generate(f"a fox [fault:{fault}]")
    assert video.sid and SID.match(video.sid)
    source = get(video.source_url or "").json()
    assert (video.sid, video.video_url) == (source["sid"], source["url"])
    assert clip(video.video_url).codec == "h264"


def test_error_in_stream_sends_an_error_event(emulator: EmulatorServer) -> None:
    raw = post(emulator.url, chat("a fox [fault:error-in-stream]"))
    last = json.loads(raw.payloads[-1])
    assert last == {
        "error": {
            "message": "The upstream video service failed (emulated).",
            "type": "server_error",
        }
    }
    assert b"[DONE]" not in raw.body and not raw.broken


@pytest.mark.parametrize("status", ["500", "502", "503"])
def test_server_errors_have_html_bodies(emulator: EmulatorServer, status: str) -> None:
    raw = post(emulator.url, chat(f"a fox [fault:{status}]"))
    assert raw.status == int(status)
    assert raw.headers["content-type"].startswith("text/html")
    assert f"<title>{status} " in raw.body.decode()


def test_429_says_when_to_retry(emulator: EmulatorServer) -> None:
    raw = post(emulator.url, chat("a fox"), {**AUTH, "X-Sora-Fault": "429"})
    assert raw.status == 429 and raw.headers["retry-after"] == "1"
    assert json.loads(raw.body)["error"]["code"] == "rate_limit_exceeded"


def test_401_fault(emulator: EmulatorServer) -> None:
    assert post(emulator.url, chat("a fox [fault:401]")).status == 401


def test_counted_faults_stop_applying(emulator: EmulatorServer) -> None:
    statuses = [post(emulator.url, chat("a fox [fault:500x2]")).status for _ in range(3)]
    assert statuses == [500, 500, 200]
    # a different body counts anew
    other = post(emulator.url, chat("another fox [fault:500x2]"))
    assert other.status == 500


async def test_client_errors_for_http_faults(emulator: EmulatorServer) -> None:
    async with client_for(emulator, max_retries=0) as client:
        with pytest.raises(AuthenticationError):
            await client.generate("a fox [fault:401]")
        client.deadline = 1.5  # a 429 waits for the relay until the deadline
        with pytest.raises(RateLimitError, match="never accepted"):
            await client.generate("a fox [fault:429]")
        with pytest.raises(APIStatusError, match="502 Bad Gateway") as bad:
            await client.generate("a fox [fault:502]")
    assert bad.value.status_code == 502


async def test_client_retries_through_counted_faults(emulator: EmulatorServer) -> None:
    async with client_for(emulator, max_retries=2) as client:
        after_503 = await client.generate("a fox [fault:503x1]")
        after_429 = await client.generate("a fox [fault:429x1]")
    assert after_503.sid and after_429.sid


@pytest.mark.parametrize(
    ("fault", "held_at"),
    [
        pytest.param("slow-queue", r"> 排队中\Z", id="silent-in-the-queue"),
        pytest.param("slow-progress", r"进度 *\d+\.\.\d+\.\.\Z", id="after-two-numbers"),
    ],
)
def test_slow_faults_hold_the_stream_then_finish(
    emulator: EmulatorServer, fault: str, held_at: str
) -> None:
    raw = post(emulator.url, chat(f"a fox [fault:{fault}]"))
    assert normalise(raw.transcript) == normalise(FIRST).replace(FIRST_PROMPT, "a fox")
    with (
        # a 2 s gap: far longer than the read timeout below
        serve_in_thread(speed=30) as slow,
        httpx.Client(timeout=httpx.Timeout(30, read=0.3)) as client,
        client.stream(
            "POST",
            f"{slow.url}/v1/chat/completions",
            json=chat(f"a fox [fault:{fault}]"),
            headers=AUTH,
        ) as response,
    ):
        seen = ""
        with pytest.raises(httpx.ReadTimeout):
            for line in response.iter_lines():
                if line.startswith("data: {"):
                    seen += json.loads(line[6:])["choices"][0]["delta"].get("content", "")
        assert re.search(held_at, seen), seen[-80:]


# -- capacity and lifecycle ----------------------------------------------------


@pytest.mark.timeout(180)
async def test_hundreds_of_concurrent_streams(emulator: EmulatorServer) -> None:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(timeout=120, limits=limits, headers=AUTH) as client:

        async def one(index: int) -> CompletedEvent | None:
            parser = TranscriptParser()
            payload = chat(f"a flock of birds, shot {index % 3}")
            async with client.stream(
                "POST", f"{emulator.url}/v1/chat/completions", json=payload
            ) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data: {"):
                        parser.feed(json.loads(line[6:])["choices"][0]["delta"].get("content", ""))
            parser.flush()
            return parser.completed

        done = await asyncio.gather(*(one(i) for i in range(300)))
    assert all(d is not None for d in done)
    assert len({d.sid for d in done if d}) == 300
    # identical requests share one encode
    assert len({d.video_url for d in done if d}) == 3


def test_rendering_runs_off_the_event_loop(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    started, release = threading.Event(), threading.Event()
    threads: list[str] = []
    real_render = _media.render

    def held_render(spec: _media.RenderSpec, files_dir: Path) -> _media.MediaFiles:
        threads.append(threading.current_thread().name)
        started.set()
        release.wait(60)  # a render that takes as long as the test wants
        return real_render(spec, files_dir)

    monkeypatch.setattr(_media, "render", held_render)
    with (
        httpx.Client(timeout=30, headers=AUTH) as client,
        client.stream(
            "POST", f"{emulator.url}/v1/chat/completions", json=chat("a fox")
        ) as response,
    ):
        parser = TranscriptParser()
        lines = response.iter_lines()
        while not started.is_set() or parser.task_id is None:
            line = next(lines)
            if line.startswith("data: {"):
                parser.feed(json.loads(line[6:])["choices"][0]["delta"].get("content", ""))
        # The render is blocked in its worker; the loop still answers the rest.
        assert client.get(f"{emulator.url}/source/{parser.task_id}").json()["status"] == "running"
        assert client.get(f"{emulator.url}/v1/models").status_code == 200
        release.set()
        for line in lines:
            if line.startswith("data: {"):
                parser.feed(json.loads(line[6:])["choices"][0]["delta"].get("content", ""))
    parser.flush()
    assert parser.completed is not None
    assert threads and threads[0].startswith("sora-emulator-render")


async def test_stop_ends_open_streams() -> None:
    server = serve_in_thread(speed=1)
    async with (
        httpx.AsyncClient(timeout=30, headers=AUTH) as client,
        client.stream("POST", f"{server.url}/v1/chat/completions", json=chat("a fox")) as response,
    ):
        seen = ""
        async for line in response.aiter_lines():
            if line.startswith("data: {"):
                seen += json.loads(line[6:])["choices"][0]["delta"].get("content", "")
            if "排队中" in seen:
                await asyncio.to_thread(server.stop)
        assert "emulator stopped" in seen
    server.stop()  # idempotent
    with pytest.raises(httpx.ConnectError), httpx.Client() as plain:
        plain.get(server.url)


def test_stream_false_applies_stream_faults(emulator: EmulatorServer) -> None:
    with httpx.Client(timeout=30, headers=AUTH) as client:
        url = f"{emulator.url}/v1/chat/completions"
        error = client.post(url, json=chat("a fox [fault:error-in-stream]", stream=False))
        no_video = client.post(url, json=chat("a fox [fault:no-video]", stream=False))
    assert error.status_code == 500 and error.json()["error"]["type"] == "server_error"
    content = no_video.json()["choices"][0]["message"]["content"]
    assert "进度" in content and "sid:" not in content


def test_public_names_and_index(emulator: EmulatorServer) -> None:
    import sora_nb.emulator

    assert sora_nb.emulator.__all__ == ["EmulatorServer", "create_app", "main", "serve_in_thread"]
    assert "[fault:NAME]" in (sora_nb.emulator.__doc__ or "")
    index = get(f"{emulator.url}/").json()
    assert index["chat_completions"] == f"{emulator.url}/v1/chat/completions"
    assert emulator.url.startswith("http://127.0.0.1:") and not emulator.url.endswith("/")


def test_embedded_emulator_exits_quietly_with_the_interpreter(tmp_path) -> None:
    # The embedded emulator stops at exit, with no shutdown traceback.
    script = (
        "import asyncio, sora_nb\n"
        "async def main():\n"
        "    async with sora_nb.SoraClient() as client:\n"
        "        print((await client.generate('a cow')).sid)\n"
        "asyncio.run(main())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SORA_")}
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**env, "SORA_EMULATOR_SPEED": "200"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("s_")
    assert result.stderr == ""


def test_captions_draw_chinese_glyphs_not_boxes() -> None:
    # The relay's users largely write Chinese prompts. The README's test command
    # installs Debian's fonts-wqy-microhei; without a CJK font every character
    # is the same box.
    from sora_nb.emulator._draw import _font

    font = _font(24)
    masks = {ch: bytes(font.getmask(ch)) for ch in "牛马光圈"}
    assert len(set(masks.values())) == 4, "no CJK font: apt-get install fonts-wqy-microhei"
