"""The notebook layer: the ``%%sora`` magic, the progress view and the panel.

The only Jupyter-aware part of sora_nb; every job it starts is a ``Session`` method.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..records._video import Video
    from ..session._batch import BatchResults
    from ._panel import Panel

__all__ = ["batch", "edit", "generate", "load_ipython_extension", "panel"]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext sora_nb``: register the ``%%sora`` magics, with the views' commands."""
    from . import _batch_view, _panel  # noqa: F401  (each adds its ``%sora`` command)
    from ._magic import load_ipython_extension as load

    load(ipython)


def panel() -> Panel:
    """The interactive panel; see ``sora_nb.notebook._panel.panel``."""
    from ._panel import panel as make

    return make()


def batch(*args: Any, **kwargs: Any) -> BatchResults:
    """Many videos with one live view; see ``sora_nb.notebook._batch_view.batch``."""
    from ._batch_view import batch as run

    return run(*args, **kwargs)


def generate(prompt: str, **options: Any) -> Video:
    """``%%sora`` as a function; see ``sora_nb.notebook._functions.generate``."""
    from ._functions import generate as run

    return run(prompt, **options)


def edit(video: Any, prompt: str, **options: Any) -> Video:
    """``%%sora --edit`` as a function; see ``sora_nb.notebook._functions.edit``."""
    from ._functions import edit as run

    return run(video, prompt, **options)
