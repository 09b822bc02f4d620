"""Every demo notebook runs headless (nbclient, a real kernel) against the embedded emulator.

The executed copies are checked for what a user must see (progress that reached done, a
playable video with a thumbnail, by a path the notebook's server can serve) and for what
must never be there (the API key, tracebacks).
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
from pathlib import Path

import av
import nbformat
import pytest
from nbclient import NotebookClient
from PIL import Image

from .conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SECRET = "sk-test-SECRET-notebooks-4242"
# What each notebook must show: progress bars (one per %%sora cell that ran a job), videos
# played from local copies, and the failures it demonstrates.
EXPECTED = {
    "01-quickstart": {"bars": 2, "videos": 2, "failures": 0},
    "02-continuous-modification": {"bars": 4, "videos": 4, "failures": 0},
    "03-image-to-video": {"bars": 2, "videos": 2, "failures": 1},
    "04-python-api": {"bars": 0, "videos": 3, "failures": 1},
    "05-studio": {"bars": 0, "videos": 0, "failures": 0},  # a live studio: tests/test_browser.py
    "06-batch": {"bars": 0, "videos": 1, "failures": 0},
    "07-relays": {"bars": 13, "videos": 13, "failures": 0},
}


def test_every_notebook_is_expected() -> None:
    assert sorted(p.stem for p in NOTEBOOKS) == sorted(EXPECTED)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_saved_notebook_is_clean(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source


def execute(path: Path, tmp_path: Path) -> tuple[nbformat.NotebookNode, str]:
    work = tmp_path / "notebooks"
    shutil.copytree(path.parent, work)
    nb = nbformat.read(work / path.name, as_version=4)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SORA_")}
    env.update(SORA_EMULATOR_SPEED="50", SORA_API_KEY=SECRET, LANG="C.UTF-8")
    client = NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(work)}},
    )
    client.km = client.create_kernel_manager()
    client.execute(env=env, cwd=str(work))
    nbformat.write(nb, work / f"executed-{path.name}")
    return nb, (work / f"executed-{path.name}").read_text(encoding="utf-8")


def html_outputs(nb: nbformat.NotebookNode) -> list[str]:
    return [
        output["data"]["text/html"]
        for cell in nb.cells
        for output in cell.get("outputs", [])
        if "text/html" in output.get("data", {})
    ]


def check_video(work: Path, html: str) -> None:
    src = re.search(r'<source src="([^"]+)"', html)
    poster = re.search(r'poster="data:image/webp;base64,([^"]+)"', html)
    thumbnail = re.search(r'<img src="([^"]+)"', html)  # the fallback where <video> is stripped
    assert src and poster and thumbnail, html[:300]
    assert src.group(1).startswith("sora_outputs/") and src.group(1).endswith(".mp4")
    assert (work / thumbnail.group(1)).is_file()
    with Image.open(io.BytesIO(base64.b64decode(poster.group(1)))) as image:
        assert image.height <= 480 and image.width > 0
    with av.open(str(work / src.group(1))) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert container.duration and container.duration / 1e6 >= 9.5


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_shows_playable_videos(path: Path, tmp_path: Path) -> None:
    nb, saved = execute(path, tmp_path)
    expected = EXPECTED[path.stem]
    errors = [
        (cell, o)
        for cell in nb.cells
        for o in cell.get("outputs", [])
        if o["output_type"] == "error"
    ]
    # A failure a notebook demonstrates ends its cell in error, in one line, and is tagged
    # raises-exception so Run All in nbclient goes on (docs/notebook.md).
    assert all("raises-exception" in cell.metadata.get("tags", []) for cell, _ in errors)
    assert all(len(o["traceback"]) == 1 for _, o in errors)
    assert "Traceback" not in saved
    assert SECRET not in saved
    videos = [h for h in html_outputs(nb) if "<video" in h]
    assert len(videos) >= expected["videos"]
    for html in videos:
        check_video(tmp_path / "notebooks", html)
    shown = html_outputs(nb) + [o["evalue"] for _, o in errors]
    failures = [h for h in shown if "content policy" in h or "not a PNG" in h]
    assert len(failures) == expected["failures"]
    check_progress(nb, expected["bars"])
    assert json.loads(saved)["metadata"]["kernelspec"]["name"] == "python3"


def check_progress(nb: nbformat.NotebookNode, count: int) -> None:
    """Every bar reached done and was replaced by its static copy: HTML with a full green bar
    (JupyterLab, nbconvert, GitHub, with no kernel) and the text/plain fallback; no output
    still points at a widget model that a reopened notebook would not find."""
    outputs = [o for c in nb.cells for o in c.get("outputs", []) if "data" in o]
    live = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o["data"]]
    # The studio stays live while its kernel runs; its static record is a separate output.
    assert all(o["data"]["text/plain"].startswith("sora_nb studio") for o in live)
    static = [
        o["data"] for o in outputs if "sora-nb-progress-static" in o["data"].get("text/html", "")
    ]
    assert len(static) == count
    assert all("sora-nb-phase-done" in data["text/html"] for data in static)
    assert all("width:100%;" in data["text/html"] for data in static)
    plain = [data["text/plain"] for data in static]
    assert all(text.startswith("sora · done") for text in plain), plain
