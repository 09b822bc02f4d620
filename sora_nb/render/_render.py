"""Mime bundles for a Video and a Session's history: html, a markdown fallback,
plain text.

Everything from the user or the relay is escaped, and only ``http(s)``, relative
and ``data:image`` URLs reach a ``src`` or ``href`` (``safe_url``). A local copy
is preferred by a relative path, which JupyterLab serves from the notebook's
folder (docs/notebook.md, "Where media are served from"); the relay's link is
the fallback. Static renderers (GitHub, nbviewer) strip ``<video>``, so the
video's fallback content is its thumbnail linked to the file. Inline styles use
JupyterLab's theme variables, with fallbacks, so light and dark themes both read
well.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import ipaddress
import os
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from .._display import mimebundle
from .._messages import t
from ..records._video import Video
from ..session._history import Session, Turn
from ._icons import icon

__all__ = ["history_mimebundle", "inline_image", "public_url", "safe_url", "video_mimebundle"]

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_DATA_IMAGE = re.compile(r"data:image/(?:png|jpeg|jpg|gif|webp);base64,[A-Za-z0-9+/=]*\Z", re.I)
# Browsers drop tabs and newlines inside a scheme ("java\tscript:") and read "\"
# as "/".
_UNSAFE_CHARS = re.compile(r"[\x00-\x20\x7f\\]")

_BOX = (
    "display:inline-block;max-width:100%;box-sizing:border-box;padding:8px;"
    "border:1px solid var(--jp-border-color2, #d0d0d0);border-radius:6px;"
    "background:var(--jp-layout-color1, transparent);color:var(--jp-ui-font-color1, inherit);"
    "font-family:var(--jp-ui-font-family, system-ui, sans-serif)"
)
_MUTED = "color:var(--jp-ui-font-color2, #6b6b6b);font-size:var(--jp-ui-font-size0, 11px)"
_LINK = "color:var(--jp-content-link-color, #1a73e8)"
# JupyterLab styles output tables (right-aligned, centred, fixed layout):
# override per cell.
_CELL = (
    "padding:4px 8px;border:none;border-bottom:1px solid var(--jp-border-color2, #e0e0e0);"
    "text-align:left;vertical-align:top;color:inherit;background:transparent;"
)
_TABLE = (
    "border-collapse:collapse;table-layout:auto;margin:0;color:inherit;"
    "font-size:var(--jp-ui-font-size1, 13px)"
)
_STATUS_COLORS = {
    "done": "var(--jp-success-color1, #2e7d32)",
    "failed": "var(--jp-error-color1, #c62828)",
    "interrupted": "var(--jp-warn-color1, #ef6c00)",
    "running": "var(--jp-brand-color1, #1976d2)",
}


def safe_url(url: object) -> str | None:
    """``url`` if http(s), relative or a base64 ``data:image``, else None."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    if not url or _UNSAFE_CHARS.search(url):
        return None
    scheme = _SCHEME.match(url)
    if scheme is None:
        # "//host" leaves the notebook's origin
        return None if url.startswith("//") else url
    name = scheme.group(1).lower()
    if name in ("http", "https"):
        return url if urlsplit(url).netloc else None
    if name == "data" and _DATA_IMAGE.match(url):
        return url
    return None


def is_loopback(url: str) -> bool:
    """Whether ``url`` is this machine (the embedded emulator's links are)."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def public_url(url: object) -> str | None:
    """``safe_url(url)``, except a loopback address: a link that is dead in a
    saved notebook opened anywhere else (docs/notebook.md, "Saved notebooks").
    """
    safe = safe_url(url)
    return None if safe is None or is_loopback(safe) else safe


def local_url(path: str | None) -> str | None:
    """A relative URL for an existing local copy (absolute paths never work)."""
    if not path or os.path.isabs(path) or not os.path.isfile(path):
        return None
    return safe_url(quote(Path(path).as_posix(), safe="/._-~"))


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _link(url: str | None, label: str) -> str:
    if url is None:
        return ""
    return f'<a href="{_esc(url)}" target="_blank" rel="noopener" style="{_LINK}">{_esc(label)}</a>'


def _media(video: Video | Turn) -> tuple[str | None, str | None]:
    """(video src, poster src): the local copy first, then the relay's link."""
    src = local_url(video.local_path) or safe_url(video.video_url)
    poster = local_url(video.local_thumbnail) or safe_url(video.thumbnail_url)
    return src, poster


