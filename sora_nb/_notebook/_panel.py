"""The interactive panel: a prompt, a few choices, Generate and Edit buttons, the results.

A button callback cannot block (the kernel would not see the next click, and nothing renders
until it returns), so each job is a task on the kernel's loop. A task must not write with
``with output:`` (it lands in whatever cell runs then): results go through
``Output.outputs`` / ``append_display_data`` (docs/notebook.md).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import ipywidgets as widgets
from IPython import get_ipython

from .._exceptions import InvalidRequest, SoraError
from .._history import Session
from .._request import MODELS, image_to_url, validate_prompt
from .._video import Video
from ._i18n import t
from ._magic import SoraMagics, magics_for
from ._output import Kind, describe, message_bundle
from ._progress import ProgressView

__all__ = ["Panel", "panel"]

logger = logging.getLogger("sora_nb")


def _replace(output: widgets.Output, obj: Any) -> None:
    output.outputs = ()
    output.append_display_data(obj)


class Panel:
    """The panel's widgets and its one running job; display it, or its ``widget``."""

    def __init__(self, magics: SoraMagics) -> None:
        self._magics = magics
        self._task: asyncio.Task[None] | None = None
        self._build_inputs(magics)
        self.progress = ProgressView(start=False)
        self.progress.widget.layout.display = "none"  # until the first job
        self.message = widgets.HTML()
        self.video = widgets.Output()
        self.history = widgets.Output()
        self.widget = widgets.VBox(
            [
                self.prompt,
                widgets.HBox([self.model, self.orientation, self.image]),
                widgets.HBox([self.generate, self.edit, self.cancel]),
                self.progress.widget,
                self.message,
                self.video,
                self.history,
            ]
        )
        _replace(self.history, self._session())

    def _build_inputs(self, magics: SoraMagics) -> None:
        self.prompt = widgets.Textarea(
            placeholder=t("panel.prompt"), layout=widgets.Layout(width="100%", height="6em")
        )
        self.model = widgets.Dropdown(
            options=list(MODELS), value=magics.model, description=t("panel.model")
        )
        shapes = [(t(f"panel.{key}"), key) for key in ("portrait", "landscape")]
        self.orientation = widgets.Dropdown(
            options=[(t("panel.auto"), ""), *shapes],
            value=magics.orientation or "",
            description=t("panel.orientation"),
        )
        self.image = widgets.FileUpload(
            accept="image/*", multiple=False, description=t("panel.image")
        )
        self.generate = widgets.Button(description=t("panel.generate"), button_style="primary")
        self.edit = widgets.Button(description=t("panel.edit"))
        # A job here is a task, not a blocking cell, so a click can really stop it.
        self.cancel = widgets.Button(description=t("panel.cancel"), disabled=True)
        self.generate.on_click(lambda _: self.start(edit=False))
        self.edit.on_click(lambda _: self.start(edit=True))
        self.cancel.on_click(lambda _: self.stop())

    def _session(self) -> Session:
        return self._magics.get_session()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        return self.widget._repr_mimebundle_(**kwargs)

    # -- a job --------------------------------------------------------------------------------

    def start(self, *, edit: bool) -> asyncio.Task[None] | None:
        """What a button click does: check the inputs, then run the job as a task."""
        if self._task is not None and not self._task.done():
            self._say(t("panel.busy"), "warning")
            return None
        try:
            session = self._session()
            target = self._target(session) if edit else None
            kwargs = self._request()
        except SoraError as exc:
            self._say(describe(exc))
            return None
        loop = asyncio.get_running_loop()  # the kernel's: clicks arrive through it
        self._say("")
        self._busy(True)
        self.progress.start()
        on_event = self.progress.handle
        if edit:
            job = session.edit(target, **kwargs, on_event=on_event)
        else:
            job = session.generate(**kwargs, on_event=on_event)
        self._task = loop.create_task(self._run(job))
        return self._task

    def stop(self) -> None:
        """What Cancel does: stop the running job; its turn is kept, interrupted, resumable."""
        if self._task is not None and not self._task.done():
            self._task.cancel()

    @staticmethod
    def _target(session: Session) -> Video:
        latest = session.latest()
        if latest is None:
            raise InvalidRequest(t("error.nothing_to_edit"))
        return latest

    def _request(self) -> dict[str, Any]:
        upload = self.image.value
        return {
            "prompt": validate_prompt(self.prompt.value),
            "model": self.model.value,
            "orientation": self.orientation.value or None,
            "image": image_to_url(bytes(upload[0]["content"])) if upload else None,
        }

    async def _run(self, job: Any) -> None:
        try:
            video = await job
        except SoraError as exc:
            self.progress.fail(describe(exc))
        except asyncio.CancelledError:
            self.progress.interrupt(None)
            task = self.progress.task_id
            message = t("interrupted.task", task=task) if task else t("interrupted.none")
            self._say(message, "warning")
            raise
        except Exception as exc:  # a bug: say so here, where the person is looking
            logger.exception("sora_nb panel job failed")
            self.progress.fail(repr(exc))
        else:
            self.progress.finish()
            _replace(self.video, video)
        finally:
            self._busy(False)
            _replace(self.history, self._session())

    def _busy(self, busy: bool) -> None:
        self.generate.disabled = self.edit.disabled = busy
        self.cancel.disabled = not busy
        self.progress.widget.layout.display = None

    def _say(self, text: str, kind: Kind = "error") -> None:
        self.message.value = message_bundle(text, kind)["text/html"] if text else ""


def panel() -> Panel:
    """The interactive panel (prompt, model, shape, image, Generate / Edit latest, results).

    Show it as a cell's last expression: ``sora_nb.panel()``. It drives the same session as
    ``%%sora``, with the same settings.
    """
    shell = get_ipython()
    if shell is None:
        raise RuntimeError("sora_nb.panel() needs IPython: run it in a Jupyter notebook.")
    return Panel(magics_for(shell))
