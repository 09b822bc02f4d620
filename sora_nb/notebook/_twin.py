"""``sora_nb.generate()`` and ``sora_nb.edit()``: the ``%%sora`` magic as two functions.

For people who prefer code to magics: the same settings (``%sora config``), the same session,
the same live progress and video output, the same one-line failure that ends the cell, and
the ``Video`` returned. The prompt is used as written (no ``{name}`` filling: this is Python,
an f-string does that).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from IPython import get_ipython

from .._exceptions import InvalidRequest, SoraError
from ..records._video import Video
from ._i18n import t
from ._magic import magics_for
from ._output import CellFailed, describe

__all__ = ["edit", "generate"]


def generate(
    prompt: str,
    *,
    model: str | None = None,
    orientation: str | None = None,
    image: Any = None,
    name: str | None = None,
    save: bool = True,
    embed: bool = False,
) -> Video:
    """Make a video from ``prompt`` with live progress in the cell; return the ``Video``.

    ``name`` also binds it in the notebook and names the turn, as ``%%sora --as`` does.
    """
    options = _options(model, orientation, image, name, save, embed)
    return _run(prompt, edit=None, **options)


def edit(
    video: Video | int | str | None,
    prompt: str,
    *,
    model: str | None = None,
    orientation: str | None = None,
    image: Any = None,
    name: str | None = None,
    save: bool = True,
    embed: bool = False,
) -> Video:
    """Change ``video`` (a Video, a history index, a turn's name; None: the latest) by
    ``prompt``, with live progress in the cell; return the new ``Video``."""
    options = _options(model, orientation, image, name, save, embed)
    if video is None:
        from ._magic import _LATEST

        video = _LATEST
    return _run(prompt, edit=video, **options)


def _options(
    model: str | None,
    orientation: str | None,
    image: Any,
    name: str | None,
    save: bool,
    embed: bool,
) -> dict[str, Any]:
    return {
        "model": model,
        "orientation": orientation,
        "image": image,
        "name": name,
        "no_save": not save,
        "embed": embed,
    }


def _run(prompt: str, **options: Any) -> Video:
    shell = get_ipython()
    if shell is None:
        raise InvalidRequest(t("error.no_shell"))
    args = SimpleNamespace(ratio=None, background=False, **options)
    magics = magics_for(shell)
    try:
        video = magics.run_job(args, prompt)
    except SoraError as exc:  # refused before the job started: the same one line
        raise CellFailed(describe(exc)) from None
    assert video is not None  # a blocking job returns its video or raises
    return video
