"""Files that cannot be written, and links that trickle.

Files that cannot be written: a read-only folder for the history, a journal or a
finished journal, each one sentence naming the file, never a raw OSError
(docs/protocol.md, "Promises"). The folder is really read-only: a read-only
tmpfs for root (whom file modes do not stop), else a folder without write
permission.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from sora_nb import Session, SoraClient, SoraError, Video
from sora_nb.emulator import EmulatorServer

from .hostile import HostileRelay
from .scripted import free_port, serve, serve_config, sse_script
from .test_hostile import transcript
from .test_magic import Cells, cells  # noqa: F401  (the fixture)

pytestmark = pytest.mark.anyio


class Folder:
    """A folder that can be made read-only, and writable again."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.mounted = os.geteuid() == 0
        path.mkdir()
        if self.mounted:
            mount = ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(path)]
            subprocess.run(mount, check=True)

    def read_only(self) -> Path:
        if self.mounted:
            subprocess.run(["mount", "-o", "remount,ro", str(self.path)], check=True)
        else:
            self.path.chmod(0o555)
        return self.path

    def close(self) -> None:
        if self.mounted:
            subprocess.run(["umount", str(self.path)], check=True)
        else:
            self.path.chmod(0o755)


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Folder]:
    made = Folder(tmp_path / "locked")
    try:
        yield made
    finally:
        made.close()


async def test_saving_into_a_read_only_folder_is_one_sentence(folder: Folder) -> None:
    path = folder.read_only() / "history.json"
    session = Session("ro", download=False)
    with pytest.raises(SoraError) as caught:
        session.save(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


async def test_a_journal_in_a_read_only_folder_is_one_sentence(
    folder: Folder, emulator: EmulatorServer
) -> None:
    path = folder.read_only() / "batch.jsonl"
    async with SoraClient(emulator.url, "sk-any") as client:
        session = Session("ro", client=client, download=False)
        with pytest.raises(SoraError) as caught:
            await session.generate_many(["a cow", "a horse"], journal=path)
    # nothing was sent
    assert str(path) in str(caught.value) and session.turns == []


async def test_a_finished_journal_resumes_from_a_read_only_folder(
    folder: Folder, emulator: EmulatorServer
) -> None:
    path = folder.path / "batch.jsonl"
    async with SoraClient(emulator.url, "sk-any") as client:
        first = Session("ro", client=client, download=False)
        done = await first.generate_many(["a cow", "a horse"], journal=path)
        folder.read_only()
        again = await Session("ro2", client=client, download=False).resume_many(path)
    assert all(isinstance(video, Video) for video in [*again, *done])
    assert [v.video_url for v in again if isinstance(v, Video)] == [
        v.video_url for v in done if isinstance(v, Video)
    ]


def test_an_unwritable_autosave_names_its_file_in_the_cell(
    magic_cells: Cells, folder: Folder
) -> None:
    path = folder.read_only() / "history.json"
    magic_cells.line(f"config --autosave {path}")
    magic_cells.line("history")
    (error,) = magic_cells.errors()
    assert error.startswith(f"Cannot use the file {path}") and "\n" not in error


@pytest.fixture
def magic_cells(cells: Cells) -> Cells:  # noqa: F811  (test_magic's fixture)
    return cells


# -- 12. the deadline bounds local copies, thumbnails and a resume's look-up --


@pytest.fixture
def hostile() -> Iterator[tuple[HostileRelay, str]]:
    app = HostileRelay()
    for url in serve(app):
        yield app, url


@pytest.mark.parametrize("slow", ["/media/v.mp4", "/media/t.webp"], ids=["video", "thumbnail"])
@pytest.mark.timeout(60)
async def test_a_trickling_link_cannot_hold_a_generation(
    hostile: tuple[HostileRelay, str], tmp_path: Path, slow: str
) -> None:
    app, url = hostile
    app.trickling.add(slow)
    app.media["/media/v.mp4"] = app.media.get("/media/v.mp4", app.media["/media/liar.mp4"])
    app.scripts.append(sse_script(transcript(url)))
    started = time.monotonic()
    async with SoraClient(url, "sk-any", deadline=1.0, poll_interval=0.05) as client:
        session = Session("slow", client=client, save_dir=tmp_path / "out")
        video = await session.generate("a cow")
    assert time.monotonic() - started < 15  # each copy ended at the deadline
    assert video.video_url == f"{url}/media/v.mp4" and session.turns[-1].status == "done"
    if slow.endswith(".mp4"):
        assert video.local_path is None


@pytest.mark.timeout(60)
async def test_a_trickling_status_cannot_hold_a_resume(
    hostile: tuple[HostileRelay, str], tmp_path: Path
) -> None:
    app, url = hostile
    app.trickling.add("/source/task_slow")
    started = time.monotonic()
    async with SoraClient(url, "sk-any", deadline=1.0, poll_interval=0.05) as client:
        session = Session("slow", client=client, download=False)
        with pytest.raises(SoraError, match="deadline"):
            await session.resume("task_slow")
    assert time.monotonic() - started < 15 and session.turns == []


# -- 15. what a copy is, and which addresses are fetched -----------------------


def _body(kind: str, data: bytes) -> Any:
    async def handler(scope: dict[str, Any], send: Any) -> None:
        headers = [(b"content-type", kind.encode()), (b"content-length", str(len(data)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    return handler


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        pytest.param("text/html", b"<!doctype html><title>Sign in</title>", id="html-page"),
        pytest.param("video/mp4", b' {"error": {"message": "expired"}}', id="json-as-mp4"),
        pytest.param("application/octet-stream", b"\n<html><body>gone</body>", id="html-as-bytes"),
    ],
)
async def test_a_page_is_never_kept_as_the_video(
    hostile: tuple[HostileRelay, str], tmp_path: Path, kind: str, data: bytes
) -> None:
    app, url = hostile
    app.media["/media/v.mp4"] = _body(kind, data)
    app.scripts.append(sse_script(transcript(url)))
    async with SoraClient(url, "sk-any", poll_interval=0.05) as client:
        session = Session("page", client=client, save_dir=tmp_path / "out")
        video = await session.generate("a cow")
    assert video.local_path is None and video.video_url == f"{url}/media/v.mp4"
    kept = [path.name for path in (tmp_path / "out").glob("*") if path.suffix == ".mp4"]
    assert kept == [] and session.turns[-1].status == "done"


def _outward_address() -> str | None:
    """This machine's address on a non-loopback interface (no packet is
    sent).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else str(address)


async def test_media_on_loopback_is_not_fetched_for_a_relay_elsewhere(tmp_path: Path) -> None:
    address = _outward_address()
    if address is None:
        pytest.skip("this machine has no interface but loopback to put a relay elsewhere on")
    far, local = HostileRelay(), HostileRelay()
    local.media["/media/v.mp4"] = local.media["/media/liar.mp4"]
    port = free_port()
    config = uvicorn.Config(far, host=address, port=port, log_level="critical", lifespan="off")
    for local_url in serve(local):
        for _ in serve_config(config):
            url = f"http://{address}:{port}"
            far.scripts.append(
                sse_script(transcript(url).replace(f"{url}/media", f"{local_url}/media"))
            )
            async with SoraClient(url, "sk-any", poll_interval=0.05) as client:
                session = Session("ssrf", client=client, save_dir=tmp_path / "out")
                video = await session.generate("a cow")
    assert video.video_url.startswith(local_url) and video.local_path is None
    assert local.headers == []  # the kernel never asked the loopback address
