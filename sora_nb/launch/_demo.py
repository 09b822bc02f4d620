"""``sora-nb demo``: JupyterLab on the demo notebooks, with the embedded
emulator ready.

Nothing is configured for the relay: each kernel starts the emulator on first
use (no ``SORA_BASE_URL``), so the demo runs offline. It opens a working copy of
the notebooks, never the originals: running and saving them (JupyterLab also
autosaves) would write outputs and videos into tracked files. The copy is of the
repository's notebooks in a checkout, else of the ones shipped in the wheel.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

__all__ = [
    "INSTALL_HINT",
    "WORKING_COPY",
    "add_arguments",
    "free_port",
    "notebooks_dir",
    "run",
    "serve",
]

# sora_nb/, the folder above launch/
_PACKAGE = Path(__file__).resolve().parents[1]
_FIRST = "01-quickstart.ipynb"
#: The working copy's folder: in a checkout beside ``notebooks/`` (git ignores
#: it), else here.
WORKING_COPY = "sora-nb-demo"
#: There is no package index release yet: the extra comes from the checkout.
INSTALL_HINT = (
    "install the demo extra: in the sora_nb checkout run .venv/bin/pip install -e '.[demo]'"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo's options."""
    parser.add_argument("--ip", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--port", type=int, default=8888, help="port (default 8888, or a free one if taken)"
    )
    parser.add_argument(
        "--notebooks", type=Path, default=None, help="folder to open (default: the demos)"
    )
    parser.add_argument(
        "--open", action="store_true", help="open a web browser (default: only with a display)"
    )


def notebooks_dir(target: Path | None = None) -> Path:
    """A working copy of the demo notebooks in ``target``, filled in on first
    use.

    By default ``sora-nb-demo/`` beside ``notebooks/`` in a checkout, else in
    the current folder. A file already there is kept, so edits survive the next
    demo.
    """
    repo = _PACKAGE.parent / "notebooks"
    if (repo / _FIRST).is_file():
        source, default = repo, _PACKAGE.parent / WORKING_COPY
    else:
        source, default = _PACKAGE / "_demo_notebooks", Path.cwd() / WORKING_COPY
    target = target or default
    target.mkdir(parents=True, exist_ok=True)
    for original in sorted(source.iterdir()):
        # The notebooks and their picture; not a developer's outputs or copies.
        if original.suffix in (".ipynb", ".png") and not (target / original.name).exists():
            shutil.copy2(original, target / original.name)
    return target


def free_port(ip: str, wanted: int) -> int:
    """``wanted`` if it is free on ``ip``, else any free port."""
    with socket.socket() as sock:
        try:
            sock.bind((ip, wanted))
        except OSError:
            # taken: any free port, and the printed URL says which
            sock.bind((ip, 0))
        return int(sock.getsockname()[1])


def _jupyter_args(args: argparse.Namespace, root: Path, port: int, token: str) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.ip={args.ip}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={token}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    has_display = sys.platform in ("darwin", "win32") or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )
    if not (args.open or has_display):
        command.append("--no-browser")
    return command


def run(args: argparse.Namespace) -> int:
    """Run JupyterLab on the demo notebooks until it stops; print its URL once
    it answers.
    """
    if importlib.util.find_spec("jupyterlab") is None:
        print(f"sora-nb demo: JupyterLab is not installed; {INSTALL_HINT}", file=sys.stderr)
        return 1
    root = (args.notebooks or notebooks_dir()).resolve()
    port = free_port(args.ip, args.port)
    token = secrets.token_hex(16)
    host = "127.0.0.1" if args.ip in ("0.0.0.0", "") else args.ip  # noqa: S104
    # The first demo when the folder has it; else the folder itself, which
    # always exists.
    page = f"lab/tree/{_FIRST}" if (root / _FIRST).is_file() else "lab"
    url = f"http://{host}:{port}/{page}?token={token}"
    relay = os.environ.get("SORA_BASE_URL") or "the embedded emulator (offline)"
    print(f"sora-nb demo: notebooks in {root}; videos from {relay}.", flush=True)
    command = _jupyter_args(args, root, port, token)
    # without it, a 403 is logged
    probe = f"http://{host}:{port}/api/status?token={token}"
    return serve(command, probe, f"sora-nb demo: open {url}")


def serve(command: list[str], probe: str, announce: str, cwd: Path | None = None) -> int:
    """Run a Jupyter server until it stops; print ``announce`` once ``probe``
    answers.

    Printed then, opening the URL at once works, and the line comes after the
    server's own start-up log (whose URL hides the token). Ctrl-C reaches the
    server as well (one process group): it asks, or stops on the second, and
    this process ends with it, not before it. A TERM sent to this process alone
    is passed on. Returns the server's exit status.
    """
    server = subprocess.Popen(command, cwd=cwd)  # noqa: S603 - our own interpreter, no shell
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: server.terminate())
    if _answers(server, probe):
        print(announce, flush=True)
    return server.wait()


def _answers(server: subprocess.Popen[bytes], probe: str, patience: float = 120) -> bool:
    """Wait until ``probe`` gets any HTTP answer; False if the server exited
    first (it said why). A Jupyter server listens only once it is ready to
    serve.
    """
    deadline = time.monotonic() + patience
    with httpx.Client(trust_env=False, timeout=5) as client:
        while server.poll() is None:
            try:
                client.get(probe)
                return True
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                # slow, not failed: the URL is still the one to open
                return True
            time.sleep(0.1)
    return False
