"""``sora-nb app``: the studio as a web app, served by Voilà.

The page is ``notebooks/studio-app.ipynb``: one cell, no prose, the studio in
its app mode (no developer notice, no commands in its words, Resume as a
button).

Voilà runs the notebook in a fresh kernel per browser tab and shows only its
outputs, so each visitor gets their own session: nothing is shared between
kernels. The relay is the embedded emulator unless ``SORA_BASE_URL`` (and
``SORA_API_KEY``) are set, as for the notebooks. The studio needs no file served
beside the notebook (it sends thumbnails and videos over its widgets); the
allowlist below serves the local copies its saved record links to.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

from ._demo import INSTALL_HINT, free_port, notebooks_dir, serve

__all__ = ["APP", "FILE_ALLOWLIST", "STUDIO", "add_arguments", "run", "voila_command"]

STUDIO = "05-studio.ipynb"  # the notebook people open in JupyterLab
APP = "studio-app.ipynb"  # the page Voilà serves: the studio alone
# Voilà serves only pictures by default (VoilaConfiguration.file_allowlist); add
# the mp4 and WebP copies the studio saves in sora_outputs/.
FILE_ALLOWLIST = [r".*\.(png|jpg|gif|svg)", r"sora_outputs/[^/]+\.(mp4|webp|jpe?g|png)"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The app's options."""
    parser.add_argument("--ip", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--port", type=int, default=8866, help="port (default 8866, or a free one if taken)"
    )
    parser.add_argument("--open", action="store_true", help="open a web browser")


def voila_command(notebook: Path, ip: str, port: int, *, open_browser: bool) -> list[str]:
    """The ``voila`` command line serving ``notebook`` alone (its folder is the
    root).
    """
    command = [
        sys.executable,
        "-m",
        "voila",
        str(notebook),
        f"--Voila.ip={ip}",
        f"--port={port}",
        # One flag per pattern: traitlets 5 deprecates a whole list in one flag.
        *(f"--VoilaConfiguration.file_allowlist={pattern}" for pattern in FILE_ALLOWLIST),
    ]
    if not open_browser:
        command.append("--no-browser")
    return command


def run(args: argparse.Namespace) -> int:
    """Serve the studio with Voilà until it stops; print its URL once it
    answers.
    """
    if importlib.util.find_spec("voila") is None:
        print(f"sora-nb app: Voilà is not installed; {INSTALL_HINT}", file=sys.stderr)
        return 1
    notebook = notebooks_dir() / APP
    port = free_port(args.ip, args.port)
    host = "127.0.0.1" if args.ip in ("0.0.0.0", "") else args.ip  # noqa: S104
    relay = os.environ.get("SORA_BASE_URL") or "the embedded emulator (offline)"
    print(f"sora-nb app: the studio {notebook}; videos from {relay}.", flush=True)
    command = voila_command(notebook, args.ip, port, open_browser=args.open)
    url = f"http://{host}:{port}/"
    # The probe is Voilà's icon: the page itself would start a kernel, and a
    # refused file logs a warning. The kernel's folder is the notebook's, so
    # videos are saved beside it.
    probe = f"{url}voila/static/favicon.ico"
    return serve(command, probe, f"sora-nb app: open {url}", cwd=notebook.parent)
