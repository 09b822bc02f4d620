"""The public face of sora_nb is pinned by equality (as httpx's
tests/test_exported_members.py does): ``__all__`` is exactly the public names,
and the package's own helpers stay private.
"""

from __future__ import annotations

import types

import sora_nb

# Public but not in ``__all__``: IPython's hook for ``%load_ext sora_nb``.
HOOKS = {"load_ipython_extension"}


def test_all_is_exactly_the_public_names() -> None:
    public = {
        name
        for name, value in vars(sora_nb).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public - HOOKS == set(sora_nb.__all__) - {"__version__"}


def test_public_classes_show_the_package_name() -> None:
    for name in ("SoraClient", "Session", "Video", "Turn", "Request", "Task", "PendingTask"):
        assert getattr(sora_nb, name).__module__ == "sora_nb", name


def test_client_and_session_methods_are_pinned() -> None:
    # What a Session needs of its client is public (it uses nothing private);
    # the HTTP pool, the auth and the dialect stay private.
    assert public_members(sora_nb.SoraClient) == {
        "aclose",
        "cancels_on_disconnect",
        "check_ready",
        "continuations",
        # a property: for ``detect``, the dialect found once it is known
        "dialect",
        "download",
        "edit",
        "generate",
        "has_api_key",
        "lookup",
        "models",
        "request",
        "resume",
        "send",
        "stream",
    }
    assert public_members(sora_nb.Session) == {
        "aclose",
        "clear",
        "client",
        "edit",
        "export_chain",
        "generate",
        "generate_many",
        "latest",
        "load",
        "resume",
        "resume_many",
        "save",
        "save_copy",
        "subscribe",
        "turn",
        "turns",
        "video",
    }


def test_client_attributes_are_pinned() -> None:
    client = sora_nb.SoraClient("http://127.0.0.1:9", "sk-test")
    public = {name for name in vars(client) if not name.startswith("_")}
    assert public == {
        "base_url",
        "deadline",
        "max_retries",
        "poll_interval",
        "uses_emulator",
    }


def public_members(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


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
