"""The studio: clicks run Session jobs as tasks; the gallery follows the session, whoever
changes it."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from PIL import Image

from sora_nb.emulator import EmulatorServer
from sora_nb.notebook import _i18n, _panel, panel
from sora_nb.notebook._magic import SoraMagics, magics_for
from sora_nb.notebook._panel import Panel
from sora_nb.session._history import get_session

from .words import english_words


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


def _upload(png: bytes) -> tuple[dict[str, Any], ...]:
    return (
        {
            "name": "o.png",
            "type": "image/png",
            "size": len(png),
            "content": memoryview(png),
            "last_modified": datetime.now(timezone.utc),
        },
    )


async def _finish(ui: Panel) -> None:
    """Wait for every job row's task (a failed or cancelled one included)."""
    tasks = [row.task for row in ui._rows if row.task is not None]
    await asyncio.gather(*tasks, return_exceptions=True)


def _tile_html(ui: Panel, index: int) -> str:
    tile = ui.gallery.tile(index)
    return tile.picture.value + tile.text.value + tile.links.value


def test_session_subscribe_reports_every_change_until_unsubscribed(
    emulator: Any, isolated_sessions: None
) -> None:
    from sora_nb import Session, SoraClient

    seen: list[list[str]] = []

    def broken(_: Session) -> None:
        raise RuntimeError("a closed view")

    async def main() -> None:
        async with SoraClient(base_url=emulator.url, api_key="k") as client:
            session = Session("observed", client=client)
            session.subscribe(broken)  # logged, never raised into the job
            stop = session.subscribe(lambda s: seen.append([t.status for t in s.turns]))
            await session.generate("a fox")
            stop()
            await session.generate("a second fox")

    asyncio.run(main())
    assert seen[0] == ["running"] and seen[-1] == ["done"]
    assert all(len(statuses) == 1 for statuses in seen)  # nothing after unsubscribing


def test_panel_generate_then_edit_an_older_selected_turn(magics: SoraMagics) -> None:
    async def scenario(ui: Panel) -> Panel:
        assert ui.generate.disabled and ui.edit.disabled  # nothing to act on yet
        ui.prompt.value = "a cow and a horse dancing"
        ui.orientation.value = "landscape"
        assert not ui.generate.disabled and ui.edit.disabled  # nothing selected to edit
        ui.generate.click()
        await _finish(ui)
        assert ui.gallery.selected == 0  # the new video plays
        ui.prompt.value = "put a halo on the cow"
        ui.edit.click()
        await _finish(ui)
        ui.gallery.tile(0).play.click()  # back to the first video: edit it again
        assert ui.gallery.selected == 0 and "#0" in ui.details.value
        ui.prompt.value = "make it night"
        ui.edit.click()
        await _finish(ui)
        return ui

    ui = _drive(magics, scenario)
    turns = get_session(magics.session).turns
    assert [(t.status, t.parent) for t in turns] == [("done", None), ("done", 0), ("done", 0)]
    assert turns[0].orientation == "landscape"
    # Branch order: each edit under its base, indented.
    assert ui.gallery._order == [0, 1, 2]
    assert ui.gallery.tile(1).widget.layout.margin.endswith(" 28px")
    assert ui.gallery.selected == 2 and "sora-nb-selected" in ui.gallery.tile(2).widget._dom_classes
    (player,) = ui.player.children
    assert player.format == "mp4" and player.value == Path(turns[2].local_path).read_bytes()
    assert "Lineage" in ui.details.value and "#0" in ui.details.value
    assert "make it night" in ui.details.value
    assert "data:image/webp;base64," in ui.gallery.tile(0).picture.value  # works without /files/
    assert "sora-nb-copy" in ui.gallery.tile(0).links.value
    ui.gallery.tile(0).download.click()  # the mp4 itself, as no file URL works in Voilà
    assert "data:video/mp4;base64," in ui.downloader.value
    assert 'download="' + Path(turns[0].local_path).name in ui.downloader.value
    assert ui._rows == [] and ui.jobs.children == ()  # a finished job's row goes away


