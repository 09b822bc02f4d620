"""``python -m sora_nb.emulator`` and ``sora-nb emulator``: serve the emulator
in the foreground.
"""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "main", "run"]

DEFAULT_PORT = 8765


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0–65535, not {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The emulator's options, shared by both command lines."""
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help=f"port, 0 for any (default {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--speed", type=_positive, default=1.0, help="run N times faster (default 1)"
    )
    parser.add_argument(
        "--api-key", default=None, help="accept only this Bearer key (default: any non-empty key)"
    )
    parser.add_argument(
        "--data-dir", default=None, help="keep videos and tasks here (default: a temporary dir)"
    )
    parser.add_argument(
        "--dialect",
        default="transcript",
        choices=["transcript", "sora2api", "videos"],
        help="which kind of relay to play (default transcript, the seed relay's)",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn's log level (default info; access lines never include headers)",
    )


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; return the exit status."""
    from ._app import create_app  # PyAV and Pillow load only to serve
    from ._server import bind, public_url, uvicorn_server

    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        print(f"Cannot listen on {args.host}:{args.port}: {exc.strerror}. Try another --port.")
        return 1
    app = create_app(
        speed=args.speed, api_key=args.api_key, data_dir=args.data_dir, dialect=args.dialect
    )
    url = public_url(sock)
    hint = app.state.emulator.speaker.hint
    print(
        f"sora_nb emulator ({args.dialect}) on {url} (speed {args.speed:g}x); "
        f"use SORA_BASE_URL={url}{hint}",
        flush=True,
    )
    try:
        with sock:
            uvicorn_server(app, log_level=args.log_level).run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn shut down gracefully, then re-raised the Ctrl+C it had caught
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line of ``python -m sora_nb.emulator``."""
    parser = argparse.ArgumentParser(
        prog="python -m sora_nb.emulator",
        description="Serve a local sora-2 relay that makes real, playable videos offline.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
