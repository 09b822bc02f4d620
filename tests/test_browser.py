"""JupyterLab in headless Chromium runs the quickstart: its two %%sora cells
show live progress, then videos that play.

The videos must load through the Jupyter server's ``/files/…`` (the relative
path JupyterLab resolves), since on Binder the browser never reaches the
kernel's loopback ports. Every wait below waits for a condition; none is a timed
assertion (docs/notebook.md, "Browser tests").
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Locator, Page, sync_playwright

from .conftest import ROOT

SECRET = "sk-test-SECRET-browser"
TOKEN = "sora-browser-test-token"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 120_000
QUICKSTART = ROOT / "notebooks" / "01-quickstart.ipynb"

# A cell's card is one anywidget model (.sora-nb-card > .sora-nb-static-bar >
# .sora-nb-fill). When a job ends its saved copy, drawn by the same template,
# replaces it: a saved notebook needs no kernel (docs/notebook.md).
DONE_BARS_JS = """() => document
  .querySelectorAll('.sora-nb-progress-static.sora-nb-phase-done').length >= 2"""
KERNEL_IDLE_JS = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = w && w.sessionContext && w.sessionContext.session
    && w.sessionContext.session.kernel;
  return !!kernel && kernel.status === 'idle'
    && !!document.querySelector('.jp-Notebook .jp-Cell');
}"""
# Run All queues every cell at once (each shows [*], its count cleared); a count
# comes back with the cell's execute reply, after its outputs. The model, not
# the DOM: it also counts cells a windowed notebook has not rendered.
ALL_RUN_JS = """() => {
  const cells = [...window.jupyterapp.shell.currentWidget.content.model.cells];
  return cells.filter(c => c.type === 'code').every(c => c.executionCount !== null);
}"""
# Every state each progress bar passes through, recorded, not sampled.
WATCH_BARS_JS = """() => {
  window.__soraBars = new Map();
  new MutationObserver(() => {
    const record = (node, state) => {
      const cell = node.closest('.jp-Cell');  // a cell's bar view may be re-created
      if (!window.__soraBars.has(cell)) window.__soraBars.set(cell, []);
      const states = window.__soraBars.get(cell);
      if (states[states.length - 1] !== state) states.push(state);
    };
    for (const card of document.querySelectorAll('.sora-nb-view .sora-nb-card')) {
      const phase = card.className.match(/sora-nb-phase-([a-z]+)/)[1];
      record(card, 'live ' + phase + ' ' + card.querySelector('.sora-nb-fill').style.width);
    }
    for (const done of document.querySelectorAll('.sora-nb-progress-static')) {
      const fill = done.firstElementChild.firstElementChild.style.width;  // bar > fill
      const phase = done.className.match(/sora-nb-phase-([a-z]+)/)[1];  // sanitizers keep it
      record(done, 'static ' + phase + ' ' + fill);
    }
  }).observe(document.body, {subtree: true, childList: true, attributes: true});
}"""
# README pictures: `SORA_NB_SCREENSHOTS=docs/img pytest tests/test_browser*.py`
# rewrites them.
PICTURES = os.environ.get("SORA_NB_SCREENSHOTS")
FETCH_JS = """async url => {
  const r = await fetch(url, {credentials: 'same-origin'});
  return [r.status, r.headers.get('content-type') || ''];
}"""


def picture(element: Locator, folder: Path, name: str) -> Path:
    """A screenshot of ``element`` as a small PNG (at most 760 px wide, 128
    colours): into $SORA_NB_SCREENSHOTS when set (the README's docs/img), else
    the test's own folder.
    """
    path = Path(PICTURES or folder) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    element.scroll_into_view_if_needed(timeout=WAIT_MS)
    element.screenshot(path=str(path), timeout=WAIT_MS)
    with Image.open(path) as shot:
        shot.thumbnail((760, 1400))
        small = shot.convert("RGB").quantize(colors=128)
    small.save(path, optimize=True)
    return path


