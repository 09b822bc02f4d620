"""A notebook run in JupyterLab, saved, and reopened with its kernel gone:
JupyterLab, Notebook 7 and an nbconvert HTML export show every output with no
"model not found".

The run also watches JupyterLab's status bar while a %%sora cell blocks: it must
read Busy (docs/notebook.md, "Busy means busy"). Every wait waits for a
condition; none is timed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import nbformat
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from .test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    KERNEL_IDLE_JS,
    SECRET,
    TOKEN,
    WAIT_MS,
    _jupyterlab,
    browser_dirs,
)

NAME = "saved.ipynb"
WIDGET = "application/vnd.jupyter.widget-view+json"
CELLS = [
    "%load_ext sora_nb",
    # Three seconds in its queue at the browser tests' speed: long enough to
    # watch the bar.
    "%%sora --as cow\na cow in the snow [fault:slow-queue]",
    # Ends after its cell: its card must still end as one saved copy, not beside
    # the widget.
    "%%sora --background --as calf\na calf in the snow",
    "%sora history",
    "%%sora --as bad\na forbidden dance [fault:content-policy]",
]
RUN_CELL_JS = """i => {
  const panel = window.jupyterapp.shell.currentWidget;
  panel.content.activeCellIndex = i;
  window.jupyterapp.commands.execute('notebook:run-cell');
}"""
CELL_RAN_JS = """i => window.jupyterapp.shell.currentWidget.content.model.cells.get(i)
  .executionCount !== null"""
# Every text the status bar's kernel item shows from now on, as it changes.
WATCH_STATUS_JS = """() => {
  const bar = document.querySelector('#jp-main-statusbar');
  window.__soraStatus = [bar.innerText];
  new MutationObserver(() => window.__soraStatus.push(bar.innerText))
    .observe(bar, {subtree: true, childList: true, characterData: true});
  // Which request each status message answers, to say what a stray "Idle" came from.
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  kernel.iopubMessage.connect((_, msg) => {
    if (msg.header.msg_type === 'status') {
      window.__soraStatus.push(
        `iopub ${msg.content.execution_state} ${msg.parent_header.msg_type || '-'}`);
    }
  });
}"""
# True once the kernel has sent no status for a second. After the first widget,
# JupyterLab opens a kernel subshell for widget comms, and that request's own
# busy/idle pair is taken as the kernel's status (docs/notebook.md, "Busy means
# busy"): under load it can come after the cell that made the widget went idle,
# and then lands in the next cell.
QUIET_JS = """() => {
  if (window.__soraLastStatus === undefined) {
    window.__soraLastStatus = Date.now();
    const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
    kernel.iopubMessage.connect((_, msg) => {
      if (msg.header.msg_type === 'status') window.__soraLastStatus = Date.now();
    });
  }
  return Date.now() - window.__soraLastStatus > 1000;
}"""
# JupyterLab's and Notebook 7's own setting: a notebook opened starts no kernel.
NO_KERNEL = "--LabServerApp.notebook_starts_kernel=False"
DONE_JS = """n => document
  .querySelectorAll('.sora-nb-progress-static.sora-nb-phase-done').length >= n"""
SAVED_JS = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  return !!w && !w.context.model.dirty;
}"""


def _notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    nb.cells[-1].metadata["tags"] = ["raises-exception"]
    return nb


@dataclass(frozen=True, slots=True)
class Saved:
    browser: Browser
    root: Path
    home: Path
    path: Path
    status_while_blocking: list[str]
    # the classes of each card the background cell shows at its end
    background_cards: list[str]


def _run_cell(page: Page, index: int) -> None:
    page.evaluate(RUN_CELL_JS, index)
    page.wait_for_function(CELL_RAN_JS, arg=index, timeout=WAIT_MS, polling=100)


def _run_and_save(page: Page, base: str) -> tuple[list[str], list[str]]:
    """Run the cells one by one as a person does; the status bar's texts during
    cell 1 and the cards the background cell shows once its job ended.
    """
    page.goto(f"{base}/lab/tree/{NAME}?reset&token={TOKEN}", timeout=WAIT_MS)
    page.wait_for_function(KERNEL_IDLE_JS, timeout=WAIT_MS, polling=200)
    _run_cell(page, 0)
    page.wait_for_function(KERNEL_IDLE_JS, timeout=WAIT_MS, polling=100)
    page.wait_for_function(QUIET_JS, timeout=WAIT_MS, polling=100)
    page.evaluate(WATCH_STATUS_JS)
    _run_cell(page, 1)
    statuses: list[str] = page.evaluate("() => window.__soraStatus")
    for index in range(2, len(CELLS)):
        _run_cell(page, index)
    page.wait_for_function(DONE_JS, arg=2, timeout=WAIT_MS, polling=100)
    background = page.locator(".jp-Notebook .jp-Cell").nth(2).locator(".sora-nb-card")
    cards: list[str] = background.evaluate_all("cards => cards.map(c => c.className)")
    page.evaluate("() => { window.jupyterapp.commands.execute('docmanager:save'); }")
    page.wait_for_function(SAVED_JS, timeout=WAIT_MS, polling=100)
    return statuses, cards


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Saved]:
    _, root, home = browser_dirs(tmp_path_factory, "saved")
    nbformat.write(_notebook(), root / NAME)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            with _jupyterlab(root, home) as base:
                page = browser.new_page(viewport={"width": 1280, "height": 1400})
                statuses, cards = _run_and_save(page, base)
                page.close()
            yield Saved(browser, root, home, root / NAME, statuses, cards)
        finally:
            browser.close()


