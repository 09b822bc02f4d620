"""The studio's gallery: a session's turns as tiles in branch order, each edit under its base.

One ``Tile`` per turn, kept for the panel's life and updated in place: a session change sends
only the tiles that changed, and the children list only when the tree's order changed, so 20
streaming jobs stay a few comm messages each. Thumbnails are inlined as small ``data:`` images
(``inline_image``): Voilà serves no ``sora_outputs/`` files by default, and an inlined picture
shows in every frontend (docs/notebook.md, "The studio").
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import ipywidgets as widgets

from ..records._turn import Turn
from ..render._render import _clip, _duration, _tree, inline_image, local_url, safe_url
from ._labels import label
from ._progress import close_tree

__all__ = ["Actions", "Gallery", "Tile", "download_html", "lineage", "style_html"]

_COLORS = {
    "done": "var(--jp-success-color1, #2e7d32)",
    "failed": "var(--jp-error-color1, #c62828)",
    "interrupted": "var(--jp-warn-color1, #ef6c00)",
    "running": "var(--jp-brand-color1, #1976d2)",
}
_MUTED = "color:var(--jp-ui-font-color2, #6b6b6b);font-size:12px"
# A word, not an emoji: Debian's Chromium and many servers have no emoji font.
_BADGE = "border:1px solid currentColor;border-radius:3px;padding:0 3px;font-size:11px"
_THUMB = 120  # px: the tile's picture fits this box
_INDENT = 28  # px per level of edits

# A click on the picture is a click on the tile's Play button (the one widget that can act).
_SELECT_JS = "this.closest('.sora-nb-tile').querySelector('.sora-nb-select').click()"
# Copy: the async clipboard where the page is a secure context, else a selected textarea.
_COPY_JS = (
    "var t=this.dataset.prompt;if(navigator.clipboard&&window.isSecureContext){"
    "navigator.clipboard.writeText(t);}else{var a=document.createElement('textarea');"
    "a.value=t;document.body.appendChild(a);a.select();document.execCommand('copy');a.remove();}"
    "this.textContent=this.dataset.done;return false;"
)


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def lineage(turns: list[Turn], index: int) -> list[Turn]:
    """The turn's branch from its first generation down to it."""
    chain: list[Turn] = []
    current: int | None = index
    while current is not None and 0 <= current < len(turns) and len(chain) <= len(turns):
        chain.append(turns[current])
        current = turns[current].parent
    return chain[::-1]


def _status(turn: Turn) -> str:
    color = _COLORS.get(turn.status, "inherit")
    title = f' title="{_esc(turn.error)}"' if turn.error else ""
    return f'<b style="color:{color}"{title}>{_esc(label("status." + turn.status))}</b>'


def _facts(turn: Turn) -> str:
    facts = [f"<b>#{turn.index}</b>", _status(turn)]
    if turn.elapsed is not None and turn.status != "running":
        facts.append(_esc(_duration(turn.elapsed)))
    if turn.image:
        facts.append(
            f'<span class="sora-nb-from-image" style="{_BADGE}">{_esc(label("from_image"))}</span>'
        )
    if turn.name:
        facts.append(f"<code>{_esc(turn.name)}</code>")
    return " · ".join(f'<span style="white-space:nowrap">{fact}</span>' for fact in facts)


def _picture(turn: Turn) -> str:
    src = inline_image(turn.local_thumbnail, _THUMB) or safe_url(turn.thumbnail_url)
    box = f"width:{_THUMB}px;height:{_THUMB * 9 // 16 + 20}px;"
    if src is None or turn.status != "done":
        mark = {"running": "⏳", "failed": "✗", "interrupted": "⏸"}.get(turn.status, "")
        return (
            f'<div class="sora-nb-thumb" style="{box}display:flex;align-items:center;'
            f"justify-content:center;border-radius:4px;font-size:24px;"
            f'background:var(--jp-layout-color2, #eee)">{mark}</div>'
        )
    return (
        f'<img class="sora-nb-thumb" src="{_esc(src)}" alt="" onclick="{_esc(_SELECT_JS)}" '
        f'style="max-width:{_THUMB}px;max-height:{_THUMB}px;border-radius:4px;cursor:pointer">'
    )


def _copy(turn: Turn) -> str:
    return (
        f'<a href="#" class="sora-nb-copy" data-prompt="{_esc(turn.prompt)}" '
        f'data-done="{_esc(label("copied"))}" onclick="{_esc(_COPY_JS)}">{_esc(label("copy"))}</a>'
    )


@dataclass(frozen=True, slots=True)
class Actions:
    """What a tile's buttons do, given the turn's index."""

    select: Callable[[int], object]
    resume: Callable[[int], object]
    download: Callable[[int], object]


