"""``%%sora`` cards and the studio's image input under Voilà (as ``sora-nb app``
serves it), driven in headless Chromium.

Voilà runs the notebook, then shows its outputs with live widgets but ignores
``update_display_data`` once the page is up; so a ``--background`` job, which
ends after its cell, must end in its widget: its card stays and plays
(docs/notebook.md, "Saved notebooks"). An image dropped onto the studio or
pasted into it reaches the relay: the turn it makes starts from that image.
Every wait waits for a condition.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator

import nbformat
import pytest
from playwright.sync_api import Locator, Page, sync_playwright

from sora_nb.launch._app import voila_command

from .conftest import ROOT
from .test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SECRET,
    WAIT_MS,
    _free_port,
    _serving,
    browser_dirs,
)

CARDS = "cards.ipynb"
BACKGROUND_PROMPT = "a goat on a hill at sunrise"
PICTURE = ROOT / "notebooks" / "meadow.png"
# A video that has its first frames and moves once played (muted: headless
# Chromium's autoplay policy lets a muted video play without a gesture).
PLAY_JS = "v => { v.muted = true; v.play(); }"
PLAYING_JS = "v => v.readyState >= 2 && v.currentTime > 0.2"
# What a person's drop and paste deliver: a DataTransfer holding the picture as
# a File.
DROP_JS = """([target, kind, data]) => {
  const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], 'meadow.png', {type: 'image/png'}));
  const el = document.querySelector(target);
  if (kind === 'drop') {
    el.dispatchEvent(new DragEvent('dragover', {dataTransfer: transfer, bubbles: true,
                                                cancelable: true}));
    el.dispatchEvent(new DragEvent('drop', {dataTransfer: transfer, bubbles: true,
                                            cancelable: true}));
  } else {
    el.dispatchEvent(new ClipboardEvent('paste', {clipboardData: transfer, bubbles: true,
                                                  cancelable: true}));
  }
}"""


def _cards_notebook() -> nbformat.NotebookNode:
    cells = [
        "%load_ext sora_nb",
        "%%sora --as cow\na cow in a field",
        # Held part-way for a while: the page is up and connected before the job
        # ends.
        f"%%sora --background\n{BACKGROUND_PROMPT} [fault:slow-progress]",
        "import sora_nb\n\nsora_nb.studio(app=True)",
    ]
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])


@pytest.fixture(scope="module")
def voila(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    """The cards notebook served by Voilà as ``sora-nb app`` serves its page,
    open in Chromium.
    """
    _, root, home = browser_dirs(tmp_path_factory, "voila-cards")
    nbformat.write(_cards_notebook(), root / CARDS)
    shutil.copyfile(PICTURE, root / PICTURE.name)
    port = _free_port()
    argv = voila_command(root / CARDS, "127.0.0.1", port, open_browser=False)
    serving = _serving(argv, home, f"http://127.0.0.1:{port}", "/voila/files/none.png")
    with serving as base, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            # Voilà runs the notebook for it
            page.goto(f"{base}/", timeout=WAIT_MS)
            page.locator(".sora-nb-studio textarea").wait_for(timeout=WAIT_MS)
            yield page
        finally:
            browser.close()


def _assert_plays(video: Locator) -> None:
    video.scroll_into_view_if_needed(timeout=WAIT_MS)
    video.evaluate(PLAY_JS)
    video.page.wait_for_function(
        f"v => ({PLAYING_JS})(v)", arg=video.element_handle(), timeout=WAIT_MS, polling=200
    )


@pytest.mark.browser
def test_voila_shows_a_finished_card_that_plays(voila: Page) -> None:
    card = voila.locator(".sora-nb-progress-static.sora-nb-phase-done")
    card.first.wait_for(timeout=WAIT_MS)
    assert card.count() == 1  # the blocking cell's saved card, once
    output = voila.locator(".jp-OutputArea-output", has=card)
    assert "a cow in a field" in output.inner_text()
    _assert_plays(output.locator("video"))


@pytest.mark.browser
def test_voila_background_card_stays_when_its_job_ends(voila: Page) -> None:
    # The widget's card goes live, then ends in place: done, with its player.
    views = voila.locator(".sora-nb-view:not(.sora-nb-studio)", has_text=BACKGROUND_PROMPT)
    done = views.filter(has=voila.locator(".sora-nb-card.sora-nb-phase-done"))
    done.first.wait_for(timeout=WAIT_MS)
    assert views.count() == 1  # one card, no second copy beside it
    assert done.locator(".sora-nb-card").count() == 1
    _assert_plays(done.locator("video"))
    body = voila.inner_text("body")
    # the note went with the live card
    assert "running in the background" not in body.lower()
    assert SECRET not in body


@pytest.mark.browser
@pytest.mark.parametrize("kind", ["drop", "paste"])
def test_voila_studio_takes_a_dropped_or_pasted_image(voila: Page, kind: str) -> None:
    studio = voila.locator(".sora-nb-studio")
    studio.locator("img.sora-nb-preview").wait_for(state="detached", timeout=WAIT_MS)
    data = base64.b64encode(PICTURE.read_bytes()).decode()
    target = ".sora-nb-studio" if kind == "drop" else ".sora-nb-studio textarea"
    voila.evaluate(DROP_JS, [target, kind, data])
    # the kernel has it
    studio.locator("img.sora-nb-preview").wait_for(timeout=WAIT_MS)
    prompt = f"the meadow comes alive ({kind})"
    box = studio.locator("textarea")
    box.fill(prompt)
    box.dispatch_event("input")
    studio.locator("button.sora-nb-generate:enabled").click()
    tile = studio.locator(".sora-nb-tile.sora-nb-status-done", has_text=prompt)
    tile.wait_for(timeout=WAIT_MS)
    # The turn records the image its request carried to the relay.
    assert tile.locator(".sora-nb-from-image").count() == 1
    # the next test attaches its own
    studio.locator("button.sora-nb-clear").click()
    studio.locator("img.sora-nb-preview").wait_for(state="detached", timeout=WAIT_MS)
