"""How a Video or a Session shows itself in a notebook, without importing the
render layer.

The records live below ``_render`` in the layers (``pyproject.toml``,
``[tool.importlinter]``), so their ``_repr_mimebundle_`` calls this generic
function and ``_render`` registers the real renderers on it when it is imported
(``sora_nb/__init__.py`` imports it).
"""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["mimebundle"]


@functools.singledispatch
def mimebundle(obj: object) -> dict[str, Any]:
    """The mime bundle of ``obj``; plain text until its type has a renderer."""
    return {"text/plain": repr(obj)}
