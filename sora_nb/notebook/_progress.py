"""A live progress view for one job: phase, percent, elapsed time, time left, the task's link.

Events come as fast as the relay streams them (one per echoed character at worst), so
``handle()`` only records state; the widgets are written at most every ``min_interval``
seconds, like tqdm's ``mininterval``, except on a phase change and the final state. A
timer flushes the last held state and keeps the elapsed clock moving between events.

The bar never sits still while the job lives: until a percent is known it slides (a CSS
animation on a class of the ipywidgets bar), and any failure fills it red. When the job ends,
``static_bundle()`` is the same picture as plain HTML, so a saved notebook needs no kernel
(docs/notebook.md, "Saved notebooks").
"""

from __future__ import annotations

import asyncio
import contextvars
import html
import time
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from ..render._render import public_url
from ..wire._events import Event, JobEvent
from ._i18n import t
from ._output import sentence_html, sentence_plain

__all__ = ["ProgressView", "close_tree"]

_FINAL = ("done", "failed", "interrupted")
_STYLE = {"done": "success", "failed": "danger", "interrupted": "warning"}
# The colours ipywidgets gives each bar_style, for the static copy of a finished bar. Plain hex:
# an untrusted notebook's sanitizer keeps inline colours but may drop var(...).
_FILL = {"success": "#4caf50", "danger": "#f44336", "warning": "#ff9800", "info": "#00bcd4"}
_INDETERMINATE = "sora-nb-indeterminate"
# Applies to every bar with the class; a <style> in an HTML widget reaches the whole page.
_CSS = f"""<style>
.{_INDETERMINATE} .progress {{ overflow: hidden; }}
.{_INDETERMINATE} .progress-bar {{
  width: 30% !important; animation: sora-nb-slide 1.4s ease-in-out infinite alternate;
}}
@keyframes sora-nb-slide {{ from {{ margin-left: 0; }} to {{ margin-left: 70%; }} }}
</style>"""


def _elapsed(seconds: float) -> str:
    minutes, secs = divmod(max(0, round(seconds)), 60)
    return f"{minutes}:{secs:02d}"


