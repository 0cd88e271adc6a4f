"""Build API test state directly through the models: memes with real images, vectors, models."""

from __future__ import annotations

import io
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
from memethresher_shared.db import session_scope
from memethresher_shared.models import (
    AcquisitionBatch,
    AcquisitionPair,
    CurationItem,
    Embedding,
    Meme,
    ModelVersion,
    Score,
)
from memethresher_shared.settings import get_settings
from memethresher_shared.store import get_store, sha256_hex
from PIL import Image, ImageDraw

DIM = 16
# A host name the API answers to by default (it refuses names it does not know, e.g. "testserver").
BASE_URL = "http://localhost"


def image_bytes(seed: int, size: tuple[int, int] = (120, 90), fmt: str = "PNG") -> bytes:
    """A real, distinct image: a coloured field with a numbered box."""
    rng = np.random.default_rng(seed)
    colour = tuple(int(c) for c in rng.integers(0, 255, 3))
    image = Image.new("RGB", size, colour)
    ImageDraw.Draw(image).rectangle((10, 10, 10 + seed % 60, 40), fill=(255, 255, 255))
    ImageDraw.Draw(image).text((12, 50), f"meme {seed}", fill=(0, 0, 0))
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def unit_vector(seed: int, dim: int = DIM) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(dim)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def photo_meme_bytes(index: int, photos: list[Image.Image]) -> bytes:
    """A sample meme made from a real photograph (what `memethresher up --demo` shows)."""
    from memethresher_shared import samples

    image = samples.make_meme(photos[index % len(photos)], random.Random(index))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def add_memes(
    n: int, embedded: bool = True, start: int = 0, title: str = "meme {i}", photos: bool = False
) -> list[int]:
    """`n` memes with real images in the store, embedded under the current encoder if asked."""
    store, encoder = get_store(), get_settings().embedder
    fmt = "JPEG" if photos else "PNG"
    if photos:
        from memethresher_shared import samples

        pictures = samples.load_photos()
    ids = []
    with session_scope() as session:
        for i in range(start, start + n):
            data = photo_meme_bytes(i, pictures) if photos else image_bytes(i)
            sha = sha256_hex(data)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
            meme = Meme(
                sha256=sha, storage_key=store.put(data, fmt, sha), title=title.format(i=i),
                subreddit="memes", format=fmt, width=width, height=height, byte_size=len(data),
                status="embedded" if embedded else "new",
            )  # fmt: skip
            session.add(meme)
            session.flush()
            if embedded:
                vector = unit_vector(i).astype("<f2").tobytes()
                session.add(Embedding(meme_id=meme.id, encoder=encoder, dim=DIM, vector=vector))
            ids.append(meme.id)
    return ids


def set_vector(meme_id: int, vector: np.ndarray) -> None:
    with session_scope() as session:
        row = session.get_one(Embedding, (meme_id, get_settings().embedder))
        row.vector = vector.astype("<f2").tobytes()


def add_model(n_ratings: int = 0, current: bool = True) -> int:
    with session_scope() as session:
        if current:
            for other in session.query(ModelVersion).filter_by(is_current=True):
                other.is_current = False
        model = ModelVersion(
            encoder=get_settings().embedder, artifact="models/x", n_ratings=n_ratings, is_current=current,
            metrics={"val_accuracy": 0.7},
        )  # fmt: skip
        session.add(model)
        session.flush()
        return model.id


def add_batch(
    model_id: int, pairs: list[tuple[int, int]], strategy: str = "variance", axis: str = "overall"
) -> tuple[int, list[int]]:
    with session_scope() as session:
        batch = AcquisitionBatch(model_version_id=model_id, strategy=strategy, axis=axis)
        session.add(batch)
        session.flush()
        rows = [
            AcquisitionPair(batch_id=batch.id, a_id=a, b_id=b, position=i, acquisition=1.0 / (i + 1))
            for i, (a, b) in enumerate(pairs)
        ]
        session.add_all(rows)
        session.flush()
        return batch.id, [r.id for r in rows]


def add_scores(model_id: int, scores: dict[int, float], curate: bool = False, axis: str = "overall") -> None:
    with session_scope() as session:
        for meme_id, mean in scores.items():
            session.add(Score(meme_id=meme_id, model_version_id=model_id, axis=axis, mean=mean, spread=0.1))
            if curate:
                session.add(CurationItem(meme_id=meme_id, model_version_id=model_id, score=mean, axis=axis))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """The API served by a real uvicorn process."""

    def __init__(self, env: dict[str, str], log: Path, port: int | None = None, workers: int = 1) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log.open("wb")
        self.log = log
        args = [sys.executable, "-m", "uvicorn", "--factory", "memethresher_api.main:create_app",
                "--host", "127.0.0.1", "--port", str(self.port), "--no-access-log",
                "--workers", str(workers)]  # fmt: skip
        self.process = subprocess.Popen(args, env={**os.environ, **env}, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited:\n{self.log.read_text(errors='replace')}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code in (200, 503):
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"uvicorn not ready:\n{self.log.read_text(errors='replace')}")

    def __enter__(self) -> Server:
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
