"""The studio's templates: a turn's tile, its lineage tree and its details, as
HTML.

One rendering: the live studio draws these strings (``static/studio.js`` only
places them and adds buttons), and the saved record under it uses the same tile.
Thumbnails are inlined as small WebP ``data:`` images: Voilà serves no
``sora_outputs/`` files by default, and an inlined picture shows in every front
end (docs/notebook.md, "The studio"). Everything from the user or the relay is
escaped.
"""

from __future__ import annotations

import html

from ..records._turn import Turn
from ..render._render import _clip, _duration, _player, inline_image, safe_url
from ._icons import icon
from ._labels import label

__all__ = [
    "CONTINUATIONS",
    "chain_html",
    "details_html",
    "exported_html",
    "family_order",
    "lineage",
    "tile_html",
    "tree_html",
]

#: The continuations a studio names (the magic's ``--how`` words), in order.
CONTINUATIONS = ("remix", "edit", "extend", "last-frame")

_COLORS = {
    "done": "#2e7d32",
    "failed": "#c62828",
    "interrupted": "#ef6c00",
    "running": "#1976d2",
}
_ICON = {"done": "check", "failed": "x", "interrupted": "pause", "running": "clock"}
_MUTED = "color:var(--jp-ui-font-color2, #6b6b6b);font-size:12px"
_THUMB = 320  # px: the tile's picture is inlined at this size


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


def family_order(turns: list[Turn]) -> list[tuple[Turn, int]]:
    """Turns newest family first, each first generation followed by its edits
    (with depth).
    """
    children: dict[int | None, list[Turn]] = {}
    for turn in turns:
        parent = turn.parent if turn.parent is not None and turn.parent < turn.index else None
        children.setdefault(parent, []).append(turn)
    ordered: list[tuple[Turn, int]] = []
    # popped newest first
    stack = [(turn, 0) for turn in children.get(None, [])]
    while stack:
        turn, depth = stack.pop()
        ordered.append((turn, depth))
        stack.extend((child, depth + 1) for child in reversed(children.get(turn.index, [])))
    return ordered


def _status(turn: Turn) -> str:
    color = _COLORS.get(turn.status, "inherit")
    words = _esc(label("status." + turn.status))
    return (
        f'<b class="sora-nb-status" style="color:{color};white-space:nowrap">'
        f"{icon(_ICON.get(turn.status, 'clock'))} {words}</b>"
    )


def _facts(turn: Turn) -> str:
    facts = [f"<b>#{turn.index}</b>", _status(turn)]
    if turn.elapsed is not None and turn.status != "running":
        facts.append(_esc(_duration(turn.elapsed)))
    if turn.image:
        facts.append(
            f'<span class="sora-nb-from-image" style="white-space:nowrap">{icon("image")} '
            f"{_esc(label('from_image'))}</span>"
        )
    if turn.name:
        facts.append(f"<code>{_esc(turn.name)}</code>")
    return " · ".join(facts)


def _picture(turn: Turn) -> str:
    src = inline_image(turn.local_thumbnail, _THUMB) or safe_url(turn.thumbnail_url)
    frame = (
        "aspect-ratio:16/9;width:100%;display:flex;align-items:center;justify-content:center;"
        "background:#1d1f24;color:#c9ccd3;overflow:hidden"
    )
    if src is None or turn.status != "done":
        mark = icon(_ICON.get(turn.status, "film"), size="2.2em")
        return f'<div class="sora-nb-thumb sora-nb-no-picture" style="{frame}">{mark}</div>'
    return (
        f'<div class="sora-nb-thumb" style="{frame}"><img src="{_esc(src)}" alt="" '
        'style="max-width:100%;max-height:100%;object-fit:contain;display:block"></div>'
    )


