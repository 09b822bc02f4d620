"""The notebook layer: the ``%%sora`` magic, its card, the batch view and the
studio.

The only Jupyter-aware part of sora_nb; every job it starts is a ``Session``
method.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..records._video import Video
    from ..session._batch import BatchResults
    from ._live import LiveJob
    from ._studio import Studio

__all__ = [
    "batch",
    "edit",
    "generate",
    "live",
    "load_ipython_extension",
    "models",
    "panel",
    "studio",
]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext sora_nb``: register the ``%%sora`` magics, with the views'
    commands.
    """
    from . import _batch_view, _studio  # noqa: F401  (each adds its ``%sora`` command)
    from ._magic import load_ipython_extension as load

    load(ipython)


def studio(*, app: bool = False) -> Studio:
    """The studio, one widget model; see ``sora_nb.notebook._studio.studio``."""
    from ._studio import studio as make

    return make(app=app)


def live(prompt: str, **options: Any) -> LiveJob:
    """One generation with its live card (marimo); see
    ``sora_nb.notebook._live.live``.
    """
    from ._live import live as start

    return start(prompt, **options)


def panel() -> Studio:
    """The studio under its older name."""
    return studio()


def batch(*args: Any, **kwargs: Any) -> BatchResults:
    """Many videos with one live view; see
    ``sora_nb.notebook._batch_view.batch``.
    """
    from ._batch_view import batch as run

    return run(*args, **kwargs)


def generate(prompt: str, **options: Any) -> Video:
    """``%%sora`` as a function; see
    ``sora_nb.notebook._functions.generate``.
    """
    from ._functions import generate as run

    return run(prompt, **options)


def edit(video: Any, prompt: str, **options: Any) -> Video:
    """``%%sora --edit`` as a function; see
    ``sora_nb.notebook._functions.edit``.
    """
    from ._functions import edit as run

    return run(video, prompt, **options)


def models() -> list[dict[str, Any]]:
    """``%sora models`` as a function: the gateway's video models, one dict each
    (durations, aspect ratios, resolutions, frames, audio, continuations). In a
    notebook the ``%sora config`` settings choose the relay; elsewhere
    ``$SORA_BASE_URL`` and friends.
    """
    from ._functions import models as rows

    return rows()
