"""The one table of status words and the one reader of progress
(docs/dialects.md).
"""

from __future__ import annotations

import pytest

from sora_nb.dialects._words import percent, phase

WORDS = {
    "queued": "queued", "pending": "queued", "NOT_START": "queued", "Preparing": "queued",
    "in_progress": "generating", "processing": "generating", "Processing": "generating",
    "running": "generating", "completed": "completed", "succeeded": "completed",
    "SUCCEEDED": "completed", "Success": "completed", "done": "completed",
    "failed": "failed", "FAILED": "failed", "Fail": "failed", "error": "failed",
    "cancelled": "failed", "canceled": "failed", "expired": "failed",
}  # fmt: skip


@pytest.mark.parametrize(("word", "expected"), WORDS.items())
def test_every_status_word_seen_has_its_phase(word: str, expected: str) -> None:
    assert phase(word) == expected


@pytest.mark.parametrize("word", ["", None, "weird_new_word", 3])
def test_an_unknown_or_missing_word_ends_nothing(word: object) -> None:
    assert phase(word) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 0), (35, 35), (100, 100), (0.35, 35), (1.0, 100), (0.0, 0), ("50%", 50), ("0.5", 50),
     ("7", 7), (None, None), (True, None), ("soon", None), (float("nan"), None), (-3, None),
     (250, 100), (50.0, 50), ("0.5%", 0)],
)  # fmt: skip
def test_every_progress_form(value: object, expected: int | None) -> None:
    assert percent(value) == expected
