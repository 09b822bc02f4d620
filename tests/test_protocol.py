"""The wire format: SSE → chat chunks → transcript events, whatever the
fragmenting.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
from httpx_sse import EventSource

from sora_nb import (
    CompletedEvent,
    EchoEvent,
    FailedEvent,
    ProgressEvent,
    StatusEvent,
    TaskEvent,
    TextEvent,
    TranscriptParser,
    parse_transcript,
)
from sora_nb.wire._protocol import (
    ChatChunk,
    ChatParser,
    MarkdownParser,
    Sora2apiParser,
    completion_content,
    completion_tail,
    parse_chunk,
    parse_source,
)

from .conftest import SEED

EDIT_SSE = (SEED / "edit_stream.sse").read_bytes()
EDIT_TEXT = (SEED / "edit_stream.content.md").read_text(encoding="utf-8")
FIRST_TEXT = (SEED / "first_turn.content.md").read_text(encoding="utf-8")

EDIT_EVENTS = [
    EchoEvent(
        prompt="让牛的头上顶着光圈，马的脚下踩着祥云",
        orientation="portrait",
        sid="s_68ec8accd80c8191ae1fc957af78caaa",
        data={
            "prompt": "让牛的头上顶着光圈，马的脚下踩着祥云",
            "orientation": "portrait",
            "sid": "s_68ec8accd80c8191ae1fc957af78caaa",
        },
    ),
    TaskEvent(
        "task_01k7e5w9z5f2d91pekrqy59rwc",
        "https://asyncdata.net/web/task_01k7e5w9z5f2d91pekrqy59rwc",
        "https://asyncdata.net/source/task_01k7e5w9z5f2d91pekrqy59rwc",
    ),
    StatusEvent("queued"),
    StatusEvent("generating"),
    ProgressEvent(36),
    ProgressEvent(44),
    ProgressEvent(61),
    ProgressEvent(69),
    ProgressEvent(81),
    CompletedEvent(
        "s_68eca3f141808191b1fd30fea1b731bd",
        "https://filesystem.site/cdn/20251013/38e999994cfa666de5e677d2af347f.webp",
        "https://filesystem.site/cdn/20251013/a7a7930bd01f7f313bbb6ecb234075.mp4",
    ),
]


def sse_events(chunks: list[bytes]) -> tuple[list[object], str]:
    """Decode wire bytes, split as given, the way the client does (httpx-sse, no
    network).
    """
    response = httpx.Response(
        200, headers={"content-type": "text/event-stream"}, content=iter(chunks)
    )
    parser = TranscriptParser()
    events: list[object] = []
    for sse in EventSource(response).iter_sse():
        chunk = parse_chunk(sse.data)
        if chunk.done:
            break
        events += parser.feed(chunk.content)
    return events + parser.flush(), parser.transcript


def fed(text: str, cuts: list[int]) -> list[object]:
    parser = TranscriptParser()
    events: list[object] = []
    bounds = [0, *cuts, len(text)]
    for start, end in itertools.pairwise(bounds):
        events += parser.feed(text[start:end])
    return events + parser.flush()


def test_seed_stream_gives_the_seed_events_and_transcript() -> None:
    events, transcript = sse_events([EDIT_SSE])
    assert events == EDIT_EVENTS
    assert transcript == EDIT_TEXT


def test_seed_stream_same_events_at_every_byte_split() -> None:
    # Includes splits inside UTF-8 characters, inside 进度 and inside "36..".
    for cut in range(1, len(EDIT_SSE)):
        assert sse_events([EDIT_SSE[:cut], EDIT_SSE[cut:]]) == (EDIT_EVENTS, EDIT_TEXT), cut


def test_seed_stream_one_byte_at_a_time() -> None:
    assert sse_events([bytes([b]) for b in EDIT_SSE]) == (EDIT_EVENTS, EDIT_TEXT)


def test_transcript_same_events_at_every_split_point() -> None:
    for text in (EDIT_TEXT, FIRST_TEXT):
        whole = parse_transcript(text)
        for cut in range(1, len(text)):
            assert fed(text, [cut]) == whole, cut


def test_transcript_one_character_at_a_time() -> None:
    assert fed(EDIT_TEXT, list(range(1, len(EDIT_TEXT)))) == EDIT_EVENTS


@pytest.mark.parametrize(
    "needle",
    [
        pytest.param("进度", id="inside-jindu"),
        pytest.param("36..", id="inside-36-dots"),
        pytest.param("生成完成", id="inside-done-word"),
        pytest.param("排队中", id="inside-queue-word"),
    ],
)
def test_transcript_split_inside_words(needle: str) -> None:
    at = EDIT_TEXT.index(needle)
    for offset in range(1, len(needle)):
        assert fed(EDIT_TEXT, [at + offset]) == EDIT_EVENTS


def test_progress_and_status_are_reported_before_the_line_ends() -> None:
    parser = TranscriptParser()
    head = parser.feed("> ID: `task_01k7e5w9z5f2d91pekrqy59rwc`\n> 排队中")
    assert head == [StatusEvent("queued")]
    assert parser.feed(".") == []
    assert parser.feed("..\n> 生成中") == [
        TaskEvent("task_01k7e5w9z5f2d91pekrqy59rwc", None, None),
        StatusEvent("generating"),
    ]
    assert parser.feed(".\n\n>🏃‍ 进度 36..4") == [ProgressEvent(36)]
    assert parser.feed("4..") == [ProgressEvent(44)]


def test_first_turn_transcript() -> None:
    events = parse_transcript(FIRST_TEXT)
    assert [e.type for e in events] == [
        "echo",
        "task",
        "status",
        "status",
        "progress",
        "completed",
    ]
    assert isinstance(events[0], EchoEvent) and events[0].sid is None


def _only(events: Sequence[object], kind: type) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


TASK = "task_01k7e5w9z5f2d91pekrqy59rwc"
SID = "s_68eca3f141808191b1fd30fea1b731bd"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(f"> ID: {TASK}\n", TaskEvent(TASK, None, None), id="id-no-backticks"),
        pytest.param(f"> 任务ID: `{TASK}`\n", TaskEvent(TASK, None, None), id="task-id-zh"),
        pytest.param(f"Task ID: {TASK}\n", TaskEvent(TASK, None, None), id="task-id-en"),
        pytest.param(
            f"> ID: `{TASK}`\n>[数据预览](https://pro.asyncdata.net/web/{TASK}) | "
            f"[原始数据](https://pro.asyncdata.net/source/{TASK})\n",
            TaskEvent(
                TASK,
                f"https://pro.asyncdata.net/web/{TASK}",
                f"https://pro.asyncdata.net/source/{TASK}",
            ),
            id="pro-host",
        ),
        pytest.param(">🕐 排队中.\n", StatusEvent("queued"), id="queue-emoji"),
        pytest.param("> 等待处理中...\n", StatusEvent("queued"), id="waiting-zh"),
        pytest.param(">⚡ 生成中.....\n", StatusEvent("generating"), id="generating-emoji"),
        pytest.param(">🏃 进度 36..\n", ProgressEvent(36), id="runner-no-zwj"),
        pytest.param(">🏃‍进度 52..\n", ProgressEvent(52), id="no-space"),
        pytest.param("> Progress 12..\n", ProgressEvent(12), id="progress-en"),
    ],
)
def test_variant_lines(text: str, expected: object) -> None:
    assert expected in parse_transcript(text)


def test_queue_and_generating_on_one_line() -> None:
    events = parse_transcript("> 排队中...生成中..\n")
    assert events == [StatusEvent("queued"), StatusEvent("generating")]


def test_progress_closed_by_a_link_to_100() -> None:
    events = parse_transcript(">🏃‍ 进度 72..[100](https://x.test/v/1.mp4)\n")
    assert _only(events, ProgressEvent) == [ProgressEvent(72), ProgressEvent(100)]
    assert _only(events, CompletedEvent) == []


def test_progress_never_decreases() -> None:
    events = parse_transcript(">🏃‍ 进度 36..44..40..61..\n")
    assert [e.percent for e in _only(events, ProgressEvent)] == [36, 44, 61]


@pytest.mark.parametrize(
    "done",
    [
        pytest.param("> 生成完成 ✅", id="done-zh"),
        pytest.param("> ✅ 生成完成", id="done-emoji-first"),
        pytest.param("🎉 视频已生成", id="party"),
        pytest.param("Generation completed", id="done-en"),
    ],
)
@pytest.mark.parametrize(
    ("sid_line", "link"),
    [
        pytest.param(f"> sid: {SID}", "[在线播放▶️](https://x.test/a.mp4)", id="seed"),
        pytest.param(f"> sid: `{SID}`", "[▶️ 在线观看](https://x.test/a.mp4)", id="backticks"),
        pytest.param(f"sid: {SID}", "[点击下载](https://x.test/download/a)", id="download"),
        pytest.param(f"> sid: {SID}", "[Play online](https://x.test/a.mp4?t=1)", id="play-en"),
        pytest.param(f"> sid: {SID}", "[Watch Online](https://x.test/v/a)", id="watch-en"),
    ],
)
def test_completion_variants(done: str, sid_line: str, link: str) -> None:
    text = f"{done}\n{sid_line}\n\n![t](https://x.test/t.webp)\n{link}"
    completed = _only(parse_transcript(text), CompletedEvent)
    url = link[link.index("(") + 1 : -1]
    assert completed == [CompletedEvent(SID, "https://x.test/t.webp", url)]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param("> 生成失败\n", "生成失败", id="bare"),
        pytest.param("> ❌ 生成失败: 内容违规\n", "内容违规", id="emoji-reason"),
        pytest.param("> 生成失败: 未找到视频地址\n", "未找到视频地址", id="no-video-url"),
        pytest.param(
            '> 生成失败，错误原因如下\n```json\n{"code": "policy", "message": "内容不合规"}\n```\n',
            "内容不合规",
            id="json-block",
        ),
        pytest.param(
            "Generation failed\nFailure reason: content policy violation\n",
            "content policy violation",
            id="english-two-lines",
        ),
        pytest.param("Failure reason: too busy\n", "too busy", id="reason-only"),
    ],
)
def test_failure_variants(text: str, reason: str) -> None:
    events = parse_transcript(f"> ID: `{TASK}`\n> 排队中.\n{text}")
    assert _only(events, FailedEvent) == [FailedEvent(reason, TASK)]
    assert _only(events, CompletedEvent) == []


def test_reasoning_preface_is_text_not_status() -> None:
    text = "**思考中…** 生成中的计划\n*正在排队中*\n" + FIRST_TEXT
    events = parse_transcript(text)
    assert events[:2] == [TextEvent("**思考中…** 生成中的计划"), TextEvent("*正在排队中*")]
    assert events[2:] == parse_transcript(FIRST_TEXT)


def test_echo_prompt_words_are_not_status() -> None:
    text = '```json\n{"prompt": "生成中 排队中 进度 50..", "orientation": "landscape"}\n```\n'
    assert [e.type for e in parse_transcript(text)] == ["echo"]


def test_unknown_lines_become_text_events() -> None:
    events = parse_transcript("hello\n> something odd: 42\n")
    assert events == [TextEvent("hello"), TextEvent("> something odd: 42")]


def test_crlf_lines_inside_content() -> None:
    assert parse_transcript(EDIT_TEXT.replace("\n", "\r\n")) == EDIT_EVENTS


def test_sse_crlf_framing_comments_and_usage_chunk() -> None:
    usage = {"id": "x", "object": "chat.completion.chunk", "choices": [], "usage": {"total": 1}}
    body = EDIT_SSE.replace(b"data: [DONE]", b"data: " + json.dumps(usage).encode())
    body = b": keep-alive comment\r\n\r\n" + body.replace(b"\n", b"\r\n") + b"data: [DONE]\r\n\r\n"
    assert sse_events([body]) == (EDIT_EVENTS, EDIT_TEXT)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        pytest.param('{"error": {"message": "upstream busy", "type": "x"}}', "upstream busy"),
        pytest.param('{"error": "quota exceeded"}', "quota exceeded"),
    ],
)
def test_in_stream_error_object(data: str, error: str) -> None:
    assert parse_chunk(data).error == error


def test_chunks_that_carry_nothing() -> None:
    assert parse_chunk("not json").content == ""
    assert parse_chunk('{"choices": []}').content == ""
    assert parse_chunk("[DONE]").done
    assert parse_chunk('{"choices":[{"delta":{},"finish_reason":"stop"}]}').finish_reason == "stop"


def test_non_streamed_completion_content() -> None:
    obj = {"choices": [{"message": {"role": "assistant", "content": FIRST_TEXT}}]}
    assert completion_content(obj) == FIRST_TEXT
    assert completion_content({"choices": []}) == ""


@pytest.mark.parametrize(
    ("obj", "status", "progress", "url"),
    [
        pytest.param({"status": "queued", "progress": 0}, "queued", 0, None, id="queued"),
        pytest.param({"status": "running", "progress": 0.45}, "generating", 45, None, id="0-1"),
        pytest.param(
            {"status": "completed", "progress": 100, "url": "https://x/a.mp4"},
            "completed",
            100,
            "https://x/a.mp4",
            id="done",
        ),
        pytest.param(
            {"code": 0, "content": {"status": "SUCCESS", "progress": "100%", "url": "u.mp4"}},
            "completed",
            100,
            "u.mp4",
            id="nested",
        ),
        pytest.param({"data": {"state": "in_progress", "progress": 37}}, "generating", 37, None),
    ],
)
def test_source_status_shapes(obj: object, status: str, progress: int, url: str | None) -> None:
    parsed = parse_source(obj)
    assert (parsed.status, parsed.progress, parsed.video_url) == (status, progress, url)


def test_source_failure_reason() -> None:
    parsed = parse_source({"status": "failed", "failure_reason": "content policy"})
    assert (parsed.status, parsed.failure_reason) == ("failed", "content policy")
    nested = parse_source({"content": {"status": "error", "error": {"message": "boom"}}})
    assert (nested.status, nested.failure_reason) == ("failed", "boom")


def test_completion_tail_parses_back_to_a_completed_event() -> None:
    tail = completion_tail(SID, "https://x/t.webp", "https://x/v.mp4")
    assert parse_transcript(tail)[-1] == CompletedEvent(SID, "https://x/t.webp", "https://x/v.mp4")


def test_long_stream_one_character_at_a_time_stays_correct() -> None:
    # A line that grows for minutes (one "NN.." per poll) must not be re-parsed
    # per fragment.
    numbers = "".join(f"{n}.." for n in range(1, 101)) * 50
    parser = TranscriptParser()
    events: list[object] = []
    for ch in ">🏃‍ 进度 " + numbers:
        events += parser.feed(ch)
    assert [e.percent for e in events] == list(range(1, 101))  # type: ignore[attr-defined]


# --- sora2api chat dialects (fixtures written from the relays' code,
# docs/dialects.md) -------

SORA2API = SEED.parent / "sora2api"
SIGNED_RAW = (
    "https://videos.openai.com/az/files/00000000-4b1c-6230-9f3e-3c5b6a7d8e9f%2Fraw?"
    "se=2025-11-28T00%3A00%3A00Z&sp=r&sv=2024-08-04&sr=b&skoid=8ebb0df1&sig=pq8%2Fj%2B2cA4%3D"
    "&ac=oaisdsorprsouthcentralus"
)
POLICY = "This content may violate our guardrails concerning similarity to third-party content."
NO_TOKENS = (
    "No available tokens for video generation. All tokens are either disabled, cooling down, "
    "Sora2 quota exhausted, don't support Sora2, or expired."
)


def chat_events(chunks: list[bytes], parser: ChatParser | None = None) -> list[object]:
    """The relay's events as the client reads them: reasoning, output and
    content.
    """
    response = httpx.Response(
        200, headers={"content-type": "text/event-stream"}, content=iter(chunks)
    )
    parser = parser or TranscriptParser()
    events: list[object] = []
    for sse in EventSource(response).iter_sse():
        chunk = parse_chunk(sse.data)
        if chunk.done:
            break
        if chunk.error is not None:
            events += [*parser.flush(), FailedEvent(chunk.error, parser.task_id)]
            return events
        events += parser.feed_chunk(chunk)
    return events + parser.flush()


def _kinds(events: list[object]) -> list[object]:
    """The events that drive progress and results (text lines left out)."""
    return [event for event in events if not isinstance(event, TextEvent)]


SORA2API_CASES = {
    "success.sse": [
        StatusEvent("queued"),
        ProgressEvent(0),
        StatusEvent("generating"),
        ProgressEvent(10),
        ProgressEvent(46),
        ProgressEvent(83),
        CompletedEvent(None, None, SIGNED_RAW),
    ],
    "watermark_free.sse": [
        StatusEvent("generating"),
        ProgressEvent(12),
        ProgressEvent(67),
        CompletedEvent(
            "s_6921a3f0c4e88191b2e8a5d0f1c3b7e4",
            None,
            "https://oscdn2.dyysy.com/MP4/s_6921a3f0c4e88191b2e8a5d0f1c3b7e4.mp4",
        ),
    ],
    "content_policy.sse": [StatusEvent("queued"), ProgressEvent(0), FailedEvent(POLICY, None)],
    "retry_error.sse": [FailedEvent(NO_TOKENS, None)],
    "modified.sse": [
        StatusEvent("generating"),
        ProgressEvent(0),
        ProgressEvent(23),
        ProgressEvent(46),
        ProgressEvent(79),
        CompletedEvent(None, None, SIGNED_RAW),
    ],
    "modified_content_policy.sse": [
        StatusEvent("generating"),
        ProgressEvent(0),
        FailedEvent(POLICY, None),
    ],
    "legacy_timeout.sse": [
        StatusEvent("queued"),
        ProgressEvent(0),
        StatusEvent("generating"),
        ProgressEvent(31),
        FailedEvent("Upstream API timeout: Generation exceeded 1500 seconds limit", None),
    ],
}


@pytest.mark.parametrize("name", sorted(SORA2API_CASES))
def test_sora2api_stream_gives_the_same_events_at_every_byte_split(name: str) -> None:
    wire = (SORA2API / name).read_bytes()
    whole = chat_events([wire])
    assert _kinds(whole) == SORA2API_CASES[name]
    for cut in range(1, len(wire)):
        assert chat_events([wire[:cut], wire[cut:]]) == whole, cut


def test_sora2api_fork_task_id_from_output_and_reasoning() -> None:
    wire = (SORA2API / "shakechandev.sse").read_bytes()
    events = _kinds(chat_events([wire]))
    assert events[0] == TaskEvent("task_01kaqv2m3n4p5q6r7s8t9v0w1x", None, None)
    assert events.count(TaskEvent("task_01kaqv2m3n4p5q6r7s8t9v0w1x", None, None)) == 1
    done = events[-1]
    assert isinstance(done, CompletedEvent)
    assert done.video_url.startswith("https://videos.openai.com/vg-assets/")
    assert "&sig=Zx1v%2BqJtq3e1kU0y8eZ1%2F7m0d%2Bk%3D&az=" in done.video_url


def test_sora2api_retry_notices_are_text_not_failures() -> None:
    parser = TranscriptParser()
    notice = "**生成失败，正在重试**\n\n第 1 次重试（共 3 次）...\n\n失败原因：timeout\n\n"
    events = parser.feed_reasoning(notice)
    assert all(isinstance(event, TextEvent) for event in events)
    assert parser.failed is None
    assert parser.dialect == "sora2api"


def test_sora2api_video_tag_with_double_quotes_and_no_fence() -> None:
    events = parse_transcript('<video src="https://cdn.example/v?a=1&amp;b=2" controls></video>')
    assert events == [CompletedEvent(None, None, "https://cdn.example/v?a=1&b=2")]


def test_seed_stream_is_still_the_transcript_dialect() -> None:
    parser = TranscriptParser()
    for sse in EventSource(
        httpx.Response(200, headers={"content-type": "text/event-stream"}, content=EDIT_SSE)
    ).iter_sse():
        chunk = parse_chunk(sse.data)
        if not chunk.done:
            parser.feed_chunk(chunk)
    parser.flush()
    assert parser.dialect == "transcript"
    assert parser.transcript == EDIT_TEXT


def test_seed_stream_read_as_chat_chunks_gives_the_seed_events() -> None:
    assert chat_events([EDIT_SSE]) == EDIT_EVENTS


@pytest.mark.parametrize("number", ["Infinity", "-Infinity", "NaN"])
def test_source_progress_that_is_no_number_is_unknown(number: str) -> None:
    # json.loads reads these; round() of them raised OverflowError (test_fuzz).
    parsed = parse_source(json.loads(f'{{"status": "running", "progress": {number}}}'))
    assert (parsed.status, parsed.progress) == ("generating", None)


# --- each chat dialect's parser alone, and the one that tells them apart ----

FLOW2API = SEED.parent / "flow2api"
FLOW2API_URL = "https://storage.googleapis.com/flow-output/abc.mp4?GoogleAccessId=x&Signature=y"


def test_markdown_parser_alone_reads_the_seed_at_every_byte_split() -> None:
    for cut in range(1, len(EDIT_SSE)):
        parser = MarkdownParser()
        assert chat_events([EDIT_SSE[:cut], EDIT_SSE[cut:]], parser) == EDIT_EVENTS, cut
        assert parser.transcript == EDIT_TEXT and parser.dialect == "transcript"


def test_markdown_parser_knows_nothing_of_sora2api() -> None:
    parser = MarkdownParser()
    tag = "<video src='https://cdn.example/v.mp4' controls></video>\n"
    progress = ChatChunk(reasoning="**Video Generation Progress**: 46% (running)\n")
    assert parser.feed_chunk(progress) == []
    assert parser.feed(tag) == [TextEvent(tag.strip())]
    assert parser.completed is None and parser.percent is None


@pytest.mark.parametrize("name", sorted(SORA2API_CASES))
def test_sora2api_parser_alone_reads_its_streams_at_every_byte_split(name: str) -> None:
    wire = (SORA2API / name).read_bytes()
    whole = chat_events([wire], Sora2apiParser())
    assert _kinds(whole) == SORA2API_CASES[name]
    # the same events as the parser that tells them apart
    assert whole == chat_events([wire])
    for cut in range(1, len(wire)):
        assert chat_events([wire[:cut], wire[cut:]], Sora2apiParser()) == whole, cut


def test_sora2api_parser_alone_reads_flow2api_at_every_byte_split() -> None:
    wire = (FLOW2API / "success.sse").read_bytes()
    whole = chat_events([wire], Sora2apiParser())
    assert _kinds(whole)[-1] == CompletedEvent(None, None, FLOW2API_URL)
    assert [e for e in whole if isinstance(e, ProgressEvent)][-1] == ProgressEvent(71)
    for cut in range(1, len(wire)):
        assert chat_events([wire[:cut], wire[cut:]], Sora2apiParser()) == whole, cut


def test_a_video_tag_in_content_hands_over_at_every_split_point() -> None:
    # sora2api's answer with no reasoning (stream: false): its tag alone tells
    # the dialect.
    text = "```html\n<video SRC = 'https://cdn.example/v/raw?sig=a%2Fb' controls></video>\n```"
    done = CompletedEvent(None, None, "https://cdn.example/v/raw?sig=a%2Fb")
    for cut in range(1, len(text)):
        parser = TranscriptParser()
        assert fed_to(parser, text, [cut]) == [done], cut
        assert parser.dialect == "sora2api" and parser.transcript == text


def test_a_seed_line_that_names_a_video_tag_stays_the_seed() -> None:
    text = f"> prompt: a <video game> scene, no <video src= here\n{EDIT_TEXT}"
    for cut in range(1, 60):
        parser = TranscriptParser()
        assert fed_to(parser, text, [cut])[-len(EDIT_EVENTS) :] == EDIT_EVENTS, cut
        assert parser.dialect == "transcript"


def test_the_hand_over_keeps_what_the_seed_parser_read() -> None:
    parser = TranscriptParser()
    parser.feed("> ID: `task_01k7e5w9z5f2d91pekrqy59rwc`\n>🏃‍ 进度 36..\n")
    events = parser.feed_chunk(ChatChunk(reasoning="生成进度: 30%\n生成进度: 52%\n"))
    assert events == [StatusEvent("generating"), ProgressEvent(52)]
    assert parser.dialect == "sora2api" and parser.percent == 52
    assert parser.task_id == "task_01k7e5w9z5f2d91pekrqy59rwc"
    assert parser.transcript.endswith("36..\n")


def fed_to(parser: ChatParser, text: str, cuts: list[int]) -> list[object]:
    events: list[object] = []
    for start, end in itertools.pairwise([0, *cuts, len(text)]):
        events += parser.feed(text[start:end])
    return events + parser.flush()
