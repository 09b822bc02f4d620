"""Posters cut from a video's first frame, for relays that send no thumbnail
link.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from sora_nb.client._poster import first_frame_poster


def _clip(path: Path, colour: tuple[int, int, int]) -> Path:
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(24))
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for _ in range(3):
            pixels = np.full((240, 320, 3), colour, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def test_poster_is_the_first_frame(tmp_path: Path) -> None:
    # no suffix, as a signed link saves it
    video = _clip(tmp_path / "clip", (200, 30, 30))
    poster = first_frame_poster(video, tmp_path / "clip.jpg")
    assert poster == tmp_path / "clip.jpg"
    with Image.open(poster) as image:
        assert image.size == (320, 240)
        pixel = image.convert("RGB").getpixel((160, 120))
    assert isinstance(pixel, tuple)
    red, green, blue = pixel
    assert red > 150 and green < 80 and blue < 80
    assert list(tmp_path.glob("*.part")) == []


def test_no_poster_for_a_file_that_is_not_a_video(tmp_path: Path) -> None:
    page = tmp_path / "expired.mp4"
    page.write_text("<html>link expired</html>")
    assert first_frame_poster(page, tmp_path / "expired.jpg") is None
    assert not (tmp_path / "expired.jpg").exists()
    assert first_frame_poster(tmp_path / "missing.mp4", tmp_path / "m.jpg") is None
