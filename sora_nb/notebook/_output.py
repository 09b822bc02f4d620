"""One-line messages in a cell: errors and notices as styled HTML with a
plain-text twin.
"""

from __future__ import annotations

import html
import re
from typing import Any, Literal

from IPython.display import display

from .._exceptions import AuthenticationError, GenerationFailed, SoraError
from ..render._icons import icon
from ._i18n import t

__all__ = [
    "CellFailed",
    "Kind",
    "SoraInterrupt",
    "describe",
    "message_bundle",
    "sentence_html",
    "sentence_plain",
    "settings_bundle",
    "show_message",
]

Kind = Literal["error", "warning", "info"]

_COLORS = {
    "error": "var(--jp-error-color1, #c62828)",
    "warning": "var(--jp-warn-color1, #e65100)",
    "info": "var(--jp-ui-font-color2, #616161)",
}
# Plain text keeps its marks; HTML draws them as inline SVG, since a machine
# without an emoji font shows ✗ or ℹ as an empty box (docs/notebook.md).
_MARKS = {"error": "✗", "warning": "!", "info": "ℹ"}
_ICONS = {"error": "x", "warning": "alert", "info": "info"}


def describe(exc: SoraError) -> str:
    """The sentence a person reads for ``exc`` (the relay's reason for a failed
    generation).
    """
    if isinstance(exc, GenerationFailed) and exc.reason:
        return t("failed.reason", reason=exc.reason)
    if isinstance(exc, AuthenticationError):
        return f"{exc} {t('hint.key')}"
    return str(exc)


_CODE = re.compile(r"`([^`]+)`")


def sentence_html(text: str) -> str:
    """``text`` escaped for HTML, its `code` spans as ``<code>``: no markdown
    left in HTML.
    """
    return _CODE.sub(r"<code>\1</code>", html.escape(text))


def sentence_plain(text: str) -> str:
    """``text`` without markdown's backticks, for plain-text outputs and
    tracebacks.
    """
    return _CODE.sub(r"\1", text)


def message_bundle(text: str, kind: Kind = "error") -> dict[str, Any]:
    """A mime bundle for one line of ``text``."""
    body = f"{icon(_ICONS[kind])} {sentence_html(text)}"
    div = f'<div class="sora-nb-{kind}" style="color:{_COLORS[kind]}">{body}</div>'
    return {"text/html": div, "text/plain": f"{_MARKS[kind]} {sentence_plain(text)}"}


def settings_bundle(rows: list[tuple[str, str]]) -> dict[str, Any]:
    """Labelled values as an HTML table (columns line up in any script) and as
    text.
    """
    cell = "padding:2px 12px 2px 0;text-align:left;border:none;background:transparent"
    body = "".join(
        f'<tr><th style="{cell};font-weight:600">{html.escape(label)}</th>'
        f'<td style="{cell}">{html.escape(value)}</td></tr>'
        for label, value in rows
    )
    table = f'<table class="sora-nb-settings" style="border-collapse:collapse">{body}</table>'
    plain = "\n".join(f"{label}: {value}" for label, value in rows)
    return {"text/html": table, "text/plain": plain}


def show_message(text: str, kind: Kind = "error") -> None:
    """Display one line in the current cell's output."""
    display(message_bundle(text, kind), raw=True)


class SoraInterrupt(KeyboardInterrupt):
    """The kernel was interrupted during a job.

    Still a ``KeyboardInterrupt`` so Run All stops there, but IPython shows this
    one sentence instead of a traceback through the event loop's internals.
    """

    def __init__(self, message: str) -> None:
        super().__init__(sentence_plain(message))

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[0;33m{self}\x1b[0m"]


class CellFailed(Exception):
    """A ``%%sora`` cell's job failed or its input was refused: the cell ends in
    error.

    Raised out of the magic so the kernel replies ``status: "error"`` and Run
    All, nbclient, papermill and ``nbconvert --execute`` stop at this cell.
    IPython's ``showtraceback`` uses ``_render_traceback_`` when an exception
    has one, so the cell shows this one red sentence instead of a traceback
    (docs/notebook.md, "A cell's outcome is its status"). Not a ``SoraError``:
    it carries a SoraError's sentence out of the notebook layer, once.
    """

    def __init__(self, message: str) -> None:
        super().__init__(sentence_plain(message))

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[0;31m✗ {self}\x1b[0m"]
