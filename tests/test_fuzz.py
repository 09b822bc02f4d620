"""Random and hostile input for the parser and the magic (Hypothesis): nothing
escapes but a ``SoraError`` (shown as one sentence) or IPython's ``UsageError``
(docs/protocol.md, "Promises").
"""

from __future__ import annotations

import contextlib
import getpass
import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from httpx_sse._decoders import SSEDecoder, SSELineDecoder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError

from sora_nb import SoraError
from sora_nb._secret import Redactor, Secret
from sora_nb.dialects._shape import prepare
from sora_nb.wire._limits import SSEFeed
from sora_nb.wire._protocol import TranscriptParser, parse_chunk, parse_source

from .hostile import HostileRelay
from .scripted import serve
from .test_magic import Cells, cells  # noqa: F401  (the fixture)

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

# Text the relay might send: its own words and markup, mixed with anything.
RELAY_WORDS = st.sampled_from(
    [
        "> 排队中",
        "> 生成中",
        ">🏃 进度 ",
        "36..",
        "[100](https://x/v.mp4)",
        "```json\n",
        "\n```",
        "任务ID: task_01k7",
        "> sid: s_1",
        "[▶️ 在线播放](https://x/v.mp4)",
        "![t](https://x/t.webp)",
        "生成失败",
        "错误原因: ",
        "❌",
        "\n",
        "\r\n",
        "\x00",
        "{",
        '"error"',
        "<video src=x>",
    ]
)
RELAY_TEXT = st.lists(st.one_of(RELAY_WORDS, st.text(max_size=40)), max_size=40).map("".join)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["status", "progress", "url", "error", "data", "sid", "prompt", "x"]),
            inner,
            max_size=5,
        )
    ),
    max_leaves=15,
)


@settings(max_examples=300, deadline=None)
@given(text=RELAY_TEXT, cuts=st.lists(st.integers(0, 2000), max_size=12))
def test_the_parser_takes_any_text_at_any_split(text: str, cuts: list[int]) -> None:
    parser = TranscriptParser()
    points = sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    for start, end in itertools.pairwise(points):
        parser.feed(text[start:end])
    parser.flush()
    assert parser.transcript == text


KEY = "sk-fuzz-0123456789abcdef"
# Text close to the key: its pieces, its first letter, copies of it.
NEAR_KEY = st.lists(
    st.sampled_from([KEY, KEY[:2], KEY[:9], KEY[3:], "s", "k", " ", "进", "sk-", "\n"]),
    max_size=30,
).map("".join)


@settings(max_examples=500, deadline=None)
@given(text=NEAR_KEY, cuts=st.lists(st.integers(0, 400), max_size=10))
def test_a_stream_is_redacted_as_its_whole_text_at_any_split(text: str, cuts: list[int]) -> None:
    secret, redactor = Secret(KEY), Redactor(Secret(KEY))
    points = sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    out = "".join(redactor.feed(text[a:b]) for a, b in itertools.pairwise(points))
    assert out + redactor.flush() == secret.redact(text)


# Lines of an event stream, every field and line ending among them.
SSE_PIECES = st.sampled_from(
    ["data: x", "data:y", "data", "data:  two", "event: e", "event:", "id: 1", "id:", "id: a\0",
     "retry: 5", "retry: z", ": comment", "other: b", "é", "\r", "\n", "\r\n", "\n\n", ""]
)  # fmt: skip


def _httpx_sse_data(pieces: list[bytes]) -> list[str]:
    """What httpx-sse's own decoders make of ``pieces``: the ``data`` of each
    event.
    """
    lines, events, found = SSELineDecoder(), SSEDecoder(), []
    # whole: no split to get wrong
    text = b"".join(pieces).decode("utf-8", "replace")
    for line in [*lines.decode(text), *lines.flush()] if text else []:
        event = events.decode(line)
        if event is not None:
            found.append(event.data)
    return found


