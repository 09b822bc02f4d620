"""A live progress view for one job: phase, percent, elapsed time and the task's link.

Events come as fast as the relay streams them (one per echoed character at worst), so
``handle()`` only records state; the widgets are written at most every ``min_interval``
seconds, like tqdm's ``mininterval``, except on a phase change and the final state. A
timer flushes the last held state and keeps the elapsed clock moving between events.
"""

from __future__ import annotations

import asyncio
import contextvars
import html
import time
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from .._events import Event, JobEvent
from .._render import safe_url
from ._i18n import t

__all__ = ["ProgressView"]

_FINAL = ("done", "failed", "interrupted")
_STYLE = {"done": "success", "failed": "danger", "interrupted": "warning"}


def _elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
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
        self.widget = widgets.HBox([self._bar, self._label])
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
        before = self.phase
        self._record(event)
        if self.phase != before or self.final:
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
        elif event.type == "completed":
            self.percent = 100
        elif event.type == "failed":
            self.phase, self.reason, self._relay_said = "failed", event.reason, True
            self.task_id = self.task_id or event.task_id

    def _record_job(self, event: JobEvent) -> None:
        self.phase = event.phase
        if event.phase == "downloading":
            self.fraction = event.fraction
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
        self._label.value = self._label_html()
        if self.final:
            self._cancel_timer()
        else:
            self._schedule(self.tick)

    def _bar_value(self) -> int:
        if self.phase == "downloading" or self.phase == "done":
            return 100
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

    # -- text -------------------------------------------------------------------------------

    def _parts(self) -> list[str]:
        parts = [t(f"phase.{self.phase}")]
        if self.phase == "generating" and self.percent is not None:
            parts[0] += f" {self.percent} %"
        elif self.phase == "downloading" and self.fraction is not None:
            parts[0] += f" {round(self.fraction * 100)} %"
        parts.append(_elapsed(self._clock() - self._started))
        return parts

    def summary(self) -> str:
        """One plain line: what the saved notebook shows when widgets cannot render."""
        parts = ["sora", *self._parts()]
        if self.task_id:
            parts.append(self.task_id)
        text = " · ".join(parts)
        return f"{text} — {self.reason}" if self.reason and self.phase == "failed" else text

    def _label_html(self) -> str:
        parts = [html.escape(p) for p in self._parts()]
        parts[0] = f"<b>{parts[0]}</b>"
        if self.task_id:
            task = f"<code>{html.escape(self.task_id)}</code>"
            href = safe_url(self.preview_url)  # the relay's link: http(s) only, never javascript:
            if href:
                task = f'<a href="{html.escape(href)}" target="_blank" rel="noopener">{task}</a>'
            parts.append(task)
        text = " · ".join(parts)
        if self.reason and self.phase == "failed":
            reason = html.escape(self.reason)
            text += f'<br><span style="color:var(--jp-error-color1,#c62828)">{reason}</span>'
        return f'<span class="sora-nb-progress">{text}</span>'

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle: dict[str, Any] = self.widget._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = self.summary()
        return bundle