def _details(video: Video | Turn) -> list[str]:
    parts = [_esc(video.model)]
    if video.orientation:
        parts.append(_esc(video.orientation))
    if video.task_id:
        parts.append(f"<code>{_esc(video.task_id)}</code>")
    if video.elapsed is not None:
        # "4.6 s" whole
        parts.append(_esc(_duration(video.elapsed)).replace(" ", "&nbsp;"))
    return parts


def _links(video: Video | Turn, src: str | None) -> list[str]:
    remote = public_url(video.video_url)
    links = [_link(src if src is None or not is_loopback(src) else None, t("link.video"))]
    if remote and remote != src:
        links.append(_link(remote, t("link.relay")))
    links.append(_link(public_url(video.preview_url), t("link.preview")))
    links.append(_link(public_url(video.source_url), t("link.status")))
    return [link for link in links if link]


def poster_url(video: Video | Turn) -> str | None:
    """The ``poster`` of a player: the local thumbnail inlined, else the relay's
    URL.

    JupyterLab rewrites relative ``src`` and ``href`` to its ``/files/`` URLs
    but not ``poster``, which then resolves against ``/lab/tree/`` and shows
    nothing; a small ``data:`` copy of the local thumbnail works in every
    frontend.
    """
    if local_url(video.local_thumbnail):
        return inline_image(video.local_thumbnail)
    return safe_url(video.thumbnail_url)


