"""A traitlet for the API key: whatever is assigned is kept as a masked
``Secret``.

So ``%config SoraMagics.api_key``, ``%config SoraMagics`` and a Verbose
traceback through the magic show ``sk-…abcd`` (docs/notebook.md, "The key").
"""

from __future__ import annotations

from typing import Any

from traitlets import TraitType

from .._secret import Secret

__all__ = ["SecretKey"]


class SecretKey(TraitType[Secret | None, Secret | str | None]):
    """An API key; a ``str`` given to it becomes a ``Secret``, an empty one
    None.
    """

    info_text = "an API key (a str, kept masked)"
    allow_none = True
    default_value = None

    def validate(self, obj: Any, value: Any) -> Secret | None:
        if value is None or isinstance(value, (Secret, str)):
            return Secret.of(value)
        self.error(obj, value)
        return None  # pragma: no cover  (error() raises)
