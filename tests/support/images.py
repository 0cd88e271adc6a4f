"""Real image bytes for crawler tests and the fake Reddit."""

from __future__ import annotations

import io
import random
import struct
import zlib

from PIL import Image


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (64, 48), seed: int = 0) -> bytes:
    """A real image with noisy pixels, so each seed gives different bytes."""
    rng = random.Random(seed)
    image = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A small PNG that claims width x height pixels: its header alone must get it refused."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    # Only a few rows: enough to be a valid start of stream; the header is what matters.
    body = compressor.compress(row * 64) + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
