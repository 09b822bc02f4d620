"""The studio and a generation's card driven in Chromium in four front ends:
JupyterLab, Notebook 7, Voilà (as ``sora-nb app`` serves it) and marimo
(``marimo run``, headless).

In each: Ctrl+Enter generates and the job's row goes live, the video plays from
the bytes the kernel sends, an older turn is selected and edited, two turns are
compared side by side, the lineage tree shows the edit under its base; at
1280×800 and 390×844 nothing is clipped or overlapping and no glyph is drawn as
an empty box. In JupyterLab and Notebook 7 a ``%%sora`` cell run beside the
studio shows in its gallery; in marimo the example's card plays its video. Every
wait waits for a condition.

README pictures: ``SORA_NB_SCREENSHOTS=docs/img pytest tests/test_browser*.py -m
browser``.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, sync_playwright

from sora_nb.launch._app import APP, STUDIO, voila_command

from .conftest import ROOT
from .test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    KERNEL_IDLE_JS,
    TOKEN,
    WAIT_MS,
    _free_port,
    _jupyterlab,
    _serving,
    browser_dirs,
    notebook_url,
    picture,
)

NOTEBOOKS = ROOT / "notebooks"
MARIMO = "08-marimo.py"
FRONT_ENDS = ["lab", "notebook", "voila", "marimo"]
SIZES = [(1280, 800), (390, 844)]
# A cell added under the studio and run, as a person would: insert below the
# last, type, run.
ADD_CELL_JS = """source => {
  const panel = window.jupyterapp.shell.currentWidget;
  panel.content.activeCellIndex = panel.content.widgets.length - 1;
  window.jupyterapp.commands.execute('notebook:insert-cell-below');
  panel.content.activeCell.model.sharedModel.setSource(source);
  window.jupyterapp.commands.execute('notebook:run-cell');
}"""
# marimo draws each anywidget in a shadow root: every query below looks inside
# them too.
DEEP = """const deep = (sel, root = document) => {
  const out = [...root.querySelectorAll(sel)];
  for (const host of root.querySelectorAll('*'))
    if (host.shadowRoot) out.push(...deep(sel, host.shadowRoot));
  return out;
};"""
PLAYING_JS = f"""() => {{ {DEEP}
  return deep('.sora-nb-player video').some(v => v.readyState >= 2 && v.currentTime > 0.2); }}"""
COMPARING_JS = f"""() => {{ {DEEP}
  return deep('.sora-nb-players.sora-nb-comparing video').length == 2; }}"""
DONE_TILES_JS = f"""n => {{ {DEEP}
  return deep('.sora-nb-studio .sora-nb-status-done').length >= n; }}"""
# The exported chain's one video, loaded from the bytes the kernel sent.
EXPORTED_JS = f"""() => {{ {DEEP}
  return deep('.sora-nb-export-player video')
    .some(v => v.currentSrc.startsWith('blob:') && v.readyState >= 1 && v.duration > 0); }}"""
# A card's own video (not the studio's player) playing the kernel's bytes.
BLOB_VIDEO_JS = f"""() => {{ {DEEP}
  return deep('.sora-nb-view').filter(v => !v.classList.contains('sora-nb-studio'))
    .some(v => [...v.querySelectorAll('video')].some(x => x.currentSrc.startsWith('blob:')));
}}"""
# What a person would call broken layout, inside every sora_nb view: a control
# or tile whose content is cut off, one that sticks out of its view, and two
# boxes of one row or grid that lie over each other. Text cut on purpose (an
# ellipsis) is not counted.
LAYOUT_JS = """() => {
  DEEP
  const bad = [];
  const name = e => (e.className.baseVal ?? e.className) + ' "' + e.innerText.slice(0, 30) + '"';
  for (const view of deep('.sora-nb-view')) {
    const frame = view.getBoundingClientRect();
    const boxes = view.querySelectorAll(
      'button, select, textarea, .sora-nb-tile, .sora-nb-job, .sora-nb-player, .sora-nb-card');
    for (const e of boxes) {
      const r = e.getBoundingClientRect();
      if (!r.width || !r.height) continue;
      if (e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'visible'
          && e.tagName !== 'TEXTAREA' && e.tagName !== 'SELECT')
        bad.push('clipped across: ' + name(e));
      if (e.scrollHeight > e.clientHeight + 1 && getComputedStyle(e).overflowY === 'hidden')
        bad.push('clipped down: ' + name(e));
      if (r.right > frame.right + 1 || r.left < frame.left - 1)
        bad.push('outside its view: ' + name(e));
    }
    for (const group of view.querySelectorAll(
        '.sora-nb-row, .sora-nb-tools, .sora-nb-grid, .sora-nb-tile-actions, .sora-nb-controls')) {
      const kids = [...group.children].filter(k => k.getBoundingClientRect().width > 0);
      for (let i = 0; i < kids.length; i++) for (let j = i + 1; j < kids.length; j++) {
        const a = kids[i].getBoundingClientRect(), b = kids[j].getBoundingClientRect();
        const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
        const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
        if (w > 1 && h > 1) bad.push('overlap: ' + name(kids[i]) + ' / ' + name(kids[j]));
      }
    }
  }
  return bad;
}""".replace("DEEP", DEEP)
# Every character the views show, drawn in the font it is shown in, against the
# box a font draws for a character it lacks (a private-use code point no font
# has): equal is a tofu.
GLYPHS_JS = """() => {
  DEEP
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 40;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const draw = (ch, font) => {
    ctx.clearRect(0, 0, 40, 40);
    ctx.font = '24px ' + font;
    ctx.fillText(ch, 4, 30);
    return ctx.getImageData(0, 0, 40, 40).data.join();
  };
  const boxes = [];
  const seen = new Set();
  for (const view of deep('.sora-nb-view')) {
    const walker = document.createTreeWalker(view, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const font = getComputedStyle(walker.currentNode.parentElement).fontFamily;
      const tofu = draw('\\u{10FFFD}', font);
      for (const ch of walker.currentNode.textContent) {
        if (ch.codePointAt(0) < 0x80 || /\\s/.test(ch) || seen.has(ch + font)) continue;
        seen.add(ch + font);
        if (draw(ch, font) === tofu) boxes.push(ch + ' U+' + ch.codePointAt(0).toString(16));
      }
    }
  }
  return boxes;
}""".replace("DEEP", DEEP)


@dataclass(frozen=True, slots=True)
class Front:
    page: Page
    name: str
    base: str
    folder: Path


@pytest.fixture(scope="module", params=FRONT_ENDS)
def front(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Front]:
    """The studio open in Chromium in one front end."""
    name: str = request.param
    tmp, root, home = browser_dirs(tmp_path_factory, f"studio-{name}")
    for file in (STUDIO, APP, MARIMO, "meadow.png"):
        shutil.copyfile(NOTEBOOKS / file, root / file)
    with _server(name, root, home) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            _open(page, name, base)
            yield Front(page, name, base, tmp)
        finally:
            browser.close()


def _server(name: str, root: Path, home: Path) -> AbstractContextManager[str]:
    if name in ("lab", "notebook"):
        return _jupyterlab(root, home, "notebook" if name == "notebook" else "jupyterlab")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    if name == "voila":
        argv = voila_command(root / APP, "127.0.0.1", port, open_browser=False)
        return _serving(argv, home, base, "/voila/files/none.png")
    argv = [sys.executable, "-m", "marimo", "run", str(root / MARIMO), "--headless",
            "--host", "127.0.0.1", "--port", str(port), "--no-token", "--no-check"]  # fmt: skip
    return _serving(argv, home, base, "/health")


def _open(page: Page, name: str, base: str) -> None:
    if name in ("lab", "notebook"):
        page.goto(notebook_url(base, STUDIO, name), timeout=WAIT_MS)
        page.wait_for_function(KERNEL_IDLE_JS, timeout=WAIT_MS, polling=200)
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    else:
        # Voilà and marimo run the notebook for it
        page.goto(f"{base}/", timeout=WAIT_MS)
    page.locator(".sora-nb-studio textarea").wait_for(timeout=WAIT_MS)


def _tile(page: Page, index: int) -> Locator:
    return page.locator(f'.sora-nb-studio .sora-nb-cell[data-index="{index}"]')


def _generate(page: Page, prompt: str, *, shortcut: bool = False) -> None:
    box = page.locator(".sora-nb-studio textarea")
    box.fill(prompt)
    box.dispatch_event("input")
    if shortcut:
        box.press("Control+Enter")
    else:
        page.locator(".sora-nb-studio button.sora-nb-generate:enabled").click()


def _done_tiles(page: Page) -> int:
    return page.locator(".sora-nb-studio .sora-nb-tile.sora-nb-status-done").count()


def _wait_done(page: Page, count: int) -> None:
    page.wait_for_function(DONE_TILES_JS, arg=count, timeout=WAIT_MS, polling=200)


def _layout_is_clean(page: Page, label: str, folder: Path) -> None:
    # JupyterLab keeps its file browser open beside the notebook; on a phone one
    # closes it.
    page.evaluate("() => { const s = window.jupyterapp?.shell; s?.collapseLeft?.(); }")
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        # one frame of layout: a condition has no name here
        page.wait_for_timeout(300)
        bad = page.evaluate(LAYOUT_JS) + page.evaluate(GLYPHS_JS)
        if bad:
            page.screenshot(path=str(folder / f"broken-{label}-{width}.png"), full_page=True)
        assert bad == [], (label, width, "\n".join(bad))
    page.set_viewport_size({"width": 1280, "height": 800})


@pytest.mark.browser
def test_studio_generates_plays_edits_and_compares(front: Front) -> None:
    page = front.page
    before = _done_tiles(page)  # marimo's example makes two videos as it opens
    _generate(page, "a red kite over a hill", shortcut=True)
    page.locator(".sora-nb-studio .sora-nb-job").first.wait_for(timeout=WAIT_MS)
    # live bar
    page.locator(".sora-nb-job .sora-nb-card").first.wait_for(timeout=WAIT_MS)
    page.locator(".sora-nb-studio .sora-nb-job").first.wait_for(state="detached", timeout=WAIT_MS)
    _wait_done(page, before + 1)
    # Ctrl+Enter did not run the cell again
    if front.name in ("lab", "notebook"):
        assert page.locator(".sora-nb-studio").count() == 1
    page.locator(".sora-nb-player video").first.wait_for(timeout=WAIT_MS)
    page.locator(".sora-nb-player video").first.evaluate("v => { v.muted = true; v.play(); }")
    page.wait_for_function(PLAYING_JS, timeout=WAIT_MS, polling=200)
    newest = page.locator(".sora-nb-studio .sora-nb-cell").first
    index = int(newest.get_attribute("data-index") or "-1")
    page.locator(".sora-nb-studio textarea").fill("put a halo above the kite")
    change = page.locator(".sora-nb-studio button.sora-nb-edit:enabled")
    # named as the relay offers it, not a fixed word
    assert change.inner_text() == "Remix"
    change.click()
    _wait_done(page, before + 2)
    # the kite and its edit
    page.locator(".sora-nb-studio button.sora-nb-export-chain").click()
    page.wait_for_function(EXPORTED_JS, timeout=WAIT_MS, polling=200)
    assert page.locator(".sora-nb-export .sora-nb-chain li").count() == 2
    edit = _tile(page, index + 1)
    assert re.search(rf"edits #{index}", edit.inner_text()), edit.inner_text()
    tree = page.locator(".sora-nb-lineage")
    assert tree.locator(".sora-nb-node").count() >= 2
    # the kite beside its edit
    _tile(page, index).locator("button.sora-nb-compare").click()
    page.wait_for_function(COMPARING_JS, timeout=WAIT_MS, polling=200)
    _layout_is_clean(page, front.name, front.folder)
    if front.name in ("lab", "voila"):
        name = "studio.png" if front.name == "lab" else "studio-app.png"
        picture(page.locator(".sora-nb-studio"), front.folder, name)


@pytest.mark.browser
def test_a_generation_card_beside_the_studio(front: Front) -> None:
    page = front.page
    # the app page has no cells: its Resume is the studio's button
    if front.name == "voila":
        assert page.locator(".jp-InputArea, .jp-Cell-inputWrapper").count() == 0
        assert "SORA_BASE_URL" not in page.inner_text("body")
        assert "%sora" not in page.inner_text("body")
        return
    # the example's own card, finished, plays its video
    if front.name == "marimo":
        card = page.locator(".sora-nb-view .sora-nb-card.sora-nb-phase-done").first
        card.wait_for(timeout=WAIT_MS)
        card.scroll_into_view_if_needed(timeout=WAIT_MS)
        page.wait_for_function(BLOB_VIDEO_JS, timeout=WAIT_MS, polling=200)
        _layout_is_clean(page, "marimo-card", front.folder)
        return
    before = _done_tiles(page)
    page.evaluate(ADD_CELL_JS, "%%sora\na goat on a hill at sunrise [fault:slow-progress]")
    cell = page.locator(".jp-CodeCell").filter(has=page.locator(".sora-nb-view .sora-nb-card"))
    live = cell.last.locator(".sora-nb-view .sora-nb-card")
    # the bar held part-way, live
    live.filter(has_text=" %").wait_for(timeout=WAIT_MS)
    if front.name == "lab":
        picture(cell.last, front.folder, "progress.png")
    clock = live.locator("[data-since]").first
    first = clock.inner_text()
    # the browser moves the clock; the held job sends nothing
    page.wait_for_function(
        "t => { const c = [...document.querySelectorAll('.jp-CodeCell .sora-nb-card [data-since]')]"
        ".pop(); return !!c && c.textContent !== t; }",
        arg=first, timeout=WAIT_MS, polling=200,
    )  # fmt: skip
    _layout_is_clean(page, f"{front.name}-card", front.folder)
    cells = page.locator(".jp-CodeCell", has_text="a goat on a hill at sunrise")
    # the cell, not the gallery
    done = cells.filter(has_not=page.locator(".sora-nb-studio"))
    done.locator(".sora-nb-progress-static.sora-nb-phase-done").wait_for(timeout=WAIT_MS)
    # the saved card: bar, then the video
    assert done.locator("video").count() == 1
    # the cell's turn shows in the studio's gallery
    _wait_done(page, before + 1)
    assert TOKEN not in page.inner_text("body")
