"""Embed a batch of image files: a thread pool reads and preprocesses while the model encodes.

The pool works ahead of the model, so while chunk k is being encoded, chunks k+1, ... are
being decoded. Pillow and torch release the GIL for the heavy parts, so threads suffice.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from memethresher_embedder.preprocess import ImageRejected, PreprocessSpec, prepare_image


class ImageEncoder(Protocol):
    preprocess: PreprocessSpec

    def encode(self, images: np.ndarray) -> np.ndarray: ...


@dataclass
class BatchVectors:
    """The outcome for one batch: a unit vector per embedded meme and a reason per failed one."""

    vectors: dict[int, np.ndarray] = field(default_factory=dict)
    failures: dict[int, str] = field(default_factory=dict)


@functools.cache
def prep_pool(workers: int) -> ThreadPoolExecutor:
    """One pool per process and size, reused by every batch."""
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="embed-prep")


def read_and_prepare(path: Path, spec: PreprocessSpec) -> np.ndarray:
    """Read one stored image and preprocess it; a missing file is a rejected image, with its reason."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ImageRejected(f"image file missing from the store: {path.name}") from exc
    except OSError as exc:
        raise ImageRejected(f"cannot read image file {path.name}: {exc.strerror or exc}") from exc
    return prepare_image(data, spec)


def prepare_all(
    files: Sequence[tuple[int, Path]], spec: PreprocessSpec, pool: ThreadPoolExecutor
) -> list[tuple[int, Future[np.ndarray]]]:
    """Submit every file to the pool at once so decoding runs ahead of the model."""
    return [(meme_id, pool.submit(read_and_prepare, path, spec)) for meme_id, path in files]


def embed_files(
    encoder: ImageEncoder, files: Sequence[tuple[int, Path]], pool: ThreadPoolExecutor, model_batch: int
) -> BatchVectors:
    """Vectors for every readable image in `files`; the others get a failure reason."""
    outcome = BatchVectors()
    pending = prepare_all(files, encoder.preprocess, pool)
    for start in range(0, len(pending), model_batch):
        ids: list[int] = []
        arrays: list[np.ndarray] = []
        for meme_id, future in pending[start : start + model_batch]:
            try:
                arrays.append(future.result())
                ids.append(meme_id)
            except ImageRejected as exc:
                outcome.failures[meme_id] = str(exc)
        if arrays:
            vectors = encoder.encode(np.stack(arrays))  # (B, D)
            outcome.vectors.update(zip(ids, vectors, strict=True))
    return outcome


# Failure reasons name files and sizes; metrics take these bounded labels instead (first match wins).
_FAILURE_LABELS = (
    ("decompression bomb", "bomb"),
    ("too large", "too_large"),
    ("cannot decode", "decode"),
    ("is empty", "empty"),
    ("no pixels", "empty"),
    ("missing from the store", "missing"),
    ("cannot read", "io"),
    ("escapes the store", "bad_key"),
)


def failure_label(reason: str) -> str:
    """A short metric label ("decode", "missing", ...) for an image's failure reason."""
    return next((label for text, label in _FAILURE_LABELS if text in reason), "other")
