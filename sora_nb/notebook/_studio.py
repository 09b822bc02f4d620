"""The studio: an app in one widget model, drawn by ``static/studio.js``.

One source of truth: the studio draws the Session's turns and subscribes to it,
so turns made, resumed or failed from cells, the API or another studio appear
here as they change. Its state is a few traits (a page of tiles, the running
jobs, the selection, the settings and the models on offer); what a person does
arrives as messages (``{"action": ...}``), and the mp4 a player plays goes back
as a message's binary buffer, so no file URL is needed (Voilà, Binder,
JupyterHub). A job is a task on the kernel's loop (a message handler cannot
block); tasks never write with ``with output:`` (docs/notebook.md, "The
studio").
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import errno
import html
import inspect
import logging
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from IPython.display import display
from traitlets import Bool, Dict, List, Unicode

from .._exceptions import InvalidRequest, SoraError
from ..dialects._catalog import Capabilities, capabilities_for
from ..dialects._shape import model_info
from ..records._ask import Ask, ask_options
from ..records._request import MODELS, image_to_url, validate_prompt
from ..records._turn import Turn
from ..records._video import Video
from ..render._render import _clip, _video_html, local_url
from ..session._history import Session
from . import _magic
from ._i18n import t
from ._icons import ICONS, icon
from ._labels import label
from ._magic import VIEW_COMMANDS, SoraMagics
from ._output import Kind, describe, sentence_plain
from ._progress import ProgressView
from ._run import background_loop, running_loop, start_background
from ._tiles import (
    CONTINUATIONS,
    chain_html,
    details_html,
    exported_html,
    family_order,
    lineage,
    tile_html,
    tree_html,
)
from ._view import Actions, View, asset

__all__ = ["PAGE", "Panel", "Studio", "panel", "studio"]

logger = logging.getLogger("sora_nb")

#: Tiles per page: a studio of 1,000 turns opens with one page, not all.
PAGE = 24
# Seconds between two pushes of the jobs and tiles (tqdm's mininterval): 20
# streaming jobs cost a few messages a second, not one per relay event.
PUSH_EVERY = 0.25
# Seconds between two rewrites of the static record: it carries every video this
# studio made, so jobs ending together must not each send a longer copy of it.
RECORD_EVERY = 0.5
_LABELS = [
    "play",
    "generate",
    "edit",
    "compare",
    "stop_compare",
    "compare_hint",
    "resume",
    "download",
    "copy",
    "copied",
    "cancel",
    "close",
    "drop",
    "end_on",
    "clear_image",
    "image",
    "previous",
    "next",
    "lineage",
    "nothing_selected",
    "shortcut",
    "duration",
    "ratio",
    "resolution",
    "audio",
    "model",
    "prompt",
    "auto",
    "portrait",
    "landscape",
    "empty",
    "export",
    "exporting",
    *(f"continue.{kind}" for kind in CONTINUATIONS),
]


class StudioWidget(View):
    """The studio's one widget model."""

    _esm = asset("common.js", "studio.js")
    _css = asset("views.css", "studio.css")
    words = Dict().tag(sync=True)  # labels and icons, sent once
    models: List[dict[str, Any]] = List().tag(sync=True)  # [{name, controls}]
    settings = Dict().tag(sync=True)  # the chosen model and its controls
    tiles: List[dict[str, Any]] = List().tag(
        sync=True
    )  # the page shown: [{index, html, status, ...}]
    page = Dict().tag(sync=True)  # {number, pages, total}
    # [{id, prompt, html, final}]
    jobs: List[dict[str, Any]] = List().tag(sync=True)
    selected: List[int] = List().tag(sync=True)  # one turn, or two side by side
    # the selection's details and lineage tree, as HTML
    view = Dict().tag(sync=True)
    image = Unicode("").tag(sync=True)  # the attached picture, as a data: URL
    # the picture to end on, where the model takes one
    last_frame = Unicode("").tag(sync=True)
    message = Dict().tag(sync=True)  # {text, kind}
    # a chain's export: {index, state, text, name, html}
    exported = Dict().tag(sync=True)
    app = Bool(False).tag(sync=True)  # Voilà: a page for people who do not code


