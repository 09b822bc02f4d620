"""Inline SVG icons: drawn by every browser and sanitizer-safe, never an emoji
or font glyph.

A machine without an emoji font draws ``⏳`` or ``▶`` as an empty box; a path
never is. Each icon is a 24-unit stroke drawing, sized by the text around it
(``1em``). They live in the render layer so every HTML output uses them: the
views, one-line messages, the history.
"""

from __future__ import annotations

__all__ = ["ICONS", "icon"]

ICONS: dict[str, str] = {
    "play": '<path d="M7 4v16l13-8z"/>',
    "check": '<path d="M4 12l5 5L20 6"/>',
    "x": '<path d="M6 6l12 12M18 6L6 18"/>',
    "pause": '<path d="M8 5v14M16 5v14"/>',
    "clock": '<circle cx="12" cy="12" r="9"/><path d="M12 7v5l3 3"/>',
    "resume": '<path d="M20 12a8 8 0 1 1-2.3-5.7M20 4v5h-5"/>',
    "download": '<path d="M12 4v11M7 10l5 5 5-5M5 20h14"/>',
    "image": '<rect x="3" y="5" width="18" height="14" rx="2"/><path d="M3 16l5-5 4 4 3-3 6 6"/>',
    "copy": '<rect x="8" y="8" width="12" height="12" rx="2"/><path d="M16 8V5a1 1 0 0 0-1-1H5'
    'a1 1 0 0 0-1 1v10a1 1 0 0 0 1 1h3"/>',
    "compare": '<rect x="3" y="5" width="7" height="14" rx="1"/>'
    '<rect x="14" y="5" width="7" height="14" rx="1"/>',
    "spark": '<path d="M12 3v5M12 16v5M3 12h5M16 12h5M6 6l3 3M15 15l3 3M18 6l-3 3M9 15l-3 3"/>',
    "pencil": '<path d="M4 20l4-1L19 8l-3-3L5 16zM14 7l3 3"/>',
    "film": '<rect x="3" y="4" width="18" height="16" rx="2"/><path d="M7 4v16M17 4v16M3 9h4'
    'M3 15h4M17 9h4M17 15h4"/>',
    "next": '<path d="M5 12h12M13 7l5 5-5 5"/>',
    "prev": '<path d="M19 12H7M11 7l-5 5 5 5"/>',
    "alert": '<path d="M12 3l10 18H2zM12 10v5M12 18v.5"/>',
    "info": '<circle cx="12" cy="12" r="9"/><path d="M12 11v6M12 7.5v.5"/>',
    "child": '<path d="M6 4v8a3 3 0 0 0 3 3h11M16 11l4 4-4 4"/>',
    "branch": '<circle cx="6" cy="5" r="2"/><circle cx="6" cy="19" r="2"/><circle cx="18" cy="9"'
    ' r="2"/><path d="M6 7v10M18 11c0 4-6 3-12 6"/>',
}


def icon(name: str, *, size: str = "1em", label: str = "") -> str:
    """The icon ``name`` as inline ``<svg>``; ``label`` makes it announced."""
    aria = f'role="img" aria-label="{label}"' if label else 'aria-hidden="true"'
    return (
        f'<svg class="sora-nb-icon" viewBox="0 0 24 24" width="{size}" height="{size}" {aria} '
        'fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" '
        f'stroke-linejoin="round" style="display:inline-block;vertical-align:-0.125em;flex:none">'
        f"{ICONS[name]}</svg>"
    )
