"""Dialects: one module per kind of relay, behind one small interface (``_base.Dialect``).

The client builds the one its setting names (``dialect_for``) and never asks which it holds.
A new dialect is a module here plus one line in ``_REGISTRY`` (docs/dialects.md, "Adding a
dialect").
"""

from ._base import Continuation, Dialect, EventCallback, Relay

__all__ = ["Continuation", "Dialect", "EventCallback", "Relay"]
