"""A simulated person answering on the product's 5-point scale, choosing the best of four, and keeping or
discarding memes offered for curation.

The person perceives the gap in hidden taste between the two memes with logistic noise, so the better
one wins with the Bradley-Terry probability sigmoid(gap); a perceived gap that small is a tie, a wide one
"much better". The answer becomes the training target the product uses for that choice (CHOICE_TARGETS).
The same noise, seen from each meme alone, is Gumbel noise on its taste (two Gumbels differ by a logistic):
the best of four is then the Plackett-Luce top-1 choice, softmax(taste), and a keep is the better side of a
comparison with a meme at the keep cut, sigmoid(taste - cut), so a four, a pair and a decision are answered
by the same person.
"""

from __future__ import annotations

import numpy as np
from memethresher_shared.settings import CHOICE_TARGETS

TIE_BELOW = 0.3  # |perceived gap| below this: "tie"
SURE_ABOVE = 2.5  # above this: "a+" / "b+"


def choices(perceived: np.ndarray) -> np.ndarray:
    """The 5-point answer for each perceived gap (a minus b)."""
    side = np.where(perceived > 0, "a", "b")
    sure = np.where(np.abs(perceived) > SURE_ABOVE, np.char.add(side, "+"), side)
    return np.where(np.abs(perceived) < TIE_BELOW, "tie", sure)


class Rater:
    def __init__(self, taste: np.ndarray, seed: int) -> None:
        self.taste, self.rng = taste, np.random.default_rng(seed)
        # Fours and decisions draw their own noise, so the pairs of a run answer as they did before them.
        self.other_rng = np.random.default_rng((seed, 1))

    def answer(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        perceived = self.taste[a] - self.taste[b] + self.rng.logistic(size=len(a))
        return choices(perceived)

    def rate(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.array([CHOICE_TARGETS[c] for c in self.answer(a, b)], dtype=np.float32)

    def best(self, shown: list[np.ndarray]) -> np.ndarray:
        """For each group of memes shown together, the index of the one the person picks."""
        return np.array([int(group[np.argmax(self.taste[group] + self.other_rng.gumbel(size=len(group)))])
                         for group in shown], dtype=np.int64)  # fmt: skip

    def keep(self, memes: np.ndarray, cut: float) -> np.ndarray:
        """Whether the person keeps each meme: its perceived taste above the `cut` of the good ones."""
        return self.taste[memes] - cut + self.other_rng.logistic(size=len(memes)) > 0
