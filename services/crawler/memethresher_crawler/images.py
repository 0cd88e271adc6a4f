"""Check image bytes: sniff the real format, refuse bombs, and decode the whole stream. Pure (Pillow only)."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image

ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "AVIF"})


class ImageRejected(ValueError):
    """The bytes are not an image we keep; the message is the recorded reason."""


@dataclass(frozen=True)
class CheckedImage:
    """Image bytes that decoded to their end, with what we record about them."""

    data: bytes
    sha256: str
    format: str
    width: int
    height: int

    @property
    def byte_size(self) -> int:
        return len(self.data)


def check_image(data: bytes, max_pixels: int) -> CheckedImage:
    """Return the checked image, or raise ImageRejected with the reason."""
    if not data:
        raise ImageRejected("empty file (0 bytes)")
    try:
        image = Image.open(io.BytesIO(data), formats=sorted(ACCEPTED_FORMATS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageRejected(f"decompression bomb: {error}") from None
    except Image.UnidentifiedImageError:
        raise ImageRejected(f"not an image ({_describe(data)})") from None
    except Exception as error:  # noqa: BLE001 - any decoder failure is a reason, not a crash
        raise ImageRejected(f"unreadable image header: {error}") from None
    with image:
        width, height = image.size
        if width * height > max_pixels:
            raise ImageRejected(f"decompression bomb: {width}x{height} exceeds {max_pixels} pixels")
        try:
            # A JPEG is decoded at an eighth of its size: libjpeg still reads and entropy-decodes the
            # whole stream (truncated or garbled data fails the same), skipping only the full-size
            # inverse DCT and colour conversion, about half the CPU of the crawl's check. Other formats
            # decode every pixel (the first frame of a GIF).
            if image.format == "JPEG":
                image.draft(image.mode, (max(width // 8, 1), max(height // 8, 1)))
            image.load()
        except Exception as error:  # noqa: BLE001
            raise ImageRejected(f"corrupt {image.format} image: {error}") from None
        image_format = str(image.format)
    return CheckedImage(data, hashlib.sha256(data).hexdigest(), image_format, width, height)


def _describe(data: bytes) -> str:
    head = data[:64].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return "HTML page"
    if head.startswith((b"{", b"[")):
        return "JSON"
    if data[4:8] == b"ftyp" and data[8:12] not in (b"avif", b"avis"):
        return "MP4/QuickTime video"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "Matroska/WebM video"
    return f"{len(data)} bytes starting {data[:8].hex()}"
