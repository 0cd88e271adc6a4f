"""The content-addressed image store: `<root>/ab/cd/<sha256>.<ext>`, written atomically."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "AVIF": "avif"}


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def key_for(sha256: str, image_format: str) -> str:
    ext = EXTENSIONS.get(image_format.upper(), "bin")
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}.{ext}"


class ImageStore:
    """Files addressed by the hash of their bytes; the same bytes are stored once."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"storage key escapes the store: {key!r}")
        return path

    def put(self, data: bytes, image_format: str, sha256: str | None = None) -> str:
        """Store `data` and return its key. A crash mid-write leaves only a temp file, never a half image."""
        key = key_for(sha256 or sha256_hex(data), image_format)
        final = self.path(key)
        if final.exists():
            return key
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return key

    def read(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self.path(key).exists()


def get_store() -> ImageStore:
    from memethresher_shared.settings import get_settings

    return ImageStore(get_settings().storage)