class ProgressView:
    """An ipywidgets progress bar and label fed with a job's events through ``handle``."""

    def __init__(
        self,
        *,
        min_interval: float = 0.2,
        tick: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        start: bool = True,
    ) -> None:
        self.min_interval = min_interval
        self.tick = tick
        self._clock = clock
        self._bar = widgets.IntProgress(
            value=0, min=0, max=100, bar_style="info", layout=widgets.Layout(width="16em")
        )
        self._label = widgets.HTML()
        css = widgets.HTML(_CSS, layout=widgets.Layout(display="none"))
        self.widget = widgets.HBox([self._bar, self._label, css])
        self.typical: float | None = None  # seconds a finished video of this model took here
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due = 0.0
        self._reset()
        if start:
            self.start()

    def start(self) -> None:
        """Start the clock for a new job (the panel reuses one view for every job)."""
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
        self._first_percent: tuple[float, int] | None = None  # (when, percent): the rate's base
        self._relay_said = False
        self.events = 0
        self._started = self._clock()
        self._last_push = float("-inf")

    # -- state ------------------------------------------------------------------------------

    def handle(self, event: Event | JobEvent) -> None:
        """Record one relay event or job phase; the frontend sees it within ``min_interval``."""
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

    def finish(self) -> None:
        """Show the job as done."""
        self.handle(JobEvent("done"))

    def fail(self, reason: str) -> None:
        """Turn red with ``reason`` (one sentence), unless the relay gave its own words."""
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

    # -- frontend ---------------------------------------------------------------------------

    def _request_push(self) -> None:
        due = self._last_push + self.min_interval - self._clock()
        if due <= 0:
            self._push()
        else:
            self._schedule(due)

    def _push(self) -> None:
        self._last_push = self._clock()
        with self._bar.hold_sync():
            self._bar.value = self._bar_value()
            self._bar.bar_style = _STYLE.get(self.phase, "info")
            if self.indeterminate:
                self._bar.add_class(_INDETERMINATE)
            else:
                self._bar.remove_class(_INDETERMINATE)
        self._label.value = self._label_html()
        if self.final:
            self._cancel_timer()
        else:
            self._schedule(self.tick)

    @property
    def indeterminate(self) -> bool:
        """Whether the job lives with no percent known (the bar slides instead of filling)."""
        return not self.final and self.phase != "downloading" and self.percent is None

    def _bar_value(self) -> int:
        if self.phase in ("downloading", "done", "failed", "interrupted"):
            return 100  # a failure fills the bar red even before any percent arrived
        return self.percent or 0

    def _schedule(self, delay: float) -> None:
        due = self._clock() + delay
        if self._timer is not None and self._timer_due <= due:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (plain Python): updates happen on events only
            return
        self._cancel_timer()
        # A copy of the context, never the one a cell runs in: ipykernel 7 runs every cell in
        # one shared Context, and nest_asyncio2 defers its handles until a blocking cell ends.
        timer = loop.call_later(delay, self._on_timer, context=contextvars.copy_context())
        self._timer, self._timer_due = timer, due

    def _on_timer(self) -> None:
        self._timer = None
        if not self.final:
            self._push()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def close(self) -> None:
        """Stop the clock (the job ended without a final event)."""
        self._cancel_timer()

    def close_widgets(self) -> None:
        """Stop the clock and close the widgets once a static copy replaced them."""
        self._cancel_timer()
        close_tree(self.widget)

    # -- text -------------------------------------------------------------------------------

    def _parts(self) -> list[str]:
        parts = [self._phase_text(), _elapsed(self._clock() - self._started)]
        estimate = self._estimate()
        if estimate:
            parts.append(estimate)
        return parts

    def _phase_text(self) -> str:
        if self.phase == "retrying":
            left = round(max(0.0, (self.retry_at or 0) - self._clock()))
            key = "phase.rate_limited" if self.retry_status == "429" else "phase.retrying"
            return t(key, seconds=left, status=self.retry_status or "")
        text = t(f"phase.{self.phase}")
        if self.phase == "generating" and self.percent is not None:
            text += f" {self.percent} %"
        elif self.phase == "downloading" and self.fraction is not None:
            text += f" {round(self.fraction * 100)} %"
        return text

    def _estimate(self) -> str | None:
        """Time left from the observed rate once the percent moved; before that, the usual."""
        if self.final or self.phase == "downloading":
            return None
        if self._first_percent is not None and self.percent is not None:
            since, base = self._first_percent
            moved, spent = self.percent - base, self._clock() - since
            if moved > 0 and spent > 0:
                return t("eta.left", time=_elapsed((100 - self.percent) * spent / moved))
        if self.percent:
            return None  # one percent seen: no rate yet, and the usual time no longer fits
        if self.typical:
            return t("eta.typical", time=_elapsed(max(1.0, self.typical)))
        return t("eta.range")

    def summary(self) -> str:
        """One plain line: what the saved notebook shows when widgets cannot render."""
        parts = ["sora", *self._parts()]
        if self.task_id:
            parts.append(self.task_id)
        text = " · ".join(parts)
        failed = self.reason and self.phase == "failed"
        return f"{text} — {sentence_plain(self.reason or '')}" if failed else text

    def _label_html(self) -> str:
        parts = [html.escape(p) for p in self._parts()]
        parts[0] = f"<b>{parts[0]}</b>"
        if self.task_id:
            task = f"<code>{html.escape(self.task_id)}</code>"
            # The relay's link: http(s) only, never javascript:, and never a loopback address
            # that is dead wherever the saved notebook is opened.
            href = public_url(self.preview_url)
            if href:
                task = f'<a href="{html.escape(href)}" target="_blank" rel="noopener">{task}</a>'
            parts.append(task)
        text = " · ".join(parts)
        if self.reason and self.phase == "failed":
            reason = sentence_html(self.reason)
            text += f'<br><span style="color:var(--jp-error-color1,#c62828)">{reason}</span>'
        return f'<span class="sora-nb-progress">{text}</span>'

    def static_bundle(self) -> dict[str, Any]:
        """The view as it is now, as plain HTML and text: no widget, no kernel needed."""
        style = _STYLE.get(self.phase, "info")
        width = self._bar_value()
        # Classes and inline styles only: a sanitizer (an untrusted notebook) drops data-*.
        bar = (
            '<div class="sora-nb-static-bar" style="display:inline-block;width:16em;'
            "height:18px;vertical-align:middle;margin-right:8px;"
            'background-color:#e0e0e0;border-radius:2px;overflow:hidden">'
            f'<div style="width:{width}%;height:18px;background-color:{_FILL[style]}"></div></div>'
        )
        html_text = (
            f'<div class="sora-nb-progress-static sora-nb-phase-{self.phase}">'
            f"{bar}{self._label_html()}</div>"
        )
        return {"text/html": html_text, "text/plain": self.summary()}

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle: dict[str, Any] = self.widget._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = self.summary()
        return bundle


_channel: list[widgets.Widget] = []


def open_widget_channel() -> None:
    """Open one widget comm now, while ``%load_ext`` runs, not in the first ``%%sora`` cell.

    JupyterLab 4 creates a kernel subshell for widget comms when it sees the first one, and
    takes the subshell's own busy/idle as the kernel's status: a cell that opens the first
    widget of a kernel reads "Idle" while it blocks (docs/notebook.md, "Busy means busy").
    The widget carries the bar's CSS, so it is not dead weight.
    """
    if not _channel:
        _channel.append(widgets.HTML(_CSS, layout=widgets.Layout(display="none")))


def close_tree(widget: widgets.Widget) -> None:
    """Close ``widget`` with its children, layouts and styles."""
    # A widget's layout and style are models of their own that its close() leaves open, in
    # the kernel and in the browser: every finished job would leave a dozen behind.
    for child in getattr(widget, "children", ()):
        close_tree(child)
    for part in (getattr(widget, "layout", None), getattr(widget, "style", None)):
        if isinstance(part, widgets.Widget):
            part.close()
    widget.close()
