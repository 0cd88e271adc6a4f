"""Hidden tastes by family, and worlds (memes, taste, split, rater seed) to measure the learner in.

Most families are not functions of the learner's own input: pixel statistics of the images, features of
another (random-init) network, and a few sharply loved kinds of meme are defined on the images, not the
embedding. `components` is the first rounds' taste, built on the top whitened principal components of the
embedding, the very ones the trainer's whitening keeps; it flatters whitening and is kept to show that.

Which families and worlds may be looked at while choosing defaults is declared here (TUNING) and every
report marks the rest as held out.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from benchmarks.learning.memes import Memes

GOOD_FRACTION = 0.3
# Tastes are scaled so that, as with a person, many answers between two memes are close calls.
TASTE_SCALE = 1.5
# Defaults are chosen on these families, in the tuning worlds only; every other family, and every
# report world, is held out.
TUNING_FAMILIES = ("components", "pixels")
TUNING_WORLDS = (100, 101, 102)
REPORT_WORLDS = (0, 1, 2)


def _standard(z: np.ndarray) -> np.ndarray:
    z = z - z.mean(0)
    return z / np.maximum(z.std(0), 1e-9)


def _tanh_net(z: np.ndarray, rng: np.random.Generator, gain: float = 2.0) -> np.ndarray:
    """A random one-hidden-layer tanh network over the standardised columns of z, plus a product term."""
    hidden = np.tanh(z @ rng.normal(size=(z.shape[1], 32)) / np.sqrt(z.shape[1]) * gain)
    return hidden @ rng.normal(size=32) + z[:, 0] * z[:, 1] - 0.5 * z[:, 2] ** 2


def top_components(x: np.ndarray, k: int) -> np.ndarray:
    """The collection's top k principal components of x, each of unit variance."""
    centred = x - x.mean(0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    return _standard(centred @ components[:k].T)


def components(memes: Memes, rng: np.random.Generator) -> np.ndarray:
    """A tanh network over the embedding's top 48 whitened principal components (flatters whitening)."""
    return _tanh_net(top_components(memes.vectors, 48), rng)


def directions(memes: Memes, rng: np.random.Generator) -> np.ndarray:
    """A tanh network over 48 random directions of the centred embedding: partly outside its top components."""
    x = memes.vectors - memes.vectors.mean(0)
    return _tanh_net(_standard(x @ rng.normal(size=(x.shape[1], 48))), rng)


def pixels(memes: Memes, rng: np.random.Generator) -> np.ndarray:
    """Likes and dislikes of brightness, colourfulness, edges, text area...: a random signed mix, a
    preferred middle of one statistic and one interaction."""
    z = _standard(memes.pixels)
    i, j, k = rng.choice(z.shape[1], 3, replace=False)
    return z @ rng.normal(size=z.shape[1]) - 0.7 * (z[:, i] - rng.normal(0, 0.5)) ** 2 + 0.5 * z[:, j] * z[:, k]


def conv(memes: Memes, rng: np.random.Generator) -> np.ndarray:
    """A tanh network over the top 16 components of another network's features (a random-init CNN)."""
    return _tanh_net(top_components(np.log1p(np.maximum(memes.conv, 0)), 16), rng)


def clusters(memes: Memes, rng: np.random.Generator) -> np.ndarray:
    """Loves exactly a few kinds: three source photographs, each loved only on one side of its median
    brightness, far above everything else; a mild liking of colourful images decides the rest."""
    z = _standard(memes.pixels)
    taste = 0.4 * z[:, 2]
    for photo in rng.choice(int(memes.photo.max()) + 1, 3, replace=False):
        mine = memes.photo == photo
        side = rng.choice((-1.0, 1.0))
        bright = side * (z[:, 0] - np.median(z[mine, 0])) > 0
        taste = taste + 4.0 * (mine & bright)
    return taste


def teacher(memes: Memes, rng: np.random.Generator) -> np.ndarray:
    """A saturated network on the raw embedding: high-gain tanh units are nearly step functions."""
    x = memes.vectors - memes.vectors.mean(0)
    z = _standard(x @ rng.normal(size=(x.shape[1], 24)))
    hidden = np.tanh(6.0 * (z @ rng.normal(size=(24, 16)) / np.sqrt(24) + rng.normal(0, 0.5, 16)))
    return hidden @ rng.normal(size=16)


FAMILIES: dict[str, Callable[[Memes, np.random.Generator], np.ndarray]] = {
    "components": components, "directions": directions, "pixels": pixels,
    "conv": conv, "clusters": clusters, "teacher": teacher,
}  # fmt: skip


def hidden_taste(memes: Memes, family: str, seed: int) -> np.ndarray:
    if family not in FAMILIES:
        raise ValueError(f"taste family must be one of {sorted(FAMILIES)}, not {family!r}")
    taste = FAMILIES[family](memes, np.random.default_rng(seed))
    return TASTE_SCALE * (taste - taste.mean()) / taste.std()


def is_tuning(family: str, world: int) -> bool:
    return family in TUNING_FAMILIES and world in TUNING_WORLDS


class World:
    """Memes to rate (the pool) and held-out memes to measure AUROC on, split good (top 30%) / bad."""

    def __init__(self, memes: Memes, family: str, index: int) -> None:
        self.memes, self.family, self.seed = memes, family, index
        self.x = memes.vectors
        self.taste = hidden_taste(memes, family, seed=7 + index)
        order = np.random.default_rng(index).permutation(len(memes))
        n_pool = int(0.7 * len(memes))
        self.pool, self.test = order[:n_pool], order[n_pool:]
        self.good = self.taste[self.test] > np.quantile(self.taste, 1 - GOOD_FRACTION)

    @property
    def name(self) -> str:
        return f"{self.family}/{self.seed}"

    def random_pairs(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        a = rng.integers(0, len(self.pool), n)
        b = (a + rng.integers(1, len(self.pool), n)) % len(self.pool)
        return a, b


def make_world(memes: Memes, family: str, index: int, n_memes: int) -> World:
    """World `index` of a family: its own draw of memes from the collection, hidden taste, split and rater."""
    rng = np.random.default_rng(10_000 + index)
    return World(memes.take(np.sort(rng.choice(len(memes), n_memes, replace=False))), family, index)
