"""``sora-nb demo``: JupyterLab on the demo notebooks, reachable at the URL it
prints.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import signal
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import nbformat
import pytest
from nbclient import NotebookClient

import sora_nb
from sora_nb.launch._demo import notebooks_dir

from .conftest import ROOT, checkout, git_status
from .scripted import free_port

# what `sora-nb` runs
CLI = "import sys; from sora_nb.launch._cli import main; sys.exit(main())"


def wait_for_url(process: subprocess.Popen[str]) -> tuple[str, Path | None]:
    """The URL the demo prints, and the folder it says it opened."""
    assert process.stdout is not None
    root = None
    for line in process.stdout:
        opened = re.search(r"sora-nb demo: notebooks in (.+?); videos from", line)
        root = Path(opened.group(1)) if opened else root
        match = re.search(r"sora-nb demo: open (\S+)", line)
        if match:
            return match.group(1), root
    raise AssertionError("sora-nb demo exited without printing its URL")


@contextmanager
def demo(tmp_path: Path, *args: str, cwd: Path) -> Iterator[tuple[str, Path | None]]:
    """``sora-nb demo`` as a new user starts it (no SORA_* variable), its
    sora_nb imported from ``cwd``; yields its URL and folder, and checks a TERM
    stops JupyterLab too.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SORA_", "JUPYTER"))}
    env.update(JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"), JUPYTER_RUNTIME_DIR=str(tmp_path))
    env["PYTHONPATH"] = str(cwd)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", CLI, "demo", "--port", str(port), *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        url, root = wait_for_url(process)
        assert url.startswith(f"http://127.0.0.1:{port}/lab")
        yield url, root
        # A TERM sent to `sora-nb demo` alone (a service manager, `kill PID`)
        # stops JupyterLab too, instead of leaving it serving with nobody to
        # stop it.
        process.send_signal(signal.SIGTERM)
        process.wait(60)
        with pytest.raises(httpx.TransportError):
            httpx.get(url, timeout=5)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)
        if process.stdout:
            process.stdout.close()


def test_demo_runs_and_saves_a_working_copy_and_the_clone_stays_clean(tmp_path: Path) -> None:
    clone = checkout(tmp_path)
    with demo(tmp_path, cwd=clone) as (url, root):
        # ignored by the clone's .gitignore
        assert root == clone / "sora-nb-demo"
        assert "/lab/tree/01-quickstart.ipynb?token=" in url
        token = url.rsplit("token=", 1)[1]
        base = url.split("/lab", 1)[0]
        # Printed once it answers: opening it at once works, no retrying.
        assert httpx.get(url).status_code == 200
        # the token is needed
        assert httpx.get(url.split("?")[0]).status_code in (302, 403)
        api = f"{base}/api/contents/01-quickstart.ipynb"
        model = httpx.get(api, params={"token": token}).json()
        assert model["type"] == "notebook"
        # Run it as a user would (a kernel in the served folder), then save it
        # the way JupyterLab does: a PUT of the notebook to the server's
        # contents API.
        nb = nbformat.from_dict(model["content"])
        env = {k: v for k, v in os.environ.items() if not k.startswith("SORA_")}
        env["PYTHONPATH"] = str(clone)
        client = NotebookClient(nb, timeout=300, kernel_name="python3")
        client.execute(env=env, cwd=str(root))
        saved = {"type": "notebook", "format": "json", "content": nb}
        assert httpx.put(api, params={"token": token}, json=saved, timeout=60).is_success
    on_disk = nbformat.read(clone / "sora-nb-demo" / "01-quickstart.ipynb", as_version=4)
    # the save reached the copy
    assert any(cell.get("outputs") for cell in on_disk.cells)
    assert list((clone / "sora-nb-demo" / "sora_outputs").glob("*.mp4"))
    assert git_status(clone) == ""


def test_demo_of_a_folder_without_the_quickstart_prints_a_url_that_exists(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("my own notebooks go here\n", encoding="utf-8")
    with demo(tmp_path, "--notebooks", str(folder), cwd=ROOT) as (url, root):
        assert root == folder
        assert "01-quickstart" not in url
        answer = httpx.get(url)
        assert answer.status_code == 200 and "JupyterLab" in answer.text
        token = url.rsplit("token=", 1)[1]
        listing = httpx.get(f"{url.split('/lab', 1)[0]}/api/contents", params={"token": token})
        assert [item["name"] for item in listing.json()["content"]] == ["notes.txt"]


def test_demo_without_a_checkout_copies_the_shipped_notebooks(tmp_path: Path) -> None:
    # In an installed wheel there is no repository: the shipped copy is placed
    # in the cwd.
    import sora_nb.launch._demo as demo

    fake_package = tmp_path / "site" / "sora_nb"
    (fake_package / "_demo_notebooks").mkdir(parents=True)
    (fake_package / "_demo_notebooks" / "01-quickstart.ipynb").write_text("{}")
    original = demo._PACKAGE
    demo._PACKAGE = fake_package
    try:
        found = notebooks_dir(tmp_path / "work")
    finally:
        demo._PACKAGE = original
    assert found == tmp_path / "work"
    assert (found / "01-quickstart.ipynb").read_text() == "{}"


def test_the_wheel_ships_the_notebooks(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("sora_nb-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {n.rsplit("/", 1)[1] for n in names if n.startswith("sora_nb/_demo_notebooks/")}
    assert shipped == {p.name for p in (ROOT / "notebooks").iterdir() if p.is_file()}
    assert "sora_nb/py.typed" in names
    assert not [n for n in names if "executed-" in n or "sora_outputs" in n]
    # One version, in sora_nb/__init__.py; the MIT licence it names, shipped.
    info = f"sora_nb-{sora_nb.__version__}.dist-info"
    metadata = zipfile.ZipFile(wheel).read(f"{info}/METADATA").decode()
    assert f"\nVersion: {sora_nb.__version__}\n" in metadata
    assert "\nLicense-Expression: MIT\n" in metadata
    assert f"{info}/licenses/LICENSE" in names
    assert "\nProject-URL: Source, https://github.com/sora-nb/sora_nb\n" in metadata
    assert "\nClassifier: Framework :: Jupyter\n" in metadata
    # The linters' pins are for development: in the dev extra, not in test.
    assert (
        "ruff==" in metadata and "extra == 'dev'" in metadata.split("ruff==", 1)[1].split("\n")[0]
    )
    assert importlib.metadata.version("sora-nb") == sora_nb.__version__
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert not re.search(r"(?m)^version\s*=", pyproject) and 'dynamic = ["version"]' in pyproject


def test_demo_without_jupyterlab_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    from sora_nb.launch._cli import main

    real = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> object:
        return None if name == "jupyterlab" else real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    assert main(["demo"]) == 1
    err = capsys.readouterr().err
    # No release on a package index yet: the hint installs from the checkout.
    assert "pip install -e '.[demo]'" in err and "sora-nb[demo]" not in err
