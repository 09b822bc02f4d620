"""Every README promise against a relay written to misbehave (tests/hostile.py), on a real
loopback port: the key stays secret, every failure is a SoraError, limits hold."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sora_nb import APIConnectionError, APIError, InvalidRequest, SoraError
from sora_nb._download import download
from sora_nb._render import video_mimebundle
from sora_nb._secret import BearerAuth, Redactor, Secret, origin
from sora_nb.emulator import EmulatorServer
from sora_nb.emulator._draw import _font, _wrap
from sora_nb.emulator._transcript import MAX_ECHO_FRAGMENTS, echo_block, echo_tokens

from .hostile import HostileRelay, bomb_png
from .scripted import serve
from .test_magic import Cells, cells, relay  # noqa: F401  (the fixtures)

pytestmark = pytest.mark.anyio

KEY = "sk-hostile-SECRET-0123456789abcdef"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def hostile() -> Iterator[tuple[HostileRelay, str]]:
    app = HostileRelay()
    for url in serve(app):
        yield app, url


# -- 1. the key is a secret ----------------------------------------------------------------------


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
    assert redactor.feed("> 进度 36..") == "> 进度 36.."  # progress is never delayed
    assert redactor.feed("x s") == "x " and redactor.feed("ky") == "sky"


# -- 2. the key reaches its own relay however the base URL is spelled ----------------------------


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


# -- 3. every failure of a download is a SoraError -----------------------------------------------


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


# -- 5. bounded thumbnails ---------------------------------------------------------------------


def test_an_image_bomb_thumbnail_renders_without_decoding(
    isolated_sessions: None, tmp_path: Path
) -> None:
    from .test_render import make_video

    Path("sora_outputs").mkdir()
    Path("sora_outputs/bomb.png").write_bytes(bomb_png())
    bundle = video_mimebundle(make_video(local_thumbnail="sora_outputs/bomb.png"))
    assert "data:image/webp" not in bundle["text/html"]  # the file's path, not a decoded copy
    assert "sora_outputs/bomb.png" in bundle["text/html"]


# -- 9. the emulator stays fast for any prompt ------------------------------------------------


def test_a_long_prompt_is_echoed_in_a_bounded_number_of_fragments() -> None:
    prompt = "a cow " * 20_000
    echo = echo_block(prompt, "portrait", None)
    fragments = echo_tokens(echo)
    assert len(fragments) <= MAX_ECHO_FRAGMENTS and "".join(fragments) == echo
    short = echo_block("a cow", "portrait", None)
    assert len(echo_tokens(short)) > 10  # a short echo still streams token by token


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


# -- 7. careless input in the magic: one sentence, never a traceback -----------------------------


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
