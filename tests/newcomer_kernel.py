"""A Python kernel that sees only what ``pip install -e '.[demo]'`` installs.

The test environment has the test extra too (pandas, papermill, openai …). A
fresh venv with only the demo extra costs minutes of installing in every CI run,
so this kernel hides, before anything runs, every top-level module of a
distribution the demo extra does not require: each import finder answers "not
here" for them, so ``import pandas`` raises ModuleNotFoundError and
``importlib.util.find_spec("pandas")`` is None, as in a demo-only venv.
(``sys.modules[name] = None`` would not do: code that asks whether numpy is
already imported would find the name there.) tests/test_notebooks.py lists the
modules in ``$NEWCOMER_HIDDEN_MODULES`` from the installed packages' metadata.
"""

from __future__ import annotations

import os
import sys
from typing import Any

HIDDEN = frozenset(filter(None, os.environ.pop("NEWCOMER_HIDDEN_MODULES", "").split(",")))


class Hiding:
    """An import finder that finds nothing of ``HIDDEN`` and defers the rest to
    ``finder``.
    """

    def __init__(self, finder: Any) -> None:
        self.finder = finder

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name.partition(".")[0] in HIDDEN:
            return None
        return self.finder.find_spec(name, path, target)

    # invalidate_caches, find_distributions …
    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.finder, attribute)


sys.meta_path[:] = [Hiding(finder) for finder in sys.meta_path]

from ipykernel.kernelapp import launch_new_instance  # noqa: E402  (only once hidden)

launch_new_instance()
