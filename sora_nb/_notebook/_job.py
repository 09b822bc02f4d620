"""One job run from a cell: its progress view, its result output and its ``--as`` binding.

The job itself is a ``Session`` coroutine (generate, edit, resume); this module only decides
how it runs (blocking by default, so Run All and nbclient see the result in the cell; or in
the background) and what the cell shows when it ends. Outputs are made while the cell runs
and later changed only through their display handles, which works from a background task.
"""

from __future__ import annotations

import asyncio
import html
import os
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from IPython.display import DisplayHandle, display

from .._download import download
from .._exceptions import InvalidRequest, SoraError
from .._render import video_mimebundle
from .._video import Video
from ._i18n import t
from ._output import SoraInterrupt, describe, message_bundle, show_message
from ._progress import ProgressView
from ._run import run_blocking, running_loop, start_background

__all__ = ["CellJob"]

JobFactory = Callable[[Callable[[Any], None]], Coroutine[Any, Any, Video]]
Result = tuple[Video, dict[str, Any]]


class CellJob:
    """Runs one Session coroutine for a cell and shows its progress and its video."""

    def __init__(self, shell: Any, *, name: str | None = None, embed: bool = False) -> None:
        self.shell = shell
        self.name = name
        self.embed = embed
        self.view = ProgressView(start=False)
        self._progress: DisplayHandle | None = None
        self._result: DisplayHandle | None = None

    def run(self, make: JobFactory, *, background: bool = False) -> None:
        """Start ``make(on_event)`` and show it; block until it ends unless ``background``."""
        self.view.start()
        self._progress = display(self.view, display_id=True)
        if background and running_loop() is not None:
            started = message_bundle(t("background.started"), "info")
            self._result = display(started, raw=True, display_id=True)
            start_background(self._produce(make), self._settle)
            return
        if background:
            show_message(t("background.no_loop"), "warning")
        self._run_blocking(make)

    async def _produce(self, make: JobFactory) -> Result:
        video = await make(self.view.handle)
        return video, await self._bundle(video)

    def _run_blocking(self, make: JobFactory) -> None:
        try:
            result = run_blocking(self._produce(make))
        except SoraError as exc:
            self._failed(describe(exc), refused=isinstance(exc, InvalidRequest))
        except KeyboardInterrupt:
            raise SoraInterrupt(self._interrupted()) from None
        except BaseException as exc:  # a bug, not the relay: red, and the traceback stays
            self._failed(f"{type(exc).__name__}: {exc}")
            raise
        else:
            self._done(*result)

    def _settle(self, task: asyncio.Task[Result]) -> None:
        """The background task ended: show how, in the outputs made when it started."""
        if task.cancelled():
            self._interrupted()
            return
        exc = task.exception()
        if exc is None:
            self._done(*task.result())
        elif isinstance(exc, SoraError):
            self._failed(describe(exc), refused=isinstance(exc, InvalidRequest))
        else:
            self._failed(f"{type(exc).__name__}: {exc}")

    # -- endings ------------------------------------------------------------------------------

    def _refresh_progress(self) -> None:
        # The final update also refreshes the text/plain fallback a saved notebook keeps.
        if self._progress is not None:
            self._progress.update(self.view)

    def _show_result(self, bundle: dict[str, Any]) -> None:
        if self._result is None:
            self._result = display(bundle, raw=True, display_id=True)
        else:
            self._result.update(bundle, raw=True)

    def _done(self, video: Video, bundle: dict[str, Any]) -> None:
        self.view.finish()
        self._refresh_progress()
        self._show_result(bundle)
        if self.name:
            self.shell.user_ns[self.name] = video

    def _failed(self, message: str, *, refused: bool = False) -> None:
        self.view.fail(message)
        if refused and self.view.events == 0 and self._progress is not None:
            # The session refused the input before starting: one line, no dead progress bar.
            self._progress.update(message_bundle(message), raw=True)
            self._progress = None
            if self._result is not None:
                self._result.update({"text/plain": ""}, raw=True)
            return
        self._refresh_progress()
        if self._result is not None:  # the background placeholder would say "running" forever
            self._result.update(message_bundle(message), raw=True)

    def _interrupted(self) -> str:
        task_id = self.view.task_id
        self.view.interrupt(task_id)
        self._refresh_progress()
        message = t("interrupted.task", task=task_id) if task_id else t("interrupted.none")
        if self._result is not None:
            self._result.update(message_bundle(message, "warning"), raw=True)
        return message

    # -- the video --------------------------------------------------------------------------

    async def _bundle(self, video: Video) -> dict[str, Any]:
        if not self.embed:
            return video._repr_mimebundle_()
        data = await _video_bytes(video)
        bundle = video_mimebundle(video, embed=data)
        warning = html.escape(t("embed.warning", size=len(data) * 4 / 3 / 1e6))
        note = f'<div style="color:var(--jp-warn-color1, #e65100)">{warning}</div>'
        return {**bundle, "text/html": bundle["text/html"] + note}


async def _video_bytes(video: Video) -> bytes:
    data = await asyncio.to_thread(_read, video.local_path)
    if data is not None:
        return data
    # --no-save --embed: a copy that lives only in the notebook.
    with tempfile.TemporaryDirectory() as tmp:
        path = await download(video.video_url, Path(tmp) / "video.mp4")
        return await asyncio.to_thread(path.read_bytes)


def _read(path: str | None) -> bytes | None:
    return Path(path).read_bytes() if path and os.path.isfile(path) else None
