"""ProgressView: what the person sees, and how few messages it costs the
frontend.
"""

from __future__ import annotations

import asyncio
import html
import re
from typing import Any

import pytest

from sora_nb import (
    CompletedEvent,
    EchoEvent,
    FailedEvent,
    JobEvent,
    ProgressEvent,
    SoraClient,
    StatusEvent,
    TaskEvent,
    TextEvent,
)
from sora_nb.notebook import _i18n
from sora_nb.notebook._progress import FILL, ProgressView

TASK = TaskEvent("task_01k7e5w9z5f2d91pekrqy59rwc", "https://relay.test/web/task_1", None)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _english() -> Any:
    _i18n.set_language("en")
    yield
    _i18n.set_language("auto")


def count_messages(view: ProgressView) -> list[dict[str, Any]]:
    """Record every comm message the view's one widget model would send to the
    frontend.
    """
    sent: list[dict[str, Any]] = []
    assert view.widget is not None
    view.widget.comm.send = lambda data=None, **kw: sent.append(data)
    return sent


def shown(view: ProgressView) -> str:
    """What the live card shows: the HTML its one model carries."""
    assert view.widget is not None
    return view.widget.html


def words(view: ProgressView) -> str:
    """The card's text as a person reads it (the browser's clocks show the same
    numbers).
    """
    return html.unescape(re.sub(r"<[^>]+>", "", shown(view)))


def bar(view: ProgressView) -> tuple[int, str]:
    """The bar's fill (percent) and colour, as the card draws them."""
    match = re.search(
        r'sora-nb-fill" style="width:(\d+)%;height:18px;background-color:(#\w+)', shown(view)
    )
    assert match, shown(view)
    colour = {v: k for k, v in FILL.items()}[match[2]]
    return int(match[1]), {
        "done": "success",
        "failed": "danger",
        "interrupted": "warning",
        "live": "info",
    }[colour]


def transcript_events(n: int) -> list[Any]:
    """A stream that echoes one character per chunk: hundreds of events, few
    state changes.
    """
    events: list[Any] = [JobEvent("sending"), EchoEvent("a cow", "portrait", None, {}), TASK]
    events += [TextEvent("x")] * n
    events.append(StatusEvent("queued"))
    events += [TextEvent(".")] * n
    events.append(StatusEvent("generating"))
    events += [ProgressEvent(p) for p in range(1, 100)]
    events.append(CompletedEvent("s_1", None, "https://relay.test/v.mp4"))
    return events


def test_progress_view_throttles_a_character_by_character_stream() -> None:
    clock = FakeClock()
    view = ProgressView(clock=clock)
    sent = count_messages(view)
    events = transcript_events(400)
    for event in events:
        clock.now += 0.001  # a fast stream: 1 ms between chunks
        view.handle(event)
    view.handle(JobEvent("done"))
    assert len(events) > 900
    assert len(sent) < 20
    assert bar(view)[0] == 100
    assert bar(view)[1] == "success"


def test_progress_view_pushes_phase_changes_at_once() -> None:
    clock = FakeClock()
    view = ProgressView(clock=clock)
    view.handle(TASK)
    view.handle(StatusEvent("queued"))
    assert "queued" in shown(view)
    view.handle(ProgressEvent(36))
    assert "generating 36 %" in shown(view)
    assert bar(view)[0] == 36
    view.handle(ProgressEvent(44))  # same instant, same phase: held back
    assert bar(view)[0] == 36
    clock.now += 0.5
    view.handle(ProgressEvent(61))
    assert bar(view)[0] == 61


def test_progress_view_shows_the_task_and_its_preview_link() -> None:
    view = ProgressView(clock=FakeClock())
    view.handle(TASK)
    view.handle(StatusEvent("generating"))
    assert TASK.task_id in shown(view)
    assert 'href="https://relay.test/web/task_1"' in shown(view)
    assert bar(view)[1] == "info"


