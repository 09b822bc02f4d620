"""A long history stays fast (docs/notebook.md, "Autosave"): the autosave file
is an append-only record, a change appends one line and never rewrites the file,
what another process appended is read from where this one stopped, the record is
compacted when it grows, old saved files still load, a torn last line is
skipped, and a long table pages. Real files, a real second process, the emulator
on a loopback port.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from sora_nb import Session, SoraClient
from sora_nb.emulator import EmulatorServer
from sora_nb.records._autosave import HistoryLog
from sora_nb.records._turn import write_file
from sora_nb.render._render import PAGE_ROWS, history_mimebundle

from .test_magic import Cells, cells  # noqa: F401  (the fixture)

pytestmark = pytest.mark.anyio


async def _seeded(emulator: EmulatorServer, path: Path, turns: int) -> Session:
    """A session autosaving to ``path`` that already holds ``turns`` finished
    turns.
    """
    async with SoraClient(emulator.url, "sk-any") as client:
        seed = Session("long", client=client, download=False)
        await seed.generate("a cow")
    model = seed.turns[0]
    many = [replace(model, index=i, started_at=model.started_at - turns + i) for i in range(turns)]
    HistoryLog(path, "long").sync(many, None)
    return Session("long", download=False, autosave=path)


async def test_a_change_appends_a_line_and_never_rewrites(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    path = tmp_path / "history.json"
    session = await _seeded(emulator, path, 2000)
    before = os.stat(path)
    async with SoraClient(emulator.url, "sk-any") as client:
        session.client = client
        await session.generate("a horse")
    after = os.stat(path)
    line = len(path.read_text(encoding="utf-8").splitlines()[-1].encode())
    assert after.st_ino == before.st_ino  # the same file, appended to
    # a few lines, not 2000 turns
    assert after.st_size - before.st_size < 8 * (line + 1)
    assert [t.prompt for t in Session.load(path).turns][-1] == "a horse"
    assert len(Session.load(path).turns) == 2001


async def test_the_record_is_compacted_when_it_grows(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    path = tmp_path / "history.json"
    session = await _seeded(emulator, path, 10)
    # each rename appends a line; the record folds them back
    for n in range(120):
        session._update(n % 10, name=f"v{n}")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) - 1 <= 2 * 10 + 64
    assert [t.name for t in Session.load(path).turns] == [f"v{110 + n}" for n in range(10)]


OTHER = """
import sys
from dataclasses import replace
from sora_nb import Session
session = Session("long", download=False, autosave=sys.argv[1])
model = session.turns[-1]
for n in range(3):  # this kernel's own turns, appended under the lock
    with session._lock:
        index = len(session._turns)
        session._turns.append(replace(model, index=index, started_at=model.started_at + 1 + n))
    session._changed(index)
"""


async def test_another_process_appends_and_this_one_reads_on(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    path = tmp_path / "history.json"
    session = await _seeded(emulator, path, 50)
    (tmp_path / "other.py").write_text(OTHER)
    subprocess.run([sys.executable, str(tmp_path / "other.py"), str(path)], check=True)
    # catches up with their lines, then appends its own
    session._update(0, name="mine")
    assert len(session.turns) == 53 and session.turn(0).name == "mine"
    loaded = Session.load(path).turns
    assert len(loaded) == 53 and loaded[0].name == "mine"


async def test_an_old_saved_file_loads_and_becomes_a_record(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    path = tmp_path / "history.json"
    seeded = await _seeded(emulator, tmp_path / "seed.json", 5)
    # the schema-2 document earlier versions wrote
    write_file(path, "long", seeded.turns)
    assert json.loads(path.read_text(encoding="utf-8"))["version"] == 2
    session = Session("long", download=False, autosave=path)
    assert session.turns == Session.load(path).turns and len(session.turns) == 5
    session._update(4, name="after")
    assert json.loads(path.read_text(encoding="utf-8").splitlines()[0])["version"] == 3
    assert [t.name for t in Session.load(path).turns][-1] == "after"


async def test_a_torn_last_line_is_skipped_and_appended_after(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    path = tmp_path / "history.json"
    session = await _seeded(emulator, path, 5)
    with open(path, "a", encoding="utf-8") as out:
        out.write('{"started_at": 12, "request": {"pro')  # a kill mid-append
    session._update(1, name="still")
    loaded = Session.load(path).turns
    assert len(loaded) == 5 and loaded[1].name == "still"


async def test_a_long_history_table_pages(emulator: EmulatorServer, tmp_path: Path) -> None:
    session = await _seeded(emulator, tmp_path / "history.json", 2 * PAGE_ROWS + 5)
    last = history_mimebundle(session)
    first = history_mimebundle(session, page=1)
    assert last["text/html"].count("<tr>") == 5 and first["text/html"].count("<tr>") == PAGE_ROWS
    assert "page 3 of 3" in last["text/plain"] and "--page N" in last["text/html"]
    assert len(last["text/html"]) < 40 * PAGE_ROWS * 100  # not every turn's row


def test_history_page_in_the_magic(magic_cells: Cells) -> None:
    magic_cells.line("history --page 2")
    magic_cells.line("history --pages")
    (error,) = magic_cells.errors()
    assert "--page N" in error


@pytest.fixture
def magic_cells(cells: Cells) -> Cells:  # noqa: F811  (test_magic's fixture)
    return cells
