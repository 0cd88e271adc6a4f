"""Memes in the store and the database, as the crawler leaves them, for tests of later stages."""

from __future__ import annotations

from pathlib import Path

from memethresher_shared.db import session_scope
from memethresher_shared.models import Meme
from memethresher_shared.samples import write_samples
from memethresher_shared.store import get_store, sha256_hex
from PIL import Image


def add_sample_memes(folder: Path, count: int, seed: int = 0) -> list[int]:
    ids = []
    store = get_store()
    for path in write_samples(folder, count, seed=seed):
        payload = path.read_bytes()
        with Image.open(path) as image:
            fmt, (width, height) = image.format or "JPEG", image.size
        digest = sha256_hex(payload)
        key = store.put(payload, fmt, sha256=digest)
        with session_scope() as session:
            meme = Meme(sha256=digest, storage_key=key, title=path.stem, format=fmt, width=width,
                        height=height, byte_size=len(payload))  # fmt: skip
            session.add(meme)
            session.flush()
            ids.append(meme.id)
    return ids
