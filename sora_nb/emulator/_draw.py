"""What the emulator's frames look like: Pillow drawing, no video I/O.

Every turn adds three things at places fixed by its turn number, so an edit
chain stays readable in the last video: a caption box with its instruction
(top), a numbered badge in the turn's colour (bottom), and a moving shape in
that colour. Turn 1 also gets a background (a gradient, or the reference image
with a slow zoom), a bouncing ball and a clock bar.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import subprocess
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

__all__ = ["PALETTE", "TurnLayer", "badge_box", "fresh_frames", "placeholder", "turn_colour"]

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
RGB = tuple[int, int, int]

PALETTE: tuple[RGB, ...] = (
    (230, 57, 70),
    (42, 157, 143),
    (233, 196, 106),
    (69, 123, 157),
    (244, 162, 97),
    (131, 56, 236),
    (6, 214, 160),
    (255, 0, 110),
)

# Fonts with CJK glyphs, tried in order; Pillow's own default font draws boxes
# for CJK.
_FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)


def turn_colour(turn: int) -> RGB:
    """The colour of a turn's badge, caption strip and shape."""
    return PALETTE[(turn - 1) % len(PALETTE)]


@lru_cache(maxsize=1)
def _fontconfig_cjk() -> str | None:
    # Any CJK font fontconfig knows, beyond the usual paths; optional.
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    try:
        found = subprocess.run(  # noqa: S603 - a fixed argument list, no shell
            [fc_list, ":lang=zh", "file"], capture_output=True, text=True, timeout=5, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    paths = sorted(line.rstrip(": ").strip() for line in found.splitlines() if line.strip())
    return paths[0] if paths else None


@lru_cache(maxsize=16)
def _font(size: int) -> Font:
    override = os.environ.get("SORA_NB_FONT")
    for candidate in (override, *_FONT_CANDIDATES):
        if candidate and Path(candidate).is_file():
            try:
                return ImageFont.truetype(candidate, size)
            except OSError:
                continue
    fallback = _fontconfig_cjk()
    if fallback is not None:
        try:
            return ImageFont.truetype(fallback, size)
        except OSError:
            pass
    return ImageFont.load_default(size=size)


def _scale(width: int, height: int) -> float:
    return min(width, height) / 360


def badge_box(turn: int, width: int, height: int) -> tuple[int, int, int, int]:
    """Where turn ``turn`` puts its badge: (left, top, right, bottom)."""
    s = _scale(width, height)
    side, gap = round(28 * s), round(6 * s)
    per_row = max(1, (width - 2 * gap) // (side + gap))
    slot = (turn - 1) % per_row
    left = gap + slot * (side + gap)
    bottom = height - round(14 * s) - gap
    return left, bottom - side, left + side, bottom


_ROW_CHARS = 240


def _wrap(text: str, font: Font, width: int, lines: int) -> list[str]:
    """Greedy wrap by characters (CJK has no spaces), preferring to break at a
    space.
    """
    out: list[str] = []
    rest = " ".join(text.split())
    while rest and len(out) < lines:
        # a row never holds more: bounded for any prompt
        end = min(len(rest), _ROW_CHARS)
        while end > 1 and font.getlength(rest[:end]) > width:
            end -= 1
        if end < len(rest) and " " in rest[1:end]:
            end = rest.rindex(" ", 1, end)
        out.append(rest[:end].strip())
        rest = rest[end:].strip()
    if rest and out:
        last = out[-1]
        while last and font.getlength(last + "…") > width:
            last = last[:-1]
        out[-1] = last + "…"
    return out


class TurnLayer:
    """The still part of one turn's drawing (caption, badge), pasted on every
    frame.
    """

    def __init__(self, turn: int, prompt: str, width: int, height: int, footer: str | None):
        self.turn = turn
        self.width, self.height = width, height
        # Small separate pieces: pasting one frame-sized RGBA layer would cost 1
        # ms a frame.
        self._pieces = [self._caption(prompt), self._badge()]
        if footer:
            self._pieces.append(self._footer(footer))

    def _caption(self, prompt: str) -> tuple[Image.Image, tuple[int, int]]:
        s = _scale(self.width, self.height)
        font = _font(round(16 * s))
        pad, line_h = round(6 * s), round(20 * s)
        # landscape has room for fewer lines
        rows = 2 if self.height > self.width else 1
        box_w, box_h = self.width - 2 * pad, rows * line_h + 2 * pad
        slots = max(1, int(self.height * 0.45) // (box_h + pad))
        top = pad + ((self.turn - 1) % slots) * (box_h + pad)
        # Once the slots wrap around, cover the older caption underneath instead
        # of mixing.
        alpha = 160 if self.turn <= slots else 245
        piece = Image.new("RGBA", (box_w, box_h), (0, 0, 0, alpha))
        draw = ImageDraw.Draw(piece)
        draw.rectangle((0, 0, round(5 * s), box_h), fill=turn_colour(self.turn))
        text_left = round(11 * s)
        lines = _wrap(f"{self.turn} · {prompt}", font, box_w - text_left - pad, rows)
        for index, line in enumerate(lines):
            draw.text((text_left, pad + index * line_h), line, font=font, fill="white")
        return piece, (pad, top)

    def _badge(self) -> tuple[Image.Image, tuple[int, int]]:
        left, top, right, bottom = badge_box(self.turn, self.width, self.height)
        piece = Image.new("RGBA", (right - left, bottom - top), turn_colour(self.turn))
        font = _font(round(piece.height * 0.5))
        centre = (piece.width / 2, piece.height / 2)
        ImageDraw.Draw(piece).text(centre, str(self.turn), font=font, fill="white", anchor="mm")
        return piece, (left, top)

    def _footer(self, text: str) -> tuple[Image.Image, tuple[int, int]]:
        s = _scale(self.width, self.height)
        font = _font(round(11 * s))
        piece = Image.new("RGBA", (self.width, round(13 * s)), (0, 0, 0, 0))
        ImageDraw.Draw(piece).text((round(6 * s), 0), text, font=font, fill="white")
        return piece, (0, self.height - round(19 * s))

    def apply(self, frame: Image.Image, index: int, count: int) -> None:
        """Draw this turn onto ``frame`` (RGB, in place): its moving shape, then
        the layer.
        """
        if self.turn > 1:
            self._halo(frame, index, count)
        for piece, position in self._pieces:
            frame.paste(piece, position, piece)

    def _halo(self, frame: Image.Image, index: int, count: int) -> None:
        s = _scale(self.width, self.height)
        angle = 2 * math.pi * (index / max(count, 1) + self.turn / 5)
        cx = self.width / 2 + self.width * 0.28 * math.cos(angle)
        cy = self.height * 0.62 + self.height * 0.12 * math.sin(angle)
        r = 26 * s
        ImageDraw.Draw(frame).ellipse(
            (cx - r, cy - r, cx + r, cy + r), outline=turn_colour(self.turn), width=round(5 * s)
        )


def _gradient(prompt: str, width: int, height: int) -> Image.Image:
    digest = hashlib.sha256(prompt.encode()).digest()
    top = (digest[0] // 3, digest[1] // 3, digest[2] // 3 + 40)
    bottom = (digest[3] // 4 + 20, digest[4] // 4, digest[5] // 3)
    column = Image.new("RGB", (1, height))
    for y in range(height):
        t = y / max(height - 1, 1)
        column.putpixel(
            (0, y), tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        )
    return column.resize((width, height))


def placeholder(url: str, width: int, height: int) -> Image.Image:
    """What stands in for an image URL that cannot be fetched offline: a
    labelled panel.
    """
    s = _scale(width, height)
    picture = Image.new("RGB", (width, height), (60, 60, 60))
    draw = ImageDraw.Draw(picture)
    font = _font(round(14 * s))
    left, top = round(width * 0.1), round(height * 0.3)
    draw.rectangle((left, top, width - left, height - top), fill=(95, 95, 95))
    lines = ["reference image (not fetched offline)", *_wrap(url, font, width - 2 * left - 16, 4)]
    for index, line in enumerate(lines):
        draw.text((left + 8, top + 8 + index * round(18 * s)), line, font=font, fill="white")
    return picture


def fresh_frames(
    prompt: str, image: Image.Image | None, width: int, height: int, count: int
) -> Iterator[Image.Image]:
    """Turn 1's moving picture: background (gradient or image), a ball and a
    clock bar.
    """
    still = _gradient(prompt, width, height)
    margin = (width // 10, height // 10)
    enlarged = None
    if image is not None:
        enlarged = ImageOps.fit(image, (width + margin[0], height + margin[1]))
    for index in range(count):
        t = index / max(count - 1, 1)
        frame = _pan(enlarged, t, width, height) if enlarged is not None else still.copy()
        _ball_and_clock(frame, index, count, t)
        yield frame


def _pan(image: Image.Image, t: float, width: int, height: int) -> Image.Image:
    # A slow diagonal pan: a crop is ten times cheaper a frame than a resize.
    x = round((image.width - width) * t)
    y = round((image.height - height) * t)
    return image.crop((x, y, x + width, y + height))


def _ball_and_clock(frame: Image.Image, index: int, count: int, t: float) -> None:
    width, height = frame.size
    s = _scale(width, height)
    draw = ImageDraw.Draw(frame)
    r = 18 * s
    cx = width / 2 + (width / 2 - 2 * r) * math.sin(2 * math.pi * 2 * t)
    cy = height * 0.62 + height * 0.18 * math.sin(2 * math.pi * 3 * t)
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(250, 250, 250), outline=(20, 20, 20))
    bar = round(6 * s)
    draw.rectangle((0, height - bar, width, height), fill=(30, 30, 30))
    draw.rectangle((0, height - bar, round(width * (index + 1) / count), height), fill="white")
