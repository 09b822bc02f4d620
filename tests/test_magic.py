"""The %%sora magic in a real InteractiveShell, against the emulator on a
loopback port.
"""

from __future__ import annotations

import asyncio
import getpass
import re
import string
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from IPython.core.interactiveshell import InteractiveShell

import sora_nb
from sora_nb import InvalidRequest, SoraClient, Video, _messages
from sora_nb.client import _config
from sora_nb.emulator import EmulatorServer, serve_in_thread
from sora_nb.notebook import _functions, _i18n, _magic, _run
from sora_nb.notebook._magic import SoraMagics, expand_prompt, mask_key
from sora_nb.notebook._output import CellFailed, SoraInterrupt
from sora_nb.notebook._progress import ProgressView
from sora_nb.session import _history

from .conftest import Cells, magic_cells
from .words import english_words

SECRET = "sk-test-SECRET-123"
WIDGET = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def cells(
    relay: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Cells]:
    # the emulator takes any key; a real relay URL needs one
    session = f"test-{uuid.uuid4().hex[:8]}"
    with magic_cells(relay.url, "sk-emulator-any", session, tmp_path, monkeypatch) as cells:
        yield cells


# -- generate, edit, bind ------------------------------------------------------


def test_magic_generates_a_video_and_binds_it(cells: Cells) -> None:
    cells.shell.user_ns["animal"] = "cow"
    cells.cell("--as first", "a {animal} and a horse dancing\n")
    video = cells.shell.user_ns["first"]
    assert isinstance(video, Video)
    assert video.prompt == "a cow and a horse dancing"
    assert video.local_path is not None and Path(video.local_path).is_file()
    assert WIDGET in cells.outputs[0]["data"]
    assert "<video" in cells.htmls()
    assert video.local_path in cells.htmls()  # the local copy comes first
    # One card: the live model, then in its place its saved copy, the video
    # under the bar.
    assert cells.texts()[-1].startswith("sora · done")
    # ...static HTML: no kernel needed
    assert WIDGET not in cells.outputs[-1]["data"]
    final = cells.outputs[-1]["data"]["text/html"]
    assert final.index("sora-nb-phase-done") < final.index("<video")
    assert cells.session.turns[-1].name == "first"


def test_magic_edits_by_name_and_latest(cells: Cells) -> None:
    cells.cell("--as cow", "a cow")
    cells.cell("--edit cow --as halo", "put a halo on the cow")
    cow, halo = cells.shell.user_ns["cow"], cells.shell.user_ns["halo"]
    assert halo.messages[1] == {"role": "assistant", "content": cow.transcript}
    assert halo.echo is not None and halo.echo["sid"] == cow.sid
    cells.cell("--edit", "and clouds under the horse")
    turns = cells.session.turns
    assert [turn.parent for turn in turns] == [None, 0, 1]
    assert all(turn.status == "done" for turn in turns)


def test_magic_edit_accepts_a_history_index_and_a_video_variable(cells: Cells) -> None:
    cells.cell("--as cow", "a cow")
    cells.shell.user_ns["mine"] = cells.shell.user_ns["cow"]
    cells.cell("--edit 0", "in the rain")
    cells.cell("--edit mine", "at night")
    assert [turn.parent for turn in cells.session.turns] == [None, 0, 0]


def test_magic_ratio_and_model_options(cells: Cells) -> None:
    cells.cell("--ratio 16:9 --model sora-2-pro --as wide", "a beach")
    video = cells.shell.user_ns["wide"]
    assert (video.orientation, video.model) == ("landscape", "sora-2-pro")


def test_magic_no_save_keeps_no_local_copy(cells: Cells) -> None:
    cells.cell("--no-save --as v", "a cow")
    assert cells.shell.user_ns["v"].local_path is None
    assert not Path("sora_outputs").exists()


