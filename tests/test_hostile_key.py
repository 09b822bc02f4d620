"""The key in clear, second round (docs/protocol.md, "Promises"): a relay that
echoes the key JSON-escaped or in its reason phrase, cuts it across sora2api
reasoning messages, redirects to another origin, or a base URL with a password;
all over real loopback HTTP.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
import uvicorn

from sora_nb import (
    APIConnectionError,
    AuthenticationError,
    GenerationFailed,
    InvalidRequest,
    Session,
    SoraClient,
    SoraError,
    StreamInterrupted,
)
from sora_nb.client._download import download

from .hostile import HostileRelay, RawRelay
from .scripted import Script, Step, free_port, serve, serve_config
from .test_magic import Cells, cells  # noqa: F401  (the fixture)

pytestmark = pytest.mark.anyio

#: With a ``/``, which PHP's json_encode writes as ``\/``.
KEY = "sk-hostile/SECRET+0123456789abcdef"
MASKED = "sk-…cdef"
TASK = "task_01escaped"


@pytest.fixture
def hostile() -> Iterator[tuple[HostileRelay, str]]:
    app = HostileRelay()
    for url in serve(app):
        yield app, url


def client_for(url: str, **options: Any) -> SoraClient:
    return SoraClient(base_url=url, api_key=KEY, poll_interval=0.05, **options)


def raw_json(obj: Any) -> bytes:
    """``obj`` as JSON bytes whose ``{bearer_json}`` the relay replaces
    unescaped.
    """
    return json.dumps(obj, ensure_ascii=False).encode()


# -- 9. the key echoed JSON-escaped --------------------------------------------


@pytest.mark.parametrize("status", [400, 401])
async def test_an_escaped_key_in_an_error_body_never_shows(
    hostile: tuple[HostileRelay, str], status: int
) -> None:
    app, url = hostile
    body = raw_json({"error": {"message": "bad token {bearer_json}"}})
    app.scripts.append(Script(status, {"content-type": "application/json"}, [Step(body)]))
    async with client_for(url, max_retries=0) as client:
        with pytest.raises(SoraError) as caught:
            await client.generate("a cow")
    assert KEY not in str(caught.value) and f"bad token {MASKED}" in str(caught.value)


async def test_an_escaped_key_in_a_non_streamed_completion_never_shows(
    hostile: tuple[HostileRelay, str],
) -> None:
    app, url = hostile
    content = f"> ID: `{TASK}`\n> 排队中..\n生成失败\n错误原因: key {{bearer_json}} is banned\n"
    body = raw_json({"choices": [{"index": 0, "message": {"content": content}}]})
    app.scripts.append(Script(200, {"content-type": "application/json"}, [Step(body)]))
    async with client_for(url) as client:
        with pytest.raises(GenerationFailed) as caught:
            await client.generate("a cow")
    assert KEY not in str(caught.value) and f"key {MASKED}" in str(caught.value)


async def test_an_escaped_key_in_a_failure_reason_never_shows(
    hostile: tuple[HostileRelay, str],
) -> None:
    app, url = hostile
    app.raw_sources.append(raw_json({"status": "failed", "failure_reason": "quota {bearer_json}"}))
    async with client_for(url) as client:
        with pytest.raises(GenerationFailed) as caught:
            await client.resume(TASK)
    assert KEY not in str(caught.value) and f"quota {MASKED}" in str(caught.value)


async def test_a_prompt_read_back_escaped_on_resume_is_saved_masked(
    hostile: tuple[HostileRelay, str], tmp_path: Path
) -> None:
    app, url = hostile
    status = {"status": "completed", "url": f"{url}/media/v.mp4", "prompt": "a cow {bearer_json}"}
    app.raw_sources.append(raw_json(status))
    history = tmp_path / "history.json"
    async with client_for(url) as client:
        session = Session("echo", client=client, download=False, autosave=history)
        video = await session.resume(TASK)
    saved = history.read_text(encoding="utf-8")
    assert video.prompt == f"a cow {MASKED}" and KEY not in saved and MASKED in saved


async def test_a_key_cut_across_two_reasoning_messages_never_shows(
    hostile: tuple[HostileRelay, str],
) -> None:
    app, url = hostile

    def reasoning(text: str) -> bytes:
        delta = {"content": None, "reasoning_content": text}
        chunk = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta}]}
        return b"data: " + raw_json(chunk) + b"\n\n"

    cut = 9
    steps = [
        Step(reasoning("**Video Generation Progress**: 0% (queued)\n")),
        Step(reasoning("Checking the key {bearer_head}")),
        Step(reasoning("{bearer_tail} for this account\n")),
        Step(reasoning("**Content Policy Violation**\n")),
    ]
    fail = {"choices": [{"index": 0, "delta": {"content": "❌ 生成失败: refused"}}]}
    steps.append(Step(b"data: " + raw_json(fail) + b"\n\ndata: [DONE]\n\n"))
    for step in steps:
        step.data = step.data.replace(b"{bearer_head}", KEY[:cut].encode())
        step.data = step.data.replace(b"{bearer_tail}", KEY[cut:].encode())
    app.scripts.append(Script(steps=steps))
    seen: list[str] = []
    async with client_for(url) as client:
        with pytest.raises(GenerationFailed):
            await client.generate("a cow", on_event=lambda event: seen.append(repr(event)))
    shown = "\n".join(seen)
    assert KEY[:cut] not in shown and KEY[cut:] not in shown and MASKED in shown


# -- 9. the key in the HTTP reason phrase --------------------------------------


@pytest.mark.parametrize("echo", ["{bearer}", "{bearer_json}"])
async def test_a_key_in_the_reason_phrase_never_shows(echo: str) -> None:
    reply = f"HTTP/1.1 401 Bad key {echo}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    with RawRelay(reply.encode()) as raw:
        async with client_for(raw.url, max_retries=0) as client:
            with pytest.raises(AuthenticationError) as caught:
                await client.generate("a cow")
    assert KEY not in str(caught.value) and f"Bad key {MASKED}" in str(caught.value)


async def test_a_key_in_a_polls_reason_phrase_never_shows() -> None:
    reply = b"HTTP/1.1 503 Busy {bearer}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    with RawRelay(reply) as raw:
        async with client_for(raw.url, deadline=1.0) as client:
            with pytest.raises(StreamInterrupted) as caught:
                await client.resume(TASK)
    assert KEY not in str(caught.value) and f"Busy {MASKED}" in str(caught.value)


# -- 10. the key never follows a redirect to another origin --------------------

#: A loopback address of the tests' own, so ports 80 and 443 are free on it.
TLS_HOST = "127.0.0.23"


@pytest.fixture
def upgrade(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, HostileRelay]]:
    """An http relay on port 80 whose link redirects to https on its host (port
    443, another origin, which httpx still sends the key to); (relay URL, the
    https server's record).
    """
    ca = trustme.CA()
    ca.issue_cert(TLS_HOST).private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "c.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    secure = HostileRelay()
    secure.media["/media/v.mp4"] = _sized
    plain = HostileRelay()
    plain.media["/media/up.mp4"] = _redirect_to(f"https://{TLS_HOST}/media/v.mp4")
    tls = uvicorn.Config(
        secure, host=TLS_HOST, port=443, log_level="critical", lifespan="off",
        ssl_certfile=str(tmp_path / "c.pem"),
    )  # fmt: skip
    http = uvicorn.Config(plain, host=TLS_HOST, port=80, log_level="critical", lifespan="off")
    for _ in serve_config(tls):
        for _ in serve_config(http):
            yield f"http://{TLS_HOST}", secure
    # the relay's own origin: yes
    assert plain.headers[0]["authorization"] == f"Bearer {KEY}"


async def _sized(scope: dict[str, Any], send: Any) -> None:
    headers = [(b"content-type", b"video/mp4"), (b"content-length", b"65536")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"\0" * 65536})


def _redirect_to(location: str) -> Any:
    async def handler(scope: dict[str, Any], send: Any) -> None:
        headers = [(b"location", location.encode()), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 302, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    return handler


async def test_the_key_never_follows_an_upgrade_to_https(
    upgrade: tuple[str, HostileRelay], tmp_path: Path
) -> None:
    url, secure = upgrade
    async with client_for(url) as client:
        path = await download(
            f"{url}/media/up.mp4", tmp_path / "v.mp4", http=client._client(), auth=client._auth
        )
    assert path.stat().st_size == 65536  # the redirect was followed
    assert len(secure.headers) == 1 and "authorization" not in secure.headers[0]


# -- 11. a password in the base URL, and what a failure keeps ------------------

PASSWORD = "hunter2-in-the-url"


def _reachable(exc: BaseException) -> Iterator[object]:
    """What an exception keeps alive: its chain, and the requests and responses
    on it.
    """
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        yield exc
        for name in ("request", "response"):
            # httpx raises if none
            with contextlib.suppress(AttributeError, RuntimeError):
                yield getattr(exc, name)
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]


async def test_a_connect_failure_keeps_no_password_and_no_request() -> None:
    url = f"http://user:{PASSWORD}@127.0.0.1:{free_port()}"
    client = client_for(url, max_retries=0)
    assert PASSWORD not in repr(client) and PASSWORD not in client.base_url
    async with client:
        with pytest.raises(APIConnectionError) as caught:
            await client.generate("a cow")
    kept = list(_reachable(caught.value))
    assert PASSWORD not in str(caught.value)
    assert kept == [caught.value]  # no httpx error, request or header behind it


def test_a_bad_base_url_error_shows_no_password() -> None:
    with pytest.raises(InvalidRequest) as caught:
        SoraClient(base_url=f"http://user:{PASSWORD}@relay.example:99999", api_key=KEY)
    assert PASSWORD not in str(caught.value) and "user:***@" in str(caught.value)


def test_config_shows_no_password(magic_cells: Cells, capsys: pytest.CaptureFixture[str]) -> None:
    magic_cells.line(f"config --base-url http://user:{PASSWORD}@relay.example:8000")
    magic_cells.shell.run_line_magic("config", "SoraMagics")
    printed = capsys.readouterr().out + "\n".join(magic_cells.texts()) + magic_cells.htmls()
    assert PASSWORD not in printed and "user:***@relay.example:8000" in printed


@pytest.fixture
def magic_cells(cells: Cells) -> Cells:  # noqa: F811  (test_magic's fixture)
    return cells


def test_a_verbose_traceback_of_a_connect_failure_shows_no_password(tmp_path: Path) -> None:
    script = tmp_path / "connect.py"
    script.write_text(
        "import asyncio, os, sys\nfrom IPython.core.ultratb import VerboseTB\n"
        "from sora_nb import SoraClient, SoraError\n"
        "async def main():\n"
        "    async with SoraClient(os.environ['RELAY'], max_retries=0) as client:\n"
        "        await client.generate('a cow')\n"
        "try:\n    asyncio.run(main())\nexcept SoraError:\n"
        "    print(VerboseTB(theme_name='nocolor').text(*sys.exc_info()))\n"
    )
    base = f"http://user:{PASSWORD}@127.0.0.1:{free_port()}"
    env = {**os.environ, "RELAY": base, "SORA_API_KEY": KEY}
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env
    )
    assert "APIConnectionError" in out.stdout, out.stderr
    assert PASSWORD not in out.stdout and KEY not in out.stdout
    # no suppressed context printed either
    assert "During handling" not in out.stdout
