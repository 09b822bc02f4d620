"""The public face of sora_nb is pinned: the README's names, nothing private leaking."""

from __future__ import annotations

import sora_nb


def test_all_is_sorted_and_importable() -> None:
    names = [n for n in sora_nb.__all__ if n != "__version__"]
    assert names == sorted(names, key=lambda n: (not n.isupper(), n))
    for name in sora_nb.__all__:
        assert hasattr(sora_nb, name), name


def test_api_md_names_are_public() -> None:
    for name in [
        "SoraClient",
        "Video",
        "SoraError",
        "InvalidRequest",
        "AuthenticationError",
        "RateLimitError",
        "APIStatusError",
        "APIConnectionError",
        "StreamInterrupted",
        "GenerationFailed",
        "Session",
        "get_session",
    ]:
        assert name in sora_nb.__all__, name


def test_errors_share_one_root() -> None:
    for name in sora_nb.__all__:
        obj = getattr(sora_nb, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, sora_nb.SoraError), name
