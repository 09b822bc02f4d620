"""The studio: a prompt, an image you can see, jobs side by side, and the session's gallery.

One source of truth: the panel draws the Session's turns and subscribes to it, so turns made,
resumed or failed from cells, the API or another panel appear here as they change. Each job
is a task on the kernel's loop (a click callback cannot block) with its own row, progress and
Cancel. Tasks never write with ``with output:`` (it lands in whatever cell runs then): they
set widget values, or update the studio's own display by id (docs/notebook.md, "The studio").
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import ipywidgets as widgets
from IPython import get_ipython
from IPython.display import display

from .._exceptions import InvalidRequest, SoraError
from ..records._ask import Ask
from ..records._request import MODELS, validate_prompt
from ..records._turn import Turn
from ..records._video import Video
from ..render._render import _clip, _duration, _video_html, local_url, safe_url
from ..session._history import Session
from ._gallery import Actions, Gallery, download_html, lineage, style_html
from ._i18n import t
from ._labels import label
from ._magic import VIEW_COMMANDS, SoraMagics, magics_for
from ._output import Kind, describe, message_bundle
from ._progress import ProgressView, close_tree

__all__ = ["Panel", "panel"]

logger = logging.getLogger("sora_nb")

_MUTED = "color:var(--jp-ui-font-color2, #6b6b6b);font-size:12px"
# Seconds between two rewrites of the static record (tqdm's mininterval): it carries every
# video this studio made, so jobs ending together must not each send a longer copy of it.
RECORD_EVERY = 0.5


class JobRow:
    """One running job: what was asked, its progress, and Cancel (Close once it ended)."""

    def __init__(self, prompt: str) -> None:
        self.progress = ProgressView(start=True)
        self.title = widgets.HTML(
            f'<span style="white-space:nowrap">{html.escape(_clip(prompt, 48))}</span>',
            layout=widgets.Layout(width="18em", overflow="hidden"),
        )
        self.button = widgets.Button(description=label("cancel"), icon="stop")
        self.button.add_class("sora-nb-cancel")
        self.widget = widgets.HBox([self.title, self.progress.widget, self.button])
        self.widget.add_class("sora-nb-job")
        self.task: asyncio.Task[None] | None = None

    def ended(self) -> None:
        """The job stopped short: the row stays, red or orange, until closed."""
        self.progress.close()
        self.button.description, self.button.icon = label("close"), "times"


class Panel:
    """The studio's widgets; display it (or its ``widget``) in a notebook or with Voilà."""

    def __init__(self, magics: SoraMagics) -> None:
        self._magics = magics
        self._rows: list[JobRow] = []
        self._made: list[int] = []  # turns this studio made, for the static record
        self._record: Any = None  # the display handle of that record
        self._record_at = float("-inf")  # when it was last rewritten (the loop's clock)
        self._record_due: asyncio.TimerHandle | None = None  # a rewrite waiting its turn
        self._record_parts: dict[int, tuple[Video, str]] = {}  # each video's HTML in it
        self._watched: Session | None = None
        self._unsubscribe: Any = None
        self._shown: str | None = None  # the local copy the player plays
        self._downloads = 0
        self._build_inputs(magics)
        self.gallery = Gallery(Actions(self.select, self.resume, self.download))
        self.downloader = widgets.HTML(layout=widgets.Layout(display="none"))
        self.jobs = widgets.VBox()
        self.message = widgets.HTML()
        self.player = widgets.Box(layout=widgets.Layout(max_width="100%"))
        self.details = widgets.HTML(f'<div style="{_MUTED}">{label("nothing_selected")}</div>')
        self.widget = self._layout()
        self._session()  # subscribes, draws the turns, shows the latest video

    def _build_inputs(self, magics: SoraMagics) -> None:
        self.prompt = widgets.Textarea(
            placeholder=f"{t('panel.prompt')} ({label('shortcut')})",
            layout=widgets.Layout(width="100%", height="5em"),
        )
        # Model names are free (docs/dialects.md): the configured one is offered too.
        models = list(dict.fromkeys([*MODELS, magics.model]))
        self.model = widgets.Dropdown(
            options=models, value=magics.model, description=t("panel.model")
        )
        shapes = [(t(f"panel.{key}"), key) for key in ("portrait", "landscape")]
        self.orientation = widgets.Dropdown(
            options=[(t("panel.auto"), ""), *shapes],
            value=magics.orientation or "",
            description=t("panel.orientation"),
        )
        self.image = widgets.FileUpload(
            accept="image/*", multiple=False, description=label("image")
        )
        self.preview = widgets.Image(layout=widgets.Layout(max_height="64px", display="none"))
        self.clear_image = widgets.Button(description=label("clear_image"), icon="times")
        self.generate = widgets.Button(description=label("generate"), button_style="primary")
        self.generate.add_class("sora-nb-generate")
        self.edit = widgets.Button(description=label("edit"), icon="pencil")
        self.edit.add_class("sora-nb-edit")
        self.generate.on_click(lambda _: self.start(edit=False))
        self.edit.on_click(lambda _: self.start(edit=True))
        self.clear_image.on_click(lambda _: self._clear_image())
        self.prompt.observe(lambda _: self._sync_buttons(), names="value")
        self.image.observe(lambda _: self._show_image(), names="value")

    def _layout(self) -> widgets.VBox:
        inputs = widgets.HBox(
            [self.model, self.orientation, self.image, self.preview, self.clear_image],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
        )
        viewer = widgets.VBox(
            [self.player, self.details], layout=widgets.Layout(flex="1 1 320px", min_width="0")
        )
        self.gallery.widget.layout = widgets.Layout(flex="1 1 360px", min_width="0")
        body = widgets.HBox(
            [self.gallery.widget, viewer], layout=widgets.Layout(flex_flow="row wrap")
        )
        box = widgets.VBox(
            [
                widgets.HTML(style_html()),
                self.prompt,
                inputs,
                widgets.HBox([self.generate, self.edit]),
                self.jobs,
                self.message,
                body,
                self.downloader,
            ]
        )
        box.add_class("sora-nb-studio")
        self._sync_buttons()
        return box

    # -- the session it observes ---------------------------------------------------------------

    def _session(self) -> Session:
        """The magic's configured session; a new one (``%sora config --session``) is followed."""
        session = self._magics.get_session()
        if session is not self._watched:
            if self._unsubscribe is not None:
                self._unsubscribe()
            self._watched, self._unsubscribe = session, session.subscribe(self._changed)
            self._changed(session)
        return session

    def _changed(self, session: Session) -> None:
        """Every change to the turns, from any caller: redraw what changed."""
        turns = session.turns
        selected = self.gallery.selected
        self.gallery.show(turns)
        if selected is not None and self.gallery.selected is None:  # cleared
            self.player.children, self.details.value = (), ""
            self._shown = None
        elif selected is not None and turns[selected].local_path != self._shown:
            self.select(selected, autoplay=False)  # its local copy arrived: play that
        elif self.gallery.selected is None:  # something finished elsewhere: show it
            copies = session.download and session.save_dir is not None
            ready = [t for t in turns if t.status == "done" and (t.local_path or not copies)]
            if ready:  # once its local copy is there: the relay's link may be unreachable
                self.select(ready[-1].index, autoplay=False)
        self._sync_buttons()

    def close(self) -> None:
        """Stop observing the session and close the widgets."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._record_due is not None:
            self._record_due.cancel()
        self.widget.close()

    # -- display -------------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle: dict[str, Any] = self.widget._repr_mimebundle_(**kwargs)
        turns = self._watched.turns if self._watched is not None else []
        bundle["text/plain"] = f"sora_nb studio: {len(turns)} turns (a live widget)"
        return bundle

    def _ipython_display_(self) -> None:
        # The widget lives only while the kernel does; the record above it is plain HTML the
        # saved notebook keeps: every video this studio made (issue 11, "static record").
        self._record = display(self._record_bundle(), raw=True, display_id=True)
        display(self._repr_mimebundle_(), raw=True)

    def _record_bundle(self) -> dict[str, Any]:
        videos, parts = [], []
        for index in self._made:
            part = self._record_part(index)
            if part is not None:
                videos.append(part[0])
                parts.append(part[1])
        if not videos:
            return {"text/plain": ""}
        summary = html.escape(label("record", n=len(videos)))
        plain = "\n".join(f"#{v.turn} {v.prompt}" for v in videos)
        return {
            "text/html": f'<details class="sora-nb-record"><summary>{summary}</summary>'
            f"{''.join(parts)}</details>",
            "text/plain": f"{label('record', n=len(videos))}\n{plain}",
        }

    def _record_part(self, index: int) -> tuple[Video, str] | None:
        """Turn ``index``'s video in the record, rendered once per version of the video.

        Its inline poster is a WebP encode: done as each job ends, not for 20 videos in one
        rewrite. Only the HTML: the full mime bundle would also encode a PNG thumbnail
        (docs/notebook.md, "The studio").
        """
        turns = self._session().turns
        video = turns[index].video if index < len(turns) else None
        if video is None:
            return None
        cached = self._record_parts.get(index)
        if cached is None or cached[0] != video:
            cached = self._record_parts[index] = (video, _video_html(video))
        return cached

    # -- jobs ----------------------------------------------------------------------------------

    def start(self, *, edit: bool) -> asyncio.Task[None] | None:
        """What Generate / Edit selected do: check the inputs, then run the job as a task."""
        try:
            session = self._session()
            base = self._base(session) if edit else None
            ask = self._ask()
        except SoraError as exc:
            self._say(describe(exc))
            return None
        row = JobRow(ask.prompt)
        if base is not None:
            job = session.edit(base, ask, on_event=row.progress.handle)
        else:
            job = session.generate(ask, on_event=row.progress.handle)
        return self._launch(row, job)

    def resume(self, index: int) -> asyncio.Task[None] | None:
        """What a tile's Resume does: collect the interrupted turn in place, in its own row."""
        session = self._session()
        turn = session.turns[index]
        if turn.status != "interrupted" or not turn.task_id:
            self._say(label("resumed_elsewhere"), "warning")
            return None
        row = JobRow(turn.prompt)
        return self._launch(row, session.resume(index, on_event=row.progress.handle))

    def _launch(self, row: JobRow, job: Coroutine[Any, Any, Video]) -> asyncio.Task[None]:
        loop = asyncio.get_running_loop()  # the kernel's: clicks arrive through it
        self._say("")
        self._rows.append(row)
        self.jobs.children = [r.widget for r in self._rows]
        row.task = loop.create_task(self._run(row, job))
        row.button.on_click(lambda _: self._cancel_or_close(row))
        return row.task

    def _cancel_or_close(self, row: JobRow) -> None:
        if row.task is not None and not row.task.done():
            row.task.cancel()  # the turn is kept, interrupted, with a Resume button
        else:
            self._drop(row)

    def _drop(self, row: JobRow) -> None:
        if row in self._rows:
            self._rows.remove(row)
            self.jobs.children = [r.widget for r in self._rows]
            close_tree(row.widget)  # with its children, layouts and styles

    async def _run(self, row: JobRow, job: Coroutine[Any, Any, Video]) -> None:
        try:
            video = await job
        except SoraError as exc:
            row.progress.fail(describe(exc))
            row.ended()
        except asyncio.CancelledError:
            row.progress.interrupt(None)
            row.ended()
            raise
        except Exception as exc:  # a bug: say so here, where the person is looking
            logger.exception("sora_nb studio job failed")
            row.progress.fail(repr(exc))
            row.ended()
        else:
            row.progress.finish()
            self._drop(row)
            if video.turn is not None:
                self._made.append(video.turn)
                self._record_part(video.turn)  # now, while this job ends (see there)
                # Play it, unless more of this studio's jobs are still running: 20 jobs that
                # end together would flip the player through 20 videos. The last one plays.
                busy = any(r.task is not None and not r.task.done() for r in self._rows)
                shown = (self.gallery.selected, self._shown) == (video.turn, video.local_path)
                if not shown and (not busy or self.gallery.selected is None):
                    self.select(video.turn)
            self._update_record()

    def _update_record(self) -> None:
        """Rewrite the record at once, or once RECORD_EVERY has passed since the last time.

        A lone job's video is in the record as soon as it ends; 20 jobs ending within a second
        cost a couple of rewrites, not 20 ever-longer ones (docs/notebook.md, "The studio").
        """
        if self._record is None or self._record_due is not None:
            return
        loop = asyncio.get_running_loop()
        wait = self._record_at + RECORD_EVERY - loop.time()
        if wait > 0:
            self._record_due = loop.call_later(wait, self._write_record)
        else:
            self._write_record()

    def _write_record(self) -> None:
        self._record_due = None
        self._record_at = asyncio.get_running_loop().time()
        self._record.update(self._record_bundle(), raw=True)

    def _base(self, session: Session) -> int:
        selected = self.gallery.selected
        if selected is None:
            raise InvalidRequest(t("error.nothing_to_edit"))
        session.video(selected)  # refuses a turn that has no video, in one sentence
        return selected

    def _ask(self) -> Ask:
        upload = self.image.value
        return Ask.build(
            validate_prompt(self.prompt.value),  # the empty prompt is the first thing said
            model=self.model.value,
            orientation=self.orientation.value or None,
            image=bytes(upload[0]["content"]) if upload else None,
        )

    # -- selection -----------------------------------------------------------------------------

    def select(self, index: int, *, autoplay: bool = True) -> None:
        """Play turn ``index``, show its prompt and lineage; it becomes the base of an edit."""
        turns = self._session().turns
        if not 0 <= index < len(turns) or turns[index].status != "done":
            return
        turn = turns[index]
        self.gallery.select(index)
        old = self.player.children
        self.player.children = [self._player(turn, autoplay)]
        self._shown = turn.local_path
        for child in old:
            close_tree(child)
        self.details.value = _details_html(turns, index)
        self._sync_buttons()

    @staticmethod
    def _player(turn: Turn, autoplay: bool) -> widgets.Widget:
        layout = widgets.Layout(max_width="100%", max_height="480px")
        path = turn.local_path
        if path and local_url(path):
            # The bytes go over the widget's comm: no file URL to serve, so Voilà, Binder and
            # JupyterHub play it exactly as JupyterLab does.
            data = Path(path).read_bytes()
            return widgets.Video(
                value=data, format="mp4", autoplay=autoplay, loop=False, controls=True,
                layout=layout,
            )  # fmt: skip
        src = safe_url(turn.video_url)
        note = f'<div style="{_MUTED}">{html.escape(label("no_local_copy"))}</div>'
        if src is None:
            return widgets.HTML(note)
        return widgets.HTML(f'{note}<video controls src="{html.escape(src)}"></video>')

    def download(self, index: int) -> None:
        """What a tile's Download does: the browser saves the local mp4."""
        path = self._session().turns[index].local_path
        if path and local_url(path):
            self._downloads += 1
            self.downloader.value = download_html(path, self._downloads)

    # -- inputs --------------------------------------------------------------------------------

    def _show_image(self) -> None:
        upload = self.image.value
        if upload:
            self.preview.value = bytes(upload[0]["content"])
            self.preview.layout.display = None
        else:
            self.preview.layout.display = "none"
            self.preview.value = b""
        self._sync_buttons()

    def _clear_image(self) -> None:
        self.image.value = ()  # the next video is made from the prompt alone

    def _sync_buttons(self) -> None:
        """Enable a button only when a click on it can act."""
        has_prompt = bool(self.prompt.value.strip())
        self.generate.disabled = not has_prompt
        selected = self.gallery.selected if hasattr(self, "gallery") else None
        turns = self._watched.turns if self._watched is not None else []
        video = turns[selected].video if selected is not None and selected < len(turns) else None
        self.edit.disabled = not (has_prompt and video is not None and video.remixable)
        self.clear_image.disabled = not self.image.value
        self.clear_image.layout.display = None if self.image.value else "none"

    def _say(self, text: str, kind: Kind = "error") -> None:
        self.message.value = message_bundle(text, kind)["text/html"] if text else ""


