"""The small HTML preview page behind a task's ``数据预览`` link."""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = ["preview_page"]

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;background:#111;color:#eee}"
    "video,img{max-width:100%;max-height:70vh;border-radius:6px}"
    "dt{color:#999}dd{margin:0 0 .6rem}a{color:#8cf}"
)


def _shown(value: Any) -> str:
    return "—" if value is None or value == "" else str(value)


def preview_page(task: dict[str, Any]) -> str:
    """A page showing the task's state and, once finished, its video (``task``
    as /source).
    """
    finished = task["status"] in ("completed", "failed")
    refresh = "" if finished else '<meta http-equiv="refresh" content="2">'
    rows = "".join(
        f"<dt>{escape(label)}</dt><dd>{escape(_shown(task.get(key)))}</dd>"
        for label, key in (
            ("status", "status"),
            ("progress", "progress"),
            ("prompt", "prompt"),
            ("model", "model"),
            ("orientation", "orientation"),
            ("sid", "sid"),
            ("edits", "parent_sid"),
            ("failure", "failure_reason"),
        )
    )
    media = ""
    if task.get("url"):
        url, poster = escape(task["url"]), escape(task.get("thumbnail_url") or "")
        media = (
            f'<video src="{url}" poster="{poster}" controls loop playsinline></video>'
            f'<p><a href="{url}">mp4</a></p>'
        )
    return (
        f'<!doctype html><html><head><meta charset="utf-8">{refresh}'
        f"<title>{escape(task['id'])}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(task['id'])}</h1>{media}<dl>{rows}</dl></body></html>"
    )
