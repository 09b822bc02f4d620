"""Files that cannot be written: a read-only folder for the history, a journal or a finished
journal, each one sentence naming the file, never a raw OSError (docs/protocol.md,
"Promises"). The folder is really read-only: a read-only tmpfs for root (whom file modes do
not stop), else a folder without write permission."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sora_nb import Session, SoraClient, SoraError
from sora_nb.emulator import EmulatorServer

from .test_magic import Cells, cells, relay  # noqa: F401  (the fixtures)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


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
    assert str(path) in str(caught.value) and session.turns == []  # nothing was sent


async def test_a_finished_journal_resumes_from_a_read_only_folder(
    folder: Folder, emulator: EmulatorServer
) -> None:
    path = folder.path / "batch.jsonl"
    async with SoraClient(emulator.url, "sk-any") as client:
        first = Session("ro", client=client, download=False)
        done = await first.generate_many(["a cow", "a horse"], journal=path)
        folder.read_only()
        again = await Session("ro2", client=client, download=False).resume_many(path)
    assert [video.video_url for video in again] == [video.video_url for video in done]


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
