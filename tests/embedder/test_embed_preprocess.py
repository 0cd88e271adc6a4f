import io
from pathlib import Path

import numpy as np
import pytest
from memethresher_embedder.pipeline import failure_label, read_and_prepare
from memethresher_embedder.preprocess import ImageRejected, PreprocessSpec, prepare_image
from PIL import Image

from tests.support.images import png_bomb

SQUASH = PreprocessSpec(size=32, resize_mode="squash")
CROP = PreprocessSpec(size=32, resize_mode="shortest", crop_pct=0.875)


def encoded(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def halves(width: int, height: int) -> Image.Image:
    """Left half red, right half blue."""
    image = Image.new("RGB", (width, height), (255, 0, 0))
    image.paste((0, 0, 255), (width // 2, 0, width, height))
    return image


@pytest.mark.parametrize("spec", [SQUASH, CROP])
@pytest.mark.parametrize("mode", ["RGB", "L", "P", "RGBA", "CMYK"])
def test_any_image_mode_becomes_a_3_channel_uint8_square(spec: PreprocessSpec, mode: str) -> None:
    image = halves(90, 50).convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    array = prepare_image(encoded(image, fmt), spec)
    assert array.shape == (3, 32, 32) and array.dtype == np.uint8


def test_squash_keeps_the_whole_picture_and_crop_keeps_the_centre() -> None:
    wide = halves(400, 100)
    squashed = prepare_image(encoded(wide), SQUASH)
    assert squashed[0, :, :12].mean() > 200 and squashed[2, :, -12:].mean() > 200  # red left, blue right
    # A strip 10x longer than high: the centre crop sees only the middle, half red and half blue.
    cropped = prepare_image(encoded(wide), CROP)
    assert cropped[0, :, 2].mean() > 200 and cropped[2, :, -3].mean() > 200


def test_exif_orientation_is_applied() -> None:
    upright = halves(80, 40)  # red left, blue right
    # As a phone stores it: pixels turned a quarter left, EXIF orientation 6 says "turn right to view".
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # red at the bottom
    exif = Image.Exif()
    exif[0x0112] = 6
    array = prepare_image(encoded(stored, "JPEG", exif=exif.tobytes(), quality=95), SQUASH)
    assert array[0, :, :10].mean() > 180 and array[2, :, -10:].mean() > 180


def test_transparency_is_shown_on_white_as_a_browser_shows_it() -> None:
    clear = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    array = prepare_image(encoded(clear), SQUASH)
    assert array.min() == 255


def test_large_jpeg_decoded_at_reduced_scale_matches_full_decode() -> None:
    rng = np.random.default_rng(0)
    blocks = np.kron(rng.integers(0, 255, (6, 8, 3)), np.ones((320, 320, 1))).astype(np.uint8)
    data = encoded(Image.fromarray(blocks), "JPEG", quality=95)  # 2560x1920
    fast = prepare_image(data, CROP).astype(float)
    # Shortest side to round(32 / 0.875) = 37 px, then the centre 32x32.
    full = Image.open(io.BytesIO(data)).convert("RGB").resize((49, 37), Image.Resampling.BICUBIC)
    reference = np.asarray(full.crop((8, 2, 40, 34)), dtype=float).transpose(2, 0, 1)
    assert np.abs(fast - reference).mean() < 6


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "empty"),
        (b"<html>not an image</html>", "cannot decode image"),
        (encoded(halves(64, 64), "JPEG")[:300], "truncated or corrupt"),
    ],
)
def test_bad_bytes_are_rejected_with_a_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(ImageRejected, match=reason):
        prepare_image(payload, SQUASH)


def test_a_decompression_bomb_is_refused_before_decoding() -> None:
    with pytest.raises(ImageRejected, match="too large|cannot decode"):
        prepare_image(png_bomb(), SQUASH)


def test_failure_reasons_become_bounded_metric_labels(tmp_path: Path) -> None:
    def label_of(payload: bytes) -> str:
        with pytest.raises(ImageRejected) as rejected:
            prepare_image(payload, SQUASH)
        return failure_label(str(rejected.value))

    assert label_of(b"") == "empty"
    assert label_of(b"<html>not an image</html>") == "decode"
    assert label_of(encoded(halves(64, 64), "JPEG")[:300]) == "decode"
    assert label_of(png_bomb()) in ("bomb", "too_large")
    with pytest.raises(ImageRejected) as missing:
        read_and_prepare(tmp_path / "gone-4f2a.png", SQUASH)
    assert failure_label(str(missing.value)) == "missing"