def _assert_static(page: Page, base: str | None) -> None:
    """What a reopened notebook shows without the kernel that made it."""
    page.wait_for_selector("video", state="attached", timeout=WAIT_MS)
    # the last cell rendered
    page.wait_for_selector(".sora-nb-phase-failed", timeout=WAIT_MS)
    # The failed cell's error output: its one line, with no traceback.
    page.wait_for_function("() => document.body.innerText.includes('✗ ')", timeout=WAIT_MS)
    body = page.inner_text("body")
    assert "model not found" not in body and "Error displaying widget" not in body
    done = page.locator(".sora-nb-progress-static.sora-nb-phase-done")
    assert done.count() == 2, page.locator(".sora-nb-progress-static").first.evaluate(
        "e => e.outerHTML"
    )
    # The bar keeps its colour and its length where the sanitizer has been at
    # work.
    fill = done.first.locator(".sora-nb-static-bar > div")
    assert fill.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(76, 175, 80)"
    assert fill.evaluate("e => e.getBoundingClientRect().width") > 100
    failed = page.locator(".sora-nb-progress-static.sora-nb-phase-failed .sora-nb-static-bar > div")
    assert failed.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(244, 67, 54)"
    assert page.locator(".sora-nb-history").count() == 1
    assert "content policy violation" in body
    assert "Traceback" not in body and SECRET not in page.content()
    # No dead link to the kernel's loopback emulator (the server's own /files/
    # links are fine).
    hrefs: list[str] = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
    loopback = [h for h in hrefs if "//127.0.0.1" in h or "//localhost" in h]
    assert [h for h in loopback if base is None or not h.startswith(base)] == []


@pytest.mark.browser
def test_browser_status_bar_reads_busy_while_a_cell_blocks(saved: Saved) -> None:
    # The kernel item's label ("Python 3 (ipykernel) | Busy") at each change,
    # from before the cell was sent until its reply came: Idle, then Busy, and
    # Idle again only at the end.
    labels = [line for text in saved.status_while_blocking for line in text.splitlines()]
    states = [label.rsplit("| ", 1)[1] for label in labels if "(ipykernel) | " in label]
    changes = [state for i, state in enumerate(states) if i == 0 or state != states[i - 1]]
    assert "Busy" in changes, states
    during = changes[changes.index("Busy") :]
    iopub = [line for line in labels if line.startswith("iopub ")]
    assert during in (["Busy"], ["Busy", "Idle"]), (states, iopub)


@pytest.mark.browser
def test_browser_saved_notebook_has_no_widget_outputs(saved: Saved) -> None:
    nb = nbformat.read(saved.path, as_version=4)
    outputs = [o for cell in nb.cells for o in cell.outputs]
    assert not [o for o in outputs if WIDGET in o.get("data", {})]
    videos = [o for o in outputs if "<video" in o.get("data", {}).get("text/html", "")]
    assert len(videos) == 2 and all("image/png" in video["data"] for video in videos)
    (error,) = [o for o in outputs if o.output_type == "error"]
    assert error.ename == "CellFailed" and len(error.traceback) == 1


@pytest.mark.browser
def test_browser_background_job_ends_as_one_saved_card(saved: Saved) -> None:
    # JupyterLab replaced the widget with the static copy: one card, and no live
    # one left.
    (card,) = saved.background_cards
    assert "sora-nb-progress-static" in card and "sora-nb-phase-done" in card


@pytest.mark.browser
@pytest.mark.parametrize("app", ["jupyterlab", "notebook"])
def test_browser_reopened_without_its_kernel(saved: Saved, app: str) -> None:
    home = saved.home / app
    home.mkdir(exist_ok=True)
    # Opened from a server that starts no kernel for a notebook, so nothing can
    # answer for the old widget models. (Deleting the kernel the frontend starts
    # is a race: Notebook 7 starts another one, and CI once saw one still
    # starting after forty rounds.)
    with _jupyterlab(saved.root, home, app, NO_KERNEL) as base:
        page = saved.browser.new_page(viewport={"width": 1280, "height": 1400})
        path = "lab/tree" if app == "jupyterlab" else "notebooks"
        page.goto(f"{base}/{path}/{NAME}?reset&token={TOKEN}", timeout=WAIT_MS)
        page.wait_for_selector(".sora-nb-progress-static", timeout=WAIT_MS)
        _assert_static(page, base)
        assert httpx.get(f"{base}/api/kernels", params={"token": TOKEN}, timeout=30).json() == []
        page.close()


@pytest.mark.browser
def test_browser_nbconvert_html_export_shows_every_output(saved: Saved) -> None:
    out = saved.root / "export"
    subprocess.run(
        [sys.executable, "-m", "nbconvert", "--to", "html", f"--output-dir={out}", saved.path],
        check=True,
        capture_output=True,
    )
    html = (out / "saved.html").read_text(encoding="utf-8")
    assert WIDGET not in html
    assert html.count("sora-nb-progress-static") == 3 and html.count("<video") == 2
    shutil.copytree(saved.root / "sora_outputs", out / "sora_outputs")
    page = saved.browser.new_page(viewport={"width": 1280, "height": 1400})
    page.goto((out / "saved.html").as_uri(), timeout=WAIT_MS)
    _assert_static(page, None)
    page.close()
