"""The panel: button clicks run Session jobs as tasks and write results without ``with out:``."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from PIL import Image

from sora_nb._history import get_session
from sora_nb._notebook import _i18n, panel
from sora_nb._notebook._magic import SoraMagics, magics_for
from sora_nb._notebook._panel import Panel
from sora_nb.emulator import EmulatorServer, serve_in_thread


@pytest.fixture(scope="module")
def relay() -> Iterator[EmulatorServer]:
    with serve_in_thread(speed=200) as server:
        yield server


@pytest.fixture
def magics(
    relay: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SoraMagics]:
    monkeypatch.chdir(tmp_path)
    magics = magics_for(InteractiveShell.instance())
    saved = {name: getattr(magics, name) for name in ("base_url", "api_key", "session")}
    magics.base_url, magics.api_key = relay.url, "sk-emulator-any"
    magics.session = f"panel-{uuid.uuid4().hex[:8]}"
    _i18n.set_language("en")
    try:
        yield magics
    finally:
        for name, value in saved.items():
            setattr(magics, name, value)
        _i18n.set_language("auto")


def _outputs_html(output: Any) -> str:
    return "".join(out["data"].get("text/html", "") for out in output.outputs)


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), "orange").save(buffer, format="PNG")
    return buffer.getvalue()


def _drive(magics: SoraMagics, scenario: Any) -> Any:
    """Run ``scenario(panel)`` in a loop, as button callbacks run in the kernel's loop."""

    async def main() -> Any:
        try:
            return await scenario(Panel(magics))
        finally:
            await magics.client().aclose()  # its pool belongs to this loop

    return asyncio.run(main())


def test_panel_generate_then_edit_latest(magics: SoraMagics) -> None:
    async def scenario(ui: Panel) -> Panel:
        ui.prompt.value = "a cow and a horse dancing"
        ui.orientation.value = "landscape"
        ui.generate.click()
        assert ui.generate.disabled  # one job at a time
        assert ui._task is not None
        await ui._task
        ui.prompt.value = "put a halo on the cow"
        ui.edit.click()
        await ui._task
        return ui

    ui = _drive(magics, scenario)
    turns = get_session(magics.session).turns
    assert [(t.status, t.parent) for t in turns] == [("done", None), ("done", 0)]
    assert turns[0].orientation == "landscape"
    assert "<video" in _outputs_html(ui.video)
    assert turns[1].local_path is not None and turns[1].local_path in _outputs_html(ui.video)
    assert "sora-nb-history" in _outputs_html(ui.history)
    assert ui.progress._bar.bar_style == "success"
    assert not ui.generate.disabled and not ui.edit.disabled


def test_panel_sends_an_uploaded_image(magics: SoraMagics) -> None:
    png = _png()

    async def scenario(ui: Panel) -> None:
        ui.prompt.value = "this orange square, spinning"
        ui.image.value = (
            {
                "name": "o.png",
                "type": "image/png",
                "size": len(png),
                "content": memoryview(png),
                "last_modified": datetime.now(timezone.utc),
            },
        )
        ui.generate.click()
        assert ui._task is not None
        await ui._task

    _drive(magics, scenario)
    (turn,) = get_session(magics.session).turns
    assert turn.status == "done"
    assert turn.image is not None and turn.image.startswith("data:image/png;base64,")


def test_panel_failure_turns_the_progress_red(magics: SoraMagics) -> None:
    async def scenario(ui: Panel) -> Panel:
        ui.prompt.value = "a forbidden dance [fault:content-policy]"
        ui.generate.click()
        assert ui._task is not None
        await ui._task
        return ui

    ui = _drive(magics, scenario)
    assert ui.progress._bar.bar_style == "danger"
    assert "content policy violation" in ui.progress._label.value
    assert ui.video.outputs == ()
    assert "failed" in _outputs_html(ui.history)


@pytest.mark.parametrize(
    ("prompt", "button", "words"),
    [
        pytest.param("", "generate", "The prompt is empty", id="empty"),
        pytest.param("more clouds", "edit", "Nothing to edit yet", id="nothing-to-edit"),
    ],
)
def test_panel_refuses_bad_input_in_one_sentence(
    magics: SoraMagics, prompt: str, button: str, words: str
) -> None:
    async def scenario(ui: Panel) -> Panel:
        ui.prompt.value = prompt
        getattr(ui, button).click()
        assert ui._task is None
        return ui

    ui = _drive(magics, scenario)
    assert words in ui.message.value
    assert get_session(magics.session).turns == []


def test_panel_refuses_a_second_job_while_one_runs(magics: SoraMagics) -> None:
    async def scenario(ui: Panel) -> Panel:
        ui.prompt.value = "a slow cow [fault:slow-queue]"
        ui.generate.click()
        first = ui._task
        assert first is not None
        assert ui.start(edit=False) is None
        assert "already being made" in ui.message.value
        await first
        return ui

    _drive(magics, scenario)
    assert len(get_session(magics.session).turns) == 1


def test_panel_public_function_and_text_fallback(magics: SoraMagics) -> None:
    async def scenario(ui: Panel) -> dict[str, Any]:
        return ui._repr_mimebundle_()

    bundle = _drive(magics, scenario)
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert isinstance(panel(), Panel)


def test_panel_cancel_keeps_the_turn_interrupted_and_resumable(magics: SoraMagics) -> None:
    async def scenario(ui: Panel) -> Panel:
        assert ui.cancel.disabled  # nothing to cancel yet
        ui.prompt.value = "a slow cow [fault:slow-queue]"
        ui.generate.click()
        assert not ui.cancel.disabled
        while ui.progress.task_id is None:  # the relay has created the task: it is billed
            await asyncio.sleep(0.01)
        ui.cancel.click()
        with pytest.raises(asyncio.CancelledError):
            await ui._task  # type: ignore[misc]
        assert ui.cancel.disabled and not ui.generate.disabled
        session = get_session(magics.session)
        (turn,) = session.turns
        assert (turn.status, turn.task_id) == ("interrupted", ui.progress.task_id)
        assert f"%sora resume {turn.task_id}" in ui.message.value
        video = await session.resume()  # what %sora resume does: the paid video is kept
        assert video.task_id == turn.task_id
        return ui

    _drive(magics, scenario)
    assert get_session(magics.session).turns[0].status == "done"