def test_panel_image_preview_clear_and_marker(magics: SoraMagics) -> None:
    png = _png()

    async def scenario(ui: Panel) -> Panel:
        assert ui.clear_image.disabled
        ui.prompt.value = "this orange square, spinning"
        ui.image.value = _upload(png)
        assert ui.preview.value == png and ui.preview.layout.display is None
        assert not ui.clear_image.disabled
        ui.generate.click()
        await _finish(ui)
        ui.clear_image.click()
        assert ui.image.value == () and ui.preview.layout.display == "none"
        ui.prompt.value = "a cat on a sofa, no picture please"
        ui.generate.click()
        await _finish(ui)
        return ui

    ui = _drive(magics, scenario)
    first, second = get_session(magics.session).turns
    assert first.image is not None and first.image.startswith("data:image/png;base64,")
    assert second.image is None  # cleared: the meadow no longer sticks to every video
    assert "sora-nb-from-image" in _tile_html(ui, 0)
    assert "sora-nb-from-image" not in _tile_html(ui, 1)
    history = get_session(magics.session)._repr_mimebundle_()["text/html"]
    assert history.count("sora-nb-from-image") == 1


def test_panel_failure_keeps_a_red_row_and_a_failed_tile(magics: SoraMagics) -> None:
    async def scenario(ui: Panel) -> Panel:
        ui.prompt.value = "a forbidden dance [fault:content-policy]"
        ui.generate.click()
        await _finish(ui)
        return ui

    ui = _drive(magics, scenario)
    (row,) = ui._rows
    assert row.progress._bar.bar_style == "danger"
    assert "content policy violation" in row.progress._label.value
    assert row.button.description == "Close"
    row.button.click()
    assert ui._rows == []
    tile = ui.gallery.tile(0)
    assert "failed" in _tile_html(ui, 0) and tile.play.disabled and tile.download.disabled
    assert ui.player.children == ()


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
        assert getattr(ui, button).disabled  # it cannot act, and says why when clicked anyway
        ui.start(edit=button == "edit")
        assert ui._rows == []
        return ui

    ui = _drive(magics, scenario)
    assert words in ui.message.value
    assert get_session(magics.session).turns == []


def test_panel_runs_several_jobs_at_once_each_in_its_row(magics: SoraMagics) -> None:
    played: list[int | None] = []

    async def scenario(ui: Panel) -> Panel:
        ui.player.observe(lambda _: played.append(ui.gallery.selected), names="children")
        for n in range(3):
            ui.prompt.value = f"fox number {n} [fault:slow-queue]"
            ui.generate.click()
        assert len(ui._rows) == 3 and len(ui.jobs.children) == 3
        assert len({id(row.progress) for row in ui._rows}) == 3
        await _finish(ui)
        return ui

    ui = _drive(magics, scenario)
    turns = get_session(magics.session).turns
    assert [t.status for t in turns] == ["done"] * 3
    assert ui._rows == [] and len(ui._made) == 3
    # The player shows the first video, then the last to end, not each one in turn.
    switches = [n for i, n in enumerate(played) if i == 0 or played[i - 1] != n]
    assert 1 <= len(switches) <= 2 and switches[-1] == ui._made[-1], played


def test_panel_follows_turns_made_elsewhere(magics: SoraMagics) -> None:
    async def scenario(ui: Panel) -> Panel:
        session = magics.get_session()
        other = Panel(magics)  # a second panel on the same session
        job = asyncio.ensure_future(session.generate("made in a cell [fault:slow-queue]"))
        while not session.turns:
            await asyncio.sleep(0.01)
        assert "running" in _tile_html(ui, 0) and "running" in _tile_html(other, 0)
        await job
        assert "done" in _tile_html(ui, 0)
        assert ui.gallery.selected == 0 and ui.player.children  # shown, not autoplayed
        assert ui.player.children[0].autoplay is False
        tile = ui.gallery.tile(0).widget
        parts = [tile, tile.layout, *(w for c in tile.children for w in (c, c.layout))]
        session.clear()
        assert ui.gallery._order == [] and ui.gallery.selected is None
        assert [w for w in parts if w.comm is not None] == []  # no model left behind
        other.close()
        return ui

    _drive(magics, scenario)


def test_panel_cancel_then_resume_from_the_tile(magics: SoraMagics) -> None:
    async def scenario(ui: Panel) -> Panel:
        ui.prompt.value = "a slow cow [fault:slow-queue]"
        ui.generate.click()
        (row,) = ui._rows
        while row.progress.task_id is None:  # the relay has created the task: it is billed
            await asyncio.sleep(0.01)
        assert ui.gallery.tile(0).resume.layout.display == "none"
        row.button.click()
        await _finish(ui)
        session = get_session(magics.session)
        (turn,) = session.turns
        assert (turn.status, turn.task_id) == ("interrupted", row.progress.task_id)
        assert row.progress._bar.bar_style == "warning"
        tile = ui.gallery.tile(0)
        assert tile.resume.layout.display is None and tile.play.disabled
        tile.resume.click()
        assert len(ui._rows) == 2  # the resumed job has its own row
        await _finish(ui)
        assert ui.gallery.tile(0).resume.layout.display == "none"
        return ui

    ui = _drive(magics, scenario)
    (turn,) = get_session(magics.session).turns
    assert turn.status == "done" and ui.gallery.selected == 0


