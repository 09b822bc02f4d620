"""The studio on an emulated OpenRouter, driven in Chromium in JupyterLab: the
model menu is the gateway's list (google/veo-3.1, no sora-2), the durations are
the model's own (4, 6, 8), and a video generated with a chosen length plays; the
relay received that length.

A module of its own: the studio suite keeps one Playwright open per front end
for its module, and a second one cannot start beside it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright

from sora_nb.emulator import serve_in_thread

from .test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    KERNEL_IDLE_JS,
    WAIT_MS,
    _jupyterlab,
    notebook_url,
)
from .test_browser_studio import PLAYING_JS, _generate, _wait_done

OPENROUTER_NOTEBOOK = "studio-openrouter.ipynb"
MENU = ".sora-nb-studio select.sora-nb-model"


def _studio_notebook(path: Path, base_url: str) -> None:
    source = (
        "%load_ext sora_nb\nimport sora_nb\n"
        f"%sora config --base-url {base_url} --dialect openrouter\nsora_nb.studio()"
    )
    cell: dict[str, Any] = {"cell_type": "code", "execution_count": None, "id": "studio",
                            "metadata": {}, "outputs": [], "source": source}  # fmt: skip
    kernel = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    notebook = {"cells": [cell], "metadata": {"kernelspec": kernel}, "nbformat": 4,
                "nbformat_minor": 5}  # fmt: skip
    path.write_text(json.dumps(notebook), encoding="utf-8")


@pytest.mark.browser
def test_studio_on_a_gateway_offers_its_models_and_their_durations(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (the README's test command)")
    root, home = tmp_path / "root", tmp_path / "home"
    root.mkdir()
    home.mkdir()
    with serve_in_thread(speed=20, dialect="openrouter") as relay:
        _studio_notebook(root / OPENROUTER_NOTEBOOK, relay.url)
        with _jupyterlab(root, home) as base, sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(notebook_url(base, OPENROUTER_NOTEBOOK, "lab"), timeout=WAIT_MS)
                page.wait_for_function(KERNEL_IDLE_JS, timeout=WAIT_MS, polling=200)
                page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
                veo = page.locator(f'{MENU} option[value="google/veo-3.1"]')
                # the gateway's list arrived
                veo.wait_for(state="attached", timeout=WAIT_MS)
                names = page.locator(f"{MENU} option").all_inner_texts()
                assert "sora-2" not in names and not [n for n in names if "Capabilities" in n]
                page.locator(MENU).select_option("google/veo-3.1")
                durations = page.locator(".sora-nb-studio select.sora-nb-duration option")
                assert durations.evaluate_all("os => os.map(o => o.value)") == ["", "4", "6", "8"]
                page.locator(".sora-nb-studio select.sora-nb-duration").select_option("6")
                _generate(page, "a heron in the reeds")
                _wait_done(page, 1)
                player = page.locator(".sora-nb-player video").first
                player.wait_for(timeout=WAIT_MS)
                player.evaluate("v => { v.muted = true; v.play(); }")
                page.wait_for_function(PLAYING_JS, timeout=WAIT_MS, polling=200)
            finally:
                browser.close()
        (created,) = relay.app.state.created
        assert (created["model"], created["duration"]) == ("google/veo-3.1", 6)
