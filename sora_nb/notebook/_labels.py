"""The studio's own words: its part of the one catalog (keys ``studio.*``)."""

from __future__ import annotations

from ._i18n import t

__all__ = ["label"]


def label(key: str, **fields: object) -> str:
    """The studio's label ``key`` in the notebook layer's language."""
    return t(f"studio.{key}", **fields)
