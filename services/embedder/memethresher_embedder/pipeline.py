"""Reading stored image files for embedding, what a batch yields, and short labels for failures.

Pillow and torch release the GIL for the heavy parts, so the engine's decode threads suffice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from memethresher_embedder.preprocess import ImageRejected, PreprocessSpec, prepare_image


@dataclass
class BatchVectors:
    """The outcome for one batch: a unit vector per embedded meme and a reason per failed one."""

    vectors: dict[int, np.ndarray] = field(default_factory=dict)
    failures: dict[int, str] = field(default_factory=dict)


def read_file(path: Path) -> bytes:
    """A stored image's bytes; a missing or unreadable file is a rejected image, with its reason."""
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise ImageRejected(f"image file missing from the store: {path.name}") from exc
    except OSError as exc:
        raise ImageRejected(f"cannot read image file {path.name}: {exc.strerror or exc}") from exc


def read_and_prepare(path: Path, spec: PreprocessSpec) -> np.ndarray:
    """Read one stored image and preprocess it on the CPU."""
    return prepare_image(read_file(path), spec)


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
