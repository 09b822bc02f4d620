"""The notebook faces of a batch: ``%sora batch FILE``, ``sora_nb.batch(...)``,
its one view.

In a real InteractiveShell against the emulator on a loopback port (the
kernel-level tests, with frontend message counts and SIGKILL, are in
test_batch_kernel.py).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.displaypub import CapturingDisplayPublisher
from IPython.core.interactiveshell import InteractiveShell

import sora_nb
from sora_nb import Video
from sora_nb.emulator import EmulatorServer
from sora_nb.notebook import _run
from sora_nb.notebook._batch_view import MESSAGE_BUDGET, BatchView, interval
from sora_nb.notebook._magic import magics_for
from sora_nb.notebook._output import CellFailed
from sora_nb.records._journal import read_journal
from sora_nb.session._batch import Batch, BatchResults

from .words import english_words

WIDGET = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def shell(
    relay: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[InteractiveShell, list[dict[str, Any]]]]:
    monkeypatch.chdir(tmp_path)
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "sora_nb")
    publisher = CapturingDisplayPublisher()
    monkeypatch.setattr(shell, "display_pub", publisher)
    magics = magics_for(shell)
    saved = (magics.base_url, magics.api_key, magics.session, magics.language)
    magics.base_url, magics.api_key = relay.url, "sk-emulator-any"
    magics.session, magics.language = f"batch-{uuid.uuid4().hex[:8]}", "en"
    try:
        yield shell, publisher.outputs
    finally:
        if magics._client is not None:
            _run.run_blocking(magics._client.aclose())
        magics.base_url, magics.api_key, magics.session, magics.language = saved


def _html(outputs: list[dict[str, Any]]) -> str:
    return "\n".join(out["data"].get("text/html", "") for out in outputs)


def test_magic_batch_runs_a_csv_file_and_binds_the_results(
    shell: tuple[InteractiveShell, list[dict[str, Any]]], tmp_path: Path
) -> None:
    ipython, outputs = shell
    rows = "prompt,name,orientation\na red cow,cow,\na blue duck,duck,landscape\n"
    rows += "a pig [fault:content-policy],pig,\n"
    (tmp_path / "shots.csv").write_text(rows, encoding="utf-8")
    ipython.run_line_magic("sora", "batch shots.csv --journal j.jsonl --as shots")
    results = ipython.user_ns["shots"]
    assert isinstance(results, BatchResults)
    assert [type(r).__name__ for r in results] == ["Video", "Video", "GenerationFailed"]
    assert results[1].orientation == "landscape"  # type: ignore[union-attr]
    assert WIDGET in outputs[0]["data"]
    assert outputs[0]["data"]["text/plain"].startswith("sora batch")
    gallery = _html(outputs)
    assert "sora_outputs/" in gallery  # thumbnails from the local copies
    assert "content policy" in gallery  # a failed item says why
    assert read_journal(tmp_path / "j.jsonl").finished


def test_magic_batch_refuses_bad_input_in_one_sentence(
    shell: tuple[InteractiveShell, list[dict[str, Any]]], tmp_path: Path
) -> None:
    ipython, outputs = shell
    (tmp_path / "empty.csv").write_text("text\nhello\n", encoding="utf-8")
    with pytest.raises(CellFailed, match="no 'prompt' column"):
        ipython.run_line_magic("sora", "batch empty.csv")
    with pytest.raises(CellFailed, match="--resume"):
        ipython.run_line_magic("sora", "batch")
    assert outputs == []  # nothing was shown, nothing sent


def test_api_batch_resumes_a_journal_and_retry_failed_resends_only_those(
    shell: tuple[InteractiveShell, list[dict[str, Any]]], relay: EmulatorServer
) -> None:
    first = sora_nb.batch(["a hen", "a goose [fault:content-policyx1]"], journal="j.jsonl")
    assert [type(r).__name__ for r in first] == ["Video", "GenerationFailed"]
    # a finished journal: nothing is sent again
    again = sora_nb.batch(resume="j.jsonl")
    assert [type(r).__name__ for r in again] == ["Video", "SoraError"]
    paid = relay.app.state.emulator.paid
    assert (paid["a hen"], paid["a goose"]) == (1, 1)


def test_a_finished_journal_resumed_shows_no_pace(
    shell: tuple[InteractiveShell, list[dict[str, Any]]],
) -> None:
    _, outputs = shell
    sora_nb.batch(["a hen", "a goose"], journal="j.jsonl")
    assert "/min" in _html(outputs)  # items that ended in this run have a pace
    outputs.clear()
    sora_nb.batch(resume="j.jsonl")
    shown = _html(outputs)
    # Nothing ended in this run: no pace (it was millions a minute, from the
    # journal's items).
    assert "2</b> done" in shown and "/min" not in shown


def test_view_retry_button_resends_only_the_failed_items(
    shell: tuple[InteractiveShell, list[dict[str, Any]]], relay: EmulatorServer
) -> None:
    from sora_nb.session._batch import Batch

    session = magics_for(shell[0]).get_session()
    job = Batch.start(session, ["a yak", "an ox [fault:content-policyx1]"], save=False)
    view = BatchView(job)
    view.show()
    _run.run_blocking(job.run())
    view.finish()
    assert view.retry_offered  # shown: there is something to retry
    assert 'data-action="retry"' in view.widget.html

    # in a kernel, a click is handled on its running loop
    async def click() -> None:
        # What batch.js sends when the button is clicked: one custom message.
        view.widget._handle_custom_msg({"action": "retry"}, [])
        assert view._retrying is not None
        await view._retrying

    _run.run_blocking(click())
    assert all(isinstance(r, Video) for r in job.results)
    assert relay.app.state.emulator.paid["an ox"] == 2
    assert relay.app.state.emulator.paid["a yak"] == 1
    assert not view.retry_offered and "sora-nb-retry" not in view.widget.html


def test_view_pushes_are_throttled_within_the_budget() -> None:
    assert interval(0) == 1.0 and interval(3600) == 720.0
    pushes, elapsed = 0, 0.0
    # a day-long batch, pushed as often as the view allows
    while elapsed < 24 * 3600:
        elapsed += interval(elapsed)
        pushes += 1
    assert pushes * 3 > MESSAGE_BUDGET  # so the hard budget is what bounds it


def test_a_chinese_batch_view_has_no_english_words(
    shell: tuple[InteractiveShell, list[dict[str, Any]]],
) -> None:
    magics_for(shell[0]).language = "zh"
    session = magics_for(shell[0]).get_session()
    job = Batch.start(session, ["a yak", "an ox [fault:content-policy]"], save=False)
    view = BatchView(job)
    view.show()
    _run.run_blocking(job.run())
    view.finish()
    card = re.sub(r"<[^>]+>", " ", view.widget.html)
    shown = [card, view.summary()]
    shown += [view._gallery_bundle()["text/plain"], view._gallery_html_now()]
    assert "完成" in view.summary() and "重试失败项" in card
    # What stays Latin: the command's name, the prompts, the relay's reason.
    words = set(english_words("\n".join(shown))) - {"yak", "content", "policy", "violation"}
    assert words == set(), (sorted(words), shown)
