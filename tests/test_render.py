"""Mime bundles of a Video and a Session: escaping, URL filtering, local copies
first.
"""

from __future__ import annotations

import base64
import io
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from sora_nb import Request, Task, Video
from sora_nb.notebook._output import message_bundle
from sora_nb.notebook._progress import ProgressView
from sora_nb.notebook._tiles import tile_html
from sora_nb.records._turn import finished
from sora_nb.render._render import history_mimebundle, safe_url, video_mimebundle
from sora_nb.session._history import Session, Turn

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes"'
JS = "javascript:alert(document.cookie)"
URL_ATTRIBUTES = {"src", "href", "poster"}


pytestmark = pytest.mark.usefixtures("isolated_sessions")


class Tags(HTMLParser):
    """Every start tag with its attributes, as a browser would read them."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def urls(self) -> list[str]:
        return [v for _, a in self.tags for k, v in a.items() if k in URL_ATTRIBUTES and v]

    def find(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


def make_video(**changes: Any) -> Video:
    values: dict[str, Any] = {
        "prompt": "a cow and a horse dancing",
        "model": "sora-2",
        "orientation": "portrait",
        "task_id": "task_01k7dzptgwf2z87wj2c3t36qk0",
        "sid": "s_68ec8accd80c8191ae1fc957af78caaa",
        "video_url": "https://cdn.example/v/5781.mp4",
        "thumbnail_url": "https://cdn.example/v/929d.webp",
        "preview_url": "https://asyncdata.net/web/task_01k7dzptgwf2z87wj2c3t36qk0",
        "source_url": "https://asyncdata.net/source/task_01k7dzptgwf2z87wj2c3t36qk0",
        "transcript": "> sid: s_68ec8accd80c8191ae1fc957af78caaa",
        "image": None,
        "messages": [{"role": "user", "content": "a cow and a horse dancing"}],
        "elapsed": 72.5,
    }
    values.update(changes)
    asked = [values.pop(key) for key in ("prompt", "model", "orientation", "image", "messages")]
    request = Request(*asked)
    task = Task(values.pop("task_id"), values.pop("source_url"), values.pop("preview_url"))
    return Video(request, task, **values)


def done(index: int, prompt: str, model: str, parent: int | None = None, **video: Any) -> Turn:
    turn = Turn(index, Request(prompt, model), parent=parent, task=Task(f"task_{index}"))
    return finished(turn, Video(turn.request, turn.task, sid=None, **video))


def assert_safe(html: str) -> Tags:
    tags = Tags(html)
    assert "<script" not in html.lower()
    assert all(not k.startswith("on") for _, attrs in tags.tags for k in attrs)
    assert all(safe_url(url) == url for url in tags.urls())
    return tags


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(JS, id="javascript"),
        pytest.param("JavaScript:alert(1)", id="mixed-case"),
        pytest.param("  javascript:alert(1)", id="leading-space"),
        pytest.param("java\tscript:alert(1)", id="tab-inside"),
        pytest.param("java\nscript:alert(1)", id="newline-inside"),
        pytest.param("vbscript:msgbox(1)", id="vbscript"),
        pytest.param("data:text/html;base64,PHNjcmlwdD4=", id="data-html"),
        pytest.param("data:image/svg+xml;base64,PHN2Zz4=", id="data-svg"),
        pytest.param("data:image/png;base64,AAAA<script>", id="data-not-base64"),
        pytest.param("file:///etc/passwd", id="file"),
        pytest.param("//evil.example/x.mp4", id="protocol-relative"),
        pytest.param("\\\\evil.example\\x.mp4", id="backslashes"),
        pytest.param("https://", id="no-host"),
        pytest.param("", id="empty"),
        pytest.param(None, id="none"),
    ],
)
def test_safe_url_refuses(url: str | None) -> None:
    assert safe_url(url) is None


@pytest.mark.parametrize(
    "url",
    [
        "https://filesystem.site/cdn/20251013/5781a601c5ce5e216e914fef119c99.mp4",
        "http://127.0.0.1:8765/files/a.webp?x=1&y=2",
        "sora_outputs/task_01k7dzptgwf2z87wj2c3t36qk0.mp4",
        "../media/clip%20one.mp4",
        "data:image/png;base64,iVBORw0KGgo=",
    ],
)
def test_safe_url_keeps(url: str) -> None:
    assert safe_url(url) == url


def test_video_html_is_a_player_with_poster_and_links() -> None:
    bundle = video_mimebundle(make_video())
    assert set(bundle) == {"text/html", "text/markdown", "text/plain"}
    tags = assert_safe(bundle["text/html"])
    (video,) = tags.find("video")
    assert {"controls", "playsinline"} <= set(video) and video["preload"] == "metadata"
    assert video["poster"] == "https://cdn.example/v/929d.webp"
    (source,) = tags.find("source")
    assert source == {"src": "https://cdn.example/v/5781.mp4", "type": "video/mp4"}
    links = [a["href"] for a in tags.find("a")]
    assert "https://cdn.example/v/5781.mp4" in links
    assert "https://asyncdata.net/web/task_01k7dzptgwf2z87wj2c3t36qk0" in links
    html = bundle["text/html"]
    for text in (
        "a cow and a horse dancing",
        "sora-2",
        "portrait",
        "task_01k7dzptgwf2z87wj2c3t36qk0",
    ):
        assert text in html
    assert "var(--jp-" in html
    assert "task_01k7dzptgwf2z87wj2c3t36qk0" in bundle["text/plain"]
    assert "](https://cdn.example/v/5781.mp4)" in bundle["text/markdown"]


def test_hostile_prompt_and_urls_are_escaped_and_dropped() -> None:
    video = make_video(
        prompt=HOSTILE,
        model='sora-2"><script>',
        task_id="<b>task</b>",
        video_url=JS,
        thumbnail_url="javascript:alert(2)",
        preview_url="data:text/html,<script>alert(3)</script>",
        source_url="JAVASCRIPT:alert(4)",
    )
    bundle = video_mimebundle(video)
    html = bundle["text/html"]
    tags = assert_safe(html)
    assert "javascript" not in " ".join(tags.urls()).lower()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert not tags.find("video") and not tags.find("b")
    markdown = bundle["text/markdown"]
    assert "<script" not in markdown and "javascript:" not in markdown.lower()
    assert "](" not in markdown  # no link at all without a safe URL


def test_embedded_video_plays_from_its_own_bytes_in_the_same_layout() -> None:
    video = make_video(prompt=HOSTILE)
    html = video_mimebundle(video, embed=b"\x00\x00\x00\x18ftypmp42")
    tags = Tags(html["text/html"])
    sources = [attrs["src"] for tag, attrs in tags.tags if tag == "source"]
    assert sources == ["data:video/mp4;base64,AAAAGGZ0eXBtcDQy"]
    assert "<script" not in html["text/html"].lower()
    # Only the bytes we were given become a data: URL; the rest stays filtered.
    others = [url for url in tags.urls() if url not in sources]
    assert all(safe_url(url) == url for url in others)
    plain = Tags(video_mimebundle(video)["text/html"])
    assert [a["src"] for a in plain.find("source")] == ["https://cdn.example/v/5781.mp4"]
    # the same layout
    assert [t for t, _ in plain.tags] == [t for t, _ in tags.tags]


def test_a_local_copy_is_preferred_by_relative_path() -> None:
    Path("sora_outputs").mkdir()
    Path("sora_outputs/task one.mp4").write_bytes(b"mp4")
    Image.new("RGB", (360, 640), "purple").save("sora_outputs/task one.webp", "WEBP")
    video = make_video(
        local_path="sora_outputs/task one.mp4", local_thumbnail="sora_outputs/task one.webp"
    )
    tags = assert_safe(video_mimebundle(video)["text/html"])
    (player,) = tags.find("video")
    # JupyterLab resolves a relative src but not a poster: the poster is
    # inlined, small.
    poster = player["poster"] or ""
    assert poster.startswith("data:image/webp;base64,")
    with Image.open(io.BytesIO(base64.b64decode(poster.split(",", 1)[1]))) as image:
        assert image.size == (270, 480)
    assert tags.find("img")[0]["src"] == "sora_outputs/task%20one.webp"
    assert tags.find("source")[0]["src"] == "sora_outputs/task%20one.mp4"
    hrefs = [a["href"] for a in tags.find("a")]
    # the relay's link is still offered
    assert "https://cdn.example/v/5781.mp4" in hrefs
    assert video._repr_mimebundle_() == video_mimebundle(video)


def test_an_unreadable_local_thumbnail_is_not_inlined() -> None:
    Path("sora_outputs").mkdir()
    Path("sora_outputs/t.webp").write_bytes(b"not an image")
    tags = assert_safe(
        video_mimebundle(make_video(local_thumbnail="sora_outputs/t.webp"))["text/html"]
    )
    assert tags.find("video")[0]["poster"] == "sora_outputs/t.webp"


def test_a_missing_or_absolute_local_copy_falls_back_to_the_relay() -> None:
    absolute = Path("abs.mp4").resolve()
    absolute.write_bytes(b"mp4")
    for local in ("sora_outputs/gone.mp4", str(absolute)):
        tags = Tags(video_mimebundle(make_video(local_path=local))["text/html"])
        assert tags.find("source")[0]["src"] == "https://cdn.example/v/5781.mp4"


def history_session() -> Session:
    session = Session("render <b>")
    Path("t0.webp").write_bytes(b"webp")
    turns = [
        done(
            0,
            "a cow",
            "sora-2",
            video_url="https://c/0.mp4",
            thumbnail_url="https://c/0.webp",
            local_thumbnail="t0.webp",
        ),
        done(1, HOSTILE, "sora-2", 0, video_url=JS, thumbnail_url="javascript:alert(1)"),
        Turn(
            2,
            Request("make it snow", "sora-2-pro"),
            status="failed",
            parent=0,
            task=Task("task_2"),
            error='content policy "<x>"',
        ),
        Turn(3, Request("a horse", "sora-2"), status="interrupted", task=Task("task_3")),
        Turn(4, Request("add clouds", "sora-2"), status="running", parent=1),
    ]
    turns[1] = replace(turns[1], name="<i>halo</i>")
    session._turns = turns
    return session


def test_history_table_shows_turns_in_branch_order() -> None:
    session = history_session()
    bundle = history_mimebundle(session)
    html = bundle["text/html"]
    tags = assert_safe(html)
    assert [a["src"] for a in tags.find("img")] == ["t0.webp"]
    order = [html.index(f">#{i}<") for i in (0, 1, 4, 2, 3)]
    assert order == sorted(order)  # each turn followed by its edits
    for status in ("done", "failed", "interrupted", "running"):
        assert f">{status}</span>" in html
    assert "&lt;i&gt;halo&lt;/i&gt;" in html and "render &lt;b&gt;" in html
    assert "(edits #0)" in html and "(edits #1)" in html
    plain = bundle["text/plain"].splitlines()
    assert plain[0] == "Session 'render <b>' · turns: 5"
    assert [line.lstrip(" └─").split()[0] for line in plain[1:]] == ["#0", "#1", "#4", "#2", "#3"]
    assert plain[3].startswith("   └─ #4")
    assert session._repr_mimebundle_() == bundle


def test_an_empty_history_says_so() -> None:
    bundle = history_mimebundle(Session("empty"))
    assert "nothing generated yet" in bundle["text/html"]
    assert bundle["text/plain"] == "Session 'empty' · turns: 0"


def test_history_rows_read_cleanly() -> None:
    session = Session("clean")
    cow = Turn(0, Request("a cow", "sora-2"), task=Task("task_0", "https://c/s", "https://c/p"))
    broke = (
        "The stream of task task_1 broke (cut); `%sora resume task_1` collects it. (task task_1)"
    )
    session._turns = [
        finished(cow, Video(cow.request, cow.task, sid=None, elapsed=4.6, video_url="https://c/0")),
        Turn(1, Request("a fox", "sora-2"), status="failed", task=Task("task_1"), error=broke),
    ]
    html = history_mimebundle(session)["text/html"]
    # a duration never wraps between its number and unit
    assert "4.6&nbsp;s" in html
    # video · relay · preview links, visibly apart
    assert re.search(r"</a> · <a ", html)
    # the tooltip keeps it all
    assert "task task_1" not in re.sub(r' title="[^"]*"', "", html)
    assert "The stream of the task broke (cut); `%sora resume task_1` collects it." in html


# Symbols a machine without an emoji or symbol font draws as empty boxes
# (arrows, ✓ ✗ ℹ ⚠ ▶).
GLYPHS = re.compile("[\u2190-\u21ff\u2300-\u23ff\u2460-\u27bf\u2900-\u2bff\U0001f000-\U0001ffff]")


@pytest.mark.parametrize(
    ("kind", "mark"), [("error", "✗"), ("warning", "!"), ("info", "ℹ")], ids=str
)
def test_a_one_line_message_draws_its_mark_as_svg_and_keeps_it_in_plain_text(
    kind: Any, mark: str
) -> None:
    bundle = message_bundle("The prompt is empty: write one.", kind)
    assert GLYPHS.findall(bundle["text/html"]) == [] and f"{mark} " not in bundle["text/html"]
    assert bundle["text/html"].count("<svg") == 1 and 'aria-hidden="true"' in bundle["text/html"]
    assert bundle["text/plain"] == f"{mark} The prompt is empty: write one."


def test_html_outputs_carry_no_glyph_that_may_draw_as_a_box() -> None:
    session = history_session()
    history = history_mimebundle(session)["text/html"]
    # the three edits' markers
    assert history.count('class="sora-nb-icon"') == 3
    view = ProgressView()
    view.fail("The relay refused the prompt.")
    outputs = [history, view.html(), view.html(live=False)]
    outputs += [tile_html(turn) for turn in session.turns]
    assert [GLYPHS.findall(html) for html in outputs] == [[]] * len(outputs)
    # text keeps its tree
    assert history_mimebundle(session)["text/plain"].count("└─") == 3
