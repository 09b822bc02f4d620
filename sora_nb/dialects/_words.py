"""How gateways say where a task is: one table of status words, one reader of
progress.

Gateways pass their upstreams' words through (docs/dialects.md, "Status words"),
so a word is looked up case-folded, with spaces and dashes read as underscores.
An unknown word keeps the task polling: only the words below end it.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

__all__ = ["STATUS_WORDS", "Phase", "percent", "phase"]

Phase = Literal["queued", "generating", "completed", "failed"]

#: Every status word seen on the gateways and its meaning (one table).
STATUS_WORDS: dict[str, Phase] = {
    "queued": "queued",
    "pending": "queued",
    "not_start": "queued",
    "not_started": "queued",
    "submitted": "queued",
    "preparing": "queued",
    "waiting": "queued",
    "throttled": "queued",
    "created": "queued",
    "in_progress": "generating",
    "processing": "generating",
    "running": "generating",
    "generating": "generating",
    "started": "generating",
    "completed": "completed",
    "complete": "completed",
    "succeeded": "completed",
    "success": "completed",
    "successful": "completed",
    "done": "completed",
    "finished": "completed",
    "failed": "failed",
    "fail": "failed",
    "failure": "failed",
    "error": "failed",
    "cancelled": "failed",
    "canceled": "failed",
    "expired": "failed",
    "timeout": "failed",
}

_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$")


def phase(word: object) -> Phase | None:
    """The phase a status word names; None for no word or one not in the
    table.
    """
    if not isinstance(word, str) or not word.strip():
        return None
    return STATUS_WORDS.get(re.sub(r"[\s-]+", "_", word.strip().lower()))


def percent(value: Any) -> int | None:
    """0-100 from a progress in any form seen: 0-100, a 0-1 fraction, ``"50%"``,
    or None.

    A float up to 1.0 is a fraction (Runway's 0.35); an int is a percentage (1
    is 1 %).
    """
    if isinstance(value, bool) or value is None:
        return None
    fraction_ok = True
    if isinstance(value, str):
        match = _NUMBER.match(value)
        if match is None:
            return None
        # "0.5%" is half a percent, not half the job
        fraction_ok = not match.group(2)
        number: float = float(match.group(1))
        if fraction_ok and "." not in match.group(1):
            fraction_ok = False  # "1" as text is 1 %
    elif isinstance(value, int):
        number, fraction_ok = float(value), False
    elif isinstance(value, float):
        number = value
    else:
        return None
    if not math.isfinite(number) or number < 0:
        return None
    if fraction_ok and number <= 1.0:
        number *= 100
    return min(100, int(number))
