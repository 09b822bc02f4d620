"""The base of every view: one anywidget model, its ES module and CSS read from
package files.

No build step: ``static/`` holds plain ES modules and CSS that anywidget sends
with the model. Every view shares one ``Layout`` model (a DOMWidget always has
one): a view is then one model of its own, and closing it leaves nothing open in
the kernel or the browser.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import anywidget
import ipywidgets as widgets

from ._run import background_loop, running_loop

__all__ = ["Actions", "View", "asset", "shared_layout"]

STATIC = Path(__file__).with_name("static")


@functools.cache
def asset(*names: str) -> str:
    """The package files ``names`` joined: one ES module (or stylesheet) per
    view.
    """
    return "\n".join((STATIC / name).read_text(encoding="utf-8") for name in names)


_layout: list[widgets.Layout] = []


def shared_layout() -> widgets.Layout:
    """The one Layout every view points at (opened once per kernel)."""
    if not _layout:
        _layout.append(widgets.Layout())
    return _layout[0]


class View(anywidget.AnyWidget):
    """One widget model: subclasses set ``_esm``/``_css`` and a few synced
    traits.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(layout=shared_layout(), **kwargs)

    def bundle(self, text: str) -> dict[str, Any]:
        """The mime bundle that displays this model, with ``text`` as its plain
        fallback.
        """
        shown = self._repr_mimebundle_()
        data = dict(shown[0]) if shown is not None else {}
        data["text/plain"] = text
        return data


class Actions:
    """What a view's buttons do: the front end sends ``{"action": NAME, ...}``
    messages.
    """

    def __init__(self, view: View) -> None:
        self._handlers: dict[str, Any] = {}
        view.on_msg(self._dispatch)

    def on(self, name: str, handler: Any) -> None:
        """Call ``handler(content, buffers)`` when the front end sends action
        ``name``.
        """
        self._handlers[name] = handler

    def _dispatch(self, _view: Any, content: Any, buffers: list[bytes]) -> None:
        if not isinstance(content, dict):
            return
        handler = self._handlers.get(str(content.get("action")))
        if handler is None:
            return
        # marimo: no kernel loop; the views' own loop runs it
        if running_loop() is None:
            background_loop().call_soon_threadsafe(handler, content, list(buffers))
        else:
            handler(content, buffers)
