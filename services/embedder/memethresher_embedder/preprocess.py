"""Image bytes into the uint8 arrays an encoder takes. Pure: Pillow and numpy only.

Normalisation (mean/std) happens on the model's device, so the pool hands over uint8
arrays, a quarter of the bytes of float32 to copy to a GPU.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Larger images are refused with a reason instead of being decoded (decompression bombs).
MAX_PIXELS = 80_000_000
_EXIF_ORIENTATION = 0x0112

_RESAMPLE = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}


class ImageRejected(ValueError):
    """An image that cannot be embedded; the message is the reason shown to the user."""


@dataclass(frozen=True)
class PreprocessSpec:
    """How an encoder wants its input: size, resize rule and the normalisation applied on device."""

    size: int
    resize_mode: Literal["squash", "shortest"] = "shortest"
    crop_pct: float = 1.0
    interpolation: str = "bicubic"
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)


def prepare_image(data: bytes, spec: PreprocessSpec) -> np.ndarray:
    """Decode `data` and return a (3, size, size) uint8 array, or raise ImageRejected."""
    image = _decode(data, spec)
    if spec.resize_mode == "squash":
        image = image.resize((spec.size, spec.size), _resample(spec), reducing_gap=3.0)
    else:
        image = _resize_shortest_and_crop(image, spec)
    array = np.asarray(image, dtype=np.uint8)  # (H, W, 3)
    return np.ascontiguousarray(array.transpose(2, 0, 1))  # (3, H, W)


def _decode(data: bytes, spec: PreprocessSpec) -> Image.Image:
    if not data:
        raise ImageRejected("the image file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageRejected(f"image too large to embed: {width}x{height} pixels")
            # JPEG decodes at a reduced scale when the result stays at least the size we resize to.
            image.draft("RGB", _draft_size(spec, width, height))
            image = _to_rgb(image)
    except ImageRejected:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(f"cannot decode image: {exc}") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageRejected(f"cannot decode image (truncated or corrupt): {exc}") from exc
    if min(image.size) < 1:
        raise ImageRejected("the image has no pixels")
    return image


def _to_rgb(image: Image.Image) -> Image.Image:
    """Load, turn upright by EXIF, and flatten any transparency onto white as a browser shows it."""
    image.load()
    if image.getexif().get(_EXIF_ORIENTATION, 1) != 1:
        image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def _draft_size(spec: PreprocessSpec, width: int, height: int) -> tuple[int, int]:
    if spec.resize_mode == "squash":
        return spec.size, spec.size
    shortest = _shortest_target(spec)
    scale = shortest / max(1, min(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _shortest_target(spec: PreprocessSpec) -> int:
    return max(spec.size, round(spec.size / spec.crop_pct))


def _resize_shortest_and_crop(image: Image.Image, spec: PreprocessSpec) -> Image.Image:
    width, height = image.size
    shortest = _shortest_target(spec)
    scale = shortest / min(width, height)
    resized = (max(spec.size, round(width * scale)), max(spec.size, round(height * scale)))
    image = image.resize(resized, _resample(spec), reducing_gap=3.0)
    left = (resized[0] - spec.size) // 2
    top = (resized[1] - spec.size) // 2
    return image.crop((left, top, left + spec.size, top + spec.size))


def _resample(spec: PreprocessSpec) -> Image.Resampling:
    return _RESAMPLE.get(spec.interpolation, Image.Resampling.BICUBIC)
