"""The stored form of an embedding: float16, little-endian, one blob per meme and encoder.

The embedder writes it; the trainer and the API read it. Half precision halves the table, and
unit vectors lose nothing that ranking or near-duplicate checks can see.
"""

from __future__ import annotations

import numpy as np

STORED_DTYPE = "<f2"


def to_stored(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=STORED_DTYPE).tobytes()


def from_stored(blob: bytes, dim: int | None = None) -> np.ndarray:
    """A stored vector as float32; with `dim`, a blob of another length is an error, not a silent misread."""
    vector = np.frombuffer(blob, dtype=STORED_DTYPE)
    if dim is not None and vector.shape[0] != dim:
        raise ValueError(f"vector holds {vector.shape[0]} values, its row says {dim}")
    return vector.astype(np.float32)
