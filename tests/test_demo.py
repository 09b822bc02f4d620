"""``sora-nb demo``: JupyterLab on the demo notebooks, reachable at the URL it prints."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from sora_nb.launch._demo import notebooks_dir

from .conftest import ROOT
from .scripted import free_port

CLI = "import sys; from sora_nb.launch._cli import main; sys.exit(main())"  # what `sora-nb` runs


def wait_for_url(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    for line in process.stdout:
        match = re.search(r"sora-nb demo: open (\S+)", line)
        if match:
            return match.group(1)
    raise AssertionError("sora-nb demo exited without printing its URL")


def test_demo_serves_the_quickstart_at_the_printed_url(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SORA_", "JUPYTER"))}
    env.update(JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"), JUPYTER_RUNTIME_DIR=str(tmp_path))
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", CLI, "demo", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        url = wait_for_url(process)
        assert url.startswith(f"http://127.0.0.1:{port}/lab/tree/01-quickstart.ipynb?token=")
        token = url.rsplit("token=", 1)[1]
        base = url.split("/lab/", 1)[0]
        # Printed once it answers: opening it at once works, no retrying.
        assert httpx.get(f"{base}/api/status?token={token}").status_code == 200
        assert httpx.get(url).status_code == 200
        contents = httpx.get(f"{base}/api/contents/01-quickstart.ipynb?token={token}")
        assert contents.status_code == 200 and contents.json()["type"] == "notebook"
        assert httpx.get(url.split("?")[0]).status_code in (302, 403)  # the token is needed
        # A TERM sent to `sora-nb demo` alone (a service manager, `kill PID`) stops
        # JupyterLab too, instead of leaving it serving with nobody to stop it.
        process.send_signal(signal.SIGTERM)
        process.wait(60)
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{base}/api/status?token={token}", timeout=5)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)
        if process.stdout:
            process.stdout.close()


def test_demo_without_a_checkout_copies_the_shipped_notebooks(tmp_path: Path) -> None:
    # In an installed wheel there is no repository: the shipped copy is placed in the cwd.
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


def test_readme_quick_start_is_the_demo_and_what_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```\n(.+)\n```", quick_start)
    demo, tests = commands[:2]
    # pip runs quietly, so the demo's URL is the last thing on screen.
    setup = "python3 -m venv .venv && .venv/bin/pip install -q -e '.[demo]'"
    assert demo == f"{setup} && .venv/bin/sora-nb demo"
    assert tests.startswith("apt-get update && apt-get install -y chromium ")
    assert tests.endswith(".venv/bin/pip install -q -e '.[test]' && .venv/bin/python -m pytest")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert tests in ci, "the README's test command must be the line .ci/run runs"


def test_demo_without_jupyterlab_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    import sora_nb.launch._demo as demo
    from sora_nb.launch._cli import main

    real = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> object:
        return None if name == "jupyterlab" else real(name, package)

    monkeypatch.setattr(demo.importlib.util, "find_spec", find_spec)
    assert main(["demo"]) == 1
    assert "pip install 'sora-nb[demo]'" in capsys.readouterr().err
