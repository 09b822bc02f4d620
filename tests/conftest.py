"""Shared fixtures. The relay's recorded example lives in
tests/fixtures/transcript/.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from sora_nb.emulator import EmulatorServer, serve_in_thread

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from sora_nb.notebook._magic import SoraMagics
    from sora_nb.notebook._output import CellFailed

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "tests" / "fixtures" / "transcript"


@pytest.fixture(autouse=True)
def _no_real_relay(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests never talk to a relay configured in the developer's shell."""
    monkeypatch.delenv("SORA_BASE_URL", raising=False)
    monkeypatch.delenv("SORA_API_KEY", raising=False)
    yield


@pytest.fixture
def anyio_backend() -> str:
    """The async tests run on asyncio, as a kernel does."""
    return "asyncio"


@pytest.fixture(scope="module")
def relay() -> Iterator[EmulatorServer]:
    """One emulator for a module's notebook tests, 200 times faster than real
    time.

    Files that need another pace (a batch, a killed kernel) define their own
    ``relay``.
    """
    with serve_in_thread(speed=200) as server:
        yield server


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    """The embedded emulator on a free loopback port, 500 times faster than real
    time.
    """
    with serve_in_thread(speed=500) as server:
        yield server


@pytest.fixture
def isolated_sessions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Work in a fresh folder (the notebook's) and leave the session registry as
    it was.
    """
    from sora_nb.session import _history

    monkeypatch.chdir(tmp_path)
    saved = dict(_history._sessions)
    yield
    _history._sessions.clear()
    _history._sessions.update(saved)


class Cells:
    """A shell with sora_nb loaded, its displayed outputs, and the magics'
    settings.
    """

    def __init__(self, shell: InteractiveShell, outputs: list[dict[str, Any]]) -> None:
        from sora_nb.notebook._magic import magics_for

        self.shell = shell
        self.outputs = outputs
        self.magics: SoraMagics = magics_for(shell)
        # what ended a cell in error, as the kernel sees
        self.failures: list[CellFailed] = []

    def cell(self, line: str, body: str) -> None:
        from sora_nb.notebook._output import CellFailed

        try:
            self.shell.run_cell_magic("sora", line, body)
        except CellFailed as exc:
            self.failures.append(exc)

    def line(self, line: str) -> None:
        from sora_nb.notebook._output import CellFailed

        try:
            self.shell.run_line_magic("sora", line)
        except CellFailed as exc:
            self.failures.append(exc)

    def texts(self) -> list[str]:
        return [out["data"].get("text/plain", "") for out in self.outputs]

    def htmls(self) -> str:
        return "\n".join(out["data"].get("text/html", "") for out in self.outputs)

    def errors(self) -> list[str]:
        return [str(exc) for exc in self.failures]

    @property
    def session(self) -> Any:
        from sora_nb.session._history import get_session

        return get_session(self.magics.session)


@contextlib.contextmanager
def magic_cells(
    base_url: str, api_key: str, session: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Cells]:
    """A real ``InteractiveShell`` with sora_nb loaded, pointed at ``base_url``,
    its display captured; the magics' settings are put back afterwards (the
    shell is a singleton).
    """
    from IPython.core.displaypub import CapturingDisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell

    from sora_nb.notebook import _run

    monkeypatch.chdir(tmp_path)
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "sora_nb")
    publisher = CapturingDisplayPublisher()
    monkeypatch.setattr(shell, "display_pub", publisher)
    cells = Cells(shell, publisher.outputs)
    magics = cells.magics
    saved = {
        name: getattr(magics, name)
        for name in magics.trait_names()
        if magics.trait_metadata(name, "config")
    }
    magics.base_url, magics.api_key = base_url, api_key
    magics.session, magics.language = session, "en"
    try:
        yield cells
    finally:
        if magics._client is not None:
            _run.run_blocking(magics._client.aclose())
        for name, value in saved.items():
            setattr(magics, name, value)


def checkout(tmp_path: Path) -> Path:
    """A git repository of this checkout's tracked files as they are now (edits
    included).
    """
    clone = tmp_path / "clone"
    names = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for name in filter(None, names):
        if (ROOT / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, clone / name)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "clone"]):
        subprocess.run([*git, *args], cwd=clone, check=True, capture_output=True)
    return clone


def git_status(repo: Path) -> str:
    return subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