def test_magic_embed_puts_the_mp4_in_the_output(cells: Cells) -> None:
    cells.cell("--embed --no-save", "a cow")
    assert 'src="data:video/mp4;base64,' in cells.htmls()
    assert "--embed stores the whole video in the notebook" in cells.htmls()


def test_magic_failure_ends_the_cell_in_error_with_one_line(cells: Cells) -> None:
    with pytest.raises(CellFailed) as caught:
        cells.shell.run_cell_magic("sora", "--as nope", "boom [fault:content-policy]")
    assert "content policy violation" in str(caught.value)
    # IPython shows _render_traceback_ instead of a traceback: one red line.
    assert caught.value._render_traceback_() == [f"\x1b[0;31m✗ {caught.value}\x1b[0m"]
    # the progress slot, now static HTML: no widget left to load
    final = cells.outputs[-1]
    assert WIDGET not in final["data"]
    assert final["data"]["text/plain"].startswith("sora · failed")
    assert "sora-nb-phase-failed" in final["data"]["text/html"]
    turn = cells.session.turns[-1]  # the failed turn stays in the history
    assert turn.status == "failed" and turn.task_id
    assert "nope" not in cells.shell.user_ns


def test_magic_failure_stops_run_cell(cells: Cells, capsys: pytest.CaptureFixture[str]) -> None:
    result = cells.shell.run_cell("%%sora --as nope\nboom [fault:content-policy]")
    assert isinstance(result.error_in_exec, CellFailed)
    out = capsys.readouterr()
    assert "content policy violation" in out.out + out.err
    assert "Traceback" not in out.out + out.err


# -- input errors: one sentence, nothing sent ----------------------------------


@pytest.mark.parametrize(
    ("line", "body", "words"),
    [
        pytest.param("--edit", "more", "Nothing to edit yet", id="edit-nothing"),
        pytest.param("--edit ghost", "more", "No turn 'ghost'", id="edit-unknown-ref"),
        pytest.param("--image missing.png", "a cow", "No image file", id="missing-image"),
        pytest.param("--image 'my cow.png'", "a cow", "'my cow.png'", id="quoted-path"),
        pytest.param("--model 'sora 3'", "a cow", "has spaces", id="bad-model-name"),
        pytest.param("", "   \n", "The prompt is empty", id="empty-prompt"),
        pytest.param("--orientation sideways", "a cow", "Unknown orientation", id="orientation"),
        pytest.param("--ratio 4:3", "a cow", "Unknown ratio '4:3'", id="ratio"),
        pytest.param("--as 2cows", "a cow", "--as needs a Python variable name", id="bad-name"),
        pytest.param("", "a {ghost} cow", "no variable 'ghost'", id="unknown-var"),
        pytest.param("", "a } cow", "unmatched brace", id="brace"),
    ],
)
def test_magic_input_errors_are_one_sentence(
    cells: Cells, line: str, body: str, words: str
) -> None:
    cells.cell(line, body)
    assert cells.outputs == []
    (error,) = cells.errors()
    assert words in error
    assert error.count(".") <= 2 and "Traceback" not in error
    assert cells.session.turns == []


def test_magic_usage_error_for_an_unknown_option(
    cells: Cells, capsys: pytest.CaptureFixture[str]
) -> None:
    cells.shell.run_cell("%%sora --colour red\na cow")
    assert "UsageError" in capsys.readouterr().err
    assert cells.session.turns == []


def test_expand_prompt_fills_fields_and_keeps_escaped_braces() -> None:
    ns = {"who": "cow", "cfg": {"n": 2}, "size": 1.5}
    assert expand_prompt("{who} x{cfg[n]} {size:.0f} {{json}}", ns) == "cow x2 2 {json}"


# -- interrupt and resume ------------------------------------------------------


class CountingTransport(httpx.AsyncHTTPTransport):
    """Counts the relay's responses that are still open (not yet closed by the
    client).
    """

    def __init__(self) -> None:
        super().__init__()
        self.open = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        self.open += 1
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_Closing(cast(httpx.AsyncByteStream, response.stream), self),
            extensions=response.extensions,
        )


