"""One view for a whole batch: a progress widget, a gallery of results, a "retry
failed" button.

A batch of a thousand items makes tens of thousands of events; the view never
sends one frontend message per event (docs/notebook.md, "Batches"). ``Batch``
only calls ``_changed`` (cheap: a flag); a timer pushes the state at most every
``interval(elapsed)`` seconds, an interval that grows with the batch's age, and
a hard budget keeps a whole batch within ``MESSAGE_BUDGET`` frontend messages
however long it runs. The gallery is a display output, not a widget, so
JupyterLab resolves its relative thumbnail links and a saved notebook keeps it.
"""

from __future__ import annotations

import asyncio
import contextvars
import html
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from IPython import get_ipython
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import DisplayHandle, display
from traitlets import Unicode

from .._exceptions import InvalidRequest, SoraError
from ..records._batch_items import BatchItem, read_items
from ..records._video import Video
from ..render._render import local_url, safe_url
from ..session._batch import Batch, BatchResults, BatchStatus
from ._i18n import t
from ._icons import icon
from ._magic import VIEW_COMMANDS, magics_for
from ._output import SoraInterrupt, describe
from ._progress import FILL, clock
from ._run import run_blocking, start_background
from ._view import Actions, View, asset

logger = logging.getLogger("sora_nb")

__all__ = ["MESSAGE_BUDGET", "BatchView", "batch", "batch_command", "run_in_cell"]

#: Frontend messages a batch's view may send after it is shown (the widgets'
#: creation is ~10).
MESSAGE_BUDGET = 80
_RESERVE = 6  # kept for the final state
# the gallery shows every failure and the latest results, up to this many
_TILES = 240
_FAILED = "var(--jp-error-color1, #c62828)"
_MUTED = "color:var(--jp-ui-font-color2, #6b6b6b);font-size:var(--jp-ui-font-size0, 11px)"


def interval(elapsed: float) -> float:
    """Seconds between pushes: once a second at first, then a fifth of the
    batch's age, so an hour-long batch sends a few dozen updates, not thousands.
    """
    return max(1.0, elapsed / 5)


class BatchCard(View):
    """A batch's progress as one widget model: the kernel's rendering, drawn by
    ``batch.js``.
    """

    _esm = asset("common.js", "batch.js")
    _css = asset("views.css")
    html = Unicode("").tag(sync=True)