def thumbnail_png(video: Video | Turn) -> str | None:
    """The thumbnail as a small base64 PNG, for renderers that drop HTML."""
    path = video.local_thumbnail
    if not path or not local_url(path):
        return None
    stat = os.stat(path)
    return _png(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _png(path: str, mtime_ns: int, size: int) -> str | None:
    data = _shrunk(path, 320, "PNG")
    return None if data is None else base64.b64encode(data).decode("ascii")


def inline_image(path: str | None, box: int = 480) -> str | None:
    """A local image shrunk to fit ``box`` px as a WebP ``data:`` URL, else
    None.

    Every frontend shows it, also those that serve no files beside the notebook
    (Voilà).
    """
    if not path or not local_url(path):
        return None
    stat = os.stat(path)
    return _inline_poster(path, stat.st_mtime_ns, stat.st_size, box)


#: Thumbnails with more pixels than a 4K frame are not decoded (an image bomb is
#: a few KiB of PNG for gigabytes of pixels): the player keeps the file's own
#: path as its poster.
_MAX_POSTER_PIXELS = 3840 * 2160


@functools.lru_cache(maxsize=256)
def _inline_poster(path: str, mtime_ns: int, size: int, box: int = 480) -> str | None:
    """A WebP within ``box`` px as a ``data:`` URL (cached per file version)."""
    data = _shrunk(path, box, "WEBP")
    return None if data is None else f"data:image/webp;base64,{base64.b64encode(data).decode()}"


def _shrunk(path: str, box: int, kind: str) -> bytes | None:
    """The image at ``path`` within ``box`` px, as ``kind``; else None."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                if image.width * image.height > _MAX_POSTER_PIXELS:
                    return None
                # JPEG decodes at a fraction of its size
                image.draft("RGB", (box, box))
                image.thumbnail((box, box))
                buffer = io.BytesIO()
                image.convert("RGB").save(buffer, kind, quality=70, optimize=True)
    # any file a relay sent: rendering never raises, the path remains
    except Exception:
        return None
    return buffer.getvalue()


def _player(src: str | None, poster: str | None, alt: str, cover: str | None = None) -> str:
    if src is None:
        return f'<div style="{_MUTED}">{_esc(t("video.no_link"))}</div>'
    fallback = f'<img src="{_esc(poster)}" alt="{alt}" style="max-width:100%">' if poster else alt
    cover = cover or poster
    poster_attr = f' poster="{_esc(cover)}"' if cover else ""
    return (
        f'<video controls playsinline preload="metadata"{poster_attr} '
        'style="display:block;max-width:100%;max-height:480px;border-radius:4px;'
        'background:#000">'
        f'<source src="{_esc(src)}" type="video/mp4">'
        f'<a href="{_esc(src)}">{fallback}</a></video>'
    )


def _video_html(video: Video, embed: bytes | None = None) -> str:
    src, poster = _media(video)
    alt = _esc(_clip(video.prompt, 120))
    meta = " · ".join(_details(video) + _links(video, src))
    if embed is not None:
        # Our own bytes, not a URL from the relay: the one data: URL allowed in
        # a src.
        src = f"data:video/mp4;base64,{base64.b64encode(embed).decode('ascii')}"
    return (
        f'<div class="sora-nb-video" style="{_BOX}">{_player(src, poster, alt, poster_url(video))}'
        '<div style="margin-top:6px;max-width:640px;white-space:pre-wrap;'
        f'overflow-wrap:anywhere;font-size:var(--jp-content-font-size1, 14px)">'
        f"{_esc(video.prompt)}</div>"
        f'<div style="margin-top:2px;{_MUTED}">{meta}</div></div>'
    )


def _md_text(text: str) -> str:
    # Markdown takes inline HTML, so escape that first, then markdown's marks.
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|~>])", r"\\\1", _esc(text))


def _md_url(url: str) -> str:
    return url.replace("(", "%28").replace(")", "%29").replace(" ", "%20")


def _video_markdown(video: Video) -> str:
    src, poster = _media(video)
    prompt = _md_text(_clip(video.prompt, 200))
    if src and poster:
        head = f"[![{prompt}]({_md_url(poster)})]({_md_url(src)})"
    elif src:
        head = f"[▶ {prompt}]({_md_url(src)})"
    else:
        head = prompt
    details = " · ".join(_md_text(part) for part in _plain_details(video))
    return f"{head}\n\n{prompt}  \n{details}\n"


def _plain_details(video: Video | Turn) -> list[str]:
    parts = [video.model, video.orientation or "", video.task_id or ""]
    if video.elapsed is not None:
        parts.append(_duration(video.elapsed))
    return [part for part in parts if part]


def _video_plain(video: Video) -> str:
    lines = [f"<sora_nb.Video {' '.join(_plain_details(video))}>"]
    lines.append(t("plain.prompt", prompt=video.prompt))
    if video.local_path:
        lines.append(t("plain.local", path=video.local_path))
    lines.append(t("plain.video", url=video.video_url))
    return "\n".join(lines)


def video_mimebundle(video: Video, *, embed: bytes | None = None) -> dict[str, Any]:
    """``text/html`` (a ``<video>`` player), ``text/markdown``, ``image/png``
    and ``text/plain``.

    ``embed``: the mp4's bytes, played from a ``data:`` URL so the notebook
    needs no file. The PNG (the local thumbnail, small) is what renderers that
    drop HTML show.
    """
    bundle = {
        "text/html": _video_html(video, embed),
        "text/markdown": _video_markdown(video),
        "text/plain": _video_plain(video),
    }
    png = thumbnail_png(video)
    if png:
        bundle["image/png"] = png
    return bundle


# -- history -------------------------------------------------------------------


def _tree(turns: list[Turn]) -> list[tuple[Turn, int]]:
    """Turns in branch order (each followed by its edits), with their depth."""
    children: dict[int | None, list[Turn]] = {}
    for turn in turns:
        parent = turn.parent if turn.parent is not None and turn.parent < len(turns) else None
        children.setdefault(parent, []).append(turn)
    ordered: list[tuple[Turn, int]] = []
    stack = [(turn, 0) for turn in reversed(children.get(None, []))]
    while stack:
        turn, depth = stack.pop()
        ordered.append((turn, depth))
        stack.extend((child, depth + 1) for child in reversed(children.get(turn.index, [])))
    return ordered


def _thumb_cell(turn: Turn) -> str:
    src, poster = _media(turn)
    if poster is None or turn.status != "done":
        return ""
    image = f'<img src="{_esc(poster)}" alt="" style="max-width:72px;max-height:72px">'
    return f'<a href="{_esc(src)}" target="_blank" rel="noopener">{image}</a>' if src else image


def _status_cell(turn: Turn) -> str:
    color = _STATUS_COLORS.get(turn.status, "inherit")
    title = f' title="{_esc(turn.error)}"' if turn.error else ""
    status = _esc(t(f"status.{turn.status}"))
    return f'<span style="color:{color};font-weight:600"{title}>{status}</span>'


def _prompt_cell(turn: Turn, depth: int) -> str:
    # never a glyph: it may draw as a box
    marker = icon("child") + " " if depth else ""
    if turn.image:  # made from a picture: say so, as the studio's gallery does
        label = _esc(t("history.from_image"))
        marker += f'<span class="sora-nb-from-image" style="{_MUTED}">[{label}]</span> '
    name = f' <code style="{_MUTED}">{_esc(turn.name)}</code>' if turn.name else ""
    edits = (
        f' <span style="{_MUTED}">{_esc(t("history.edits", n=turn.parent))}</span>' if depth else ""
    )
    return (
        f'<td style="{_CELL}padding-left:{8 + 18 * depth}px;max-width:420px;'
        f'overflow-wrap:anywhere">{marker}{_esc(_clip(turn.prompt, 160))}{name}{edits}</td>'
    )


def _row(turn: Turn, depth: int) -> str:
    src, _ = _media(turn)
    notes = _links(turn, src) if turn.status == "done" else []
    if turn.error and turn.status != "done":
        notes.append(_esc(_clip(_once(turn.error, turn.task_id), 140)))
    cells = [
        f'<td style="{_CELL}">#{turn.index}</td>',
        f'<td style="{_CELL}">{_thumb_cell(turn)}</td>',
        _prompt_cell(turn, depth),
        f'<td style="{_CELL}">{_status_cell(turn)}</td>',
        f'<td style="{_CELL}{_MUTED}">{" · ".join(_details(turn))}<br>{" · ".join(notes)}</td>',
    ]
    return f"<tr>{''.join(cells)}</tr>"


#: Rows of a history table per page: a long history pages instead of writing
#: every turn.
PAGE_ROWS = 100


def _page(session: Session, page: int | None) -> tuple[list[tuple[Turn, int]], str]:
    """The rows of ``page`` (1-based; None: the last) in branch order, and a
    note saying which rows they are when there is more than one page.
    """
    rows = _tree(session.turns)
    pages = max(1, -(-len(rows) // PAGE_ROWS))
    number = pages if page is None else min(max(1, page), pages)
    start = (number - 1) * PAGE_ROWS
    shown = rows[start : start + PAGE_ROWS]
    if pages == 1:
        return shown, ""
    note = t("history.page", first=start + 1, last=start + len(shown), n=len(rows),
             page=number, pages=pages)  # fmt: skip
    return shown, note


def _history_html(session: Session, page: int | None = None) -> str:
    turns = session.turns
    title = _esc(t("history.title", name=session.name, n=len(turns)))
    if not turns:
        return f'<div style="{_BOX}">{_esc(t("history.empty", name=session.name))}</div>'
    shown, note = _page(session, page)
    rows = "".join(_row(turn, depth) for turn, depth in shown)
    footer = f'<div style="{_MUTED}margin-top:4px">{_esc(note)}</div>' if note else ""
    return (
        f'<div class="sora-nb-history" style="{_BOX}"><div style="font-weight:600;'
        f'margin-bottom:4px">{title}</div><table style="{_TABLE}">{rows}</table>{footer}</div>'
    )


def _history_plain(session: Session, page: int | None = None) -> str:
    turns = session.turns
    lines = [t("history.title", name=session.name, n=len(turns))]
    shown, note = _page(session, page)
    for turn, depth in shown:
        task = f" {turn.task_id}" if turn.task_id else ""
        indent = "   " * (depth - 1) + "└─ " if depth else ""
        status = t(f"status.{turn.status}")
        lines.append(f"{indent}#{turn.index} {status}{task} {_clip(turn.prompt, 60)!r}")
    return "\n".join(lines + ([note] if note else []))


def history_mimebundle(session: Session, page: int | None = None) -> dict[str, Any]:
    """The session's turns as a table in branch order, with thumbnails; and as
    plain text. A long history shows one page of ``PAGE_ROWS`` rows (None: the
    last page).
    """
    return {
        "text/html": _history_html(session, page),
        "text/plain": _history_plain(session, page),
    }


# -- small helpers -------------------------------------------------------------


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _once(error: str, task_id: str | None) -> str:
    """A row's error without its task id, which the row shows already."""
    if not task_id:
        return error
    return error.replace(t("failed.task", task=task_id), "").replace(f"task {task_id}", "the task")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    return time.strftime("%M:%S" if seconds < 3600 else "%H:%M:%S", time.gmtime(seconds))


# Video and Session sit below this layer and show themselves through
# ``_display.mimebundle``.
mimebundle.register(Video, video_mimebundle)
mimebundle.register(Session, history_mimebundle)
