"""What the living video models take, for gateways that list names but not
capabilities.

OpenRouter lists each model's durations, ratios, resolutions and frames itself;
the others list names only (or nothing), so this documented table
(docs/dialects.md, "Models") fills in what a model is known to take. A name not
here is sent as written and checked by the gateway.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from .._exceptions import InvalidRequest
from .._messages import t

__all__ = [
    "CATALOG",
    "Capabilities",
    "ContinuationKind",
    "capabilities_for",
    "check_options",
    "from_openrouter",
]

#: How a new video continues an earlier one (docs/dialects.md, "Continuations").
ContinuationKind = Literal["remix", "edit", "extend", "last-frame"]


@dataclass(frozen=True, slots=True)
class Capabilities:
    """One model's inputs and continuations; an empty tuple means unknown."""

    model: str
    family: str = ""
    durations: tuple[int, ...] = ()
    aspect_ratios: tuple[str, ...] = ()
    resolutions: tuple[str, ...] = ()
    first_frame: bool | None = None
    last_frame: bool | None = None
    references: bool | None = None
    audio: bool | None = None
    continuations: tuple[ContinuationKind, ...] = ()
    source: str = "table"  # "gateway" when the gateway listed it itself

    def as_row(self) -> dict[str, Any]:
        """A plain dict, as ``sora_nb.models()`` and ``%sora models`` show."""
        return {
            "model": self.model,
            "family": self.family,
            "durations": list(self.durations),
            "aspect_ratios": list(self.aspect_ratios),
            "resolutions": list(self.resolutions),
            "first_frame": self.first_frame,
            "last_frame": self.last_frame,
            "references": self.references,
            "audio": self.audio,
            "continuations": list(self.continuations),
            "source": self.source,
        }


_WIDE = ("16:9", "9:16")
_THREE = ("16:9", "9:16", "1:1")


def _families() -> dict[str, Capabilities]:
    """Each living family once; the gateways' names point at these."""
    rows = (
        Capabilities("veo-3.1", "Veo 3.1", (4, 6, 8), _WIDE, ("720p", "1080p"), True, True, True,
                     True, ("extend",)),
        Capabilities("kling", "Kling", (5, 10), _THREE, ("720p", "1080p"), True, True, False,
                     False),
        Capabilities("seedance", "Seedance", (5, 10), ("16:9", "9:16", "1:1", "4:3"),
                     ("480p", "720p", "1080p"), True, True, True, False),
        Capabilities("wan", "Wan", (5, 10), _THREE, ("480p", "720p", "1080p"), True, False, True,
                     True),
        Capabilities("hailuo", "Hailuo (MiniMax)", (6, 10), _WIDE, ("768p", "1080p"), True, False,
                     False, False),
        Capabilities("grok-imagine", "Grok Imagine", tuple(range(1, 16)), ("16:9", "9:16", "1:1",
                     "4:3", "3:4"), ("480p", "720p"), True, False, True, True, ("edit", "extend")),
        Capabilities("runway", "Runway Gen-4 Turbo", (5, 10), _WIDE, ("720p",), True, False,
                     False, False),
    )  # fmt: skip
    return {row.model: row for row in rows}


_FAMILY = _families()

#: The names each gateway serves these families under (its docs and code).
_NAMES: dict[str, str] = {
    # new-api and resellers: the upstream's own names
    "veo-3.1-generate-preview": "veo-3.1",
    "veo-3.1-fast-generate-preview": "veo-3.1",
    "kling-v2-1": "kling",
    "kling-v2-1-master": "kling",
    "doubao-seedance-1-0-pro-250528": "seedance",
    "wan2.6-t2v": "wan",
    "wan2.6-i2v": "wan",
    "minimax-hailuo-02": "hailuo",
    "grok-imagine-video": "grok-imagine",
    "gen4_turbo": "runway",
    # LiteLLM: provider/model
    "gemini/veo-3.1-generate-preview": "veo-3.1",
    "vertex_ai/veo-3.1-generate-preview": "veo-3.1",
    "runwayml/gen4_turbo": "runway",
    # OpenRouter: vendor/model (it lists these itself; the table is a fallback)
    "google/veo-3.1": "veo-3.1",
    "kwaivgi/kling-v2.1": "kling",
    "bytedance/seedance-2.0": "seedance",
    "alibaba/wan-2.6": "wan",
    "minimax/hailuo-02": "hailuo",
    "x-ai/grok-imagine-video": "grok-imagine",
}

CATALOG: dict[str, Capabilities] = {
    name: replace(_FAMILY[family], model=name) for name, family in _NAMES.items()
}


def capabilities_for(model: str) -> Capabilities | None:
    """The documented capabilities of ``model`` (flow2api's Veo: its name)."""
    known = CATALOG.get(model.strip().lower())
    if known is not None:
        return replace(known, model=model)
    if model.startswith("veo_3_1_"):
        first = "_i2v_" in model
        return replace(_FAMILY["veo-3.1"], model=model, first_frame=first, last_frame=first,
                       references="_r2v_" in model, durations=(8,))  # fmt: skip
    return None


def from_openrouter(row: dict[str, Any]) -> Capabilities:
    """One entry of OpenRouter's ``GET /api/v1/videos/models``."""
    frames = row.get("supported_frame_images") or []
    return Capabilities(
        model=str(row.get("id") or ""),
        family=str(row.get("name") or ""),
        durations=tuple(int(d) for d in row.get("supported_durations") or ()),
        aspect_ratios=tuple(str(r) for r in row.get("supported_aspect_ratios") or ()),
        resolutions=tuple(str(r) for r in row.get("supported_resolutions") or ()),
        first_frame="first_frame" in frames,
        last_frame="last_frame" in frames,
        audio=bool(row.get("generate_audio")),
        source="gateway",
    )


def check_options(caps: Capabilities | None, options: dict[str, Any], image: str | None) -> None:
    """Refuse, before sending, a value the model is known not to take."""
    if caps is None:
        return
    name = caps.model
    checks: tuple[tuple[object, tuple[object, ...], str], ...] = (
        (options.get("duration"), caps.durations, "duration"),
        (options.get("aspect_ratio"), caps.aspect_ratios, "aspect_ratio"),
        (options.get("resolution"), caps.resolutions, "resolution"),
    )
    for value, allowed, what in checks:
        if value is not None and allowed and value not in allowed:
            shown = ", ".join(str(a) for a in allowed)
            raise InvalidRequest(t("gateway.option", model=name, what=what, value=value,
                                   allowed=shown))  # fmt: skip
    if image is not None and caps.first_frame is False:
        raise InvalidRequest(t("gateway.no_first_frame", model=name))
    if options.get("last_frame") is not None and caps.last_frame is False:
        raise InvalidRequest(t("gateway.no_last_frame", model=name))
    if options.get("audio") and caps.audio is False:
        raise InvalidRequest(t("gateway.no_audio", model=name))