def test_panel_resume_of_a_turn_resumed_elsewhere_says_so(magics: SoraMagics) -> None:
    async def scenario(ui: Panel) -> Panel:
        session = magics.get_session()
        await session.generate("a fox")
        assert ui.resume(0) is None
        return ui

    ui = _drive(magics, scenario)
    assert "not interrupted" in ui.message.value


def test_panel_leaves_a_static_record_for_the_saved_notebook(magics: SoraMagics) -> None:
    async def scenario(ui: Panel) -> dict[str, Any]:
        assert ui._record_bundle() == {"text/plain": ""}
        ui.prompt.value = "a paper boat"
        ui.generate.click()
        await _finish(ui)
        return ui._record_bundle()

    bundle = _drive(magics, scenario)
    assert "<video" in bundle["text/html"] and "sora-nb-record" in bundle["text/html"]
    assert "Videos made in this studio: 1" in bundle["text/plain"]


def test_panel_record_is_rewritten_once_for_jobs_ending_together(
    magics: SoraMagics, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Long enough that the three jobs surely end within it, whatever the machine's load.
    monkeypatch.setattr(_panel, "RECORD_EVERY", 5.0)
    rendered: list[int | None] = []
    render = _panel._video_html

    def counted(video: Any) -> str:
        rendered.append(video.turn)
        return render(video)

    monkeypatch.setattr(_panel, "_video_html", counted)

    async def scenario(ui: Panel) -> list[str]:
        with capture_output() as shown:
            ui._ipython_display_()
            for n in range(3):
                ui.prompt.value = f"a paper boat, take {n}"
                ui.generate.click()
            await _finish(ui)
            while ui._record_due is not None:  # the rewrite that waits its turn
                await asyncio.sleep(0.05)
        return [out.data["text/plain"] for out in shown.outputs if out.update]

    updates = _drive(magics, scenario)
    # The first video at once, then one rewrite with all three, not three ever-longer ones.
    assert [text.count("\n#") for text in updates] == [1, 3]
    # Each video's HTML (its poster a WebP encode) is made once, as its job ends.
    assert sorted(rendered) == sorted(set(rendered)) and len(rendered) == 3


def test_panel_public_function_and_text_fallback(magics: SoraMagics) -> None:
    async def scenario(ui: Panel) -> dict[str, Any]:
        return ui._repr_mimebundle_()

    bundle = _drive(magics, scenario)
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert isinstance(panel(), Panel)


def test_panel_ctrl_enter_hook_is_in_the_studio(magics: SoraMagics) -> None:
    async def scenario(ui: Panel) -> Panel:
        return ui

    ui = _drive(magics, scenario)
    assert "sora-nb-studio" in ui.widget._dom_classes
    assert "sora-nb-generate" in ui.generate._dom_classes
    hook = ui.widget.children[0].value
    assert "ctrlKey" in hook and "metaKey" in hook and "<script" not in hook


def _texts(widget: Any) -> list[str]:
    """Every label, placeholder and HTML text a widget tree shows."""
    texts = [getattr(widget, name, "") for name in ("description", "placeholder", "tooltip")]
    value = getattr(widget, "value", "")
    if isinstance(widget, widgets.HTML) and "ctrlKey" not in value:  # not the key hook's script
        texts.append(value)
    for child in getattr(widget, "children", ()):
        texts += _texts(child)
    for option in getattr(widget, "options", ()):
        texts.append(option[0] if isinstance(option, tuple) else str(option))
    return [text for text in texts if isinstance(text, str) and text]


def test_a_chinese_studio_has_no_english_words(magics: SoraMagics) -> None:
    _i18n.set_language("zh")

    async def scenario(ui: Panel) -> list[str]:
        ui.prompt.value = "a paper boat"
        ui.generate.click()
        await _finish(ui)
        return [*_texts(ui.widget), ui._record_bundle()["text/plain"]]

    shown = _drive(magics, scenario)
    assert "生成" in shown and any("本工作室生成的视频：1 个" in text for text in shown)
    # What stays Latin: the prompt, model names and the relay's words in the video's title.
    words = set(english_words("\n".join(shown))) - {"paper", "boat"}
    assert words == set(), (sorted(words), shown)