class Tile:
    """One turn's widgets: picture, facts, prompt, and Play / Resume / Copy / Download."""

    def __init__(self, actions: Actions) -> None:
        self.index = -1
        self._turn: Turn | None = None
        self.picture = widgets.HTML()
        self.text = widgets.HTML(layout=widgets.Layout(width="100%"))
        self.play = widgets.Button(
            description=label("play"), icon="play", layout=widgets.Layout(width="auto")
        )
        self.play.add_class("sora-nb-select")
        self.resume = widgets.Button(
            description=label("resume"), icon="repeat", layout=widgets.Layout(width="auto")
        )
        self.resume.add_class("sora-nb-resume")
        self.download = widgets.Button(
            description=label("download"), icon="download", layout=widgets.Layout(width="auto")
        )
        self.download.add_class("sora-nb-download")
        self.links = widgets.HTML()
        self.play.on_click(lambda _: actions.select(self.index))
        self.resume.on_click(lambda _: actions.resume(self.index))
        self.download.on_click(lambda _: actions.download(self.index))
        buttons = widgets.HBox([self.play, self.resume, self.download, self.links])
        self.widget = widgets.HBox(
            [self.picture, widgets.VBox([self.text, buttons], layout=widgets.Layout(flex="1"))]
        )
        self.widget.add_class("sora-nb-tile")

    def update(self, turn: Turn, depth: int) -> None:
        """Show ``turn``; widgets whose value is unchanged send nothing to the frontend."""
        self.index = turn.index
        if turn == self._turn and self.widget.layout.margin == _margin(depth):
            return
        self._turn = turn
        self.picture.value = _picture(turn)
        prompt = f'<div style="overflow-wrap:anywhere">{_esc(_clip(turn.prompt, 140))}</div>'
        base = (
            f'<div style="{_MUTED}">{_esc(label("edits", n=turn.parent))}</div>'
            if turn.parent is not None
            else ""
        )
        error = ""
        if turn.error and turn.status != "done":
            error = f'<div style="{_MUTED}">{_esc(_clip(turn.error, 160))}</div>'
        self.text.value = f"<div>{_facts(turn)}</div>{prompt}{base}{error}"
        self.play.disabled = turn.status != "done"
        self.resume.layout.display = (
            None if turn.status == "interrupted" and turn.task_id else "none"
        )
        self.download.disabled = not (turn.status == "done" and local_url(turn.local_path))
        self.links.value = _copy(turn)
        self.widget.layout.margin = _margin(depth)

    def mark(self, selected: bool) -> None:
        """Outline the selected tile."""
        if selected:
            self.widget.add_class("sora-nb-selected")
        else:
            self.widget.remove_class("sora-nb-selected")


def _margin(depth: int) -> str:
    return f"2px 0 2px {depth * _INDENT}px"


class Gallery:
    """Every turn of a session as a Tile, in branch order (each edit indented under its base)."""

    def __init__(self, actions: Actions) -> None:
        self._actions = actions
        self._tiles: dict[int, Tile] = {}
        self._order: list[int] = []
        self.selected: int | None = None
        self.empty = widgets.HTML(f'<div style="{_MUTED}">{_esc(label("empty"))}</div>')
        self.widget = widgets.VBox([self.empty])
        self.widget.add_class("sora-nb-gallery")

    def show(self, turns: list[Turn]) -> None:
        """Bring the tiles up to date with ``turns`` (a session cleared shows an empty list)."""
        order = _tree(turns)
        for turn, depth in order:
            tile = self._tiles.get(turn.index)
            if tile is None:
                tile = self._tiles[turn.index] = Tile(self._actions)
            tile.update(turn, depth)
        for stale in [i for i in self._tiles if i >= len(turns)]:
            close_tree(self._tiles.pop(stale).widget)  # its layouts and styles too
        indices = [turn.index for turn, _ in order]
        if indices != self._order:
            self._order = indices
            children = [self._tiles[i].widget for i in indices]
            self.widget.children = children or [self.empty]
        if self.selected is not None and self.selected >= len(turns):
            self.select(None)

    def select(self, index: int | None) -> None:
        """Outline the tile of turn ``index`` (None: no selection)."""
        for i, tile in self._tiles.items():
            tile.mark(i == index)
        self.selected = index

    def tile(self, index: int) -> Tile:
        """The tile of turn ``index`` (tests and the studio's own buttons use it)."""
        return self._tiles[index]


def style_html() -> str:
    """The studio's CSS, and the Ctrl/Cmd+Enter key: an HTML widget runs no ``<script>``,
    but an image's ``onerror`` handler runs, once, when the view is drawn.

    A tile is ``flex:none``: in the gallery's column of limited height, flex items would
    otherwise shrink below their content, and each tile's text would lie over its buttons
    instead of the gallery scrolling."""
    css = (
        "<style>.sora-nb-tile{border:1px solid transparent;border-radius:6px;padding:4px;"
        "gap:8px;flex:none}.sora-nb-selected{border-color:var(--jp-brand-color1,#1976d2);"
        "background:var(--jp-layout-color2,#f3f6fb)}.sora-nb-gallery{max-height:640px;"
        "overflow-y:auto}</style>"
    )
    key = json.dumps("sora-nb-generate")
    keys_js = (
        "(function f(img,n){var r=img.closest('.sora-nb-studio');"
        "if(!r){if(n<100)setTimeout(function(){f(img,n+1)},100);return;}"
        "if(r.__soraKeys)return;r.__soraKeys=1;"
        "r.addEventListener('keydown',function(e){if(e.key==='Enter'&&(e.ctrlKey||e.metaKey)"
        "&&e.target.tagName==='TEXTAREA'){e.preventDefault();e.stopPropagation();"
        f"var b=r.querySelector('.'+{key});if(b&&!b.disabled)b.click();}}}},true);}})(this,0)"
    )
    image = f'<img src="data:," alt="" style="display:none" onerror="{_esc(keys_js)}">'
    return css + image


def download_html(path: str, serial: int) -> str:
    """A link to the mp4's bytes that clicks itself once drawn: the browser saves the file.

    The bytes travel as a ``data:`` URL, so it works where no file is served beside the
    notebook (Voilà, JupyterHub); ``serial`` makes each click a new value, drawn again.
    """
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    name = _esc(Path(path).name)
    return (
        f'<a download="{name}" href="data:video/mp4;base64,{data}"></a>'
        f'<img src="data:," alt="" data-serial="{serial}" style="display:none" '
        'onerror="this.previousElementSibling.click()">'
    )
