"""``python -m sora_nb.emulator``: serve the emulator (see ``--help``)."""

from __future__ import annotations

import sys

from ._command import main

sys.exit(main())
