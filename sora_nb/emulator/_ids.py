"""Identifiers shaped like the relay's (see
tests/fixtures/transcript/edit_stream.content.md).
"""

from __future__ import annotations

import secrets
import string
import time

# Crockford's base32, lower case: the alphabet of the relay's ULID task ids.
_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
_ALNUM = string.ascii_letters + string.digits


def new_task_id() -> str:
    """``task_`` + a ULID (48-bit millisecond clock, 80 random bits) in 26
    characters.
    """
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "task_" + "".join(reversed(chars))


def new_sid() -> str:
    """``s_`` + 32 hex digits; the relay's start with the unix time in hex, so
    do ours.
    """
    return f"s_{int(time.time()) & 0xFFFFFFFF:08x}{secrets.token_hex(12)}"


def new_completion_id() -> str:
    """``chatcmpl-`` + 29 letters and digits, as in the seed stream."""
    # one read of the system's randomness,
    value = secrets.randbelow(len(_ALNUM) ** 29)
    chars = []  # not one per character: a thousand streams start at once
    for _ in range(29):
        value, digit = divmod(value, len(_ALNUM))
        chars.append(_ALNUM[digit])
    return "chatcmpl-" + "".join(chars)
