"""A job's live progress: phase, percent, elapsed time, time left and the task's
link.

Events come as fast as the relay streams them (one per echoed character at
worst), so ``handle()`` only records state; the view is rendered at most every
``min_interval`` seconds, like tqdm's ``mininterval``, except on a phase change
and the final state. Clocks (elapsed, time left, a retry's countdown) tick in
the browser from instants the HTML carries, so the kernel sends nothing between
relay events.

One template, ``html()``, draws the live view and the saved copy
(``static_bundle``): a reopened notebook, nbconvert and GitHub show the same
picture with no kernel (docs/notebook.md, "Saved notebooks"). In a cell the view
is one anywidget model (``Card``); the studio and the batch view draw the same
HTML inside their own model (``on_push``).
"""

from __future__ import annotations

import asyncio
import contextvars
import html
import re
import time
from collections.abc import Callable
from typing import Any

from traitlets import Unicode

from ..render._render import public_url
from ..wire._events import Event, JobEvent
from ._i18n import t
from ._icons import icon
from ._output import sentence_html, sentence_plain
from ._view import View, asset

__all__ = ["Card", "ProgressView", "clock", "open_widget_channel"]

_FINAL = ("done", "failed", "interrupted")
# Plain hex: an untrusted notebook's sanitizer may drop var(...).
FILL = {"done": "#4caf50", "failed": "#f44336", "interrupted": "#ff9800", "live": "#00bcd4"}
_ICON = {"done": "check", "failed": "x", "interrupted": "pause"}
_ROW = "display:flex;align-items:center;gap:8px;flex-wrap:wrap;max-width:100%"


def clock(seconds: float) -> str:
    """``m:ss``: the one way sora_nb's views write a duration (the browser's
    too).
    """
    minutes, secs = divmod(max(0, round(seconds)), 60)
    return f"{minutes}:{secs:02d}"


class Card(View):
    """A cell's card as one widget model: the kernel's rendering, drawn by
    ``card.js``.
    """

    _esm = asset("common.js", "card.js")
    _css = asset("views.css")
    html = Unicode("").tag(sync=True)


