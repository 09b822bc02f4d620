"""``sora-nb demo``: JupyterLab on the demo notebooks, with the embedded emulator ready.

Nothing is configured for the relay: each kernel starts the emulator on first use (no
``SORA_BASE_URL``), so the demo runs offline. The notebooks are the repository's own in a
development install, else a copy shipped in the wheel, copied to a writable folder first
because the notebooks save their videos beside themselves.
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

__all__ = ["add_arguments", "free_port", "notebooks_dir", "run"]

_PACKAGE = Path(__file__).resolve().parent
_FIRST = "01-quickstart.ipynb"


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
    """The repository's notebooks, else the wheel's copy placed in ``target``."""
    repo = _PACKAGE.parent / "notebooks"
    if (repo / _FIRST).is_file():
        return repo
    shipped = _PACKAGE / "_demo_notebooks"
    target = target or Path.cwd() / "sora-nb-demo"
    if not (target / _FIRST).is_file():
        shutil.copytree(shipped, target, dirs_exist_ok=True)
    return target


def free_port(ip: str, wanted: int) -> int:
    """``wanted`` if it is free on ``ip``, else any free port."""
    with socket.socket() as sock:
        try:
            sock.bind((ip, wanted))
        except OSError:
            sock.bind((ip, 0))  # taken: any free port, and the printed URL says which
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
    """Run JupyterLab on the demo notebooks until it stops; print its URL once it answers."""
    if importlib.util.find_spec("jupyterlab") is None:
        print(
            "sora-nb demo: JupyterLab is not installed; run: pip install 'sora-nb[demo]'",
            file=sys.stderr,
        )
        return 1
    root = (args.notebooks or notebooks_dir()).resolve()
    port = free_port(args.ip, args.port)
    token = secrets.token_hex(16)
    host = "127.0.0.1" if args.ip in ("0.0.0.0", "") else args.ip  # noqa: S104
    url = f"http://{host}:{port}/lab/tree/{_FIRST}?token={token}"
    relay = os.environ.get("SORA_BASE_URL") or "the embedded emulator (offline)"
    print(f"sora-nb demo: notebooks in {root}; videos from {relay}.", flush=True)
    server = subprocess.Popen(_jupyter_args(args, root, port, token))  # noqa: S603 - ours
    # Ctrl-C reaches JupyterLab as well (one process group): it asks, then stops, and this
    # process ends with it rather than before it. A TERM sent to this process is passed on.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: server.terminate())
    if _served(server, f"http://{host}:{port}/api/status?token={token}"):
        # Printed once the URL answers, so opening it at once works, and it comes after
        # JupyterLab's own start-up lines (its own URL there hides the token).
        print(f"sora-nb demo: open {url}", flush=True)
    return server.wait()


def _served(server: subprocess.Popen[bytes], status_url: str, patience: float = 120) -> bool:
    """Wait until JupyterLab answers; False if it exited first (it said why)."""
    deadline = time.monotonic() + patience
    with httpx.Client(trust_env=False, timeout=5) as client:
        while server.poll() is None:
            try:
                if client.get(status_url).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                return True  # slow, not failed: the URL is still the one to open
            time.sleep(0.1)
    return False