class BatchView:
    """Shows a ``Batch`` live in the cell that started it."""

    def __init__(self, batch: Batch, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.batch = batch
        self._clock = clock
        self.widget = BatchCard()
        Actions(self.widget).on("retry", lambda content, buffers: self.retry())
        self.retry_offered = False
        # frontend messages sent by pushes, for tests and benchmarks
        self.messages = 0
        self._progress: DisplayHandle | None = None
        self._gallery: DisplayHandle | None = None
        self._gallery_html = ""
        self._dirty = False
        self._timer: asyncio.TimerHandle | None = None
        self._last_push = float("-inf")
        self._retrying: asyncio.Task[BatchResults] | None = None
        batch.subscribe(self._changed)

    def show(self) -> None:
        """Display the progress widget and the (empty) gallery in the current
        cell.
        """
        self.widget.html = self.html(self.batch.status())
        self._progress = display(self, display_id=True)
        self._gallery = display(self._gallery_bundle(), raw=True, display_id=True)

    # -- pushing ---------------------------------------------------------------

    def _changed(self) -> None:
        self._dirty = True
        if self._timer is None:
            due = self._last_push + interval(self.batch.status().elapsed) - self._clock()
            self._schedule(max(0.0, due))

    def _schedule(self, delay: float) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        # A fresh context: ipykernel runs all cells in one (see _progress).
        self._timer = loop.call_later(delay, self._tick, context=contextvars.copy_context())

    def _tick(self) -> None:
        self._timer = None
        status = self.batch.status()
        if status.finished:
            return  # finish() pushes the final state
        if self._dirty and self.messages + 2 <= MESSAGE_BUDGET - _RESERVE:
            self.push(status)
        # Between pushes the browser moves the clock and the time left; only
        # news comes here.

    def push(self, status: BatchStatus | None = None) -> None:
        """Send the current state now: the card, and the gallery if it
        changed.
        """
        status = status or self.batch.status()
        self._dirty, self._last_push = False, self._clock()
        card = self.html(status)
        if card != self.widget.html:
            self.widget.html = card
            self.messages += 1
        gallery = self._gallery_html_now()
        if gallery != self._gallery_html and self._gallery is not None:
            self._gallery_html = gallery
            self._gallery.update(self._gallery_bundle(), raw=True)
            self.messages += 1

    def finish(self) -> None:
        """The batch ended (or was interrupted): the final state, and Retry when
        it helps.

        With nothing to retry, the widget is replaced in place by its saved
        copy, drawn by the same template (docs/notebook.md): a saved notebook
        shows it without a kernel. With failures the widget stays, so its Retry
        button works.
        """
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        status = self.batch.status()
        self.retry_offered = bool(status.failed and status.finished)
        self.push(status)
        if self._progress is None:
            return
        self.messages += 1
        if self.retry_offered:
            # refreshes the text/plain a saved notebook keeps
            self._progress.update(self)
            return
        self._progress.update(self.static_bundle(status), raw=True)
        self.widget.close()

    def static_bundle(self, status: BatchStatus) -> dict[str, Any]:
        """The view as plain HTML and text: no widget, no kernel needed."""
        return {"text/html": self.html(status, live=False), "text/plain": self.summary()}

    # -- retry -----------------------------------------------------------------

    def retry(self) -> None:
        """What Retry failed does: send the failed items again, in the
        background.
        """
        if self._retrying is not None and not self._retrying.done():
            return
        self.retry_offered = False
        self.push()
        self._retrying = start_background(self.batch.retry_failed(), lambda task: self.finish())
        self._retrying.add_done_callback(_log_failure)

    # -- the template ----------------------------------------------------------

    def html(self, status: BatchStatus, *, live: bool = True) -> str:
        """The card: a bar, the counts, the clocks; Retry failed when it helps
        (live only).
        """
        finished = status.done + status.failed
        width = round(100 * finished / status.total) if status.total else 100
        fill = FILL["failed"] if status.failed else FILL["done" if status.finished else "live"]
        bar = (
            '<div class="sora-nb-static-bar" style="flex:none;width:16em;max-width:100%;'
            "height:18px;box-sizing:border-box;background-color:#e0e0e0;border-radius:2px;"
            f'overflow:hidden"><div class="sora-nb-fill" style="width:{width}%;height:100%;'
            f'background-color:{fill}"></div></div>'
        )
        retry = ""
        if live and self.retry_offered:
            words = html.escape(t("batchview.retry"))
            retry = (
                '<button class="sora-nb-button sora-nb-retry" data-action="retry">'
                f"{icon('resume')} {words}</button>"
            )
        saved = " sora-nb-batch-static" if not live else ""
        return (
            f'<div class="sora-nb-batch-card{saved}" style="display:flex;align-items:center;'
            f'gap:8px;flex-wrap:wrap">{bar}{self._label_html(status, live)}{retry}</div>'
        )

    def _label_html(self, status: BatchStatus, live: bool) -> str:
        ticking = live and not status.finished
        elapsed = clock(status.elapsed)
        if ticking:
            since = round((time.time() - status.elapsed) * 1000)
            elapsed = f'<span data-since="{since}" data-format="clock">{elapsed}</span>'
        parts = [
            t("batchview.done", n=f"<b>{status.done}</b>"),
            t("batchview.failed", n=f'<b style="color:{FILL["failed"]}">{status.failed}</b>')
            if status.failed
            else "",
            t("batchview.running", n=status.running),
            t("batchview.queued", n=status.queued),
            elapsed,
        ]
        if status.per_minute is not None:
            parts.append(t("batchview.per_minute", n=status.per_minute))
        if status.remaining is not None and not status.finished:
            left = clock(status.remaining)
            if ticking:
                until = round((time.time() + status.remaining) * 1000)
                left = f'<span data-until="{until}" data-format="clock">{left}</span>'
            parts.append(t("batchview.left", time=left))
        text = " · ".join(part for part in parts if part)
        return f'<span class="sora-nb-batch">{text}</span>'

    def summary(self) -> str:
        """One plain line: what a saved notebook shows when widgets cannot
        render.
        """
        s = self.batch.status()
        parts = [
            t("batchview.done", n=s.done),
            t("batchview.failed", n=s.failed),
            t("batchview.running", n=s.running),
            t("batchview.queued", n=s.queued),
        ]
        return " · ".join(["sora batch", *parts, clock(s.elapsed)])

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        return self.widget.bundle(self.summary())

    def _gallery_html_now(self) -> str:
        results = self.batch.results
        failed = [i for i, r in enumerate(results) if isinstance(r, SoraError)]
        done = [i for i, r in enumerate(results) if isinstance(r, Video)]
        shown = failed[:_TILES] + done[-max(0, _TILES - len(failed)) :]
        tiles = "".join(_tile(i, self.batch.items[i].name, results[i]) for i in sorted(shown))
        more = len(failed) + len(done) - len(shown)
        note = f'<div style="{_MUTED}">{t("batchview.more", n=more)}</div>' if more > 0 else ""
        grid = "display:flex;flex-wrap:wrap;gap:6px;align-items:flex-start"
        return f'<div class="sora-nb-gallery" style="{grid}">{tiles}</div>{note}'

    def _gallery_bundle(self) -> dict[str, Any]:
        results = self.batch.results
        done = sum(isinstance(r, Video) for r in results)
        failed = sum(isinstance(r, SoraError) for r in results)
        return {
            "text/html": self._gallery_html,
            "text/plain": t("batchview.videos", done=done, failed=failed),
        }


def _tile(index: int, name: str | None, result: Video | SoraError | None) -> str:
    label = html.escape(f"#{index}" + (f" {name}" if name else ""))
    box = "width:96px;font-size:var(--jp-ui-font-size0, 11px);overflow:hidden"
    if isinstance(result, Video):
        thumb = local_url(result.local_thumbnail) or safe_url(result.thumbnail_url)
        href = local_url(result.local_path) or safe_url(result.video_url)
        title = html.escape(result.prompt, quote=True)
        image = (
            f'<img src="{html.escape(thumb, quote=True)}" alt="{title}" title="{title}" '
            'style="width:96px;height:96px;object-fit:cover;border-radius:4px">'
            if thumb
            else f"<div title='{title}'>{icon('film', size='2em')}</div>"
        )
        if href:
            image = f'<a href="{html.escape(href, quote=True)}" target="_blank">{image}</a>'
        return f'<div style="{box}">{image}<div>{label}</div></div>'
    reason = describe(result) if isinstance(result, SoraError) else ""
    return (
        f'<div style="{box};color:{_FAILED}" title="{html.escape(reason, quote=True)}">'
        f"<div>{icon('x')} {label}</div><div>{html.escape(reason[:90])}</div></div>"
    )


def _log_failure(task: asyncio.Task[BatchResults]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.warning("sora_nb: retrying the batch failed.", exc_info=task.exception())


# -- the two notebook faces: sora_nb.batch(...) and %sora batch FILE -----------


def batch(
    prompts: Iterable[str | Mapping[str, Any] | BatchItem] | None = None,
    *,
    resume: str | os.PathLike[str] | None = None,
    journal: str | os.PathLike[str] | bool | None = None,
    concurrency: int | None = None,
    unconfirmed: int | None = None,
    model: str | None = None,
    orientation: str | None = None,
    image: str | None = None,
    save: bool | None = None,
    resend_unknown: bool = False,
) -> BatchResults:
    """Run a batch from a notebook cell with one live view; return the results
    in input order.

    ``prompts`` are strings or mappings of the batch columns (prompt, model,
    orientation, image, edit, name); ``resume`` finishes the batch a journal
    file records instead. The session, its client and defaults are the
    ``%%sora`` magic's.
    """
    magics = magics_for(get_ipython())
    session = magics.get_session()
    if resume is not None:
        job = Batch.resume(
            session, resume, resend_unknown=resend_unknown,
            concurrency=concurrency, unconfirmed=unconfirmed, save=save,
        )  # fmt: skip
    elif prompts is None:
        raise InvalidRequest(t("batchview.no_prompts"))
    else:
        defaults = {
            "model": model or magics.model,
            "orientation": orientation or magics.orientation,
            "image": image,
        }
        job = Batch.start(
            session, prompts, journal=journal, defaults=defaults,
            concurrency=concurrency, unconfirmed=unconfirmed, save=save,
        )  # fmt: skip
    return run_in_cell(job)


def run_in_cell(job: Batch) -> BatchResults:
    """Show ``job`` and block until it ends (Run All, nbclient and papermill see
    the results).
    """
    view = BatchView(job)
    view.show()

    async def run() -> BatchResults:
        try:
            return await job.run()
        finally:
            view.finish()
            await job.aclose()

    try:
        return run_blocking(run())
    except KeyboardInterrupt:
        where = job.journal.path if job.journal is not None else None
        hint = t("batchview.resume_hint", where=where) if where else ""
        done = job.status().done
        raise SoraInterrupt(t("batchview.interrupted", done=done, hint=hint)) from None


@magic_arguments(name="%sora batch")
@argument("file", nargs="?", help="A text (one prompt a line), CSV or JSONL file of prompts.")
@argument("--resume", metavar="JOURNAL", help="Finish the batch this journal file records.")
@argument("--journal", metavar="FILE", help="Keep the batch's journal in FILE.")
@argument("--concurrency", "-c", type=int, help="At most this many at once in this batch.")
@argument("--unconfirmed", type=int, help="At most this many sent with no task id yet.")
@argument("--model", "-m", help="Model for items that name none.")
@argument("--orientation", "-o", help="portrait or landscape, for items that name none.")
@argument("--as", dest="name", metavar="NAME", help="Bind the results to this variable.")
@argument("--no-save", action="store_true", help="Keep no local copies.")
@argument("--resend-unknown", action="store_true", help="Resume: also re-send items in doubt.")
def _batch_args(line: str) -> None:
    """%sora batch FILE | --resume JOURNAL"""


def batch_command(magics: Any, line: str) -> None:
    """``%sora batch FILE [options]`` or ``%sora batch --resume JOURNAL``."""
    args = parse_argstring(_batch_args, line)
    if args.name is not None and not args.name.isidentifier():
        raise InvalidRequest(t("batchview.bad_name", name=args.name))
    if (args.file is None) == (args.resume is None):
        raise InvalidRequest(t("batchview.file_or_resume"))
    results = batch(
        read_items(args.file) if args.file else None,
        resume=args.resume,
        journal=args.journal,
        concurrency=args.concurrency,
        unconfirmed=args.unconfirmed,
        model=args.model,
        orientation=args.orientation,
        save=False if args.no_save else None,
        resend_unknown=args.resend_unknown,
    )
    if args.name:
        magics.shell.user_ns[args.name] = results


VIEW_COMMANDS["batch"] = batch_command
