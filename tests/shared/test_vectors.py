"""The stored vector form that the embedder writes and the trainer and API read."""

import numpy as np
import pytest
from memethresher_shared.vectors import from_stored, to_stored


def test_a_unit_vector_survives_storage_to_half_precision() -> None:
    vector = np.random.default_rng(0).normal(size=512).astype(np.float32)
    vector /= np.linalg.norm(vector)
    blob = to_stored(vector)
    assert len(blob) == 2 * 512  # half the bytes of float32
    back = from_stored(blob, 512)
    assert back.dtype == np.float32
    assert float(back @ vector) > 0.9999


def test_a_blob_of_the_wrong_length_is_refused_with_both_lengths() -> None:
    with pytest.raises(ValueError, match="holds 4 values, its row says 8"):
        from_stored(to_stored(np.ones(4)), 8)
