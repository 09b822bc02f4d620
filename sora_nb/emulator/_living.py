"""The living video models each emulated gateway serves, with what they take.

Names are the gateways' own (docs/dialects.md, "Models"); OpenRouter's listing
carries the capabilities, the others list names. Sora's names stay on new-api
only, as a relay that puts the name on another model would (the real Sora 2 is
shut down).
"""

from __future__ import annotations

from typing import Any

__all__ = ["NAMES", "OPENROUTER_MODELS"]

NAMES: dict[str, list[str]] = {
    "newapi": [
        "veo-3.1-generate-preview", "kling-v2-1", "doubao-seedance-1-0-pro-250528",
        "wan2.6-i2v", "MiniMax-Hailuo-02", "grok-imagine-video", "sora-2",
    ],
    "litellm": [
        "gemini/veo-3.1-generate-preview", "runwayml/gen4_turbo", "openai/sora-2",
    ],
    "grok2api": ["grok-imagine-video"],
    "flow2api": [
        "veo_3_1_t2v_fast_landscape", "veo_3_1_t2v_fast_portrait", "veo_3_1_i2v_s_fast_fl",
        "veo_3_1_i2v_s_fast_portrait_fl", "veo_3_1_extend", "veo_3_1_extend_portrait",
    ],
    "reseller": ["kling-v2-1", "wan2.6-i2v", "MiniMax-Hailuo-02"],
}  # fmt: skip


def _row(id_: str, name: str, durations: list[int], ratios: list[str], resolutions: list[str],
         frames: list[str], audio: bool) -> dict[str, Any]:  # fmt: skip
    return {
        "id": id_,
        "canonical_slug": id_,
        "name": name,
        "created": 1767225600,
        "supported_durations": durations,
        "supported_aspect_ratios": ratios,
        "supported_resolutions": resolutions,
        "supported_frame_images": frames,
        "supported_sizes": None,
        "generate_audio": audio,
        "seed": None,
        "allowed_passthrough_parameters": [],
    }


OPENROUTER_MODELS = [
    _row("google/veo-3.1", "Veo 3.1", [4, 6, 8], ["16:9", "9:16"], ["720p", "1080p"],
         ["first_frame", "last_frame"], True),
    _row("kwaivgi/kling-v2.1", "Kling 2.1", [5, 10], ["16:9", "9:16", "1:1"], ["720p", "1080p"],
         ["first_frame", "last_frame"], False),
    _row("bytedance/seedance-2.0", "Seedance 2.0", [5, 10], ["16:9", "9:16", "1:1", "4:3"],
         ["480p", "720p", "1080p"], ["first_frame", "last_frame"], False),
    _row("alibaba/wan-2.6", "Wan 2.6", [5, 10], ["16:9", "9:16", "1:1"], ["720p", "1080p"],
         ["first_frame"], True),
    _row("minimax/hailuo-02", "Hailuo 02", [6, 10], ["16:9"], ["768p", "1080p"],
         ["first_frame"], False),
]  # fmt: skip
