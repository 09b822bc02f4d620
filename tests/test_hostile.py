"""Every README promise against a relay written to misbehave (tests/hostile.py),
on a real loopback port: the key stays secret, every failure is a SoraError,
limits hold.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sora_nb import (
    APIConnectionError,
    APIError,
    APIStatusError,
    GenerationFailed,
    InvalidRequest,
    Session,
    SoraClient,
    SoraError,
    Video,
)
from sora_nb._secret import BearerAuth, Redactor, Secret, origin
from sora_nb.client._download import download
from sora_nb.emulator import EmulatorServer
from sora_nb.emulator._draw import _font, _wrap
from sora_nb.emulator._markdown import MAX_ECHO_FRAGMENTS, echo_block, echo_tokens
from sora_nb.render._render import video_mimebundle
from sora_nb.wire import _limits

from .hostile import EchoStream, HostileRelay, bomb_png, endless_line_script, keepalive_script
from .scripted import Script, Step, json_script, serve, sse_script
from .test_magic import Cells, cells  # noqa: F401  (the fixture)

pytestmark = pytest.mark.anyio

KEY = "sk-hostile-SECRET-0123456789abcdef"


@pytest.fixture
def hostile() -> Iterator[tuple[HostileRelay, str]]:
    app = HostileRelay()
    for url in serve(app):
        yield app, url


# -- 1. the key is a secret ----------------------------------------------------


def test_secret_repr_str_and_format_are_masked() -> None:
    secret = Secret(KEY)
    for shown in (repr(secret), str(secret), f"{secret}", f"{secret:>40}", repr([secret])):
        assert KEY not in shown and "…cdef" in shown
    assert secret == KEY and secret.reveal() == KEY and Secret.of("  ") is None
    with pytest.raises(TypeError):
        __import__("pickle").dumps(secret)


@pytest.mark.parametrize("piece", [1, 2, 3, 7, 64])
def test_redactor_masks_a_key_split_across_fragments(piece: int) -> None:
    text = f"401: bad token {KEY}, expected another; Bearer {KEY}\nsss{KEY[:5]}"
    redactor = Redactor(Secret(KEY))
    out = "".join(redactor.feed(text[i : i + piece]) for i in range(0, len(text), piece))
    out += redactor.flush()
    assert KEY not in out and out.count("sk-…cdef") == 2 and out.endswith(f"sss{KEY[:5]}")


def test_redactor_holds_back_only_what_could_start_the_key() -> None:
    redactor = Redactor(Secret(KEY))
    # progress is never delayed
    assert redactor.feed("> 进度 36..") == "> 进度 36.."
    assert redactor.feed("x s") == "x " and redactor.feed("ky") == "sky"


# -- 2. the key reaches its own relay however the base URL is spelled ----------


@pytest.mark.parametrize(
    "spelling",
    [
        pytest.param("{scheme}://{host}:{port}", id="plain"),
        pytest.param("{scheme}://{HOST}:{port}", id="upper-case-host"),
        pytest.param("{scheme}://user:pw@{host}:{port}", id="user-info"),
        pytest.param("{SCHEME}://{host}:{port}/", id="upper-case-scheme"),
    ],
)
async def test_the_key_reaches_its_own_origin_however_spelled(
    hostile: tuple[HostileRelay, str], spelling: str
) -> None:
    app, url = hostile
    parsed = httpx.URL(url)
    base = spelling.format(
        scheme="http", SCHEME="HTTP", host="localhost", HOST="LOCALHOST", port=parsed.port
    )
    auth = BearerAuth(Secret(KEY), base)
    app.status_codes["/gone"] = 410
    async with httpx.AsyncClient() as http:
        await http.get(f"http://localhost:{parsed.port}/gone", auth=auth)
        await http.get(f"http://127.0.0.1:{parsed.port}/gone", auth=auth)
    assert app.headers[0]["authorization"] == f"Bearer {KEY}"
    assert "authorization" not in app.headers[1]  # another host: never


def test_default_ports_are_the_same_origin() -> None:
    assert origin("https://relay.example:443/v1") == origin("https://RELAY.example")
    assert origin("http://relay.example:80") == origin("http://relay.example/")
    assert origin("https://relay.example:8443") != origin("https://relay.example")
    assert origin("http://relay.example") != origin("https://relay.example")


# -- 3. every failure of a download is a SoraError -----------------------------


@pytest.mark.parametrize(
    ("path", "kind", "words"),
    [
        pytest.param("loop.mp4", APIConnectionError, "redirects in a loop", id="redirect-loop"),
        pytest.param("garbled.mp4", APIError, "Content-Encoding", id="garbled-encoding"),
        pytest.param("huge.mp4", APIError, "limit", id="over-the-cap"),
    ],
)
async def test_a_hostile_link_fails_with_one_sora_error(
    hostile: tuple[HostileRelay, str], tmp_path: Path, path: str, kind: type, words: str
) -> None:
    _, url = hostile
    with pytest.raises(kind, match=words) as caught:
        await download(f"{url}/media/{path}", tmp_path / "v.mp4", retries=0)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "v.mp4").exists()


async def test_a_body_longer_than_the_cap_is_cut_off(
    hostile: tuple[HostileRelay, str], tmp_path: Path
) -> None:
    _, url = hostile
    with pytest.raises(APIError, match="limit"):
        await download(f"{url}/media/liar.mp4", tmp_path / "v.mp4", max_bytes=2**20)
    assert list(tmp_path.iterdir()) == []  # neither the file nor its part


@pytest.mark.parametrize(
    "link",
    ["http://127.0.0.1:99999/v.mp4", "http://127.0.0.1:0/v.mp4", "http://[::1/v.mp4"],
    ids=["port-out-of-range", "port-zero", "bad-host"],
)
async def test_a_bad_port_or_host_is_a_sora_error(link: str, tmp_path: Path) -> None:
    with pytest.raises(SoraError):
        await download(link, tmp_path / "v.mp4", retries=0)


async def test_an_unwritable_folder_is_a_sora_error(
    hostile: tuple[HostileRelay, str], tmp_path: Path
) -> None:
    _, url = hostile
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(InvalidRequest, match="Cannot write"):
        await download(f"{url}/media/huge.mp4", tmp_path / "file" / "v.mp4")


# -- 5. bounded thumbnails -----------------------------------------------------


def test_an_image_bomb_thumbnail_renders_without_decoding(
    isolated_sessions: None, tmp_path: Path
) -> None:
    from .test_render import make_video

    Path("sora_outputs").mkdir()
    Path("sora_outputs/bomb.png").write_bytes(bomb_png())
    bundle = video_mimebundle(make_video(local_thumbnail="sora_outputs/bomb.png"))
    # the file's path, not a decoded copy
    assert "data:image/webp" not in bundle["text/html"]
    assert "sora_outputs/bomb.png" in bundle["text/html"]


# -- 9. the emulator stays fast for any prompt ---------------------------------


def test_a_long_prompt_is_echoed_in_a_bounded_number_of_fragments() -> None:
    prompt = "a cow " * 20_000
    echo = echo_block(prompt, "portrait", None)
    fragments = echo_tokens(echo)
    assert len(fragments) <= MAX_ECHO_FRAGMENTS and "".join(fragments) == echo
    short = echo_block("a cow", "portrait", None)
    # a short echo still streams token by token
    assert len(echo_tokens(short)) > 10


def test_a_long_caption_wraps_in_bounded_rows() -> None:
    rows = _wrap("a cow " * 20_000, _font(24), 600, 3)
    assert len(rows) == 3 and rows[-1].endswith("…")


async def test_the_emulator_streams_a_100k_character_prompt(emulator: EmulatorServer) -> None:
    prompt = "一头奶牛 and a horse " * 6_000  # 108k characters
    body = {"model": "sora-2", "stream": True, "messages": [{"role": "user", "content": prompt}]}
    chunks = 0
    headers = {"Authorization": "Bearer sk-any"}
    url = f"{emulator.url}/v1/chat/completions"
    text = []
    async with (
        httpx.AsyncClient(timeout=60, headers=headers) as http,
        http.stream("POST", url, json=body) as answer,
    ):
        async for line in answer.aiter_lines():
            if line.startswith("data: {"):
                chunks += 1
                delta = json.loads(line[6:])["choices"][0]["delta"]
                text.append(delta.get("content") or "")
    transcript = "".join(text)
    assert transcript.count("一头奶牛 and a horse") == 6_000 and ".mp4" in transcript
    assert chunks < MAX_ECHO_FRAGMENTS + 200


# -- 7. careless input in the magic: one sentence, never a traceback -----------


@pytest.fixture
def magic(cells: Cells) -> Cells:  # noqa: F811  (test_magic's fixture)
    return cells


@pytest.mark.parametrize(
    ("line", "body", "words"),
    [
        pytest.param("", "a {d[zz]} cow", "{d[zz]}", id="missing-key"),
        pytest.param("", "a {obj.zz} cow", "{obj.zz}", id="missing-attribute"),
        pytest.param("", "a {d!z} cow", "conversion", id="bad-conversion"),
        pytest.param("", "a {x:%%} cow", "format", id="bad-format-spec"),
        pytest.param('--image ""', "a cow", "image is empty", id="empty-image"),
        pytest.param("--image http://x.example/a.png", "a cow", "https only", id="http-image"),
        pytest.param('--as "', "a cow", "closing quotation", id="open-quote"),
    ],
)
def test_careless_cell_input_is_one_sentence(
    magic: Cells, line: str, body: str, words: str
) -> None:
    magic.shell.user_ns.update(d={}, obj=object(), x=3)
    magic.cell(line, body)
    (error,) = magic.errors()
    assert words in error and "\n" not in error and magic.session.turns == []


@pytest.mark.parametrize("ref", ["--1", "²", "٣x"])
def test_a_resume_ref_that_is_no_index_is_one_sentence(magic: Cells, ref: str) -> None:
    magic.line(f"resume {ref}")
    (error,) = magic.errors()
    assert f"No turn {ref!r}" in error


def test_an_unwritable_autosave_file_is_one_sentence(magic: Cells, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("a file, not a folder")
    magic.line("config --autosave afile/history.json")
    magic.line("history")
    (error,) = magic.errors()
    assert error.startswith("Cannot use the file") and "\n" not in error


# -- the client against the hostile relay --------------------------------------

TASK = "task_01hostile"


def transcript(url: str, *, video: str = "/media/v.mp4", extra: str = "") -> str:
    """A relay transcript whose links point back at the hostile relay."""
    return (
        f"> ID: `{TASK}`\n>[数据预览]({url}/web/{TASK}) | [原始数据]({url}/source/{TASK})\n"
        f"> 排队中...\n{extra}> 生成中..\n\n>🏃 进度 36..100\n\n"
        f"> sid: s_0123\n![t]({url}/media/t.webp)\n[▶️ 在线播放]({url}{video})\n"
    )


def client_for(url: str, **options: Any) -> SoraClient:
    return SoraClient(base_url=url, api_key=KEY, poll_interval=0.05, **options)


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(
            json_script(401, {"error": {"message": "Invalid token {bearer}"}}), id="401-json"
        ),
        pytest.param(
            json_script(502, b"<html><title>Bad gateway for Bearer {bearer}</title></html>"),
            id="502-page",
        ),
        pytest.param(
            json_script(200, {"error": {"message": "upstream refused {bearer}"}}),
            id="json-error",
        ),
        pytest.param(
            Script(steps=[Step(b'data: {"error": {"message": "token {bearer} banned"}}\n\n')]),
            id="in-stream-error",
        ),
        pytest.param(
            EchoStream(
                text=f"> ID: `{TASK}`\n> 排队中..\n生成失败\n错误原因: key {{bearer}} is banned\n"
            ),
            id="failure-line",
        ),
    ],
)
async def test_the_key_echoed_by_the_relay_never_shows(
    hostile: tuple[HostileRelay, str], script: Script
) -> None:
    app, url = hostile
    app.scripts.append(script)
    async with client_for(url, max_retries=0) as client:
        with pytest.raises(SoraError) as caught:
            await client.generate("a cow")
    assert KEY not in str(caught.value) and "…cdef" in str(caught.value)


async def test_a_key_split_across_chunks_is_redacted_from_the_transcript(
    hostile: tuple[HostileRelay, str], tmp_path: Path
) -> None:
    app, url = hostile
    app.scripts.append(EchoStream(text=transcript(url, extra="> echo: {bearer}\n")))
    app.media["/media/v.mp4"] = app.media["/media/huge.mp4"]
    async with client_for(url) as client:
        session = Session("redacted", client=client, save_dir=tmp_path, download=False)
        video = await session.generate("a cow")
        saved = session.save(tmp_path / "history.json").read_text(encoding="utf-8")
    assert KEY not in video.transcript and "sk-…cdef" in video.transcript
    assert KEY not in saved and KEY not in repr(video)


async def test_the_key_in_status_json_never_shows(hostile: tuple[HostileRelay, str]) -> None:
    app, url = hostile
    app.sources.append({"status": "failed", "failure_reason": "quota of {bearer} is used up"})
    async with client_for(url) as client:
        with pytest.raises(GenerationFailed) as caught:
            await client.resume(TASK)
    assert KEY not in str(caught.value) and "quota of sk-…cdef" in str(caught.value)


async def test_a_verbose_traceback_never_shows_the_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from IPython.core.ultratb import VerboseTB

    monkeypatch.setenv("SORA_API_KEY", KEY)
    try:
        SoraClient(base_url="http://relay.example:99999")
    except SoraError:
        text = VerboseTB(theme_name="nocolor").text(*__import__("sys").exc_info())
    assert "api_key" in text and KEY not in text and "sk-…cdef" in text


def test_config_shows_the_key_masked(magic: Cells, capsys: pytest.CaptureFixture[str]) -> None:
    magic.shell.run_line_magic("config", f"SoraMagics.api_key = {KEY!r}")
    shown = repr(magic.shell.run_line_magic("config", "SoraMagics.api_key"))
    magic.shell.run_line_magic("config", "SoraMagics")
    magic.line("config")
    printed = capsys.readouterr().out
    assert KEY not in shown + printed and "sk-…cdef" in shown and "sk-…cdef" in printed
    assert magic.magics.api_key == KEY  # kept, only never shown


async def test_the_key_reaches_its_relay_spelled_in_upper_case(
    hostile: tuple[HostileRelay, str],
) -> None:
    app, url = hostile
    port = httpx.URL(url).port
    app.scripts.append(sse_script(transcript(url)))
    async with client_for(f"http://user@LOCALHOST:{port}/") as client:
        await client.generate("a cow")
    assert app.headers[0]["authorization"] == f"Bearer {KEY}"


# -- 3. every failure is a SoraError; a failed copy never fails the job ------


async def test_a_garbled_stream_encoding_is_a_sora_error(hostile: tuple[HostileRelay, str]) -> None:
    app, url = hostile
    headers = {"content-type": "text/event-stream", "content-encoding": "gzip"}
    app.scripts.append(Script(headers=headers, steps=[Step(b"data: not gzip\n\n" * 20)]))
    async with client_for(url) as client:
        with pytest.raises(APIConnectionError, match=r"decod|Content-Encoding"):
            await client.generate("a cow")


@pytest.mark.parametrize("link", ["/media/loop.mp4", "/media/garbled.mp4", "/media/huge.mp4"])
async def test_a_bad_link_leaves_a_playable_done_turn(
    hostile: tuple[HostileRelay, str], tmp_path: Path, link: str
) -> None:
    app, url = hostile
    app.scripts.append(sse_script(transcript(url, video=link)))
    async with client_for(url) as client:
        session = Session("bad-link", client=client, save_dir=tmp_path)
        session.max_download_bytes = 2**20
        video = await session.generate("a cow")
    assert video.local_path is None and video.video_url == f"{url}{link}"
    assert session.turns[-1].status == "done"


async def test_one_bad_link_never_cancels_a_batch(
    hostile: tuple[HostileRelay, str], tmp_path: Path
) -> None:
    app, url = hostile
    app.media["/media/v.mp4"] = app.media["/media/huge.mp4"]
    links = ["/media/loop.mp4", "/media/v.mp4", "/media/garbled.mp4"]
    app.scripts += [
        sse_script(transcript(url, video=link).replace(TASK, f"task_{i}"))
        for i, link in enumerate(links)
    ]
    async with client_for(url) as client:
        session = Session("batch", client=client, save_dir=tmp_path)
        session.max_download_bytes = 2**20
        results = await session.generate_many(["a", "b", "c"], concurrency=1)
    assert all(isinstance(result, Video) for result in results)
    assert [turn.status for turn in session.turns] == ["done"] * 3


async def test_a_failed_copy_can_be_made_again(
    hostile: tuple[HostileRelay, str], tmp_path: Path
) -> None:
    app, url = hostile
    loop = app.media["/media/loop.mp4"]
    app.media["/media/v.mp4"] = loop
    app.scripts.append(sse_script(transcript(url)))
    async with client_for(url) as client:
        session = Session("again", client=client, save_dir=tmp_path)
        first = await session.generate("a cow")
        # the link works now
        app.media["/media/v.mp4"] = app.media["/media/liar.mp4"]
        again = await session.save_copy(0)
    assert first.local_path is None and again.local_path is not None
    assert Path(again.local_path).stat().st_size == 48 * 65536


# -- 4. the deadline holds on the clock ----------------------------------------


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(keepalive_script(60), id="keep-alive-comments"),
        pytest.param(endless_line_script(6000), id="a-line-that-never-ends"),
    ],
)
async def test_the_deadline_holds_whatever_bytes_arrive(
    hostile: tuple[HostileRelay, str], script: Script
) -> None:
    app, url = hostile
    app.scripts.append(script)
    async with client_for(url, deadline=0.5) as client:
        with pytest.raises(SoraError, match="deadline"):
            await client.generate("a cow")
    # the client left long before the relay's script ended
    assert app.disconnected.wait(10)


# -- 5. caps on a stream line and a transcript ---------------------------------


async def test_a_stream_line_over_the_cap_stops_the_stream(
    hostile: tuple[HostileRelay, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_limits, "MAX_LINE", 64 * 1024)
    app, url = hostile
    app.scripts.append(endless_line_script(200, size=4096, every=0))
    async with client_for(url) as client:
        with pytest.raises(APIConnectionError, match="stream line passed"):
            await client.generate("a cow")


async def test_a_transcript_over_the_cap_is_collected_by_polling(
    hostile: tuple[HostileRelay, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_limits, "MAX_TRANSCRIPT", 4096)
    app, url = hostile
    flood = "> 生成中" + "." * 20_000 + "\n"
    app.scripts.append(sse_script(transcript(url, extra=flood), piece=500))
    app.sources.append({"status": "completed", "url": f"{url}/media/v.mp4", "sid": "s_1"})
    async with client_for(url) as client:
        video = await client.generate("a cow")
    assert video.video_url == f"{url}/media/v.mp4" and len(video.transcript) < 4096 + 500


# -- 8. a task the relay does not know -----------------------------------------


async def test_resuming_an_unknown_task_ends_at_once_with_no_turn(
    hostile: tuple[HostileRelay, str], tmp_path: Path
) -> None:
    app, url = hostile
    app.status_codes["/source/task_unknown"] = 404
    async with client_for(url) as client:
        session = Session("unknown", client=client, save_dir=tmp_path)
        with pytest.raises(APIStatusError, match="404") as caught:
            await session.resume("task_unknown")
    assert session.turns == [] and len(app.headers) == 1
    assert KEY not in str(caught.value)


# -- 10. two kernels, one autosave file ----------------------------------------

KERNEL = """
import asyncio, sys
from sora_nb import Session, SoraClient

async def main(url, path, n):
    async with SoraClient(base_url=url, api_key="sk-any") as client:
        session = Session("default", client=client, download=False, autosave=path)
        for i in range(5):
            await session.generate(f"kernel {n} video {i}")

asyncio.run(main(*sys.argv[1:]))
"""


def test_two_kernels_keep_every_turn_in_one_autosave_file(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    (tmp_path / "kernel.py").write_text(KERNEL)
    path = tmp_path / "history.json"
    kernels = [
        subprocess.Popen(
            [sys.executable, "kernel.py", emulator.url, str(path), str(n)], cwd=tmp_path
        )
        for n in range(2)
    ]
    assert [kernel.wait(300) for kernel in kernels] == [0, 0]
    turns = Session.load(path, download=False).turns
    assert sorted(turn.prompt for turn in turns) == sorted(
        f"kernel {n} video {i}" for n in range(2) for i in range(5)
    )
    assert {turn.status for turn in turns} == {"done"}