def test_progress_view_never_links_a_hostile_preview_url() -> None:
    view = ProgressView(clock=FakeClock())
    view.handle(TaskEvent("task_1", "javascript:alert(1)", None))
    view.handle(StatusEvent("generating"))
    assert "task_1" in shown(view)
    assert "href" not in shown(view) and "javascript" not in shown(view)


def test_progress_view_turns_red_with_the_relays_reason() -> None:
    view = ProgressView(clock=FakeClock())
    view.handle(TASK)
    view.handle(FailedEvent("content policy <violation>", TASK.task_id))
    assert bar(view)[1] == "danger"
    assert "content policy &lt;violation&gt;" in shown(view)
    assert "content policy <violation>" in view.summary()
    view.handle(ProgressEvent(50))  # nothing moves after the end
    assert view.phase == "failed"


def test_progress_view_fail_keeps_the_relays_own_reason() -> None:
    view = ProgressView(clock=FakeClock())
    view.handle(FailedEvent("rejected by moderation", None))
    view.fail("Generation failed: rejected by moderation")
    assert view.reason == "rejected by moderation"
    view2 = ProgressView(clock=FakeClock())
    view2.fail("The relay refused the API key (401).")
    assert bar(view2)[1] == "danger"
    assert "401" in shown(view2)


def test_progress_view_counts_elapsed_time() -> None:
    clock = FakeClock()
    view = ProgressView(clock=clock)
    clock.now += 75
    view.handle(StatusEvent("queued"))
    assert "1:15" in shown(view)
    # The clock goes on in the browser from the instant the job started: no
    # kernel message.
    assert re.search(r'data-since="\d{13}" data-format="clock">1:15<', shown(view))
    view.finish()
    assert "data-since" not in shown(view) and "data-since" not in view.static_bundle()["text/html"]


def test_progress_view_downloading_and_done() -> None:
    clock = FakeClock()
    view = ProgressView(clock=clock)
    view.handle(JobEvent("downloading", fraction=0.5))
    assert "downloading 50 %" in shown(view)
    view.finish()
    assert bar(view)[0] == 100
    assert view.final


def test_progress_view_interrupted_is_orange_with_the_task() -> None:
    view = ProgressView(clock=FakeClock())
    view.handle(TASK)
    view.interrupt(None)
    assert bar(view)[1] == "warning"
    assert view.task_id == TASK.task_id
    assert "interrupted" in view.summary()


def test_progress_view_text_plain_fallback() -> None:
    view = ProgressView(clock=FakeClock())
    view.handle(TASK)
    view.finish()
    bundle = view._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"].startswith("sora · done")
    assert TASK.task_id in bundle["text/plain"]


def test_progress_view_speaks_chinese() -> None:
    _i18n.set_language("zh")
    view = ProgressView(clock=FakeClock())
    view.handle(StatusEvent("queued"))
    assert "排队中" in shown(view)


def test_progress_view_timer_flushes_the_last_held_state() -> None:
    async def scenario() -> ProgressView:
        view = ProgressView(min_interval=0.02)
        view.handle(StatusEvent("generating"))
        for percent in (10, 20, 30):
            view.handle(ProgressEvent(percent))
        held = bar(view)[0]
        await asyncio.sleep(0.06)
        assert held < 30
        view.finish()
        return view

    view = asyncio.run(scenario())
    assert bar(view)[0] == 100
    assert view._timer is None


def test_progress_view_start_resets_for_the_next_job() -> None:
    view = ProgressView(clock=FakeClock(), start=False)
    assert shown(view) == ""
    view.start()
    view.handle(FailedEvent("no", None))
    view.start()
    assert view.phase == "sending"
    assert view.reason is None
    assert bar(view)[1] == "info"


# -- the bar tells the truth at every moment -----------------------------------