class Job:
    """One running job: what was asked, its progress, its task."""

    def __init__(self, number: int, prompt: str, on_push: Any) -> None:
        self.id = number
        self.prompt = prompt
        self.progress = ProgressView(on_push=on_push)
        self.task: asyncio.Task[None] | None = None

    def state(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "prompt": _clip(self.prompt, 60),
            "html": self.progress.html(),
            "final": self.progress.final,
        }


class Studio:
    """The studio; display it (or its ``widget``) in a notebook, with Voilà or
    in marimo.
    """

    def __init__(self, magics: SoraMagics, *, app: bool = False) -> None:
        self._magics = magics
        self._jobs: list[Job] = []
        self._serial = 0
        # turns this studio made, for the static record
        self._made: list[int] = []
        self._record: Any = None  # the display handle of that record
        self._record_at = float("-inf")
        self._record_due: asyncio.TimerHandle | None = None
        self._record_parts: dict[int, tuple[Video, str]] = {}
        # each turn's tile, made once a version
        self._tiles: dict[int, tuple[Turn, str]] = {}
        self._image: str | None = None  # the attached picture, as sent
        self._last_frame: str | None = None  # the picture to end on, as sent
        self._watched: Session | None = None
        self._unsubscribe: Any = None
        self._push_due: asyncio.TimerHandle | None = None
        # the last chain exported, for its player
        self._export: Path | None = None
        # exported: name -> (plain, html)
        self._chains: dict[str, tuple[str, str]] = {}
        self._pushed_at = float("-inf")
        self.widget = StudioWidget(app=app)
        self.widget.add_class("sora-nb-studio")
        self.widget.words = _words()
        # the page says where videos come from in words, not a printed address
        if app:
            _magic.quiet_notice()
        # The gateway's model list is fetched as the studio opens; ``listing``
        # is that fetch.
        self.widget.models, self.listing = _models(magics, self._offer_models)
        self.widget.settings = _default_settings(magics, self.widget.models)
        self._actions()
        self._session()  # subscribes, draws the turns, selects the latest video
        if app and magics.client().uses_emulator:
            self.say(label("offline"), "info")

    def _offer_models(self, entries: list[Any]) -> None:
        """The gateway's own model list arrived: offer it, with each model's
        controls.
        """
        models = _models_from(entries, self._magics)
        model = _served(str(self.widget.settings.get("model") or ""), models)
        with self.widget.hold_sync():
            self.widget.models = models
            self.widget.settings = {**self.widget.settings, "model": model}

    def _actions(self) -> None:
        actions = Actions(self.widget)
        actions.on("generate", lambda c, b: self.start(c))
        actions.on("select", lambda c, b: self.select(_int(c.get("index")), add=bool(c.get("add"))))
        actions.on("page", lambda c, b: self.show_page(_int(c.get("number"))))
        actions.on("resume", lambda c, b: self.resume(_int(c.get("index"))))
        actions.on("cancel", lambda c, b: self.cancel(_int(c.get("job"))))
        actions.on("media", lambda c, b: self.send_media(_int(c.get("index"))))
        actions.on("image", lambda c, b: self.attach(b[0] if b else None, c.get("slot")))
        actions.on("clear_image", lambda c, b: self.attach(None, c.get("slot")))
        actions.on("export", lambda c, b: self.export(_int(c.get("index"))))
        actions.on("export_media", lambda c, b: self.send_export())

    # -- the session it observes -----------------------------------------------

    def _session(self) -> Session:
        """The magic's configured session; a new one (``%sora config
        --session``) is followed.
        """
        session = self._magics.get_session()
        if session is not self._watched:
            if self._unsubscribe is not None:
                self._unsubscribe()
            self._watched, self._unsubscribe = session, session.subscribe(self._changed)
            self._changed(session)
        return session

    @property
    def turns(self) -> list[Turn]:
        return self._watched.turns if self._watched is not None else []

    def _changed(self, session: Session) -> None:
        """Every change to the turns, from any caller: redraw the page and the
        selection.
        """
        turns = session.turns
        self._tiles = {i: v for i, v in self._tiles.items() if i < len(turns)}
        selected = [i for i in self.widget.selected if i < len(turns)]
        if not selected and not self._running():
            done = [turn.index for turn in turns if turn.status == "done"]
            selected = done[-1:]  # something finished elsewhere: show it
        self._set_selection(selected)
        self._request_push()

    def close(self) -> None:
        """Stop observing the session and close the widget."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for timer in (self._record_due, self._push_due):
            if timer is not None:
                timer.cancel()
        self.widget.close()

    # -- what is shown ---------------------------------------------------------

    def _page_state(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        order = family_order(self.turns)
        pages = max(1, -(-len(order) // PAGE))
        number = min(max(0, int(self.widget.page.get("number", 0))), pages - 1)
        shown = order[number * PAGE : (number + 1) * PAGE]
        tiles = [self._tile(turn, depth) for turn, depth in shown]
        return tiles, {"number": number, "pages": pages, "total": len(order)}

    def _tile(self, turn: Turn, depth: int) -> dict[str, Any]:
        cached = self._tiles.get(turn.index)
        if cached is None or cached[0] != turn:
            cached = self._tiles[turn.index] = (turn, tile_html(turn))
        video = turn.video
        return {
            "index": turn.index,
            "html": cached[1],
            "status": turn.status,
            "depth": depth,
            "playable": turn.status == "done",
            "remixable": bool(video is not None and video.remixable),
            "resumable": turn.status == "interrupted" and bool(turn.task_id),
            "downloadable": bool(turn.status == "done" and local_url(turn.local_path)),
            "prompt": turn.prompt,
        }

    def show_page(self, number: int) -> None:
        """What the pager does: show page ``number`` of the gallery."""
        self.widget.page = {**self.widget.page, "number": number}
        self._push()

    def _running(self) -> bool:
        return any(job.task is not None and not job.task.done() for job in self._jobs)

    def _request_push(self) -> None:
        """Push now, or once PUSH_EVERY has passed since the last push (one
        timer at most).
        """
        if self._push_due is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        # built outside a loop (a test, a script): push at once
        except RuntimeError:
            self._push()
            return
        wait = self._pushed_at + PUSH_EVERY - loop.time()
        if wait <= 0:
            self._push()
        # a fresh context: ipykernel runs every cell in one shared Context
        else:
            ctx = contextvars.copy_context()
            self._push_due = loop.call_later(wait, self._push, context=ctx)

    def _push(self) -> None:
        self._push_due = None
        with contextlib.suppress(RuntimeError):  # no loop: a test or a script
            self._pushed_at = asyncio.get_running_loop().time()
        tiles, page = self._page_state()
        with self.widget.hold_sync():  # one message for all that changed
            if tiles != self.widget.tiles:
                self.widget.tiles = tiles
            if page != self.widget.page:
                self.widget.page = page
            jobs = [job.state() for job in self._jobs]
            if jobs != self.widget.jobs:
                self.widget.jobs = jobs

    # -- selection -------------------------------------------------------------

    def select(self, index: int, *, add: bool = False) -> None:
        """Show turn ``index`` (with ``add``, beside the one shown: compare the
        two).
        """
        turns = self.turns
        if not 0 <= index < len(turns) or turns[index].status != "done":
            return
        current = list(self.widget.selected)
        chosen = [current[0], index] if add and current and current[0] != index else [index]
        self._set_selection(chosen)

    def _set_selection(self, chosen: list[int]) -> None:
        turns = self.turns
        with self.widget.hold_sync():
            if chosen != self.widget.selected:
                self.widget.selected = chosen
            view: dict[str, Any] = {}
            if chosen:
                last = turns[chosen[-1]]
                offers, why_not = self._offers(last)
                view = {
                    "details": [details_html(turns[i]) for i in chosen],
                    "tree": tree_html(turns, chosen[-1]),
                    # the continuations its model offers, named so
                    "offers": offers,
                    # or the one sentence why it offers none
                    "why_not": why_not,
                    "chain": last.parent is not None and last.status == "done",
                }
            if view != self.widget.view:
                self.widget.view = view

    def _offers(self, turn: Turn) -> tuple[list[str], str]:
        """How ``turn`` can be continued, as its model offers here (the client's
        word, the magic's ``--how``), or the one sentence that says why it
        cannot be.
        """
        video = turn.video
        if turn.status != "done" or video is None:
            return [], ""
        try:
            offered = self._session().client.continuations(video.model)
        # a gateway not recognised yet: what to set, in one sentence
        except SoraError as exc:
            return [], sentence_plain(describe(exc))
        kinds = [kind for kind in offered if kind in CONTINUATIONS]
        if not kinds:
            return [], label("no_continuation", model=video.model)
        if not video.remixable:
            return [], sentence_plain(t("history.no_sid", index=turn.index))
        return kinds, ""

    def _how(self, turn: Turn, wanted: object) -> str:
        """The continuation to send: the one asked for if the model offers it,
        else its first; refused in one sentence before anything is sent.
        """
        kinds, why_not = self._offers(turn)
        if not kinds:
            raise InvalidRequest(why_not or t("error.nothing_to_edit"))
        if wanted in (None, ""):
            return kinds[0]
        if wanted not in kinds:
            named = label(f"how.{wanted}") if wanted in CONTINUATIONS else str(wanted)
            offered = ", ".join(label(f"how.{kind}") for kind in kinds)
            raise InvalidRequest(
                t("gateway.no_continuation", model=turn.model, kind=named, offered=offered)
            )
        return str(wanted)

    def send_media(self, index: int) -> None:
        """What a player asks for: the mp4's bytes, as a message's binary
        buffer.
        """
        turns = self.turns
        path = turns[index].local_path if 0 <= index < len(turns) else None
        if not path or not local_url(path):
            url = turns[index].video_url if 0 <= index < len(turns) else None
            self.widget.send({"type": "media", "index": index, "url": url or ""})
            return
        data = Path(path).read_bytes()
        self.widget.send(
            {"type": "media", "index": index, "name": Path(path).name, "mime": "video/mp4"},
            buffers=[data],
        )

    # -- jobs ------------------------------------------------------------------

    def start(self, request: dict[str, Any]) -> asyncio.Task[None] | None:
        """What Generate and a turn's continuation (Remix, Edit, Extend,
        Continue from last frame) do: check the inputs, then run the job as a
        task.
        """
        try:
            session = self._session()
            mode = request.get("mode") or "new"
            ask = self._request(request, session)
            base = None
            # last_frame: the older studio's own button
            if mode in ("edit", "last_frame"):
                base = self._base(session, request)
                wanted = request.get("how") or ("last-frame" if mode == "last_frame" else None)
                how = self._how(session.turns[base], wanted)
                ask = dataclasses.replace(ask, model=session.turns[base].model, how=how)
        except SoraError as exc:
            self.say(describe(exc))
            return None
        job = self._new_job(ask.prompt)
        job.progress.stop_cancels = lambda: session.client.cancels_on_disconnect
        if base is not None:
            coro = session.edit(base, ask, on_event=job.progress.handle)
        else:
            coro = session.generate(ask, on_event=job.progress.handle)
        return self._launch(job, coro)

    def resume(self, index: int) -> asyncio.Task[None] | None:
        """What a tile's Resume does: collect the interrupted turn in place, in
        its own row.
        """
        session = self._session()
        turns = session.turns
        turn = turns[index] if 0 <= index < len(turns) else None
        if turn is None or turn.status != "interrupted" or not turn.task_id:
            self.say(label("resumed_elsewhere"), "warning")
            return None
        job = self._new_job(turn.prompt)
        return self._launch(job, session.resume(index, on_event=job.progress.handle))

    def _new_job(self, prompt: str) -> Job:
        self._serial += 1
        return Job(self._serial, prompt, self._request_push)

    def _launch(self, job: Job, coro: Coroutine[Any, Any, Video]) -> asyncio.Task[None]:
        # the kernel's: messages arrive through it
        loop = asyncio.get_running_loop()
        self.say("")
        self._jobs.append(job)
        job.task = loop.create_task(self._run(job, coro))
        self._push()
        return job.task

    def cancel(self, number: int) -> None:
        """What a job's Cancel does (Close, once it ended short)."""
        for job in self._jobs:
            if job.id == number:
                if job.task is not None and not job.task.done():
                    # the turn is kept, interrupted, with a Resume button
                    job.task.cancel()
                else:
                    self._jobs.remove(job)
                    self._push()
                return

    async def _run(self, job: Job, coro: Coroutine[Any, Any, Video]) -> None:
        try:
            video = await coro
        except SoraError as exc:
            job.progress.fail(describe(exc))
        except asyncio.CancelledError:
            job.progress.interrupt(None)
            raise
        # a bug: say so here, where the person is looking
        except Exception as exc:
            logger.exception("sora_nb studio job failed")
            job.progress.fail(repr(exc))
        else:
            job.progress.finish()
            self._jobs.remove(job)
            self._finished(video)
        finally:
            job.progress.close()
            self._request_push()

    def _finished(self, video: Video) -> None:
        if video.turn is None:
            return
        self._made.append(video.turn)
        self._record_part(video.turn)  # now, while this job ends (see there)
        # Show it, unless more of this studio's jobs are still running: 20 jobs
        # that end together would flip the player through 20 videos. The last
        # one shows.
        if not self._running() or not self.widget.selected:
            self.select(video.turn)
        self._update_record()

    def _request(self, request: dict[str, Any], session: Session) -> Ask:
        settings = {**self.widget.settings, **dict(request.get("settings") or {})}
        self.widget.settings = settings
        model = str(settings.get("model") or self._magics.model)
        # Only the controls this model shows: a value left from another model is
        # not sent.
        shown = self._controls_shown(model)
        options = {
            name: settings[name]
            for name in _controls()
            if settings.get(name) not in (None, "", False) and (shown is None or name in shown)
        }
        takes_shape = shown is None or "orientation" in shown
        orientation = settings.get("orientation") if takes_shape else None
        return Ask.build(
            # the empty prompt is said first
            validate_prompt(request.get("prompt")),
            model=model,
            orientation=orientation or None,
            image=self._image,
            last_frame=self._last_frame,
            **options,
        )

    def _controls_shown(self, model: str) -> dict[str, Any] | None:
        """The controls the menu shows for ``model``; None for a name not in the
        menu.
        """
        for offered in self.widget.models:
            if offered["name"] == model:
                return dict(offered["controls"])
        return None

    def _base(self, session: Session, request: dict[str, Any]) -> int:
        selected = request.get("base")
        if selected is None and self.widget.selected:
            selected = self.widget.selected[-1]
        if selected is None:
            raise InvalidRequest(t("error.nothing_to_edit"))
        # refuses a turn that has no video, in one sentence
        session.video(_int(selected))
        return _int(selected)

    # -- a chain exported as one video -----------------------------------------

    def export(self, index: int) -> asyncio.Task[None] | None:
        """What a turn's Export chain does: its chain, first video to it, as one
        mp4.
        """
        session = self._session()
        turns = session.turns
        turn = turns[index] if 0 <= index < len(turns) else None
        if turn is None or turn.status != "done":
            self.say(t("error.nothing_to_edit"))
            return None
        # one clip is not a chain: say so rather than copy it
        if turn.parent is None:
            self.say(label("no_chain", index=index), "info")
            return None
        if self.widget.exported.get("state") == "running":
            # one export at a time: the button is disabled while it runs
            return None
        self.say("")
        self.widget.exported = {"index": index, "state": "running", "text": label("exporting")}
        return asyncio.get_running_loop().create_task(self._exporting(session, index))

    async def _exporting(self, session: Session, index: int) -> None:
        try:
            path = await session.export_chain(index)
        except SoraError as exc:
            self._export_failed(index, describe(exc))
        except OSError as exc:  # PyAV's write errors are OSErrors too
            full = exc.errno == errno.ENOSPC
            reason = exc.strerror or str(exc)
            self._export_failed(
                index, label("disk_full") if full else label("export_failed", reason=reason)
            )
        # a clip PyAV cannot read: say so here, where one looks
        except Exception as exc:
            logger.exception("sora_nb studio export failed")
            self._export_failed(index, label("export_failed", reason=str(exc).rstrip(".")))
        else:
            self._export = path
            self._record_chain(session, index, path)
            self.widget.exported = {
                "index": index,
                "state": "done",
                "name": path.name,
                "text": label("exported", name=path.name),
                "html": chain_html(session.turns, index),
            }

    def _record_chain(self, session: Session, index: int, path: Path) -> None:
        """The saved record keeps the exported chain too: its video and its
        lineage.
        """
        turns = session.turns
        chain = " → ".join(f"#{turn.index}" for turn in lineage(turns, index))
        part = exported_html(turns, index, local_url(str(path)), path.name)
        self._chains[path.name] = (f"{path.name}: {chain}", part)
        self._update_record()

    def _export_failed(self, index: int, sentence: str) -> None:
        text = sentence_plain(sentence)
        self.widget.exported = {"index": index, "state": "failed", "text": text}
        self.say(text)

    def send_export(self) -> None:
        """What the exported chain's player asks for: its mp4, as a message's
        buffer.
        """
        path = self._export
        if path is None or not path.is_file():
            return
        self.widget.send(
            {"type": "media", "index": f"export:{path.name}", "name": path.name,
             "mime": "video/mp4"},
            buffers=[path.read_bytes()],
        )  # fmt: skip

    def attach(self, data: bytes | memoryview | None, slot: object = None) -> None:
        """An image dropped, pasted or chosen: the next video starts from it, or
        with ``slot="last_frame"`` ends on it (None: clear).
        """
        url = None
        if data is not None:
            try:
                url = image_to_url(bytes(data))
            except SoraError:
                self.say(label("not_an_image"))
                return
            self.say("")
        if slot == "last_frame":
            self._last_frame, self.widget.last_frame = url, url or ""
        else:
            self._image, self.widget.image = url, url or ""

    def say(self, text: str, kind: Kind = "error") -> None:
        """One sentence under the prompt, with no markdown and no code in it."""
        self.widget.message = {"text": sentence_plain(text), "kind": kind} if text else {}

    # -- display and the saved record ------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        return self.widget.bundle(f"sora_nb studio: {len(self.turns)} turns (a live widget)")

    def _ipython_display_(self) -> None:
        # The widget lives only while the kernel does; the record above it is
        # plain HTML the saved notebook keeps: every video this studio made.
        self._record = display(self._record_bundle(), raw=True, display_id=True)
        display(self._repr_mimebundle_(), raw=True)

    def _record_bundle(self) -> dict[str, Any]:
        parts = [part for index in self._made if (part := self._record_part(index))]
        if not parts:
            return {"text/plain": ""}
        summary = html.escape(label("record", n=len(parts)))
        lines = [f"#{video.turn} {video.prompt}" for video, _ in parts]
        plain = "\n".join([*lines, *(line for line, _ in self._chains.values())])
        body = "".join([*(part for _, part in parts), *(part for _, part in self._chains.values())])
        return {
            "text/html": f'<details class="sora-nb-record"><summary>{summary}</summary>'
            f'<div style="display:flex;flex-wrap:wrap;gap:8px">{body}</div></details>',
            "text/plain": f"{label('record', n=len(parts))}\n{plain}",
        }

    def _record_part(self, index: int) -> tuple[Video, str] | None:
        """Turn ``index``'s video in the record, rendered once per version of
        the video.

        Its inline poster is a WebP encode: done as each job ends, not for 20
        videos in one rewrite (docs/notebook.md, "The studio").
        """
        turns = self._session().turns
        video = turns[index].video if index < len(turns) else None
        if video is None:
            return None
        cached = self._record_parts.get(index)
        if cached is None or cached[0] != video:
            cached = self._record_parts[index] = (video, _video_html(video))
        return cached

    def _update_record(self) -> None:
        """Rewrite the record at once, or once RECORD_EVERY has passed since the
        last time.
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


Panel = Studio  # the name the studio had before it was one model


def _int(value: object) -> int:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return -1


def _words() -> dict[str, Any]:
    words: dict[str, Any] = {key: label(key) for key in _LABELS}
    words["icons"] = {name: icon(name) for name in ICONS}
    words["page"] = label("page", n="{n}", pages="{pages}")
    words["turns"] = label("turns", n="{n}")
    words["seconds"] = label("seconds", n="{n}")
    return words


def _name_of(entry: object) -> str:
    """A listed model's name: a Capabilities record's ``model``, else the entry
    itself.
    """
    return str(getattr(entry, "model", None) or entry)


def _models(magics: SoraMagics, later: Any) -> tuple[list[dict[str, Any]], Any]:
    """The known models now, and the task fetching the gateway's own list (or
    None).

    The client lists what the gateway lists (``client.models()``, awaited on the
    kernel's loop, else on the views' own); ``later(entries)`` offers that list
    once it arrives.
    """
    try:
        listed = magics.client().models()
    except Exception:  # a relay with no model list: the known names will do
        logger.info("sora_nb studio: the relay's model list is unavailable", exc_info=True)
        return _models_from([], magics), None
    if not inspect.isawaitable(listed):  # a client that answers at once
        return _models_from(list(listed), magics), None
    fetching = _when_listed(listed, later)
    # marimo: fetched on the views' own loop, where jobs run
    if running_loop() is None:
        return _models_from([], magics), asyncio.run_coroutine_threadsafe(
            fetching, background_loop()
        )
    return _models_from([], magics), start_background(fetching, _quiet)


def _quiet(task: asyncio.Task[None]) -> None:
    """The listing's task logs its own failure; nothing is left to collect."""