class _Closing(httpx.AsyncByteStream):
    def __init__(self, stream: httpx.AsyncByteStream, owner: CountingTransport) -> None:
        self._stream, self._owner = stream, owner

    async def __aiter__(self) -> Any:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        self._owner.open -= 1
        await self._stream.aclose()


def test_magic_interrupt_marks_the_turn_and_resume_finishes_it(
    cells: Cells, relay: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    transport = CountingTransport()
    cells.magics._client = SoraClient(relay.url, "sk-any", transport=transport)
    handle = ProgressView.handle

    def interrupt_after_task(view: ProgressView, event: Any) -> None:
        handle(view, event)
        # the loop raises it, as a SIGINT during the stream does
        if event.type == "task":
            asyncio.get_running_loop().call_soon(_raise_interrupt)

    monkeypatch.setattr(ProgressView, "handle", interrupt_after_task)
    with pytest.raises(KeyboardInterrupt) as caught:
        cells.cell("--as slow", "a slow cow [fault:slow-queue]")
    monkeypatch.setattr(ProgressView, "handle", handle)
    # the stream was closed before the interrupt propagated
    assert transport.open == 0
    turn = cells.session.turns[-1]
    assert turn.status == "interrupted" and turn.task_id
    # The cell's error stays true after a resume; what to do next is in an
    # output it replaces.
    assert str(caught.value) == f"Interrupted while task {turn.task_id} ran."
    assert isinstance(caught.value, SoraInterrupt)
    assert caught.value._render_traceback_() == [f"\x1b[0;33m{caught.value}\x1b[0m"]
    assert f"%sora resume {turn.task_id}" in cells.texts()[-1]
    assert cells.texts()[-2].startswith("sora · interrupted")
    cells.line(f"resume {turn.task_id}")
    (resumed,) = cells.session.turns  # finished in place, not as a new turn
    assert resumed.status == "done" and resumed.task_id == turn.task_id
    assert "<video" in cells.htmls()


def _raise_interrupt() -> None:
    raise KeyboardInterrupt


def test_magic_resume_with_nothing_to_resume_is_one_sentence(cells: Cells) -> None:
    cells.line("resume")
    (error,) = cells.errors()
    assert "no interrupted turn" in error


def test_magic_background_without_a_loop_runs_in_the_cell(cells: Cells) -> None:
    cells.cell("--background --as bg", "a cow")
    assert isinstance(cells.shell.user_ns["bg"], Video)
    assert any("--background needs a running event loop" in t for t in cells.texts())


# -- line commands and settings ------------------------------------------------


def test_magic_config_shows_and_sets_with_the_key_masked(
    cells: Cells, capsys: pytest.CaptureFixture[str]
) -> None:
    cells.line(f"config --model sora-2-pro --orientation landscape --api-key {SECRET}")
    out = cells.texts()[-1] + cells.htmls() + capsys.readouterr().out
    assert cells.magics.model == "sora-2-pro"
    assert cells.magics.orientation == "landscape"
    assert "sk-…-123" in out and SECRET not in out
    cells.shell.run_line_magic("config", "SoraMagics")
    assert SECRET not in capsys.readouterr().out
    cells.shell.run_line_magic("config", "SoraMagics.model = 'sora-2'")
    assert cells.magics.model == "sora-2"


def test_magic_config_shows_a_key_from_the_environment_masked(
    cells: Cells, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SORA_API_KEY", SECRET)
    cells.magics.api_key = None
    cells.line("config")
    out = cells.texts()[-1] + cells.htmls()
    assert "sk-…-123 (SORA_API_KEY)" in out and SECRET not in out
    assert cells.magics.base_url and cells.magics.base_url in out


def test_magic_config_asks_for_the_key_when_none_is_given(
    cells: Cells, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(getpass, "getpass", lambda prompt: SECRET)
    cells.line("config --api-key")
    assert cells.magics.api_key == SECRET
    assert SECRET not in capsys.readouterr().out


def test_magic_mask_key() -> None:
    _i18n.set_language("en")
    assert mask_key(None) == "not set"
    assert mask_key("short") == "***"
    assert mask_key(SECRET) == "sk-…-123"


def test_magic_history_reset_help_and_unknown_command(
    cells: Cells, capsys: pytest.CaptureFixture[str]
) -> None:
    cells.cell("--as cow", "a cow")
    cells.line("history")
    assert "sora-nb-history" in cells.outputs[-1]["data"]["text/html"]
    cells.line("reset")
    assert cells.session.turns == []
    assert "History cleared." in capsys.readouterr().out
    cells.line("help")
    out = capsys.readouterr().out
    assert "--edit" in out and "%sora resume [TASK]" in out
    cells.line("dance")
    assert "Unknown command 'dance'" in cells.errors()[-1]


def test_cell_help_with_no_prompt_shows_the_help(
    cells: Cells, capsys: pytest.CaptureFixture[str]
) -> None:
    # As a cell runs in a kernel: IPython's transformers first, then the magic.
    for source in ("%%sora --help\n", "%%sora -m sora-2 -h", "%%sora --help\n\n  \n"):
        result = cells.shell.run_cell(source)
        assert result.error_in_exec is None, result.error_in_exec
        out = capsys.readouterr().out
        assert "--edit" in out and "%sora resume [TASK]" in out
    assert cells.session.turns == []  # help sends nothing
    # a name, not the option: still empty
    result = cells.shell.run_cell("%%sora --as help\n")
    assert "cell body is empty" in str(result.error_in_exec)


def test_the_first_emulator_video_is_estimated_in_the_emulators_seconds(
    relay: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SORA_EMULATOR_SPEED", "1")
    monkeypatch.delenv("SORA_BASE_URL", raising=False)
    embedded = sora_nb.Session("first-emulator", client=SoraClient(api_key=None))
    assert embedded.client.uses_emulator
    view = ProgressView()
    # nothing timed yet in this session
    view.typical = _magic._typical(embedded, "sora-2")
    view._push()
    assert view.widget is not None
    assert "usually 0:05" in view.widget.html and "1–30 min" not in view.widget.html
    remote = sora_nb.Session("first-relay", client=SoraClient(relay.url, api_key="sk-any"))
    # a real relay: its usual 1–30 min
    assert _magic._typical(remote, "sora-2") is None


def test_magic_speaks_chinese(cells: Cells, capsys: pytest.CaptureFixture[str]) -> None:
    cells.line("config --language zh")
    assert "<table" in cells.htmls() and "模型" in cells.texts()[-1]
    cells.cell("--edit", "更多")
    assert "还没有可以修改的视频" in cells.errors()[-1]


def test_magic_embedded_emulator_notice_is_one_line_once(
    cells: Cells,
    relay: EmulatorServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_magic, "_notice_shown", False)
    # this module's server
    monkeypatch.setattr(_config, "embedded_emulator", lambda: relay)
    cells.magics.base_url = None
    first = cells.magics.client()
    cells.magics.api_key = "sk-any"  # a new client: no second notice
    second = cells.magics.client()
    out = capsys.readouterr().out
    assert first is not second and first.uses_emulator
    assert out.count("\n") == 1
    address = first.base_url.removeprefix("http://")
    assert f"using the embedded emulator at {address} " in out and "http://" not in out
    assert "SORA_BASE_URL" in out and "SORA_API_KEY" in out
    _run.run_blocking(first.aclose())


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param({"LANG": "zh_CN.UTF-8"}, "zh", id="lang-zh"),
        pytest.param({"LC_ALL": "zh_TW.UTF-8", "LANG": "en_US.UTF-8"}, "zh", id="lc-all-wins"),
        pytest.param({"LANGUAGE": "zh_CN:en", "LANG": "en_US.UTF-8"}, "zh", id="language"),
        pytest.param({"LANG": "en_US.UTF-8"}, "en", id="lang-en"),
        pytest.param({"LANG": "C.UTF-8"}, "en", id="c-locale"),
    ],
)
def test_language_follows_the_locale_unless_set(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    _i18n.set_language("auto")
    assert _i18n.language() == expected
    _i18n.set_language("en")
    assert _i18n.t("phase.queued") == "queued"
    _i18n.set_language("zh")
    assert _i18n.t("phase.queued") == "排队中"
    _i18n.set_language("auto")


def test_magic_config_can_turn_local_copies_off_and_back(
    cells: Cells, capsys: pytest.CaptureFixture[str], relay: EmulatorServer
) -> None:
    cells.line('config --save-dir ""')
    assert "no local copies" in cells.texts()[-1]
    cells.cell("--as v", "a cow")
    assert cells.shell.user_ns["v"].local_path is None
    cells.line("config --save-dir clips")
    cells.cell("--as w", "a cow")
    assert cells.shell.user_ns["w"].local_path.startswith("clips/")
    cells.line('config --base-url ""')
    assert cells.magics.base_url is None
    cells.line("config -h")
    assert "--save-dir" in capsys.readouterr().out


def test_magic_panel_command_displays_the_panel(cells: Cells) -> None:
    cells.line("panel")
    assert WIDGET in cells.outputs[-1]["data"]


def test_magic_autosave_brings_the_history_back_after_a_restart(cells: Cells) -> None:
    cells.line("config --autosave history.json")
    cells.cell("--as cow", "a cow")
    assert Path("history.json").is_file()
    del _history._sessions[cells.magics.session]  # all a kernel restart forgets
    cells.line("history")
    assert "'a cow'" in cells.outputs[-1]["data"]["text/plain"]
    cells.cell("--edit cow", "with a hat")
    assert [turn.parent for turn in cells.session.turns] == [None, 0]


def test_magic_a_corrupt_autosave_file_is_one_sentence(cells: Cells) -> None:
    Path("broken.json").write_text("{", encoding="utf-8")
    cells.line("config --autosave broken.json")
    cells.line("history")
    (error,) = cells.errors()
    assert "broken.json is corrupt" in error
    assert Path("broken.json").read_text(encoding="utf-8") == "{"
    cells.line('config --autosave ""')
    cells.line("history")
    assert len(cells.errors()) == 1


def test_magic_a_refused_key_says_how_to_set_one(cells: Cells) -> None:
    cells.cell("--as v", "a cow [fault:401]")
    (final,) = cells.errors()
    assert "refused the API key (401)" in final
    assert "%sora config --api-key" in final


def test_profile_config_applies_to_new_magics(monkeypatch: pytest.MonkeyPatch) -> None:
    # c.SoraMagics.model = "sora-2-pro" in an IPython profile reaches the magics
    # at load.
    shell = InteractiveShell.instance()
    config: Any = shell.config.copy()
    config.SoraMagics.model = "sora-2-pro"
    config.SoraMagics.save_dir = "videos"
    monkeypatch.setattr(shell, "config", config)
    magics = SoraMagics(shell=shell)
    try:
        assert (magics.model, magics.save_dir) == ("sora-2-pro", "videos")
    finally:
        shell.configurables.remove(magics)  # type: ignore[arg-type]  # typed too narrowly


def test_magic_never_replaces_a_client_the_user_set(cells: Cells, relay: EmulatorServer) -> None:
    cells.cell("", "a cow")
    # the settings' client, by default
    assert cells.session.client is cells.magics.client()
    mine = SoraClient(relay.url, "sk-mine")
    cells.session.client = mine
    # new settings: a new client for the magic...
    cells.magics.api_key = "sk-other"
    cells.cell("", "a horse")
    assert cells.session.client is mine  # ...but the user's choice stands
    assert [turn.status for turn in cells.session.turns] == ["done", "done"]
    _run.run_blocking(mine.aclose())


# -- other kinds of relay (docs/dialects.md) -----------------------------------


def test_magic_config_dialect_reaches_a_videos_relay(cells: Cells) -> None:
    with serve_in_thread(speed=500, dialect="videos") as videos:
        cells.line(f"config --base-url {videos.url} --dialect videos --model sora-2-landscape-10s")
        assert cells.magics.client().dialect == "videos"
        cells.cell("--as tower", "a lighthouse at dawn")
        cells.cell("--edit tower --as foggy", "add fog")
        tower, foggy = cells.shell.user_ns["tower"], cells.shell.user_ns["foggy"]
        assert tower.video_url == f"{videos.url}/v1/videos/{tower.task_id}/content"
        assert tower.model == "sora-2-landscape-10s"
        assert foggy.task_id != tower.task_id and cells.errors() == []
    cells.line("config --dialect grpc")
    (error,) = cells.errors()
    assert "Unknown dialect 'grpc'" in error and "\n" not in error
    cells.line("config --dialect chat")
    assert cells.magics.client().dialect == "chat"


def test_magic_a_rate_limit_retry_is_shown_as_such(
    cells: Cells, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    handle = ProgressView.handle

    def record(view: ProgressView, event: Any) -> None:
        handle(view, event)
        seen.append(view.summary())

    monkeypatch.setattr(ProgressView, "handle", record)
    cells.cell("--as cow", "a cow [fault:429x1]")
    assert any("rate limited — retrying in" in text for text in seen), seen
    assert isinstance(cells.shell.user_ns["cow"], Video)


def test_magic_resume_rebinds_the_name_and_updates_the_first_cell(
    cells: Cells, monkeypatch: pytest.MonkeyPatch
) -> None:
    handle = ProgressView.handle

    def interrupt_after_task(view: ProgressView, event: Any) -> None:
        handle(view, event)
        if event.type == "task":
            asyncio.get_running_loop().call_soon(_raise_interrupt)

    monkeypatch.setattr(ProgressView, "handle", interrupt_after_task)
    with pytest.raises(KeyboardInterrupt):
        cells.cell("--as late", "a late cow [fault:slow-queue]")
    monkeypatch.setattr(ProgressView, "handle", handle)
    first_ids = {(out.get("transient") or {}).get("display_id") for out in cells.outputs}
    first_ids.discard(None)
    assert "late" not in cells.shell.user_ns
    del cells.outputs[:]
    cells.line("resume")
    # the turn's --as name, bound again
    assert isinstance(cells.shell.user_ns["late"], Video)
    updated = [
        out for out in cells.outputs if (out.get("transient") or {}).get("display_id") in first_ids
    ]
    assert any("<video" in out["data"].get("text/html", "") for out in updated)
    assert any("sora-nb-phase-done" in out["data"].get("text/html", "") for out in updated)
    final = {out["transient"]["display_id"]: out["data"]["text/plain"] for out in updated}
    # the bar and the "run %sora resume" line, both replaced
    assert set(final) == first_ids
    assert not [text for text in final.values() if "%sora resume" in text]
    # The bar's time is the video's: both count from when the task began.
    video = cells.shell.user_ns["late"]
    assert video.elapsed is not None
    minutes, seconds = divmod(round(video.elapsed), 60)
    bars = [text for text in final.values() if text.startswith("sora · done")]
    assert bars and all(f"· {minutes}:{seconds:02d}" in text for text in bars), (bars, video)


def test_magic_messages_in_html_carry_no_markdown(cells: Cells) -> None:
    # no loop: in the cell
    cells.cell("--background --as bg", "a cow [fault:content-policy]")
    html = cells.htmls()
    assert "`" not in html


# -- the programmatic twin -----------------------------------------------------


def test_generate_and_edit_show_the_same_outputs_and_return_the_video(
    cells: Cells, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(_functions, "get_ipython", lambda: cells.shell)
    video = sora_nb.generate("a cow {not a field}", name="cow")
    assert isinstance(video, Video) and video.prompt == "a cow {not a field}"
    assert cells.shell.user_ns["cow"] is video
    # the live card, then its static copy
    assert WIDGET in cells.outputs[0]["data"]
    assert "sora-nb-phase-done" in cells.outputs[-1]["data"]["text/html"]
    assert "<video" in cells.outputs[-1]["data"]["text/html"]
    halo = sora_nb.edit("cow", "put a halo on the cow")
    assert halo.messages[1] == {"role": "assistant", "content": video.transcript}
    latest = sora_nb.edit(None, "and clouds")
    assert [turn.parent for turn in cells.session.turns] == [None, 0, 1] and latest.turn == 2
    saved = halo.save(tmp_path / "keep")
    assert saved == tmp_path / "keep" and saved.read_bytes()[4:8] == b"ftyp"
    (tmp_path / "folder").mkdir()
    assert halo.save(tmp_path / "folder").parent == tmp_path / "folder"


def test_generate_failure_ends_the_cell_in_one_line(
    cells: Cells, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_functions, "get_ipython", lambda: cells.shell)
    with pytest.raises(CellFailed, match="content policy violation"):
        sora_nb.generate("boom [fault:content-policy]")
    with pytest.raises(CellFailed, match="has spaces"):
        sora_nb.generate("a cow", model="no such model")
    monkeypatch.setattr(_functions, "get_ipython", lambda: None)
    with pytest.raises(InvalidRequest, match="IPython or Jupyter"):
        sora_nb.generate("a cow")


def test_video_save_without_a_local_copy_is_one_sentence(cells: Cells, tmp_path: Path) -> None:
    cells.cell("--no-save --as v", "a cow")
    with pytest.raises(InvalidRequest, match="no local copy"):
        cells.shell.user_ns["v"].save(tmp_path / "v.mp4")


# -- two complete languages ----------------------------------------------------


def test_catalog_has_every_key_in_both_languages() -> None:
    fields = string.Formatter()
    for key, (english, chinese) in _messages._CATALOG.items():
        assert english.strip() and chinese.strip(), key
        assert re.search(r"[\u4e00-\u9fff]", chinese), key
        names = [{f for _, f, _, _ in fields.parse(text) if f} for text in (english, chinese)]
        assert names[0] == names[1], key
        assert english_words(chinese) == [], (key, chinese)


def test_magic_chinese_ui_has_noenglish_words(
    cells: Cells, capsys: pytest.CaptureFixture[str]
) -> None:
    cells.line("config --language zh")
    cells.line("help")
    cells.cell("--as cow", "a cow")
    cells.cell("--as bad", "boom [fault:content-policy]")
    cells.cell("--ratio 4:3", "a cow")
    cells.line("history")
    shown = [cells.htmls(), *cells.texts(), capsys.readouterr().out, *cells.errors()]
    # The prompts, names and the relay's own reason are the user's and the
    # relay's words.
    words = set(english_words("\n".join(shown))) - {"cow", "boom", "fault", "bad", "test"}
    words -= {"content", "policy", "violation"}
    assert words == set(), sorted(words)


def test_magic_core_errors_speak_the_chosen_language(cells: Cells) -> None:
    cells.line("config --language zh")
    cells.cell("--as v", "a cow [fault:401]")
    cells.cell("--as w", "a cow [fault:content-policy]")
    refused, failed = cells.errors()
    assert refused.startswith("中转服务拒绝了 API 密钥（401）") and "SORA_API_KEY" in refused
    assert failed.startswith("生成失败：") and "（任务 task_" in cells.session.turns[-1].error