class ProgressView:
    """A job's state, fed with its events through ``handle``, drawn by one
    template.
    """

    def __init__(
        self,
        *,
        min_interval: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
        start: bool = True,
        on_push: Callable[[], None] | None = None,
    ) -> None:
        self.min_interval = min_interval
        self._clock = clock
        self._on_push = on_push
        self.widget: Card | None = Card() if on_push is None else None
        # seconds a finished video of this model took here
        self.typical: float | None = None
        # Whether the relay cancels the job if its stream drops (the client
        # says, per dialect): then the live view says stopping costs the job.
        self.stop_cancels: Callable[[], bool] | None = None
        # A line the live view shows until the job ends (a background job says
        # it runs so).
        self.note: str | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._reset()
        if start:
            self.start()

    def start(self) -> None:
        """Start the clock for a new job."""
        self._reset()
        self._push()

    def _reset(self) -> None:
        self.phase = "sending"
        self.percent: int | None = None
        self.fraction: float | None = None
        self.task_id: str | None = None
        self.preview_url: str | None = None
        self.reason: str | None = None
        self.retry_at: float | None = None
        self.retry_status: str | None = None
        # (when, percent): the rate's base
        self._first_percent: tuple[float, int] | None = None
        self._relay_said = False
        self.events = 0
        self._started = self._clock()
        self._ended: float | None = None
        self._last_push = float("-inf")

    # -- state -----------------------------------------------------------------

    def handle(self, event: Event | JobEvent) -> None:
        """Record one relay event or job phase; the frontend sees it within
        ``min_interval``.
        """
        if self.final:
            return
        self.events += 1
        before = (self.phase, self.indeterminate)
        self._record(event)
        changed = (self.phase, self.indeterminate) != before
        if changed or self.final or event.type == "job":  # job events are few
            self._push()
        else:
            self._request_push()

    def _record(self, event: Event | JobEvent) -> None:
        if event.type == "job":
            self._record_job(event)
        elif event.type == "task":
            self.task_id, self.preview_url = event.task_id, event.preview_url
        elif event.type == "status":
            self.phase = event.status
        elif event.type == "progress":
            self.phase, self.percent = "generating", event.percent
            if self._first_percent is None:
                self._first_percent = (self._clock(), event.percent)
        elif event.type == "completed":
            self.percent = 100
        elif event.type == "failed":
            self.phase, self.reason, self._relay_said = "failed", event.reason, True
            self.task_id = self.task_id or event.task_id

    def _record_job(self, event: JobEvent) -> None:
        self.phase = event.phase
        if event.phase == "downloading":
            self.fraction = event.fraction
        elif event.phase == "retrying":
            self.retry_status, self.retry_at = event.detail, self._clock() + (event.delay or 0)
        elif event.phase in ("failed", "interrupted") and event.detail:
            self.reason = event.detail
        elif event.phase == "done":
            self.percent = 100

    def finish(self, elapsed: float | None = None) -> None:
        """Show the job as done; ``elapsed``, the video's own time, is the bar's
        time too (a resumed task's video counts from when the task began, not
        from the resume).
        """
        if elapsed is not None and not self.final:
            self._started = self._clock() - elapsed
        self.handle(JobEvent("done"))

    def fail(self, reason: str) -> None:
        """Turn red with ``reason`` (one sentence), unless the relay gave its
        own words.
        """
        if not self._relay_said:
            self.phase, self.reason = "failed", reason
        self._push()

    def interrupt(self, task_id: str | None) -> None:
        """Show that the kernel was interrupted while this job ran."""
        self.phase, self.task_id = "interrupted", task_id or self.task_id
        self._push()

    @property
    def final(self) -> bool:
        """Whether the job has ended (done, failed or interrupted)."""
        return self.phase in _FINAL

    @property
    def indeterminate(self) -> bool:
        """Whether the job lives with no percent known (the bar slides instead
        of filling).
        """
        return not self.final and self.phase != "downloading" and self.percent is None

    @property
    def bar_value(self) -> int:
        """How full the bar is, in percent; a failure fills it red even before
        any percent.
        """
        if self.phase in ("downloading", *_FINAL):
            return 100
        return self.percent or 0

    # -- pushing ---------------------------------------------------------------

    def _request_push(self) -> None:
        due = self._last_push + self.min_interval - self._clock()
        if due <= 0:
            self._push()
        elif self._timer is None:
            self._schedule(due)

    def _push(self) -> None:
        self._last_push = self._clock()
        self._cancel_timer()
        if self.final and self._ended is None:
            self._ended = self._clock()
        if self.widget is not None:
            self.widget.html = self.html()
        if self._on_push is not None:
            self._on_push()

    def _schedule(self, delay: float) -> None:
        try:
            loop = asyncio.get_running_loop()
        # no loop (plain Python): updates happen on events only
        except RuntimeError:
            return
        # A copy of the context, never the one a cell runs in: ipykernel 7 runs
        # every cell in one shared Context, and nest_asyncio2 defers its handles
        # until a blocking cell ends.
        self._timer = loop.call_later(delay, self._on_timer, context=contextvars.copy_context())

    def _on_timer(self) -> None:
        self._timer = None
        if not self.final:
            self._push()  # the last state the throttle held back

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def close(self) -> None:
        """Stop the throttle's timer and close the widget (a static copy
        replaced it).
        """
        self._cancel_timer()
        if self.widget is not None:
            self.widget.close()

    # -- the template ----------------------------------------------------------

    def _seconds(self) -> float:
        return (self._ended if self._ended is not None else self._clock()) - self._started

    def _ticking(self, seconds_from_now: float, text: str, fmt: str = "clock") -> str:
        """``text`` that the browser keeps counting:
        ``data-since``/``data-until`` in ms.
        """
        instant = round((time.time() + seconds_from_now) * 1000)
        attr = "since" if seconds_from_now <= 0 else "until"
        return f'<span data-{attr}="{instant}" data-format="{fmt}">{html.escape(text)}</span>'

    def _elapsed_html(self, live: bool) -> str:
        seconds = self._seconds()
        if not live or self.final:
            return html.escape(clock(seconds))
        return self._ticking(-seconds, clock(seconds))

    def _phase_html(self, live: bool) -> str:
        if self.phase == "retrying":
            left = max(0.0, (self.retry_at or 0) - self._clock())
            key = "phase.rate_limited" if self.retry_status == "429" else "phase.retrying"
            text = html.escape(t(key, seconds="\0", status=self.retry_status or ""))
            count = self._ticking(left, str(round(left)), "seconds") if live else str(round(left))
            return f"<b>{text.replace(chr(0), count)}</b>"
        text = t(f"phase.{self.phase}")
        if self.phase == "generating" and self.percent is not None:
            text += f" {self.percent} %"
        elif self.phase == "downloading" and self.fraction is not None:
            text += f" {round(self.fraction * 100)} %"
        return f"<b>{html.escape(text)}</b>"

    def _left(self) -> float | None:
        """Seconds left from the observed rate, once the percent moved."""
        if self._first_percent is None or self.percent is None:
            return None
        since, base = self._first_percent
        moved, spent = self.percent - base, self._clock() - since
        return (100 - self.percent) * spent / moved if moved > 0 and spent > 0 else None

    def _estimate_html(self, live: bool) -> str | None:
        """Time left from the observed rate once the percent moved; before that,
        the usual.
        """
        if self.final or self.phase == "downloading":
            return None
        left = self._left()
        if left is not None:
            text = html.escape(t("eta.left", time="\0"))
            count = self._ticking(left, clock(left)) if live and left > 0 else clock(left)
            return text.replace("\0", count)
        if self.percent:
            # one percent seen: no rate yet, and the usual time no longer fits
            return None
        if self.typical:
            return html.escape(t("eta.typical", time=clock(max(1.0, self.typical))))
        return html.escape(t("eta.range"))

    def _task_html(self) -> str:
        task = f"<code>{html.escape(self.task_id or '')}</code>"
        # The relay's link: http(s) only, never javascript:, and never a
        # loopback address that is dead wherever the saved notebook is opened.
        href = public_url(self.preview_url)
        if href:
            task = f'<a href="{html.escape(href)}" target="_blank" rel="noopener">{task}</a>'
        return task

    def label_html(self, *, live: bool = True) -> str:
        """The words beside the bar: phase, clock, time left, task, and a
        failure's reason.
        """
        parts = [self._phase_html(live), self._elapsed_html(live)]
        estimate = self._estimate_html(live)
        if estimate:
            parts.append(estimate)
        if self.task_id:
            parts.append(self._task_html())
        text = " · ".join(parts)
        if self.reason and self.phase == "failed":
            reason = sentence_html(self.reason)
            text += f'<br><span style="color:{FILL["failed"]}">{reason}</span>'
        if live and not self.final and self.stop_cancels is not None and self.stop_cancels():
            note = html.escape(t("phase.stop_cancels"))
            text += f' · <span class="sora-nb-stop-cancels">{icon("alert")} {note}</span>'
        if live and not self.final and self.note:
            text += f' · <span class="sora-nb-note">{html.escape(self.note)}</span>'
        mark = icon(_ICON[self.phase]) + " " if self.phase in _ICON else ""
        return f'<span class="sora-nb-progress">{mark}{text}</span>'

    def html(self, *, live: bool = True) -> str:
        """The view: the live widget's HTML, and (``live=False``) the saved
        copy's.
        """
        fill = FILL.get(self.phase, FILL["live"])
        sliding = " sora-nb-indeterminate" if live and self.indeterminate else ""
        # Classes and inline styles only: a sanitizer (an untrusted notebook)
        # drops data-*.
        bar = (
            f'<div class="sora-nb-static-bar{sliding}" style="display:inline-block;width:16em;'
            "max-width:100%;height:18px;flex:none;background-color:#e0e0e0;border-radius:2px;"
            f'overflow:hidden"><div class="sora-nb-fill" style="width:{self.bar_value}%;'
            f'height:18px;background-color:{fill}"></div></div>'
        )
        saved = "" if live else " sora-nb-progress-static"
        return (
            f'<div class="sora-nb-card{saved} sora-nb-phase-{self.phase}" style="{_ROW}">'
            f"{bar}{self.label_html(live=live)}</div>"
        )

    def summary(self) -> str:
        """One plain line: what the saved notebook shows when HTML cannot
        render.
        """
        parts = ["sora", _plain(self._phase_html(False)), clock(self._seconds())]
        estimate = self._estimate_html(False)
        if estimate:
            parts.append(_plain(estimate))
        if self.task_id:
            parts.append(self.task_id)
        text = " · ".join(parts)
        failed = self.reason and self.phase == "failed"
        return f"{text} — {sentence_plain(self.reason or '')}" if failed else text

    def static_bundle(self, extra_html: str = "") -> dict[str, Any]:
        """The view as it is now, as plain HTML and text: no widget, no kernel
        needed.
        """
        return {"text/html": self.html(live=False) + extra_html, "text/plain": self.summary()}

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        # only a cell's view is displayed on its own
        assert self.widget is not None
        return self.widget.bundle(self.summary())


def _plain(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


_channel: list[Any] = []


def open_widget_channel() -> None:
    """Open the views' one shared Layout model now, while ``%load_ext`` runs.

    JupyterLab 4 creates a kernel subshell for widget comms when it sees the
    first one, and takes the subshell's own busy/idle as the kernel's status: a
    cell that opens the first widget of a kernel reads "Idle" while it blocks
    (docs/notebook.md, "Busy means busy"). The model opened is the Layout every
    view shares, so it is not dead weight.
    """
    from ._view import shared_layout

    if not _channel:
        _channel.append(shared_layout())
