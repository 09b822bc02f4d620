"""The views' icons: inline SVG from the render layer
(``sora_nb/render/_icons.py``).
"""

from __future__ import annotations

from ..render._icons import ICONS, icon

__all__ = ["ICONS", "icon"]
