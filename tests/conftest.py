"""Shared fixtures. The relay's recorded example lives in tests/fixtures/transcript/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sora_nb.emulator import EmulatorServer, serve_in_thread

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
    """One emulator for a module's notebook tests, 200 times faster than real time.

    Files that need another pace (a batch, a killed kernel) define their own ``relay``.
    """
    with serve_in_thread(speed=200) as server:
        yield server


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    """The embedded emulator on a free loopback port, 500 times faster than real time."""
    with serve_in_thread(speed=500) as server:
        yield server


@pytest.fixture
def isolated_sessions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Work in a fresh folder (the notebook's) and leave the session registry as it was."""
    from sora_nb.session import _history

    monkeypatch.chdir(tmp_path)
    saved = dict(_history._sessions)
    yield
    _history._sessions.clear()
    _history._sessions.update(saved)