async def _when_listed(listed: Any, later: Any) -> None:
    try:
        later(list(await listed))
    except Exception:
        logger.info("sora_nb studio: the relay's model list is unavailable", exc_info=True)


def _controls() -> tuple[str, ...]:
    """The options a control sets: an Ask's, besides its model, shape, pictures
    and how.
    """
    own = ("model", "orientation", "image", "last_frame", "how")
    return tuple(name for name in ask_options() if name not in own)


# What the studio offers where a model's capabilities are not known (sora-2 and
# names no table knows): the relay chooses within these.
_DURATIONS = (5, 10, 15)
_RESOLUTIONS = ("720p", "1080p")
_SHAPES = ("portrait", "landscape")


def _choices(listed: tuple[Any, ...], default: tuple[Any, ...]) -> list[Any] | None:
    """A menu's choices, ``""`` (the model's own) first: what the model lists,
    else the defaults; None where the model lists one value alone (there is
    nothing to choose).
    """
    values = listed or default
    return ["", *values] if len(values) > 1 else None


def _models_from(entries: list[Any], magics: SoraMagics) -> list[dict[str, Any]]:
    """Each model on offer with the controls it takes: the gateway's listed
    models where it lists any (each with its own capabilities), else the known
    Sora names.
    """
    listed = {_name_of(entry): _capabilities(entry) for entry in entries}
    if not listed:
        listed = {name: None for name in MODELS}
    if magics.model not in listed and magics.model not in MODELS:
        # the name the user set
        listed[magics.model] = capabilities_for(magics.model)
    return [{"name": name, "controls": _controls_of(name, caps)} for name, caps in listed.items()]


