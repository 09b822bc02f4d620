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
    **gateway: Any,
) -> Video:
    """Make a video from ``prompt`` with live progress in the cell; return the ``Video``.

    ``name`` also binds it in the notebook and names the turn, as ``%%sora --as`` does.
    ``gateway``: ``duration``, ``aspect_ratio``, ``resolution``, ``last_frame``, ``audio``.
    """
    options = _options(model, orientation, image, name, save, embed)
    return _run(prompt, edit=None, **options, **_gateway(gateway, editing=False))


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
    **gateway: Any,
) -> Video:
    """Change ``video`` (a Video, a history index, a turn's name; None: the latest) by
    ``prompt``, with live progress in the cell; return the new ``Video``. On a gateway,
    ``how`` names the continuation (remix, edit, extend, last-frame)."""
    options = _options(model, orientation, image, name, save, embed) | _gateway(
        gateway, editing=True
    )
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


_GATEWAY = ("duration", "aspect_ratio", "resolution", "last_frame", "audio")


def _gateway(options: dict[str, Any], editing: bool) -> dict[str, Any]:
    allowed = (*_GATEWAY, "how") if editing else _GATEWAY
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InvalidRequest(f"Unknown option {unknown[0]!r}: see help(sora_nb.generate).")
    return {name: options.get(name) for name in allowed}


def models() -> list[dict[str, Any]]:
    """The relay's video models as rows (``%sora models``)."""
    from ..client._client import SoraClient
    from ._run import run_blocking

    shell = get_ipython()
    client = magics_for(shell).get_session().client if shell is not None else SoraClient()
    return [caps.as_row() for caps in run_blocking(client.models())]


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