def tile_html(turn: Turn) -> str:
    """One turn as a card: picture, facts, prompt, what it edits, why it stopped
    short.
    """
    parts = [f'<div class="sora-nb-facts">{_facts(turn)}</div>']
    parts.append(
        '<div class="sora-nb-tile-prompt" style="overflow-wrap:anywhere;margin-top:2px">'
        f"{_esc(_clip(turn.prompt, 140))}</div>"
    )
    if turn.parent is not None:
        edits = _esc(label("edits", n=turn.parent))
        parts.append(f'<div class="sora-nb-edits" style="{_MUTED}">{icon("branch")} {edits}</div>')
    if turn.status == "interrupted" and turn.task_id:
        parts.append(f'<div style="{_MUTED}">{_esc(label("interrupted_tile"))}</div>')
    elif turn.error and turn.status != "done":
        parts.append(f'<div style="{_MUTED}">{_esc(_clip(turn.error, 160))}</div>')
    body = "".join(parts)
    return (
        f'<div class="sora-nb-tile sora-nb-status-{turn.status}" style="box-sizing:border-box;'
        "border:1px solid var(--jp-border-color2, #d0d0d0);border-radius:8px;overflow:hidden;"
        'background:var(--jp-layout-color1, #fff);font-size:12px;line-height:1.4">'
        f'{_picture(turn)}<div style="padding:6px 8px">{body}</div></div>'
    )


def tree_html(turns: list[Turn], index: int) -> str:
    """The family of turn ``index`` as a tree: its first generation, every edit
    below its base.
    """
    root = lineage(turns, index)[0].index
    children: dict[int, list[Turn]] = {}
    for turn in turns:
        if turn.parent is not None and turn.parent < turn.index:
            children.setdefault(turn.parent, []).append(turn)

    def branch(turn: Turn, depth: int) -> str:
        here = " sora-nb-here" if turn.index == index else ""
        kids = children.get(turn.index, []) if depth < 64 else []
        below = "".join(branch(kid, depth + 1) for kid in kids)
        nested = f'<ul class="sora-nb-tree">{below}</ul>' if below else ""
        return (
            f'<li><span class="sora-nb-node{here}" data-index="{turn.index}">'
            f"<b>#{turn.index}</b> {_status(turn)} {_esc(_clip(turn.prompt, 60))}</span>"
            f"{nested}</li>"
        )

    title = f'<div class="sora-nb-subtitle">{icon("branch")} {_esc(label("lineage"))}</div>'
    return f'{title}<ul class="sora-nb-tree sora-nb-tree-root">{branch(turns[root], 0)}</ul>'


def details_html(turn: Turn) -> str:
    """A selected turn's prompt in full and its facts."""
    facts = [turn.model, turn.orientation or "", turn.task_id or ""]
    if turn.elapsed is not None:
        facts.append(_duration(turn.elapsed))
    image = ""
    source = safe_url(turn.image)
    if turn.image:
        picture = f'<img src="{_esc(source)}" alt="" style="max-height:48px"> ' if source else ""
        image = (
            f'<div class="sora-nb-from-image">{picture}{icon("image")} '
            f"{_esc(label('from_image'))}</div>"
        )
    return (
        f'<div class="sora-nb-details"><div style="white-space:pre-wrap;overflow-wrap:anywhere">'
        f"<b>#{turn.index}</b> {_esc(turn.prompt)}</div>{image}"
        f'<div style="{_MUTED};overflow-wrap:anywhere">'
        f"{_esc(' · '.join(f for f in facts if f))}</div></div>"
    )


def exported_html(turns: list[Turn], index: int, src: str | None, name: str) -> str:
    """An exported chain in the saved record: its one video (``src``), then its
    lineage.
    """
    last = turns[index]
    poster = safe_url(inline_image(last.local_thumbnail) or last.thumbnail_url)
    return (
        f'<div class="sora-nb-video sora-nb-exported">{_player(src, poster, _esc(name))}'
        f'<div style="{_MUTED}">{_esc(name)}</div>{chain_html(turns, index)}</div>'
    )


def chain_html(turns: list[Turn], index: int) -> str:
    """An exported chain's lineage: each video, and how it continues the one
    before.
    """
    links = []
    for turn in lineage(turns, index):
        how = turn.request.options.get("how") or ("edit" if turn.parent is not None else "")
        word = label(f"how.{how}") if how in CONTINUATIONS else _esc(how)
        kind = f' <span style="{_MUTED}">{_esc(word)}</span>' if how else ""
        links.append(f"<li><b>#{turn.index}</b>{kind} {_esc(_clip(turn.prompt, 80))}</li>")
    title = f'<div class="sora-nb-subtitle">{icon("branch")} {_esc(label("lineage"))}</div>'
    return f'{title}<ol class="sora-nb-chain">{"".join(links)}</ol>'
