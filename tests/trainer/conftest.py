"""Trainer fixtures: fresh trainer settings per test, and a database filled with rated memes."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest
import torch
from memethresher_api.settings import get_api_settings
from memethresher_shared.db import session_scope
from memethresher_shared.models import Embedding, Meme, Rating
from memethresher_shared.settings import get_settings
from memethresher_trainer.settings import get_trainer_settings

from tests.trainer.tastes import hidden_taste, unit_vectors

ENCODER = "efficientnet_lite0:imagenet"


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Tiny ensembles: one thread is as fast, and far faster when other processes share the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def fresh_trainer_settings() -> Iterator[None]:
    """Trainer settings (and the API's, for tests that rate through it) read afresh per test."""
    for cached in (get_trainer_settings, get_api_settings, get_settings):
        cached.cache_clear()
    yield
    for cached in (get_trainer_settings, get_api_settings, get_settings):
        cached.cache_clear()


def add_memes(vectors: np.ndarray, encoder: str = ENCODER, first: int = 0) -> list[int]:
    """Embedded memes with these vectors (stored float16, as the embedder writes them)."""
    with session_scope() as session:
        memes = [
            Meme(
                sha256=f"{first + i:064x}",
                storage_key=f"{first + i:064x}.png",
                format="PNG",
                width=1,
                height=1,
                byte_size=1,
                status="embedded",
            )  # fmt: skip
            for i in range(len(vectors))
        ]
        session.add_all(memes)
        session.flush()
        for meme, vector in zip(memes, vectors, strict=True):
            session.add(Embedding(meme_id=meme.id, encoder=encoder, dim=len(vector),
                                  vector=vector.astype("<f2").tobytes()))  # fmt: skip
        return [meme.id for meme in memes]


def add_ratings(ids: list[int], taste: np.ndarray, n: int, seed: int = 0) -> None:
    """Ratings by a Bradley-Terry rater with `taste`, using the whole 5-point scale."""
    rng = np.random.default_rng(seed)
    with session_scope() as session:
        for _ in range(n):
            i, j = rng.choice(len(ids), 2, replace=False)
            p = 1 / (1 + np.exp(-(taste[i] - taste[j])))
            sure = abs(taste[i] - taste[j]) > 3
            choice = ("a+" if sure else "a") if rng.random() < p else ("b+" if sure else "b")
            session.add(Rating(a_id=ids[i], b_id=ids[j], choice=choice))


@pytest.fixture
def rated_memes() -> Callable[..., tuple[list[int], np.ndarray, np.ndarray]]:
    """`rated_memes(n_memes, n_ratings, dim)` -> (meme ids, vectors, hidden taste), all in the database."""

    def make(n_memes: int = 120, n_ratings: int = 150, dim: int = 32) -> tuple[list[int], np.ndarray, np.ndarray]:
        vectors = unit_vectors(n_memes, dim)
        taste = hidden_taste(vectors)
        ids = add_memes(vectors)
        add_ratings(ids, taste, n_ratings)
        return ids, vectors, taste

    return make
