"""Dialects: one module per kind of relay, behind one small interface."""