def test_progress_view_slides_until_a_percent_is_known() -> None:
    view = ProgressView(clock=FakeClock())
    for event in (JobEvent("sending"), TASK, StatusEvent("queued"), StatusEvent("generating")):
        view.handle(event)
        assert view.indeterminate and "sora-nb-indeterminate" in shown(view)
    view.handle(ProgressEvent(5))
    assert not view.indeterminate and "sora-nb-indeterminate" not in shown(view)
    assert bar(view)[0] == 5
    view.finish()
    assert "sora-nb-indeterminate" not in shown(view)


def test_progress_view_a_failure_before_any_percent_fills_the_bar_red() -> None:
    view = ProgressView(clock=FakeClock())
    view.handle(StatusEvent("queued"))
    view.fail("The relay refused the API key (401).")
    assert bar(view) == (100, "danger")
    assert "sora-nb-indeterminate" not in shown(view)
    static = view.static_bundle()["text/html"]
    assert "width:100%;" in static and "#f44336" in static and "sora-nb-phase-failed" in static


def test_progress_view_counts_down_a_rate_limit_retry() -> None:
    clock = FakeClock()
    view = ProgressView(clock=clock)
    view.handle(JobEvent("retrying", detail="429", delay=3))
    assert "rate limited — retrying in 3 s" in words(view)
    # the browser counts it down
    assert 'data-format="seconds">3</span>' in shown(view)
    clock.now += 1
    view._push()
    assert "rate limited — retrying in 2 s" in words(view)
    view.handle(JobEvent("retrying", detail="503", delay=2))
    assert "the relay answered 503 — retrying in 2 s" in words(view)
    view.handle(JobEvent("sending"))
    assert "retrying" not in words(view)


def test_progress_view_estimates_time_left_from_the_observed_rate() -> None:
    clock = FakeClock()
    view = ProgressView(clock=clock)
    view.typical = 75.0  # a finished video of this model took 1:15 here
    view.handle(StatusEvent("queued"))
    assert "usually 1:15" in words(view)
    view.handle(ProgressEvent(10))
    assert "left" not in words(view) and "usually" not in words(view)
    clock.now += 10
    view.handle(ProgressEvent(20))  # 10 % in 10 s: 80 % to go takes 80 s
    assert "about 1:20 left" in words(view)
    view.finish()
    assert "left" not in words(view)


def test_progress_view_says_the_relays_range_before_any_video_was_timed() -> None:
    view = ProgressView(clock=FakeClock())
    assert "usually 1–30 min" in words(view)
    _i18n.set_language("zh")
    view._push()
    assert "通常需要 1–30 分钟" in words(view)


def test_progress_view_code_in_a_reason_is_html_not_markdown() -> None:
    view = ProgressView(clock=FakeClock())
    view.fail("Interrupted: run `%sora resume task_1` to collect it.")
    assert "<code>%sora resume task_1</code>" in shown(view)
    assert "`" not in shown(view) and "`" not in view.summary()


@pytest.mark.parametrize(("dialect", "cancels"), [("flow2api", True), ("chat", False)])
def test_progress_view_says_stopping_cancels_where_the_relay_does(
    dialect: str, cancels: bool
) -> None:
    client = SoraClient("http://127.0.0.1:9", "k", dialect=dialect)
    # the dialect's word, not the view's
    assert client.cancels_on_disconnect is cancels
    view = ProgressView(clock=FakeClock())
    view.stop_cancels = lambda: client.cancels_on_disconnect
    view.handle(TASK)
    note = "stopping now cancels this video on the relay"
    assert (note in view.html()) is cancels
    # saved: never
    assert note not in view.html(live=False) and note not in view.summary()
    view.finish()
    assert note not in view.html()  # nothing left to cancel


def test_progress_view_note_shows_only_while_the_job_lives() -> None:
    view = ProgressView(clock=FakeClock())
    view.note = "running in the background <here>"
    view.handle(StatusEvent("generating"))  # a phase change: drawn at once
    assert "running in the background <here>" in words(view)
    assert "running in the background" not in view.static_bundle()["text/html"]
    view.finish()
    assert "running in the background" not in shown(view)
