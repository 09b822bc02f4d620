"""``sora_nb.live()``: one generation as a live card, for front ends without
IPython (marimo).

The card is the ``%%sora`` cell's own (one anywidget model, one template). In
marimo a cell shows ``mo.ui.anywidget(job.widget)`` while the job runs on the
views' own loop, and a later cell asks ``job.result()`` for the ``Video``. When
the video is ready the card shows it; its bytes go to the browser as a message's
buffer, since no file beside the notebook is served.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from pathlib import Path
from typing import Any

from .._exceptions import SoraError
from ..records._video import Video
from ..render._render import _video_html, local_url
from ._magic import settings
from ._output import describe
from ._progress import ProgressView
from ._run import background_loop
from ._view import Actions

__all__ = ["LiveJob", "live"]


class LiveJob:
    """A generation (or an edit) running with its card; ``result()`` waits for
    its Video.
    """

    def __init__(self, prompt: str, *, edit: Any = None, **options: Any) -> None:
        self.view = ProgressView()
        assert self.view.widget is not None
        self.widget = self.view.widget
        self.video: Video | None = None
        Actions(self.widget).on("media", lambda content, buffers: self._send_media())
        magics = settings()
        session = magics.get_session()
        self.view.stop_cancels = lambda: session.client.cancels_on_disconnect
        options.setdefault("model", magics.model if edit is None else None)
        on_event = self.view.handle
        if edit is None:
            job = session.generate(prompt, **options, on_event=on_event)
        else:
            job = session.edit(edit, prompt, **options, on_event=on_event)
        self._future = asyncio.run_coroutine_threadsafe(self._run(job), background_loop())

    async def _run(self, job: Any) -> Video:
        try:
            video: Video = await job
        except SoraError as exc:
            self.view.fail(describe(exc))
            raise
        except asyncio.CancelledError:
            self.view.interrupt(None)
            raise
        finally:
            self.view._cancel_timer()
        self.video = video
        self.view.finish()
        # the saved card's template
        self.widget.html = self.view.html() + _video_html(video)
        return video

    def _send_media(self) -> None:
        path = self.video.local_path if self.video is not None else None
        if path and local_url(path):
            self.widget.send({"type": "media", "mime": "video/mp4"}, [Path(path).read_bytes()])

    def result(self, timeout: float | None = None) -> Video:
        """Wait for the video (a failure raises its ``SoraError``)."""
        try:
            return self._future.result(timeout)
        except concurrent.futures.CancelledError:
            raise KeyboardInterrupt from None

    def cancel(self) -> None:
        """Stop waiting; the turn is kept, interrupted, and can be resumed."""
        self._future.cancel()


def live(prompt: str, *, edit: Any = None, **options: Any) -> LiveJob:
    """Start a generation (``edit``: change that video) and return it with its
    live card.
    """
    return LiveJob(prompt, edit=edit, **options)