def _capabilities(entry: object) -> Capabilities | None:
    return entry if isinstance(entry, Capabilities) else capabilities_for(_name_of(entry))


def _controls_of(name: str, caps: Capabilities | None) -> dict[str, Any]:
    """The controls one model takes; a capability not known gets the studio's
    defaults.
    """
    accepted = _controls()
    info = model_info(name)
    # A name like sora2-landscape-10s fixes its shape and length; sora-2 and
    # others do not.
    fixed = info is not None and info.orientation is not None
    known = caps or Capabilities(name)
    controls: dict[str, Any] = {}
    if known.aspect_ratios and "aspect_ratio" in accepted:
        controls["aspect_ratio"] = _choices(known.aspect_ratios, ())
    elif not fixed:
        controls["orientation"] = _choices((), _SHAPES)
    if "duration" in accepted and not fixed:
        controls["duration"] = _choices(known.durations, _DURATIONS)
    if "resolution" in accepted:
        controls["resolution"] = _choices(known.resolutions, _RESOLUTIONS)
    if "audio" in accepted and known.audio is not False:
        controls["audio"] = True
    # A picture to start from, and one to end on, where the model takes them.
    controls["first_frame"] = known.first_frame is not False
    if known.last_frame:
        controls["last_frame"] = True
    return {key: value for key, value in controls.items() if value is not None}


def _default_settings(magics: SoraMagics, models: list[dict[str, Any]]) -> dict[str, Any]:
    return {"model": _served(magics.model, models), "orientation": magics.orientation or ""}


def _served(model: str, models: list[dict[str, Any]]) -> str:
    """``model`` where the menu offers it, else the menu's first (sora-2 on a
    gateway).
    """
    names = [offered["name"] for offered in models]
    return model if model in names or not names else names[0]


def studio(*, app: bool = False) -> Studio:
    """The studio: prompt, image, model and its controls, jobs, the gallery, the
    players.

    Show it as a cell's last expression: ``sora_nb.studio()`` (in marimo:
    ``mo.ui.anywidget(sora_nb.studio().widget)``). It drives and observes the
    same session as ``%%sora``, with the same settings. ``app=True`` (``sora-nb
    app``) makes it a page for people who do not code.
    """
    return Studio(_magic.settings(), app=app)


def panel() -> Studio:
    """The studio (its older name)."""
    return studio()


def _panel_command(magics: SoraMagics, rest: str) -> None:
    """``%sora panel``."""
    display(Studio(magics))


VIEW_COMMANDS["panel"] = _panel_command
