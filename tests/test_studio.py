"""The studio, one widget model: the front end's messages run Session jobs as
tasks, and its few traits follow the session, whoever changes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import ipywidgets.widgets.widget as widget_module
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from PIL import Image

from sora_nb.emulator import EmulatorServer, serve_in_thread
from sora_nb.notebook import _i18n, _studio, panel, studio
from sora_nb.notebook._magic import SoraMagics, magics_for
from sora_nb.notebook._run import background_loop
from sora_nb.notebook._studio import PAGE, Studio
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


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), "orange").save(buffer, format="PNG")
    return buffer.getvalue()


def _drive(magics: SoraMagics, scenario: Any, **options: Any) -> Any:
    """Run ``scenario(studio)`` in a loop, as the kernel handles the front end's
    messages.
    """

    async def main() -> Any:
        try:
            return await scenario(Studio(magics, **options))
        finally:
            await magics.client().aclose()  # its pool belongs to this loop

    return asyncio.run(main())


def act(ui: Studio, buffers: list[bytes] | None = None, **content: Any) -> None:
    """What studio.js sends when a person acts: one custom message ``{"action":
    ...}``.
    """
    ui.widget._handle_custom_msg(content, buffers or [])


def sent(ui: Studio) -> list[tuple[dict[str, Any], list[bytes]]]:
    """Record the custom messages the studio sends to the front end (the videos'
    bytes).
    """
    out: list[tuple[dict[str, Any], list[bytes]]] = []
    ui.widget.send = lambda content, buffers=None: out.append((content, list(buffers or [])))
    return out


async def _finish(ui: Studio) -> None:
    """Wait for every job's task (a failed or cancelled one included), then the
    last push.
    """
    tasks = [job.task for job in ui._jobs if job.task is not None]
    await asyncio.gather(*tasks, return_exceptions=True)
    ui._push()


def _tile(ui: Studio, index: int) -> dict[str, Any]:
    (tile,) = [tile for tile in ui.widget.tiles if tile["index"] == index]
    return tile


def _models_open() -> int:
    return len(widget_module._instances)


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
    # nothing after unsubscribing
    assert all(len(statuses) == 1 for statuses in seen)


def test_studio_generate_then_edit_an_older_selected_turn(magics: SoraMagics) -> None:
    async def scenario(ui: Studio) -> tuple[Studio, list[Any]]:
        media = sent(ui)
        act(ui, action="generate", prompt="a cow and a horse dancing",
            settings={"orientation": "landscape"})  # fmt: skip
        await _finish(ui)
        assert ui.widget.selected == [0]  # the new video is shown
        act(ui, action="generate", prompt="put a halo on the cow", mode="edit")
        await _finish(ui)
        # back to the first video: edit it again
        act(ui, action="select", index=0)
        assert ui.widget.selected == [0] and "#0" in ui.widget.view["details"][0]
        act(ui, action="generate", prompt="make it night", mode="edit", base=0)
        await _finish(ui)
        act(ui, action="media", index=2)  # the player asks for the mp4
        return ui, media

    ui, media = _drive(magics, scenario)
    turns = get_session(magics.session).turns
    assert [(t.status, t.parent) for t in turns] == [("done", None), ("done", 0), ("done", 0)]
    assert turns[0].orientation == "landscape"
    # One family: the first generation, each edit under it.
    assert [(t["index"], t["depth"]) for t in ui.widget.tiles] == [(0, 0), (1, 1), (2, 1)]
    assert ui.widget.selected == [2]
    ((content, buffers),) = media
    assert content["type"] == "media" and content["mime"] == "video/mp4"
    assert turns[2].local_path is not None
    # no file URL: Voilà plays it
    assert buffers == [Path(turns[2].local_path).read_bytes()]
    assert "make it night" in ui.widget.view["details"][0]
    tree = ui.widget.view["tree"]
    assert "Lineage" in tree and tree.count('class="sora-nb-node') == 3
    assert 'sora-nb-here" data-index="2"' in tree
    # works without /files/
    assert "data:image/webp;base64," in _tile(ui, 0)["html"]
    assert _tile(ui, 0)["downloadable"] and _tile(ui, 0)["remixable"]
    # a finished job's row goes away
    assert ui._jobs == [] and ui.widget.jobs == []


def test_studio_image_dropped_then_cleared_and_marker(magics: SoraMagics) -> None:
    png = _png()

    async def scenario(ui: Studio) -> Studio:
        # dropped, pasted or chosen: the bytes in a buffer
        act(ui, [png], action="image")
        assert ui.widget.image.startswith("data:image/png;base64,")
        act(ui, action="generate", prompt="this orange square, spinning")
        await _finish(ui)
        act(ui, action="clear_image")
        assert ui.widget.image == ""
        act(ui, action="generate", prompt="a cat on a sofa, no picture please")
        await _finish(ui)
        act(ui, [b"not a picture"], action="image")
        return ui

    ui = _drive(magics, scenario)
    first, second = get_session(magics.session).turns
    assert first.image is not None and first.image.startswith("data:image/png;base64,")
    # cleared: the picture no longer sticks to every video
    assert second.image is None
    assert "sora-nb-from-image" in _tile(ui, 0)["html"]
    assert "sora-nb-from-image" not in _tile(ui, 1)["html"]
    assert "not a picture" in ui.widget.message["text"] and ui.widget.image == ""
    history = get_session(magics.session)._repr_mimebundle_()["text/html"]
    assert history.count("sora-nb-from-image") == 1


@pytest.fixture
def gateway(request: pytest.FixtureRequest, magics: SoraMagics) -> Iterator[SoraMagics]:
    """The studio's magics on an emulator speaking the gateway
    ``request.param``.
    """
    with _on_gateway(magics, request.param):
        yield magics


@pytest.fixture
def openrouter(magics: SoraMagics) -> Iterator[tuple[SoraMagics, EmulatorServer]]:
    """The studio's magics on an emulated OpenRouter, and that emulator (what it
    received).
    """
    with _on_gateway(magics, "openrouter") as server:
        yield magics, server


@contextlib.contextmanager
def _on_gateway(magics: SoraMagics, dialect: Any) -> Iterator[EmulatorServer]:
    with serve_in_thread(speed=300, dialect=dialect) as server:
        magics.base_url, magics.dialect = server.url, dialect
        try:
            yield server
        finally:
            magics.dialect = "chat"


def _buttons(ui: Studio) -> list[str]:
    """The continuation buttons studio.js draws for the selection:
    ``view.offers`` named.
    """
    return [ui.widget.words[f"continue.{how}"] for how in ui.widget.view["offers"]]


def test_studio_names_the_continuation_the_relay_offers(magics: SoraMagics) -> None:
    async def scenario(ui: Studio) -> Studio:
        act(ui, action="generate", prompt="a paper boat on a pond")
        await _finish(ui)
        assert _buttons(ui) == ["Remix"] and ui.widget.view["why_not"] == ""
        # The seed relay offers no last frame: refused in one sentence, unsent.
        act(ui, action="generate", prompt="the boat sails on", mode="edit", how="last-frame")
        assert ui._jobs == []
        assert ui.widget.message["text"] == (
            "sora-2 offers no continuation from the last frame here; what it offers: remix."
        )
        act(ui, action="generate", prompt="the boat sails on", mode="edit", how="remix")
        await _finish(ui)
        return ui

    _drive(magics, scenario)
    _, second = get_session(magics.session).turns
    assert second.parent == 0 and second.request.options["how"] == "remix"


@pytest.mark.parametrize("gateway", ["openrouter"], indirect=True)
def test_studio_continues_from_the_last_frame_where_the_gateway_offers_it(
    gateway: SoraMagics,
) -> None:
    async def scenario(ui: Studio) -> Studio:
        act(ui, action="generate", prompt="a paper boat on a pond",
            settings={"model": "google/veo-3.1"})  # fmt: skip
        await _finish(ui)
        assert _buttons(ui) == ["Continue from last frame"]
        act(ui, action="generate", prompt="the boat sails on", mode="edit", how="last-frame")
        await _finish(ui)
        return ui

    _drive(gateway, scenario)
    _, second = get_session(gateway.session).turns
    assert second.status == "done" and second.parent == 0
    assert second.request.options["how"] == "last-frame" and second.model == "google/veo-3.1"
    assert second.image is not None and second.image.startswith("data:image/png;base64,")


@pytest.mark.parametrize("gateway", ["newapi"], indirect=True)
def test_studio_says_so_where_a_model_offers_no_continuation(gateway: SoraMagics) -> None:
    # new-api offers it no remix and it takes no frame
    model = "veo_3_1_t2v_fast_landscape"

    async def scenario(ui: Studio) -> Studio:
        assert ui._session().client.continuations(model) == ()
        act(ui, action="generate", prompt="a paper boat", settings={"model": model})
        await _finish(ui)
        act(ui, action="generate", prompt="the boat sails on", mode="edit")
        return ui

    ui = _drive(gateway, scenario)
    sentence = f"{model} offers no way to continue a video here, so this turn cannot be changed."
    assert ui.widget.view["offers"] == [] and ui.widget.view["why_not"] == sentence
    assert ui.widget.message == {"text": sentence, "kind": "error"}
    assert len(get_session(gateway.session).turns) == 1  # nothing was sent


@pytest.mark.parametrize("gateway", ["flow2api"], indirect=True)
def test_studio_says_stopping_cancels_a_flow2api_job_while_it_runs(gateway: SoraMagics) -> None:
    rows: list[str] = []

    async def scenario(ui: Studio) -> Studio:
        ui.widget.observe(lambda change: rows.extend(j["html"] for j in change.new), "jobs")
        act(ui, action="generate", prompt="a paper boat",
            settings={"model": "veo_3_1_t2v_fast_landscape"})  # fmt: skip
        await _finish(ui)
        return ui

    ui = _drive(gateway, scenario)
    note = "stopping now cancels this video on the relay, and it cannot be resumed"
    # from the first row the job shows, while it streams
    assert rows and note in rows[0]
    assert get_session(gateway.session).turns[0].status == "done"
    # Once it ended the note goes: the saved record and the tile never carry it.
    assert note not in ui._record_bundle()["text/html"] and note not in _tile(ui, 0)["html"]


def test_studio_on_a_relay_that_keeps_its_jobs_says_nothing_of_stopping(
    magics: SoraMagics,
) -> None:
    rows: list[str] = []

    async def scenario(ui: Studio) -> Studio:
        ui.widget.observe(lambda change: rows.extend(j["html"] for j in change.new), "jobs")
        act(ui, action="generate", prompt="a paper boat")
        await _finish(ui)
        return ui

    _drive(magics, scenario)
    assert rows and not [row for row in rows if "sora-nb-stop-cancels" in row]


def test_studio_exports_a_chain_as_one_video_with_its_lineage(magics: SoraMagics) -> None:
    async def scenario(ui: Studio) -> tuple[Studio, list[Any]]:
        media = sent(ui)
        act(ui, action="generate", prompt="a paper boat on a pond")
        await _finish(ui)
        # a first generation has no chain to export
        assert not ui.widget.view["chain"]
        # pressed anyway: one sentence, not a one-clip "chain"
        assert ui.export(0) is None
        assert ui.widget.message == {
            "text": "Video #0 is a first take, not a change of another, so it has no chain "
            "to export.",
            "kind": "info",
        }
        act(ui, action="generate", prompt="the boat sails on", mode="edit")
        await _finish(ui)
        assert ui.widget.view["chain"] and ui.widget.selected == [1]
        task = ui.export(1)
        assert task is not None and ui.widget.exported["state"] == "running"
        await task
        act(ui, action="export_media")  # the chain's player asks for its mp4
        return ui, media

    ui, media = _drive(magics, scenario)
    exported = ui.widget.exported
    assert not list(Path("sora_outputs").glob("chain-0*"))
    # The saved record (no kernel) keeps the exported chain: its video and its
    # lineage.
    record = ui._record_bundle()
    assert f'src="sora_outputs/{exported["name"]}"' in record["text/html"]
    assert f"{exported['name']}: #0 → #1" in record["text/plain"]
    assert exported["state"] == "done" and exported["index"] == 1
    path = Path("sora_outputs") / exported["name"]
    assert exported["text"] == f"The chain as one video: {path.name}"
    assert "#0" in exported["html"] and "#1" in exported["html"] and "remix" in exported["html"]
    lineage = json.loads(path.with_name(path.name + ".lineage.json").read_text())
    assert [link["turn"] for link in lineage] == [0, 1]
    ((content, buffers),) = media
    assert content["index"] == f"export:{path.name}" and content["mime"] == "video/mp4"
    assert buffers == [path.read_bytes()] and buffers[0][4:8] == b"ftyp"
    # one video, as long as its two clips together
    with av.open(str(path)) as joined:
        frames = sum(1 for _ in joined.decode(video=0))
    clips = [t.local_path for t in get_session(magics.session).turns]
    assert frames == sum(_frames(clip) for clip in clips if clip)


def _frames(path: str) -> int:
    with av.open(path) as clip:
        return sum(1 for _ in clip.decode(video=0))


def test_studio_export_on_a_full_disk_says_so_in_one_sentence(magics: SoraMagics) -> None:
    async def scenario(ui: Studio) -> Studio:
        act(ui, action="generate", prompt="a paper boat on a pond")
        await _finish(ui)
        act(ui, action="generate", prompt="the boat sails on", mode="edit")
        await _finish(ui)
        # The export writes its part file here: /dev/full fails writes (ENOSPC).
        Path("sora_outputs/chain-1.mp4.part.mp4").symlink_to("/dev/full")
        task = ui.export(1)
        assert task is not None
        await task
        return ui

    ui = _drive(magics, scenario)
    sentence = (
        "The chain could not be exported because the disk is full: free some space, then "
        "export it again."
    )
    assert ui.widget.exported == {"index": 1, "state": "failed", "text": sentence}
    assert ui.widget.message == {"text": sentence, "kind": "error"}
    assert not Path("sora_outputs/chain-1.mp4").exists()


def test_studio_failure_keeps_a_red_row_and_a_failed_tile(magics: SoraMagics) -> None:
    async def scenario(ui: Studio) -> Studio:
        act(ui, action="generate", prompt="a forbidden dance [fault:content-policy]")
        await _finish(ui)
        (job,) = ui.widget.jobs
        assert job["final"] and "#f44336" in job["html"]
        assert "content policy violation" in job["html"]
        act(ui, action="cancel", job=job["id"])  # Close, once it ended
        ui._push()
        assert ui.widget.jobs == []
        return ui

    ui = _drive(magics, scenario)
    tile = _tile(ui, 0)
    assert tile["status"] == "failed" and not tile["playable"] and not tile["downloadable"]
    assert ui.widget.selected == []


@pytest.mark.parametrize(
    ("prompt", "mode", "words"),
    [
        pytest.param("", "new", "The prompt is empty", id="empty"),
        pytest.param("more clouds", "edit", "Nothing to edit yet", id="nothing-to-edit"),
    ],
)
def test_studio_refuses_bad_input_in_one_sentence(
    magics: SoraMagics, prompt: str, mode: str, words: str
) -> None:
    async def scenario(ui: Studio) -> Studio:
        act(ui, action="generate", prompt=prompt, mode=mode)
        assert ui._jobs == []
        return ui

    ui = _drive(magics, scenario)
    assert words in ui.widget.message["text"] and ui.widget.message["kind"] == "error"
    # a sentence, never markdown or code
    assert "`" not in ui.widget.message["text"]
    assert get_session(magics.session).turns == []


def test_studio_runs_several_jobs_at_once_each_in_its_row(magics: SoraMagics) -> None:
    shown: list[list[int]] = []

    async def scenario(ui: Studio) -> Studio:
        ui.widget.observe(lambda change: shown.append(change.new), names="selected")
        for n in range(3):
            act(ui, action="generate", prompt=f"fox number {n} [fault:slow-queue]")
        assert len(ui._jobs) == 3 and len(ui.widget.jobs) == 3
        assert len({id(job.progress) for job in ui._jobs}) == 3
        await _finish(ui)
        return ui

    ui = _drive(magics, scenario)
    turns = get_session(magics.session).turns
    assert [t.status for t in turns] == ["done"] * 3
    assert ui._jobs == [] and len(ui._made) == 3
    # The player shows the first video, then the last to end, not each in turn.
    assert 1 <= len(shown) <= 2 and shown[-1] == [ui._made[-1]], shown


def test_studio_follows_turns_made_elsewhere_in_one_model(magics: SoraMagics) -> None:
    async def scenario(ui: Studio) -> Studio:
        session = magics.get_session()
        other = Studio(magics)  # a second studio on the same session
        before = _models_open()
        job = asyncio.ensure_future(session.generate("made in a cell [fault:slow-queue]"))
        while not session.turns:
            await asyncio.sleep(0.01)
        ui._push()
        other._push()
        assert _tile(ui, 0)["status"] == "running" and _tile(other, 0)["status"] == "running"
        await job
        ui._push()
        assert _tile(ui, 0)["status"] == "done"
        # shown, not played: the player asks for it
        assert ui.widget.selected == [0]
        # a turn is state in the one model, never a widget
        assert _models_open() == before
        session.clear()
        ui._push()
        assert ui.widget.tiles == [] and ui.widget.selected == []
        other.close()
        assert _models_open() == before - 1
        return ui

    _drive(magics, scenario)


def test_studio_cancel_then_resume_from_the_tile(magics: SoraMagics) -> None:
    async def scenario(ui: Studio) -> Studio:
        act(ui, action="generate", prompt="a slow cow [fault:slow-queue]")
        (job,) = ui._jobs
        # the relay has created the task: it is billed
        while job.progress.task_id is None:
            await asyncio.sleep(0.01)
        ui._push()
        assert not _tile(ui, 0)["resumable"]
        act(ui, action="cancel", job=job.id)
        await _finish(ui)
        (turn,) = get_session(magics.session).turns
        assert (turn.status, turn.task_id) == ("interrupted", job.progress.task_id)
        assert job.progress.phase == "interrupted" and "#ff9800" in ui.widget.jobs[0]["html"]
        tile = _tile(ui, 0)
        assert tile["resumable"] and not tile["playable"]
        assert "Press Resume" in tile["html"] and "%sora" not in tile["html"]
        act(ui, action="resume", index=0)
        assert len(ui._jobs) == 2  # the resumed job has its own row
        await _finish(ui)
        assert not _tile(ui, 0)["resumable"]
        return ui

    ui = _drive(magics, scenario)
    (turn,) = get_session(magics.session).turns
    assert turn.status == "done" and ui.widget.selected == [0]


def test_studio_resume_of_a_turn_resumed_elsewhere_says_so(magics: SoraMagics) -> None:
    async def scenario(ui: Studio) -> Studio:
        session = magics.get_session()
        await session.generate("a fox")
        assert ui.resume(0) is None
        return ui

    ui = _drive(magics, scenario)
    assert "not interrupted" in ui.widget.message["text"]


def test_studio_compares_two_turns_side_by_side(magics: SoraMagics) -> None:
    async def scenario(ui: Studio) -> Studio:
        for prompt in ("a red kite", "a blue kite"):
            act(ui, action="generate", prompt=prompt)
            await _finish(ui)
        act(ui, action="select", index=0)
        act(ui, action="select", index=1, add=True)
        return ui

    ui = _drive(magics, scenario)
    assert ui.widget.selected == [0, 1]
    first, second = ui.widget.view["details"]
    assert "a red kite" in first and "a blue kite" in second
    ui.select(1)  # a plain click: one video again
    assert ui.widget.selected == [1]


def test_studio_offers_the_known_models_where_the_relay_lists_none(magics: SoraMagics) -> None:
    async def scenario(ui: Studio) -> Studio:
        return ui

    ui = _drive(magics, scenario)  # the seed relay lists no models
    assert [m["name"] for m in ui.widget.models] == ["sora-2", "sora-2-pro"]
    (sora, _) = ui.widget.models
    # Capabilities not known: the studio's own defaults.
    assert sora["controls"] == {
        "orientation": ["", "portrait", "landscape"], "duration": ["", 5, 10, 15],
        "resolution": ["", "720p", "1080p"], "audio": True, "first_frame": True,
    }  # fmt: skip


def test_studio_offers_a_listed_name_alone_without_the_known_ones(
    magics: SoraMagics, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = type(magics.client())
    monkeypatch.setattr(client, "models", lambda self: ["veo-3", "kling-2"], raising=False)

    async def scenario(ui: Studio) -> Studio:
        return ui

    ui = _drive(magics, scenario)
    assert [m["name"] for m in ui.widget.models] == ["veo-3", "kling-2"]
    assert ui.widget.settings["model"] == "veo-3"  # sora-2 is not offered here
    # not known: the defaults
    assert "orientation" in ui.widget.models[0]["controls"]


def _listed(ui: Studio) -> dict[str, dict[str, Any]]:
    return {m["name"]: m["controls"] for m in ui.widget.models}


@pytest.mark.parametrize("gateway", ["openrouter"], indirect=True)
def test_studio_menu_and_controls_follow_the_gateways_models(gateway: SoraMagics) -> None:
    async def scenario(ui: Studio) -> Studio:
        await ui.listing  # GET /api/v1/videos/models, on the kernel's loop
        return ui

    ui = _drive(gateway, scenario)
    from sora_nb.emulator._living import OPENROUTER_MODELS

    menu = _listed(ui)
    # names, and no sora-2
    assert list(menu) == [row["id"] for row in OPENROUTER_MODELS]
    assert ui.widget.settings["model"] == "google/veo-3.1"
    assert menu["google/veo-3.1"] == {
        "aspect_ratio": ["", "16:9", "9:16"], "duration": ["", 4, 6, 8],
        "resolution": ["", "720p", "1080p"], "audio": True, "first_frame": True,
        "last_frame": True,
    }  # fmt: skip
    kling = menu["kwaivgi/kling-v2.1"]
    assert kling["duration"] == ["", 5, 10] and kling["aspect_ratio"] == ["", "16:9", "9:16", "1:1"]
    assert "audio" not in kling  # OpenRouter lists it without sound
    wan = menu["alibaba/wan-2.6"]
    assert wan["first_frame"] and "last_frame" not in wan
    # One ratio only: nothing to choose, so no control; no shape words either.
    assert {"aspect_ratio", "orientation"}.isdisjoint(menu["minimax/hailuo-02"])


@pytest.mark.parametrize("gateway", ["openrouter"], indirect=True)
def test_studio_with_no_running_loop_lists_the_gateways_models_on_the_views_loop(
    gateway: SoraMagics,
) -> None:
    ui = Studio(gateway)  # as marimo builds it: no loop runs in this thread
    try:
        ui.listing.result(timeout=60)
        assert [m["name"] for m in ui.widget.models][:1] == ["google/veo-3.1"]
        assert ui.widget.settings["model"] == "google/veo-3.1"
    finally:
        closing = gateway.client().aclose()
        asyncio.run_coroutine_threadsafe(closing, background_loop()).result(timeout=30)
        ui.close()


def test_studio_sends_the_chosen_duration_to_the_gateway(
    openrouter: tuple[SoraMagics, EmulatorServer],
) -> None:
    magics, server = openrouter

    async def scenario(ui: Studio) -> Studio:
        await ui.listing
        veo = {"model": "google/veo-3.1", "duration": "6", "aspect_ratio": "9:16"}
        act(ui, action="generate", prompt="a heron in the reeds", settings=veo)
        await _finish(ui)
        # The ratio left from Veo's menu is not sent to Hailuo, which makes 16:9
        # alone.
        act(ui, action="generate", prompt="a heron again",
            settings={"model": "minimax/hailuo-02", "duration": "10"})  # fmt: skip
        await _finish(ui)
        return ui

    ui = _drive(magics, scenario)
    first, second = get_session(magics.session).turns
    assert (first.status, second.status) == ("done", "done"), ui.widget.message
    assert first.request.options == {"duration": 6, "aspect_ratio": "9:16"}
    assert second.request.options == {"duration": 10}
    received = [(b["model"], b.get("duration"), b.get("aspect_ratio"))
                for b in server.app.state.created]  # fmt: skip
    assert received == [("google/veo-3.1", 6, "9:16"), ("minimax/hailuo-02", 10, None)]


@pytest.mark.parametrize("gateway", ["openrouter"], indirect=True)
def test_studio_sends_a_first_and_a_last_frame_where_the_model_takes_them(
    gateway: SoraMagics,
) -> None:
    async def scenario(ui: Studio) -> Studio:
        await ui.listing
        act(ui, [_png()], action="image")
        act(ui, [_png()], action="image", slot="last_frame")
        assert ui.widget.image.startswith("data:image/png")
        assert ui.widget.last_frame.startswith("data:image/png")
        act(ui, action="generate", prompt="a kite rises", settings={"model": "google/veo-3.1"})
        await _finish(ui)
        act(ui, action="clear_image", slot="last_frame")
        return ui

    ui = _drive(gateway, scenario)
    (turn,) = get_session(gateway.session).turns
    assert turn.status == "done" and turn.image is not None
    assert turn.request.options["last_frame"].startswith("data:image/png;base64,")
    # one cleared, not both
    assert ui.widget.last_frame == "" and ui.widget.image != ""


def test_studio_sends_the_controls_a_model_takes(magics: SoraMagics) -> None:
    async def scenario(ui: Studio) -> Studio:
        (sora,) = [m for m in ui.widget.models if m["name"] == "sora-2"]
        # "": the model's own length
        assert sora["controls"]["duration"][0] == ""
        act(ui, action="generate", prompt="a short cow", settings={"duration": "5"})
        await _finish(ui)
        act(ui, action="generate", prompt="a long cow", settings={"duration": "x"})
        return ui

    ui = _drive(magics, scenario)
    (turn,) = get_session(magics.session).turns
    assert turn.request.options == {"duration": 5}
    # refused in one sentence, nothing sent
    assert "duration" in ui.widget.message["text"]


def test_a_studio_of_many_turns_sends_one_page(magics: SoraMagics) -> None:
    async def scenario(ui: Studio) -> Studio:
        session = magics.get_session()
        await asyncio.gather(*(session.generate(f"a sheep, take {n}") for n in range(PAGE + 6)))
        ui._push()
        return ui

    ui = _drive(magics, scenario)
    assert len(ui.widget.tiles) == PAGE
    assert ui.widget.page == {"number": 0, "pages": 2, "total": PAGE + 6}
    assert ui.widget.tiles[0]["index"] == PAGE + 5  # the newest first
    # With no loop running here (marimo calls handlers so), the action runs on
    # the views' own.
    act(ui, action="page", number=1)
    asyncio.run_coroutine_threadsafe(asyncio.sleep(0), background_loop()).result(timeout=30)
    assert len(ui.widget.tiles) == 6 and ui.widget.page["number"] == 1


def test_studio_leaves_a_static_record_for_the_saved_notebook(magics: SoraMagics) -> None:
    async def scenario(ui: Studio) -> dict[str, Any]:
        assert ui._record_bundle() == {"text/plain": ""}
        act(ui, action="generate", prompt="a paper boat")
        await _finish(ui)
        return ui._record_bundle()

    bundle = _drive(magics, scenario)
    assert "<video" in bundle["text/html"] and "sora-nb-record" in bundle["text/html"]
    assert "Videos made in this studio: 1" in bundle["text/plain"]


def test_studio_record_is_rewritten_once_for_jobs_ending_together(
    magics: SoraMagics, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Long enough that the three jobs surely end within it, whatever the
    # machine's load.
    monkeypatch.setattr(_studio, "RECORD_EVERY", 5.0)
    rendered: list[int | None] = []
    render = _studio._video_html  # type: ignore[attr-defined]

    def counted(video: Any) -> str:
        rendered.append(video.turn)
        return render(video)

    monkeypatch.setattr(_studio, "_video_html", counted)

    async def scenario(ui: Studio) -> list[str]:
        with capture_output() as shown:
            ui._ipython_display_()
            for n in range(3):
                act(ui, action="generate", prompt=f"a paper boat, take {n}")
            await _finish(ui)
            while ui._record_due is not None:  # the rewrite that waits its turn
                await asyncio.sleep(0.05)
        return [out.data["text/plain"] for out in shown.outputs if out.update]

    updates = _drive(magics, scenario)
    # The first video at once, then one rewrite with all three, not three
    # ever-longer ones.
    assert [text.count("\n#") for text in updates] == [1, 3]
    # Each video's HTML (its poster a WebP encode) is made once, at its end.
    assert sorted(map(str, rendered)) == sorted(map(str, set(rendered))) and len(rendered) == 3


def test_studio_public_functions_and_text_fallback(magics: SoraMagics) -> None:
    async def scenario(ui: Studio) -> dict[str, Any]:
        return ui._repr_mimebundle_()

    bundle = _drive(magics, scenario)
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"].startswith("sora_nb studio")
    assert isinstance(panel(), Studio) and isinstance(studio(), Studio)


def test_studio_module_keys_and_clicks_are_listeners_not_strings(magics: SoraMagics) -> None:
    async def scenario(ui: Studio) -> Studio:
        return ui

    ui = _drive(magics, scenario)
    module = ui.widget._esm
    assert "ctrlKey" in module and "metaKey" in module and "stopPropagation" in module
    # no handlers in HTML strings
    assert "onclick=" not in module and "onerror" not in module
    assert "sora-nb-studio" in ui.widget._dom_classes
    assert all("<svg" in svg for svg in ui.widget.words["icons"].values())


def test_the_app_studio_speaks_to_people_who_do_not_code(magics: SoraMagics) -> None:
    # the embedded emulator, as ``sora-nb app`` runs by default
    magics.base_url = None

    async def scenario(ui: Studio) -> Studio:
        return ui

    ui = _drive(magics, scenario, app=True)
    assert ui.widget.app
    assert ui.widget.message == {"text": "Videos come from the built-in demo relay, which "
                                 "works offline.", "kind": "info"}  # fmt: skip
    words = [v for v in ui.widget.words.values() if isinstance(v, str)]
    assert not [w for w in words if "%sora" in w or "`" in w or "SORA_" in w]


def test_a_chinese_studio_has_no_english_words(magics: SoraMagics) -> None:
    _i18n.set_language("zh")

    async def scenario(ui: Studio) -> list[str]:
        act(ui, action="generate", prompt="a paper boat")
        await _finish(ui)
        words = [v for k, v in ui.widget.words.items() if k != "icons"]
        tiles = [re.sub(r"<[^>]+>", " ", tile["html"]) for tile in ui.widget.tiles]
        view = [re.sub(r"<[^>]+>", " ", ui.widget.view["tree"])]
        return [*words, *tiles, *view, ui._record_bundle()["text/plain"]]

    shown = _drive(magics, scenario)
    assert "生成" in shown and any("本工作室生成的视频：1 个" in text for text in shown)
    # What stays Latin: the prompt and the video's duration unit.
    words = set(english_words("\n".join(shown))) - {"paper", "boat"}
    assert words == set(), (sorted(words), shown)
