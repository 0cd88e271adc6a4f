"""Thumbnails of stored images, generated once and cached on disk by content hash and size."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from PIL import Image, ImageOps


def thumbnail_path(cache_dir: Path, sha256: str, size: int) -> Path:
    return cache_dir / str(size) / sha256[:2] / f"{sha256}.jpg"


def make_thumbnail(data: bytes, size: int) -> bytes:
    """A JPEG no larger than `size` on its longest side, never upscaled or cropped."""
    with Image.open(io.BytesIO(data)) as opened:
        opened.seek(0)  # the first frame of an animation
        image: Image.Image = ImageOps.exif_transpose(opened)
        image.thumbnail((size, size))
        if image.mode != "RGB":
            rgba = image.convert("RGBA")
            background = Image.new("RGB", rgba.size, "white")
            background.paste(rgba, mask=rgba.getchannel("A"))
            image = background
        out = io.BytesIO()
        image.save(out, "JPEG", quality=85)
        return out.getvalue()


def cached_thumbnail(source: Path, cache_dir: Path, sha256: str, size: int) -> Path:
    """The cached thumbnail's path, written atomically on first request."""
    target = thumbnail_path(cache_dir, sha256, size)
    if target.exists():
        return target
    data = make_thumbnail(source.read_bytes(), size)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
