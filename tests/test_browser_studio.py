"""The studio (notebooks/05-studio.ipynb) driven in Chromium, in JupyterLab and in Voilà as
``sora-nb app`` serves it: Ctrl+Enter generates and the bar moves, a video plays, an older turn
is selected and edited, an image is previewed, used and cleared, a job is cancelled and
resumed while another goes on, a prompt is copied and an mp4 downloaded, and (in JupyterLab)
a ``%%sora`` cell run beside it shows live in the gallery. Every wait waits for a condition.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Locator, Page, sync_playwright

from sora_nb.launch._app import STUDIO, voila_command

from .conftest import ROOT
from .test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    KERNEL_IDLE_JS,
    PICTURES,
    SECRET,
    TOKEN,
    WAIT_MS,
    _free_port,
    _jupyterlab,
    _serving,
    notebook_url,
    picture,
)

NOTEBOOKS = ROOT / "notebooks"
# Every state of every job row's bar, recorded as it happens.
WATCH_JOBS_JS = """() => {
  window.__soraJobBars = [];
  new MutationObserver(() => {
    for (const bar of document.querySelectorAll('.sora-nb-job .progress-bar')) {
      const state = bar.className + ' ' + bar.style.width, all = window.__soraJobBars;
      if (all[all.length - 1] !== state) all.push(state);
    }
  }).observe(document.body, {subtree: true, childList: true, attributes: true});
}"""
# A cell added under the studio and run, as a person would: insert below the last, type, run.
# The command's promise is not returned: it settles only when the cell has finished.
ADD_CELL_JS = """source => {
  const panel = window.jupyterapp.shell.currentWidget;
  panel.content.activeCellIndex = panel.content.widgets.length - 1;
  window.jupyterapp.commands.execute('notebook:insert-cell-below');
  panel.content.activeCell.model.sharedModel.setSource(source);
  window.jupyterapp.commands.execute('notebook:run-cell');
}"""
# The cells with a live bar (a widget, not yet the static copy a finished job leaves) that is
# not one of the studio's job rows.
LIVE_BAR_CELL = ".jp-CodeCell:has(.widget-hprogress):not(:has(.sora-nb-studio))"
# Each tile's box against its content: a tile squeezed by the gallery's height clips its
# picture and lays its text over its buttons.
CLIPPED_TILES_JS = """tiles => tiles
  .filter(t => t.scrollHeight > t.clientHeight + 1)
  .map(t => t.innerText.split('\\n')[0] + ': ' + t.clientHeight + ' < ' + t.scrollHeight)"""
PLAYING_JS = """() => {
  const v = document.querySelector('.sora-nb-studio video');
  return !!v && v.readyState >= 2 && v.currentTime > 0.2;
}"""


@dataclass(frozen=True, slots=True)
class Studio:
    page: Page
    frontend: str
    base: str
    folder: Path


@pytest.fixture(scope="module", params=["lab", "voila"])
def studio(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Studio]:
    """The studio open in Chromium: in JupyterLab (Run All), or in Voilà (``sora-nb app``)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (the README's test command)")
    frontend: str = request.param
    tmp = tmp_path_factory.mktemp(f"studio-{frontend}")
    root, home = tmp / "root", tmp / "home"
    root.mkdir()
    home.mkdir()
    for name in (STUDIO, "meadow.png"):
        shutil.copyfile(NOTEBOOKS / name, root / name)
    with _server(frontend, root, home) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(
                viewport={"width": 1280, "height": 1400}, accept_downloads=True
            )
            context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
            page = context.new_page()
            _open(page, frontend, base)
            yield Studio(page, frontend, base, tmp)
        finally:
            browser.close()


def _server(frontend: str, root: Path, home: Path) -> AbstractContextManager[str]:
    if frontend == "lab":
        return _jupyterlab(root, home)
    port = _free_port()
    argv = voila_command(root / STUDIO, "127.0.0.1", port, open_browser=False)
    return _serving(argv, home, f"http://127.0.0.1:{port}", "/voila/files/none.png")


def _open(page: Page, frontend: str, base: str) -> None:
    if frontend == "lab":
        page.goto(notebook_url(base, STUDIO, "lab"), timeout=WAIT_MS)
        page.wait_for_function(KERNEL_IDLE_JS, timeout=WAIT_MS, polling=200)
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    else:
        page.goto(f"{base}/", timeout=WAIT_MS)  # Voilà runs the notebook for this page
    page.locator(".sora-nb-studio textarea").wait_for(timeout=WAIT_MS)
    page.evaluate(WATCH_JOBS_JS)


def _tile(page: Page, index: int) -> Locator:
    return page.locator(".sora-nb-tile").filter(has_text=re.compile(rf"#{index} ·"))


def _wait_done(page: Page, index: int) -> Locator:
    tile = _tile(page, index)
    tile.filter(has_text=re.compile(r"· (done|完成)")).wait_for(timeout=WAIT_MS)
    return tile


def _type(page: Page, prompt: str) -> None:
    box = page.locator(".sora-nb-studio textarea")
    box.fill(prompt)
    box.dispatch_event("input")


def _click(page: Page, selector: str) -> None:
    button = page.locator(f".sora-nb-studio button{selector}")
    button.and_(page.locator(":enabled")).wait_for(timeout=WAIT_MS)  # the prompt reached the kernel
    button.click()


def _assert_plays(page: Page) -> None:
    page.locator(".sora-nb-studio video").evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function(PLAYING_JS, timeout=WAIT_MS, polling=100)


def _generate_with_ctrl_enter(page: Page) -> None:
    _type(page, "a cow and a horse dancing")
    page.locator(".sora-nb-studio button.sora-nb-generate:enabled").wait_for(timeout=WAIT_MS)
    page.locator(".sora-nb-studio textarea").press("Control+Enter")
    page.locator(".sora-nb-job").first.wait_for(timeout=WAIT_MS)
    _wait_done(page, 0)
    page.locator(".sora-nb-job").first.wait_for(state="detached", timeout=WAIT_MS)
    bars: list[str] = page.evaluate("() => window.__soraJobBars")
    widths = {state.rsplit(" ", 1)[1] for state in bars if "progress-bar-info" in state}
    assert len(widths) >= 2, bars  # the bar moved while the relay worked
    assert page.locator(".sora-nb-studio").count() == 1  # Ctrl+Enter did not re-run the cell
    _assert_plays(page)


def _select_an_older_turn_and_edit_it(page: Page) -> None:
    _type(page, "a red fox in the snow")
    _click(page, ".sora-nb-generate")
    _wait_done(page, 1)
    _tile(page, 0).locator("button.sora-nb-select").click()
    page.locator(".sora-nb-selected").filter(has_text="#0 ·").wait_for(timeout=WAIT_MS)
    details = page.locator(".sora-nb-details")
    details.filter(has_text="a cow and a horse dancing").wait_for(timeout=WAIT_MS)
    _assert_plays(page)
    _type(page, "put a halo on the cow")
    _click(page, ".sora-nb-edit")
    edit = _wait_done(page, 2)
    margin = edit.evaluate("el => getComputedStyle(el).marginLeft")
    assert margin == "28px", margin  # under its base, indented
    details.filter(has_text="put a halo on the cow").wait_for(timeout=WAIT_MS)
    lineage = details.inner_text()
    assert re.search(r"#0 a cow.*→ #2 put a halo", lineage), lineage


def _image_preview_use_and_clear(page: Page, folder: Path) -> None:
    preview = page.locator(".sora-nb-studio img.widget-image")
    # ipywidgets' FileUpload keeps its <input type=file> out of the page: a chooser opens.
    with page.expect_file_chooser(timeout=WAIT_MS) as chooser:
        page.locator(".sora-nb-studio .widget-upload").click()
    chooser.value.set_files(str(folder / "root" / "meadow.png"))
    page.wait_for_function(
        "() => { const i = document.querySelector('.sora-nb-studio img.widget-image');"
        " return !!i && i.offsetParent !== null && i.naturalWidth > 0; }",
        timeout=WAIT_MS,
        polling=100,
    )
    _type(page, "the meadow at dusk")
    _click(page, ".sora-nb-generate")
    image_tile = _wait_done(page, 3)
    assert image_tile.locator(".sora-nb-from-image").count() == 1
    assert _tile(page, 1).locator(".sora-nb-from-image").count() == 0
    page.locator(".sora-nb-studio button", has_text="Clear image").click()
    preview.wait_for(state="hidden", timeout=WAIT_MS)


def _two_jobs_then_cancel_and_resume(page: Page) -> None:
    """Two jobs at once, each in its own row with its own bar and Cancel; one is cancelled
    (the other goes on), then resumed from its tile."""
    _type(page, "a slow cow [fault:slow-queue]")
    _click(page, ".sora-nb-generate")
    row = page.locator(".sora-nb-job", has_text="a slow cow")
    row.filter(has_text="task_").wait_for(timeout=WAIT_MS)  # the relay made (and bills) it
    _type(page, "a quick hen")
    _click(page, ".sora-nb-generate")
    page.locator(".sora-nb-job", has_text="a quick hen").wait_for(timeout=WAIT_MS)
    assert page.locator(".sora-nb-job .widget-hprogress").count() == 2  # a bar each
    row.locator("button.sora-nb-cancel").click()
    _wait_done(page, 5)  # the hen, untouched by the cow's Cancel
    tile = _tile(page, 4)
    tile.filter(has_text="interrupted").wait_for(timeout=WAIT_MS)
    row.locator("button.sora-nb-cancel").click()  # now Close: the row goes
    row.wait_for(state="detached", timeout=WAIT_MS)
    tile.locator("button.sora-nb-resume").click()
    _wait_done(page, 4)
    tile.locator("button.sora-nb-resume").wait_for(state="hidden", timeout=WAIT_MS)


def _copy_and_download(page: Page) -> None:
    _tile(page, 1).locator(".sora-nb-copy").click()
    page.wait_for_function(
        "async () => (await navigator.clipboard.readText()) === 'a red fox in the snow'",
        timeout=WAIT_MS,
        polling=100,
    )
    with page.expect_download(timeout=WAIT_MS) as caught:
        _tile(page, 0).locator("button.sora-nb-download").click()
    download = caught.value
    assert download.suggested_filename.endswith(".mp4")
    with open(download.path(), "rb") as mp4:
        assert mp4.read(12)[4:8] == b"ftyp"  # an mp4, not an error page


def _assert_thumbnails_and_clean(page: Page) -> None:
    thumbs = page.locator("img.sora-nb-thumb")
    assert thumbs.count() == page.locator(".sora-nb-tile").count() == 6
    broken = thumbs.evaluate_all("imgs => imgs.filter(i => !(i.complete && i.naturalWidth > 0))")
    assert broken == []
    assert page.locator(".sora-nb-tile").evaluate_all(CLIPPED_TILES_JS) == []
    assert "Traceback" not in page.inner_text("body")
    assert SECRET not in page.content()


def _a_cell_turn_appears_live(page: Page, folder: Path) -> None:
    """One source of truth: a ``%%sora`` cell run under the studio shows its live bar, and its
    turn shows in the gallery as running, while the cell still runs; then both finish. The
    emulator's ``slow-progress`` holds the bar part-way (3 s at the tests' speed): the README's
    picture of the magic's live progress is taken then."""
    page.evaluate(ADD_CELL_JS, "%%sora\na goat on a hill at sunrise [fault:slow-progress]")
    cell = page.locator(LIVE_BAR_CELL)
    cell.wait_for(timeout=WAIT_MS)
    tile = _tile(page, 6)
    tile.filter(has_text=re.compile(r"· (running|生成中)")).wait_for(timeout=WAIT_MS)
    assert "a goat on a hill" in tile.inner_text()
    page.wait_for_function(
        "() => { const b = document.querySelector('.jp-CodeCell .widget-hprogress .progress-bar');"
        " return !!b && parseFloat(b.style.width) > 0; }",
        timeout=WAIT_MS,
        polling=50,
    )
    picture(cell, folder, "progress.png")
    # Still live after the shot, so the picture shows a live bar; it matters when the README's
    # pictures are being made (in any other run, the job merely ran fast).
    assert cell.count() == 1 or not PICTURES, "the bar finished during the picture: run again"
    _wait_done(page, 6)
    cell.wait_for(state="detached", timeout=WAIT_MS)  # its bar became the static record
    done = page.locator(".jp-CodeCell", has_text="a goat on a hill at sunrise")
    assert done.locator(".sora-nb-progress-static.sora-nb-phase-done").count() == 1


@pytest.mark.browser
def test_studio_in_the_browser(studio: Studio) -> None:
    page = studio.page
    _generate_with_ctrl_enter(page)
    _select_an_older_turn_and_edit_it(page)
    _image_preview_use_and_clear(page, studio.folder)
    _two_jobs_then_cancel_and_resume(page)
    _copy_and_download(page)
    _assert_thumbnails_and_clean(page)
    if studio.frontend == "lab":  # the README's picture: an edit selected, its lineage shown
        _a_cell_turn_appears_live(page, studio.folder)
        _type(page, "")
        _tile(page, 2).locator("button.sora-nb-select").click()
        page.locator(".sora-nb-details").filter(has_text="#0 a cow").wait_for(timeout=WAIT_MS)
        page.locator(".sora-nb-gallery").evaluate("g => { g.scrollTop = 0; }")  # from #0
        picture(page.locator(".sora-nb-studio"), studio.folder, "studio.png")
        # Binder's link to the app: Voilà's server extension renders it inside Jupyter.
        render = httpx.get(f"{studio.base}/voila/render/{STUDIO}?token={TOKEN}", timeout=WAIT_MS)
        assert render.status_code == 200
        assert "application/vnd.jupyter.widget-view+json" in render.text
