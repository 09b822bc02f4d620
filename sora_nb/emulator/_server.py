"""Serving the app with uvicorn: in a background thread (kernels, tests) or in
the foreground.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType

import uvicorn
from starlette.applications import Starlette

from ._app import Emulator, create_app
from ._request import Dialect
from ._stream import install_log_filter

__all__ = ["EmulatorServer", "bind", "public_url", "serve_in_thread", "uvicorn_server"]


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket on ``host:port``; port 0 picks a free port."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def public_url(sock: socket.socket) -> str:
    """``http://host:port`` for clients of ``sock``; a wildcard host becomes
    loopback.
    """
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", ""):  # noqa: S104 - read back from the socket, not chosen here
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def uvicorn_server(app: Starlette, *, log_level: str = "warning") -> uvicorn.Server:
    """A uvicorn server for the app: HTTP only, access log off unless asked
    for.
    """
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=log_level in ("debug", "trace", "info"),
        # no websockets here, and importing them warns on some versions
        ws="none",
        lifespan="on",
        timeout_graceful_shutdown=3,
    )
    install_log_filter()  # after Config, which reconfigures uvicorn's loggers
    return uvicorn.Server(config)


class EmulatorServer:
    """An emulator running in a background thread; a context manager that stops
    it.
    """

    def __init__(self, app: Starlette, server: uvicorn.Server, sock: socket.socket) -> None:
        self.app = app
        self.url = public_url(sock)
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="sora-nb-emulator", daemon=True
        )
        self._sock = sock

    def _start(self) -> None:
        # a kernel that exits without stop() still cleans up
        atexit.register(self.stop)
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                self._sock.close()
                raise RuntimeError("The sora_nb emulator did not start: see the log above.")
            time.sleep(0.005)

    def stop(self, timeout: float = 10.0) -> None:
        """End open streams, stop the server, and wait for its thread
        (idempotent).
        """
        atexit.unregister(self.stop)
        emulator: Emulator = self.app.state.emulator
        if self._thread.is_alive() and emulator.loop is not None:
            # Streams follow tasks: ending the tasks first lets uvicorn shut
            # down at once instead of waiting out a slow stream.
            future = asyncio.run_coroutine_threadsafe(emulator.tasks.aclose(), emulator.loop)
            with contextlib.suppress(concurrent.futures.TimeoutError):
                future.result(timeout)
        self._server.should_exit = True
        self._thread.join(timeout)
        self._sock.close()

    @contextlib.contextmanager
    def holding_completions(self) -> Iterator[None]:
        """No task completes inside this block; those due complete when it
        ends.
        """
        self._on_loop(self.app.state.emulator.tasks.completing.clear)
        try:
            yield
        finally:
            self._on_loop(self.app.state.emulator.tasks.completing.set)

    def _on_loop(self, call: Callable[[], object]) -> None:
        loop = self.app.state.emulator.loop
        assert loop is not None, "the emulator has not started"

        async def run() -> None:
            call()

        asyncio.run_coroutine_threadsafe(run(), loop).result(10)

    def __enter__(self) -> EmulatorServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<EmulatorServer {self.url}>"


def serve_in_thread(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    speed: float = 1.0,
    api_key: str | None = None,
    data_dir: str | Path | None = None,
    dialect: Dialect = "transcript",
) -> EmulatorServer:
    """Start an emulator in a daemon thread; return once it accepts connections.

    ``port=0`` picks a free port; ``server.url`` says which. ``speed`` divides
    every delay. ``dialect`` is ``transcript`` (the seed relay), ``sora2api`` or
    ``videos`` (docs/dialects.md).
    """
    app = create_app(speed=speed, api_key=api_key, data_dir=data_dir, dialect=dialect)
    sock = bind(host, port)
    emulator = EmulatorServer(app, uvicorn_server(app), sock)
    emulator._start()
    return emulator
