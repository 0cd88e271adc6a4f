"""Embedder fixtures: memes with real image files in the store, and fresh embedder settings per test."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import torch
from memethresher_embedder.encoders import load_encoder
from memethresher_embedder.settings import EmbedderSettings, get_embedder_settings
from memethresher_shared.db import session_scope
from memethresher_shared.models import Meme
from memethresher_shared.store import get_store, sha256_hex
from PIL import Image
from skimage import data

TINY = "tiny-siglip:random"
OFFLINE = "efficientnet_lite0:imagenet"
PHOTOS = ("chelsea", "coffee", "rocket", "astronaut", "camera", "coins")


@pytest.fixture(autouse=True)
def fresh_embedder_settings() -> Iterator[None]:
    get_embedder_settings.cache_clear()
    yield
    get_embedder_settings.cache_clear()


def photo_jpeg(index: int, size: int = 160) -> bytes:
    """A distinct JPEG made from scikit-image's sample photographs (cropped, shifted per index)."""
    photo = np.asarray(getattr(data, PHOTOS[index % len(PHOTOS)])())
    if photo.ndim == 2:
        photo = np.stack([photo] * 3, axis=-1)
    offset = (index // len(PHOTOS)) * 7 % 80
    crop = photo[offset : offset + 300, offset : offset + 400]
    image = Image.fromarray(crop).resize((size, size * 3 // 4))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def add_meme(payload: bytes, image_format: str = "JPEG", age_s: int = 0) -> int:
    """Store `payload` as a meme (as the crawler would, without checking it) and return its id."""
    digest = sha256_hex(payload)
    key = get_store().put(payload, image_format, sha256=digest)
    with session_scope() as session:
        meme = Meme(
            sha256=digest,
            storage_key=key,
            title=f"meme {digest[:8]}",
            format=image_format,
            width=160,
            height=120,
            byte_size=len(payload),
            added_at=datetime.now(UTC) - timedelta(seconds=age_s),
        )
        session.add(meme)
        session.flush()
        return meme.id


@pytest.fixture
def store_meme() -> Callable[..., int]:
    """`store_meme(bytes, format="JPEG", age_s=0)` stores any bytes as a meme in the active env."""
    return add_meme


@pytest.fixture
def jpeg() -> Callable[..., bytes]:
    """`jpeg(i)` is a distinct JPEG photo for each i."""
    return photo_jpeg


@pytest.fixture
def add_photos(env: object) -> Callable[[int], list[int]]:
    """`add_photos(n)` stores n distinct photo memes, the first the oldest, and returns their ids."""

    def add(count: int) -> list[int]:
        return [add_meme(photo_jpeg(i), age_s=count - i) for i in range(count)]

    return add


def trained_tiny_checkpoint(path: Path) -> tuple[Path, object]:
    """A full open_clip checkpoint of the tiny architecture, and the encoder it came from."""
    import open_clip

    trained = load_encoder(TINY, EmbedderSettings())
    full = open_clip.create_model("tiny-siglip", pretrained=None)
    full.visual.load_state_dict(trained.network.state_dict())
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(full.state_dict(), path)
    return path, trained


@pytest.fixture
def tiny_tag(monkeypatch: pytest.MonkeyPatch) -> str:
    """Register "tiny-siglip:mine" as released weights on a Hugging Face repo, as SigLIP's are."""
    import open_clip.pretrained
    from memethresher_embedder import registry

    monkeypatch.setitem(registry._KNOWN, "tiny-siglip:mine", ("open_clip", "tiny weights trained elsewhere"))
    monkeypatch.setitem(
        open_clip.pretrained._PRETRAINED,
        "tiny-siglip",
        {"mine": {"hf_hub": "memethresher/tiny-siglip/", "mean": (0.5,) * 3, "std": (0.5,) * 3}},
    )
    return "tiny-siglip:mine"
