"""The notebook layer's name for the one message catalog,
``sora_nb._messages``.
"""

from __future__ import annotations

from .._messages import LANGUAGES, Language, detect_language, language, set_language, t

__all__ = ["LANGUAGES", "Language", "detect_language", "language", "set_language", "t"]