@settings(max_examples=500, deadline=None)
@given(parts=st.lists(SSE_PIECES, max_size=24), cuts=st.lists(st.integers(0, 200), max_size=6))
def test_the_sse_feed_reads_events_as_httpx_sse_does_at_any_split(
    parts: list[str], cuts: list[int]
) -> None:
    data = "".join(parts).encode()
    bounds = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    pieces = [data[a:b] for a, b in itertools.pairwise(bounds)]
    feed, found = SSEFeed(), []
    for piece in pieces:
        found += feed.feed(piece)
    assert found + feed.flush() == _httpx_sse_data(pieces)


@settings(max_examples=300, deadline=None)
@given(obj=JSON, raw=st.text(max_size=60))
def test_chunks_and_status_json_never_raise_but_value_error(obj: Any, raw: str) -> None:
    parse_chunk(raw)
    parse_chunk(json.dumps(obj))
    parse_chunk(json.dumps({"choices": [{"delta": obj}], "error": obj}))
    # the client: "the source URL did not return JSON"
    with contextlib.suppress(ValueError):
        parse_source(obj)


@settings(max_examples=200, deadline=None)
@given(prompt=st.text(max_size=50), model=st.text(max_size=12), shape=st.text(max_size=8))
def test_prepare_refuses_with_invalid_request_only(prompt: str, model: str, shape: str) -> None:
    for image in (None, "", "http://x", prompt, prompt.encode()):
        with contextlib.suppress(SoraError):
            prepare(prompt, model, shape, image)


# -- the magic -----------------------------------------------------------------

OPTIONS = st.sampled_from(
    [
        "--model",
        "-m",
        "--orientation",
        "--ratio",
        "--image",
        "--edit",
        "--as",
        "--no-save",
        "--embed",
        "-h",
        "sora-2",
        "portrait",
        "16:9",
        '""',
        "''",
        '"',
        "http://x/a.png",
        "https://x/a.png",
        "0",
        "-1",
        "--1",
        "²",
        "task_unknown",
        "None",
        "class",
    ]
)
LINE = st.lists(st.one_of(OPTIONS, st.text(max_size=10)), max_size=6).map(" ".join)
BODY = st.lists(
    st.one_of(
        st.sampled_from(["{d[zz]}", "{obj.zz}", "{d!z}", "{d:%%}", "{", "}", "{{x}}", "{0}"]),
        st.text(max_size=20),
    ),
    max_size=6,
).map("".join)
COMMANDS = st.sampled_from(["config", "history", "reset", "help", "resume", "nope", ""])
CONFIG = st.sampled_from(
    [
        "--model",
        "--orientation",
        "--save-dir",
        "--language",
        "--session",
        "--autosave",
        "--base-url",
        "--api-key",
        "zh",
        "none",
        "x/y.json",
        '""',
        "http://LOCALHOST:1",
        "https://a:99999",
    ]
)


@pytest.fixture
def refusing(cells: Cells, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cells]:  # noqa: F811
    """The magic pointed at a hostile relay that refuses every request at
    once.
    """

    def no_terminal(prompt: str = "") -> str:
        raise EOFError  # as a frontend without stdin

    monkeypatch.setattr(getpass, "getpass", no_terminal)
    app = HostileRelay()
    app.refuse_unscripted = True
    for url in serve(app):
        cells.magics.base_url = url
        cells.shell.user_ns.update(d={}, obj=object(), x="a cow")
        yield cells


def _survives(call: Any, *args: str) -> None:
    with contextlib.suppress(UsageError):  # IPython shows it as one line
        call(*args)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(line=LINE, body=BODY)
def test_the_cell_magic_takes_any_line_and_body(refusing: Cells, line: str, body: str) -> None:
    _survives(refusing.cell, line, body)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(command=COMMANDS, rest=st.lists(st.one_of(CONFIG, st.text(max_size=8)), max_size=4))
def test_the_line_magic_takes_any_command(refusing: Cells, command: str, rest: list[str]) -> None:
    url = refusing.magics.base_url
    _survives(refusing.line, " ".join([command, *rest]))
    refusing.magics.base_url = url  # keep talking to the hostile relay
