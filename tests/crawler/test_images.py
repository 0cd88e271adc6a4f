"""Image checks: the format comes from the bytes, and every bad file gets a clear reason."""

from __future__ import annotations

import io
import re

import pytest
from memethresher_crawler.images import ImageRejected, check_image
from PIL import Image

from tests.support.images import image_bytes, png_bomb

MAX_PIXELS = 50_000_000


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "AVIF"])
def test_accepted_formats_are_recognised_by_their_bytes(fmt: str) -> None:
    data = image_bytes(fmt, (40, 30), seed=3)
    checked = check_image(data, MAX_PIXELS)
    assert (checked.format, checked.width, checked.height, checked.byte_size) == (fmt, 40, 30, len(data))
    assert len(checked.sha256) == 64


def test_animated_gif_is_accepted() -> None:
    frames = [Image.new("RGB", (20, 20), colour) for colour in ("red", "green", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    assert check_image(buffer.getvalue(), MAX_PIXELS).format == "GIF"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"<!DOCTYPE html><html><body>not found</body></html>", "not an image (HTML page)"),
        (b'{"error": 404}', "not an image (JSON)"),
        (b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64, "video"),
        (image_bytes("JPEG", (200, 200))[:1500], "corrupt JPEG"),
        (image_bytes("PNG", (200, 200))[:900], "corrupt PNG"),
        (png_bomb(), "decompression bomb"),
        (image_bytes("BMP", (10, 10)), "not an image"),
    ],
)
def test_bad_bytes_are_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ImageRejected, match=re.escape(reason)):
        check_image(data, MAX_PIXELS)


def test_pixel_cap_is_a_setting() -> None:
    with pytest.raises(ImageRejected, match="100x100 exceeds 5000 pixels"):
        check_image(image_bytes("PNG", (100, 100)), max_pixels=5000)


@pytest.mark.parametrize("progressive", [False, True])
@pytest.mark.parametrize("kept", [0.5, 0.9, 0.995])
def test_a_jpeg_cut_short_anywhere_is_refused_and_a_whole_one_keeps_its_size(progressive: bool, kept: float) -> None:
    # The check decodes a JPEG at reduced scale; it must still read the stream to its end.
    buffer = io.BytesIO()
    Image.open(io.BytesIO(image_bytes("JPEG", (720, 540), seed=5))).save(buffer, "JPEG", progressive=progressive)
    whole = buffer.getvalue()
    checked = check_image(whole, MAX_PIXELS)
    assert (checked.width, checked.height) == (720, 540)
    with pytest.raises(ImageRejected, match="corrupt JPEG"):
        check_image(whole[: int(len(whole) * kept)], MAX_PIXELS)