def _details_html(turns: list[Turn], index: int) -> str:
    turn = turns[index]
    chain = " → ".join(
        f"<b>#{step.index}</b> {html.escape(_clip(step.prompt, 40))}"
        for step in lineage(turns, index)
    )
    facts = [turn.model, turn.orientation or "", turn.task_id or ""]
    if turn.elapsed is not None:
        facts.append(_duration(turn.elapsed))
    image = ""
    source = safe_url(turn.image)
    if turn.image:
        picture = f'<img src="{html.escape(source)}" style="max-height:48px"> ' if source else ""
        image = f'<div class="sora-nb-from-image">{picture}{html.escape(label("from_image"))}</div>'
    return (
        f'<div class="sora-nb-details"><div style="white-space:pre-wrap;overflow-wrap:anywhere">'
        f"{html.escape(turn.prompt)}</div>{image}"
        f'<div style="{_MUTED}">{html.escape(label("lineage"))}: {chain}</div>'
        f'<div style="{_MUTED}">{html.escape(" · ".join(f for f in facts if f))}</div></div>'
    )


def panel() -> Panel:
    """The studio (prompt, image, jobs, the session's gallery by lineage, a player).

    Show it as a cell's last expression: ``sora_nb.panel()``. It drives and observes the same
    session as ``%%sora``, with the same settings.
    """
    shell = get_ipython()
    if shell is None:
        raise RuntimeError(t("panel.needs_ipython"))
    return Panel(magics_for(shell))


def _panel_command(magics: SoraMagics, rest: str) -> None:
    """``%sora panel``."""
    display(Panel(magics))


VIEW_COMMANDS["panel"] = _panel_command
