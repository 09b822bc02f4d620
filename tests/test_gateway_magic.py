"""The gateways from the notebook: ``%%sora`` options, ``--edit --how``, ``%sora
models``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sora_nb.emulator import EmulatorServer, serve_in_thread

from .conftest import Cells, magic_cells


@pytest.fixture(scope="module")
def openrouter() -> Iterator[EmulatorServer]:
    with serve_in_thread(speed=300, dialect="openrouter") as server:
        yield server


@pytest.fixture
def cells(
    openrouter: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Cells]:
    session = f"gw-{uuid.uuid4().hex[:8]}"
    with magic_cells(openrouter.url, "sk-gateway", session, tmp_path, monkeypatch) as cells:
        cells.line("config --dialect openrouter --model google/veo-3.1")
        yield cells


def test_options_reach_the_gateway_and_the_continuation_is_named(cells: Cells) -> None:
    cells.cell("--as cow --duration 8 --aspect-ratio 16:9 --resolution 720p --audio", "a cow")
    cells.cell("--edit cow --how last-frame --as halo", "put a halo on the cow")
    assert not cells.errors()
    cow, halo = cells.shell.user_ns["cow"], cells.shell.user_ns["halo"]
    assert cow.request.options["duration"] == 8 and cow.request.options["audio"] is True
    assert halo.request.options["how"] == "last-frame"
    # the cow's last frame
    assert halo.request.image.startswith("data:image/png;base64,")


def test_a_value_the_model_does_not_take_fails_the_cell_in_one_sentence(cells: Cells) -> None:
    cells.line("models")  # OpenRouter's own capabilities are read first
    cells.cell("--duration 30", "a cow")
    cells.cell("", "a cow")
    cells.cell("--edit --how remix", "a halo")
    first, second = cells.errors()
    assert "duration=30" in first and "4, 6, 8" in first and "\n" not in first
    assert "offers no remix" in second and "last-frame" in second and "\n" not in second
    assert len(cells.session.turns) == 1  # neither refusal recorded a turn


def test_models_lists_durations_ratios_and_frames(cells: Cells) -> None:
    cells.line("models")
    table = cells.htmls()
    assert "google/veo-3.1" in table and "first_frame" in table
    assert "4, 6, 8" in table and "last-frame" in table
