"""Every demo notebook runs headless (nbclient, a real kernel) against the
embedded emulator: once as a new user runs it (only the demo extra, no SORA_*
variable), once with a key set.

The executed copies are checked for what a user must see (progress that reached
done, a playable video with a thumbnail, by a path the notebook's server can
serve) and for what must never be there (the API key, tracebacks).
"""

from __future__ import annotations

import base64
import importlib.metadata
import io
import json
import os
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import av
import nbformat
import pytest
from nbclient import NotebookClient
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from PIL import Image

from sora_nb.launch._demo import notebooks_dir

from .conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SECRET = "sk-test-SECRET-notebooks-4242"
# What each notebook must show: progress bars (one per %%sora cell that ran a
# job), videos played from local copies, and the failures it demonstrates.
EXPECTED = {
    "01-quickstart": {"bars": 2, "videos": 2, "failures": 0},
    "02-continuous-modification": {"bars": 4, "videos": 4, "failures": 0},
    "03-image-to-video": {"bars": 2, "videos": 2, "failures": 1},
    "04-python-api": {"bars": 0, "videos": 3, "failures": 1},
    # a live studio: tests/test_browser.py
    "05-studio": {"bars": 0, "videos": 0, "failures": 0},
    "06-batch": {"bars": 0, "videos": 1, "failures": 0},
    "07-relays": {"bars": 13, "videos": 13, "failures": 0},
    "studio-app": {"bars": 0, "videos": 0, "failures": 0},  # sora-nb app's page
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


@pytest.fixture(scope="module")
def newcomer_kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The name of a kernel that hides every module the demo extra does not
    install (tests/newcomer_kernel.py says why this, not a second venv).
    """
    hidden = sorted(hidden_modules())
    spec = tmp_path_factory.mktemp("jupyter") / "kernels" / "sora-nb-newcomer"
    spec.mkdir(parents=True)
    kernel = {
        "argv": [
            sys.executable,
            str(ROOT / "tests" / "newcomer_kernel.py"),
            "-f",
            "{connection_file}",
        ],
        "display_name": "Python 3 (demo extra only)",
        "language": "python",
        "env": {"NEWCOMER_HIDDEN_MODULES": ",".join(hidden)},
    }
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        # read when a kernel manager starts
        patch.setenv("JUPYTER_PATH", str(spec.parents[1]))
        yield "sora-nb-newcomer"


def hidden_modules() -> set[str]:
    """Top-level modules of the installed distributions that ``sora-nb[demo]``
    does not need.
    """
    needed = requirement_closure("sora-nb", frozenset({"demo"}))
    modules = importlib.metadata.packages_distributions()
    return {
        module
        for module, dists in modules.items()
        if not {canonicalize_name(d) for d in dists} & needed
    }


def requirement_closure(name: str, extras: frozenset[str]) -> set[str]:
    """``name[extras]`` and every distribution it requires, on this Python."""
    needed: set[str] = set()
    todo, seen = [(name, extras)], set()
    while todo:
        dist_name, dist_extras = todo.pop()
        if (canonicalize_name(dist_name), dist_extras) in seen:
            continue
        seen.add((canonicalize_name(dist_name), dist_extras))
        needed.add(canonicalize_name(dist_name))
        try:
            requires = importlib.metadata.requires(dist_name) or []
        except importlib.metadata.PackageNotFoundError:
            continue  # a requirement this platform does not install
        for line in requires:
            requirement = Requirement(line)
            marker = requirement.marker
            envs = [{"extra": extra} for extra in ("", *dist_extras)]
            if marker is None or any(marker.evaluate(env) for env in envs):
                todo.append((requirement.name, frozenset(requirement.extras)))
    return needed


def execute(
    path: Path, work: Path, env: dict[str, str], kernel: str = "python3"
) -> tuple[nbformat.NotebookNode, str]:
    """Run the notebook in ``work`` (a copy of notebooks/) and save the executed
    copy.
    """
    nb = nbformat.read(work / path.name, as_version=4)
    client = NotebookClient(
        nb, timeout=300, kernel_name=kernel, resources={"metadata": {"path": str(work)}}
    )
    client.km = client.create_kernel_manager()
    client.execute(env=env, cwd=str(work))
    nbformat.write(nb, work / f"executed-{path.name}")
    return nb, (work / f"executed-{path.name}").read_text(encoding="utf-8")


def without_sora_settings() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SORA_")}


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
    # the fallback where <video> is stripped
    thumbnail = re.search(r'<img src="([^"]+)"', html)
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
def test_notebook_runs_as_a_new_user_would(
    path: Path, tmp_path: Path, newcomer_kernel: str
) -> None:
    # The quick start: the demo's own working copy, only the demo extra, no
    # SORA_* at all (so the emulator runs at its real speed and no key is set).
    work = notebooks_dir(tmp_path / "sora-nb-demo")
    env = {**without_sora_settings(), "LANG": "C.UTF-8"}
    nb, saved = execute(path, work, env, kernel=newcomer_kernel)
    check_notebook(nb, saved, work, EXPECTED[path.stem])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_never_shows_the_api_key(path: Path, tmp_path: Path) -> None:
    # With a key in the environment, which every request then carries; the
    # emulator faster.
    work = tmp_path / "notebooks"
    shutil.copytree(path.parent, work)
    env = {**without_sora_settings(), "LANG": "C.UTF-8"}
    env.update(SORA_EMULATOR_SPEED="50", SORA_API_KEY=SECRET)
    nb, saved = execute(path, work, env)
    assert SECRET not in saved
    check_notebook(nb, saved, work, EXPECTED[path.stem])


def test_the_new_users_kernel_has_only_the_demo_extra(tmp_path: Path, newcomer_kernel: str) -> None:
    hidden = hidden_modules()
    assert {"pandas", "papermill", "openai", "pytest"} <= hidden
    assert not {"sora_nb", "ipykernel", "jupyterlab", "voila", "av", "PIL"} & hidden
    probe = nbformat.v4.new_notebook()
    probe.cells = [
        nbformat.v4.new_code_cell(
            "import importlib.util, os\n"
            "sora = sorted(k for k in os.environ if k.startswith('SORA_'))\n"
            "print(importlib.util.find_spec('pandas'), sora)"
        ),
        nbformat.v4.new_code_cell("import pandas", metadata={"tags": ["raises-exception"]}),
    ]
    nbformat.write(probe, tmp_path / "probe.ipynb")
    nb, _ = execute(tmp_path / "probe.ipynb", tmp_path, without_sora_settings(), newcomer_kernel)
    assert nb.cells[0].outputs[0]["text"] == "None []\n"
    assert nb.cells[1].outputs[0]["ename"] == "ModuleNotFoundError"


def check_notebook(
    nb: nbformat.NotebookNode, saved: str, work: Path, expected: dict[str, int]
) -> None:
    """What a user must see, and must never see, in an executed notebook."""
    errors = [
        (cell, o)
        for cell in nb.cells
        for o in cell.get("outputs", [])
        if o["output_type"] == "error"
    ]
    # A failure a notebook demonstrates ends its cell in error, in one line, and
    # is tagged raises-exception so Run All in nbclient goes on
    # (docs/notebook.md).
    assert all("raises-exception" in cell.metadata.get("tags", []) for cell, _ in errors)
    assert all(len(o["traceback"]) == 1 for _, o in errors)
    assert "Traceback" not in saved
    videos = [h for h in html_outputs(nb) if "<video" in h]
    assert len(videos) >= expected["videos"]
    for html in videos:
        check_video(work, html)
    shown = html_outputs(nb) + [o["evalue"] for _, o in errors]
    failures = [h for h in shown if "content policy" in h or "not a PNG" in h]
    assert len(failures) == expected["failures"]
    check_progress(nb, expected["bars"])
    # No stray value under a cell, such as the count a file write returns.
    values = [
        o["data"].get("text/plain", "")
        for c in nb.cells
        for o in c.get("outputs", [])
        if o["output_type"] == "execute_result"
    ]
    assert not [v for v in values if v.strip().isdigit()], values
    assert json.loads(saved)["metadata"]["kernelspec"]["name"] == "python3"


def check_progress(nb: nbformat.NotebookNode, count: int) -> None:
    """Every bar reached done and was replaced by its static copy: HTML with a
    full green bar (JupyterLab, nbconvert, GitHub, with no kernel) and the
    text/plain fallback; no output still points at a widget model that a
    reopened notebook would not find.
    """
    outputs = [o for c in nb.cells for o in c.get("outputs", []) if "data" in o]
    live = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o["data"]]
    # The studio stays live while its kernel runs; its static record is a
    # separate output.
    assert all(o["data"]["text/plain"].startswith("sora_nb studio") for o in live)
    static = [
        o["data"] for o in outputs if "sora-nb-progress-static" in o["data"].get("text/html", "")
    ]
    assert len(static) == count
    assert all("sora-nb-phase-done" in data["text/html"] for data in static)
    assert all("width:100%;" in data["text/html"] for data in static)
    plain = [data["text/plain"] for data in static]
    assert all(text.startswith("sora · done") for text in plain), plain
