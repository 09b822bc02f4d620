"""``sora-nb app``: the studio served by Voilà at the URL it prints."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from sora_nb.launch._app import FILE_ALLOWLIST

from .conftest import checkout, git_status
from .scripted import free_port

# what `sora-nb` runs
CLI = "import sys; from sora_nb.launch._cli import main; sys.exit(main())"


def _url(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    for line in process.stdout:
        match = re.search(r"sora-nb app: open (\S+)", line)
        if match:
            return match.group(1)
    raise AssertionError("sora-nb app exited without printing its URL")


def test_app_serves_the_studio_at_the_printed_url(tmp_path: Path) -> None:
    # From a fresh repository of this checkout: the app's working copy goes
    # there, not here.
    clone = checkout(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SORA_", "JUPYTER"))}
    env.update(JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"), JUPYTER_RUNTIME_DIR=str(tmp_path))
    env["PYTHONPATH"] = str(clone)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", CLI, "app", "--port", str(port)],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        url = _url(process)
        assert url == f"http://127.0.0.1:{port}/"
        with httpx.Client(timeout=120) as client:
            # Printed once Voilà answers: opening it at once works, no retrying.
            # Voilà runs the notebook in a new kernel for this page.
            page = client.get(url)
            assert page.status_code == 200
            assert "application/vnd.jupyter.widget-view+json" in page.text
            assert "Traceback" not in page.text
            # A page for people who do not code: no notebook prose, no printed
            # relay notice.
            assert "工作室" not in page.text and "SORA_BASE_URL" not in page.text
            # The local copies are allowed out; the notebook itself is not.
            missing = client.get(f"{url}voila/files/sora_outputs/task_none.mp4")
            assert missing.status_code == 404
            assert client.get(f"{url}voila/files/05-studio.ipynb").status_code == 403
        # A TERM sent to `sora-nb app` alone stops Voilà too.
        process.send_signal(signal.SIGTERM)
        process.wait(60)
        with pytest.raises(httpx.TransportError):
            httpx.get(url, timeout=5)
        assert (clone / "sora-nb-demo" / "05-studio.ipynb").is_file()
        # the studio ran in the ignored working copy
        assert git_status(clone) == ""
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)
        if process.stdout:
            process.stdout.close()


@pytest.mark.parametrize(
    ("path", "served"),
    [
        ("sora_outputs/task_1.mp4", True),
        ("sora_outputs/task_1.webp", True),
        ("sora_outputs/history.json", False),
        ("05-studio.ipynb", False),
    ],
)
def test_app_allows_the_studio_copies_and_nothing_else(path: str, served: bool) -> None:
    assert any(re.fullmatch(p, path, re.IGNORECASE) for p in FILE_ALLOWLIST) is served


def test_app_without_voila_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    from sora_nb.launch._cli import main

    real = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> object:
        return None if name == "voila" else real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    assert main(["app"]) == 1
    err = capsys.readouterr().err
    # No release on a package index yet: the hint installs from the checkout.
    assert "pip install -e '.[demo]'" in err and "sora-nb[demo]" not in err
