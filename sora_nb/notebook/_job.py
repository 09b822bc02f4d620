"""One job run from a cell: its progress view, its result output and its
``--as`` binding.

The job itself is a ``Session`` coroutine (generate, edit, resume); this module
only decides how it runs (blocking by default, so Run All and nbclient see the
result in the cell; or in the background) and what the cell shows when it ends.
Outputs are made while the cell runs and later changed only through their
display handles, which works from a background task.

When a job ends, its live progress widget is replaced in place by a static copy
(plain HTML, no widget), so the saved notebook shows it with no kernel; a
blocking job that failed then ends its cell in error (``CellFailed``). The
outputs that show a task are remembered by task id, so ``%sora resume`` fills in
the cell where the task began (docs/notebook.md).
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

from .._exceptions import InvalidRequest, SoraError
from ..client._download import download
from ..records._video import Video
from ..render._render import video_mimebundle
from ..session._history import Session
from ._i18n import t
from ._output import CellFailed, SoraInterrupt, describe, message_bundle, show_message
from ._progress import ProgressView
from ._run import run_blocking, running_loop, start_background

__all__ = ["CellJob"]

JobFactory = Callable[[Callable[[Any], None]], Coroutine[Any, Any, Video]]
Result = tuple[Video, dict[str, Any]]

# Every job's outputs by the task id they show: %sora resume updates the earlier
# ones too.
_shown: dict[str, list[CellJob]] = {}


class CellJob:
    """Runs one Session coroutine for a cell and shows its progress and its
    video.
    """

    def __init__(
        self,
        shell: Any,
        *,
        name: str | None = None,
        embed: bool = False,
        typical: float | None = None,
    ) -> None:
        self.shell = shell
        self.name = name
        self.embed = embed
        self.view = ProgressView(start=False)
        self.view.typical = typical
        self._progress: DisplayHandle | None = None
        self._result: DisplayHandle | None = None
        # a background job: it ends after its cell does
        self._cell_ended = False

    def run(self, make: JobFactory, *, background: bool = False) -> Video | None:
        """Start ``make(on_event)`` and show it; block until it ends unless
        ``background``.
        """
        self._cell_ended = background and running_loop() is not None
        # In the card, not an output of its own: Voilà would show that one until
        # the end.
        self.view.note = t("background.started") if self._cell_ended else None
        self.view.start()
        self._progress = display(self.view, display_id=True)
        if self._cell_ended:
            # Empty until the job ends: what went wrong, or how to resume, goes
            # here.
            self._result = display({"text/plain": ""}, raw=True, display_id=True)
            start_background(self._produce(make), self._settle)
            return None
        if background:
            show_message(t("background.no_loop"), "warning")
        return self._run_blocking(make)

    async def _produce(self, make: JobFactory) -> Result:
        video = await make(self.view.handle)
        return video, await self._bundle(video)

    def _run_blocking(self, make: JobFactory) -> Video:
        try:
            result = run_blocking(self._produce(make))
        except SoraError as exc:
            message = describe(exc)
            self._failed(message, refused=isinstance(exc, InvalidRequest))
            # Run All stops here, with this sentence
            raise CellFailed(message) from None
        except KeyboardInterrupt:
            raise SoraInterrupt(self._interrupted()) from None
        # a bug, not the relay: red, and the traceback stays
        except BaseException as exc:
            self._failed(f"{type(exc).__name__}: {exc}")
            raise
        self._done(*result)
        return result[0]

    def _settle(self, task: asyncio.Task[Result]) -> None:
        """The background task ended: show how, in the outputs made when it
        started.
        """
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

    # -- endings ---------------------------------------------------------------

    def _settle_card(self, bundle: dict[str, Any] | None = None) -> None:
        # The final state as static HTML in place of the widget, from the live
        # view's own template: a saved notebook, nbconvert and GitHub show it
        # without a kernel.
        self._show(self.view, bundle)
        if not self._cell_ended:
            self.view.close()
        if self.view.task_id:
            jobs = _shown.setdefault(self.view.task_id, [])
            if self not in jobs:
                jobs.append(self)

    def _done(self, video: Video, bundle: dict[str, Any]) -> None:
        # the bar's time and the video's caption agree
        self.view.finish(video.elapsed)
        self._settle_card(bundle)
        # the placeholder or advice: the card says it all now
        if self._result is not None:
            self._result.update({"text/plain": ""}, raw=True)
        # %sora resume binds the turn's --as name
        name = self.name or _turn_name(video)
        if name:
            self.shell.user_ns[name] = video
        for earlier in _shown.get(video.task_id or "", []):
            if earlier is not self:  # the cell where an interrupted task began
                earlier._resumed_as(self.view, bundle)

    def _resumed_as(self, view: ProgressView, bundle: dict[str, Any]) -> None:
        """``%sora resume`` finished this job's task: show the video where the
        task began.
        """
        self._show(view, bundle)
        if self._result is not None:
            self._result.update({"text/plain": ""}, raw=True)

    def _show(self, view: ProgressView, bundle: dict[str, Any] | None) -> None:
        """``view``'s final card, ``bundle`` (the video) under it, in this job's
        outputs.
        """
        if self._progress is not None:
            self._progress.update(_card_bundle(view, bundle), raw=True)
        if self._cell_ended and self.view.widget is not None:
            # Voilà ignores display updates once its page is up: there the
            # widget, kept open, ends as the final card. Sent after the update,
            # so JupyterLab, which has put the static copy in the widget's
            # place, draws nothing more.
            self.view._cancel_timer()
            self.view.widget.html = view.html() + (bundle or {}).get("text/html", "")

    def _failed(self, message: str, *, refused: bool = False) -> None:
        self.view.fail(message)
        if refused and self.view.events == 0 and self._progress is not None:
            # The session refused the input before starting: no dead progress
            # bar; the cell's error (or, in the background, the placeholder)
            # says why in one line.
            self.view.close()
            self._progress.update({"text/plain": ""}, raw=True)
            self._progress = None
            if self._result is not None:
                self._result.update(message_bundle(message), raw=True)
            return
        self._settle_card()
        # the background placeholder would say "running" forever
        if self._result is not None:
            self._result.update(message_bundle(message), raw=True)

    def _interrupted(self) -> str:
        """Show the interruption; return the cell's error, a sentence that stays
        true.

        What to do next (``%sora resume``) goes in an output slot, which a
        resume replaces with the video; the cell's error output cannot be
        changed once shown.
        """
        task_id = self.view.task_id
        self.view.interrupt(task_id)
        self._settle_card()
        if not task_id:
            message = t("interrupted.none")
            if self._result is not None:
                self._result.update(message_bundle(message, "warning"), raw=True)
            return message
        advice = message_bundle(t("interrupted.task", task=task_id), "warning")
        if self._result is None:  # a resume replaces this slot with the video
            self._result = display(advice, raw=True, display_id=True)
        else:
            self._result.update(advice, raw=True)
        return t("interrupted.ran", task=task_id)

    # -- the video -------------------------------------------------------------

    async def _bundle(self, video: Video) -> dict[str, Any]:
        if not self.embed:
            return video._repr_mimebundle_()
        data = await _video_bytes(video)
        bundle = video_mimebundle(video, embed=data)
        warning = html.escape(t("embed.warning", size=len(data) * 4 / 3 / 1e6))
        note = f'<div style="color:var(--jp-warn-color1, #e65100)">{warning}</div>'
        return {**bundle, "text/html": bundle["text/html"] + note}


def _card_bundle(view: ProgressView, video: dict[str, Any] | None) -> dict[str, Any]:
    """The card's saved copy: the final progress line, then the video's own
    bundle.
    """
    card = view.static_bundle()
    if video is None:
        return card
    return {
        **video,
        "text/html": card["text/html"] + video.get("text/html", ""),
        "text/plain": f"{card['text/plain']}\n{video.get('text/plain', '')}",
    }


def _turn_name(video: Video) -> str | None:
    if not isinstance(video.session, Session) or video.turn is None:
        return None
    turns = video.session.turns
    return turns[video.turn].name if video.turn < len(turns) else None


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
