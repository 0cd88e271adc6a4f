"""A simulated person answering on the product's 5-point scale.

The person perceives the gap in hidden taste between the two memes with logistic noise, so the better
one wins with the Bradley-Terry probability sigmoid(gap); a perceived gap that small is a tie, a wide one
"much better". The answer becomes the training target the product uses for that choice (CHOICE_TARGETS).
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

    def answer(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        perceived = self.taste[a] - self.taste[b] + self.rng.logistic(size=len(a))
        return choices(perceived)

    def rate(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.array([CHOICE_TARGETS[c] for c in self.answer(a, b)], dtype=np.float32)
