"""``sora_nb.generate()`` and ``sora_nb.edit()``: one generation from Python
code.

They build the same ``Ask`` as ``%%sora`` (the notebook's settings where none is
given) and run it as the same cell job: live progress, the video output, the
one-line failure that ends the cell, and the ``Video`` returned. The prompt is
used as written (no ``{name}`` filling: this is Python, an f-string does that).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from IPython import get_ipython

from .._exceptions import InvalidRequest, SoraError
from ..records._video import Video
from ._i18n import t
from ._magic import LATEST, SoraMagics, magics_for
from ._output import CellFailed, describe

__all__ = ["edit", "generate", "models"]


def generate(
    prompt: str,
    *,
    model: str | None = None,
    orientation: str | None = None,
    image: Any = None,
    name: str | None = None,
    save: bool = True,
    embed: bool = False,
    **options: Any,
) -> Video:
    """Make a video from ``prompt`` with live progress in the cell; return the
    ``Video``.

    ``name`` also binds it in the notebook and names the turn, as ``%%sora
    --as`` does; ``options`` are the rest of what an ``Ask`` takes
    (``sora_nb.records._ask``).
    """
    magics = _magics()
    with _one_line():
        ask = magics.ask(
            prompt, name=name, model=model, orientation=orientation, image=image, **options
        )
        return _done(magics.run_ask(ask, name=name, save=save, embed=embed))


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
    **options: Any,
) -> Video:
    """Change ``video`` (a Video, a history index, a turn's name; None: the
    latest) by ``prompt``, with live progress in the cell; return the new
    ``Video``.
    """
    magics = _magics()
    with _one_line():
        ask = magics.ask(
            prompt, name=name, editing=True, model=model, orientation=orientation,
            image=image, **options,
        )  # fmt: skip
        target = LATEST if video is None else video
        job = magics.run_ask(
            ask, edit=target, name=name, save=save, embed=embed, parent_model=not model
        )
        return _done(job)


def _magics() -> SoraMagics:
    shell = get_ipython()
    if shell is None:
        raise InvalidRequest(t("error.no_shell"))
    return magics_for(shell)


@contextlib.contextmanager
def _one_line() -> Iterator[None]:
    """Refused before the job started: the same one line as the magic's."""
    try:
        yield
    except SoraError as exc:
        raise CellFailed(describe(exc)) from None


def _done(video: Video | None) -> Video:
    assert video is not None  # a blocking job returns its video or raises
    return video


def models() -> list[dict[str, Any]]:
    """The relay's video models as rows (``%sora models``); outside a notebook,
    the relay the environment names.
    """
    from ..client._client import SoraClient
    from ._run import run_blocking

    shell = get_ipython()
    client = magics_for(shell).get_session().client if shell is not None else SoraClient()
    return [caps.as_row() for caps in run_blocking(client.models())]