def browser_dirs(tmp_path_factory: pytest.TempPathFactory, name: str) -> tuple[Path, Path, Path]:
    """A browser test's folder, with the server's root and its private home in
    it (and a clear failure if Chromium is missing).
    """
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (the README's test command)")
    tmp = tmp_path_factory.mktemp(name)
    root, home = tmp / "root", tmp / "home"
    root.mkdir()
    home.mkdir()
    return tmp, root, home


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


def _lab_env(home: Path) -> dict[str, str]:
    """Private Jupyter dirs, no news or update checks, the emulator fast but
    visible.
    """
    dirs = {
        "JUPYTER_CONFIG_DIR": home / "config",
        "JUPYTER_DATA_DIR": home / "data",
        "JUPYTER_RUNTIME_DIR": home / "runtime",
        "JUPYTERLAB_SETTINGS_DIR": home / "settings",
        "JUPYTERLAB_WORKSPACES_DIR": home / "workspaces",
    }
    notification = "@jupyterlab/apputils-extension/notification.jupyterlab-settings"
    _write_json(
        dirs["JUPYTERLAB_SETTINGS_DIR"] / notification,
        {"fetchNews": "false", "checkForUpdates": False},
    )
    lab_config = {"news_url": None, "check_for_updates_class": "jupyterlab.NeverCheckForUpdate"}
    _write_json(dirs["JUPYTER_CONFIG_DIR"] / "jupyter_lab_config.json", {"LabApp": lab_config})
    env = {**os.environ, **{name: str(path) for name, path in dirs.items()}}
    env.pop("SORA_BASE_URL", None)
    env.update(SORA_EMULATOR_SPEED="20", SORA_API_KEY=SECRET)
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _jupyterlab(root: Path, home: Path, app: str = "jupyterlab", *options: str) -> Iterator[str]:
    """A JupyterLab (or ``app="notebook"``: Notebook 7) server on a free port in
    its own process group, with any further command-line ``options``; yields its
    base URL.
    """
    port = _free_port()
    argv = [
        *(sys.executable, "-m", app, "--allow-root", "--no-browser"),
        *(f"--ServerApp.port={port}", "--ServerApp.ip=127.0.0.1"),
        *(f"--ServerApp.token={TOKEN}", f"--ServerApp.root_dir={root}"),
        "--expose-app-in-browser",
        *options,
    ]
    with _serving(argv, home, f"http://127.0.0.1:{port}", f"/api/status?token={TOKEN}") as base:
        yield base


@contextmanager
def _serving(argv: list[str], home: Path, base: str, probe: str) -> Iterator[str]:
    """Run a server in its own process group until ``base + probe`` answers;
    yields ``base``.
    """
    env = _lab_env(home)
    with (home / "server.log").open("wb") as log:
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=log, start_new_session=True)
        try:
            _wait_ready(base + probe, proc, home / "server.log")
            yield base
        finally:
            _stop(proc)


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    with httpx.Client(timeout=5) as client:
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"The server exited early:\n{log.read_text()}"
            try:
                if client.get(url).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    pytest.fail(f"The server did not answer {url} within 90 s:\n{log.read_text()}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Kill the whole group: the server and the kernel (with its emulator) it
    started.
    """
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=10)
            break
        except subprocess.TimeoutExpired:
            continue
    proc.wait()


def _assert_kernel_is_this_venv(base: str) -> None:
    """The private JUPYTER_DATA_DIR hides nothing: ipykernel's python3 spec is
    found under sys.prefix, and jupyter_client runs its ``python`` as the
    server's sys.executable.
    """
    with httpx.Client(timeout=10) as client:
        specs = client.get(f"{base}/api/kernelspecs", params={"token": TOKEN}).json()
    argv = specs["kernelspecs"]["python3"]["spec"]["argv"]
    assert argv[0] in ("python", sys.executable), argv


def notebook_url(base: str, name: str, frontend: str) -> str:
    """Where JupyterLab (``?reset``: no restored workspace) or Notebook 7 opens
    ``name``.
    """
    if frontend == "notebook":
        return f"{base}/notebooks/{name}?token={TOKEN}"
    return f"{base}/lab/tree/{name}?reset&token={TOKEN}"


def _open_and_run(page: Page, base: str, name: str, frontend: str = "lab") -> None:
    page.goto(notebook_url(base, name, frontend), timeout=WAIT_MS)
    page.wait_for_function(KERNEL_IDLE_JS, timeout=WAIT_MS, polling=200)
    page.evaluate(WATCH_BARS_JS)
    # Not awaited: the promise resolves only when every cell has run.
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")


def _wait_for_videos(page: Page) -> list[str]:
    page.wait_for_function(DONE_BARS_JS, timeout=WAIT_MS, polling=200)
    page.wait_for_function(
        "() => [...document.querySelectorAll('video')].filter(v => v.currentSrc).length >= 2",
        timeout=WAIT_MS,
        polling=200,
    )
    # The later cells (history, config: the masked key) must be in the page
    # before it is read.
    page.wait_for_function(ALL_RUN_JS, timeout=WAIT_MS, polling=200)
    sources: list[str] = page.eval_on_selector_all("video", "vs => vs.map(v => v.currentSrc)")
    return sources


@dataclass(frozen=True, slots=True)
class Run:
    page: Page
    base: str
    sources: list[str]
    # each cell's progress bar: successive "class width" states
    bars: list[list[str]]
    folder: Path  # screenshots go here


@pytest.fixture(scope="module", params=["lab", "notebook"])
def lab_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Run]:
    """One notebook run in JupyterLab, then in Notebook 7, in Chromium, shared
    by the tests below (≈ 12 s each).
    """
    frontend: str = request.param
    tmp, root, home = browser_dirs(tmp_path_factory, "browser")
    shutil.copyfile(QUICKSTART, root / QUICKSTART.name)
    app = "notebook" if frontend == "notebook" else "jupyterlab"
    with _jupyterlab(root, home, app) as base, sync_playwright() as pw:
        _assert_kernel_is_this_venv(base)
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            _open_and_run(page, base, QUICKSTART.name, frontend)
            sources = _wait_for_videos(page)
            if frontend == "lab":
                picture(page.locator(".jp-Cell", has=page.locator("video")).first, tmp, "video.png")
            bars = page.evaluate("() => [...window.__soraBars.values()]")
            yield Run(page, base, sources, bars, tmp)
        finally:
            browser.close()


def _assert_plays(page: Page, index: int) -> None:
    video = page.locator("video").nth(index)
    video.scroll_into_view_if_needed(timeout=WAIT_MS)
    video.evaluate("v => { v.muted = true; v.load(); }")
    ready = "i => document.querySelectorAll('video')[i].readyState >= 2"
    page.wait_for_function(ready, arg=index, timeout=WAIT_MS, polling=100)
    video.evaluate("async v => { await v.play(); }")
    moving = "i => document.querySelectorAll('video')[i].currentTime > 0.2"
    page.wait_for_function(moving, arg=index, timeout=WAIT_MS, polling=100)


def _assert_image_loads(page: Page, url: str) -> None:
    status, content_type = page.evaluate(FETCH_JS, url)
    assert (status, content_type.split("/")[0]) == (200, "image"), (url[:200], content_type)


def _assert_poster_loads(page: Page, index: int, files: str) -> None:
    # JupyterLab keeps a relative poster (it would resolve under /lab/tree/).
    poster: str = page.locator("video").nth(index).evaluate("v => v.poster")
    assert poster.startswith(("data:image/", files)), poster[:200]
    _assert_image_loads(page, poster)


def _assert_clean(page: Page) -> None:
    stderr = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
    assert page.locator(stderr, has_text="Traceback").count() == 0
    assert page.locator(".jp-OutputArea-output", has_text="Traceback").count() == 0
    assert SECRET not in page.inner_text("body")
    assert SECRET not in page.content()


def _screenshots(page: Page, folder: Path) -> None:
    """The top (first video) and the end (second video, history, config), for a
    person to see; ``pytest --basetemp=DIR`` keeps them in a known place.
    """
    cells = page.locator(".jp-Notebook .jp-Cell")
    cells.first.scroll_into_view_if_needed()
    page.screenshot(path=str(folder / "sora_browser_top.png"))
    cells.last.scroll_into_view_if_needed()
    page.screenshot(path=str(folder / "sora_browser_end.png"))


@pytest.mark.browser
def test_browser_progress_bars_go_live_then_green(lab_run: Run) -> None:
    assert len(lab_run.bars) == 2, lab_run.bars
    for states in lab_run.bars:
        # the final state, kernel-free
        assert states[-1] == "static done 100%", states
        # live first
        assert any(state.startswith("live ") for state in states), states


@pytest.mark.browser
def test_browser_videos_play_from_the_jupyter_server(lab_run: Run) -> None:
    page, files = lab_run.page, f"{lab_run.base}/files/"
    assert len(lab_run.sources) == 2 and lab_run.sources[0] != lab_run.sources[1]
    for index, src in enumerate(lab_run.sources):
        assert src.startswith(files) and "/sora_outputs/" in src, src
        assert src.split("?")[0].endswith(".mp4"), src
        _assert_plays(page, index)
        thumbnail: str = page.locator("video img").nth(index).evaluate("img => img.src")
        assert thumbnail.startswith(files) and "/sora_outputs/" in thumbnail, thumbnail
        _assert_image_loads(page, thumbnail)
        _assert_poster_loads(page, index, files)
    _assert_clean(page)
    _screenshots(page, lab_run.folder)
