"""What a person answers per interaction beside a pair: the best of four memes, and keeping or discarding the
memes the curation queue offers. Both become rows of the trainer's `Pairs`, as the product stores them.

- Best of four: the four memes of two of the strategy's pairs shown together, as the rating page builds them
  (the first pair waiting and the next with neither of its memes); the person's pick (Plackett-Luce top-1,
  `Rater.best`) beats each of the other three, stored as the answer "a" (`CHOICE_TARGETS["a"]`): one
  interaction, three comparisons. The strategy is asked for a few spare pairs, which stay unanswered.
- Keeps and discards: after each retrain the product queues the pool memes at or above the top
  GOOD_FRACTION of the model's scores that have no decision yet, best first, without near-duplicates of
  kept memes (`pick_for_curation`); the person decides the first of them (`Rater.keep`): one interaction,
  one row against the keep threshold (`THRESHOLD`), with the learner's targets as the trainer stores them
  (`EnsembleConfig.keep_target` / `discard_target`). Held-out test memes are
  never offered. When the queue is empty the round's remaining interactions are pairs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from memethresher_shared.settings import CHOICE_TARGETS, Settings
from memethresher_trainer.curate import pick_for_curation, score_threshold
from memethresher_trainer.train import THRESHOLD, Pairs

from benchmarks.learning.rater import Rater
from benchmarks.learning.worlds import GOOD_FRACTION, World

# A mix a person keeps up on the rating page: one curation decision after every four pairs, so that a
# round of answers is mostly pairs (what the default acquisition is built on) and the queue of the top
# 30% of a 700-meme pool (about 210 memes, fewer without near-duplicates) lasts most of a run.
PAIRS_PER_DECISION = 4
FOUR_WIN = CHOICE_TARGETS["a"]  # the product stores a four's pick as "a": best, not by how much
FOUR, CURATION = "/four", "curation"  # in a strategy's name
NEAR_DUPLICATE = Settings.model_fields["near_duplicate_cosine"].default

# Chooses the next `n` pairs from per-member scores of the pool (N, M) and the pairs rated so far.
Chooser = Callable[[np.ndarray, Pairs, int], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Signals:
    """How the person answers: `acquisition` chooses the pairs; `four`: each interaction is the best of two of
    them; `pairs_per_decision`: after each retrain one keep/discard decision per this many pairs (None: none)."""

    acquisition: str
    four: bool = False
    pairs_per_decision: int | None = None
    four_win: float = FOUR_WIN  # the target a four's pick is stored with


def parse_signals(strategy: str) -> Signals:
    """`diverse`, `diverse/four`, `diverse+curation` (one decision per PAIRS_PER_DECISION pairs),
    `diverse+curation2` (one per 2), `uncertainty+random/four`: the acquisition keeps its own `+random`;
    `diverse/four:a+`: a four's pick stored as the answer "a+" instead of "a"."""
    head, four, win = strategy.partition(FOUR)
    if win and (not win.startswith(":") or win[1:] not in CHOICE_TARGETS):
        raise SystemExit(f"a four's pick is stored as one of {list(CHOICE_TARGETS)}: '{FOUR}:a+', not {strategy!r}")
    per_decision, rest = None, []
    for part in head.split("+"):
        if part.startswith(CURATION):
            digits = part.removeprefix(CURATION)
            if digits and not digits.isdigit():
                raise SystemExit(f"curation takes a number of pairs per decision, not {part!r} in {strategy!r}")
            per_decision = int(digits or PAIRS_PER_DECISION)
        elif "/" in part:
            raise SystemExit(f"unknown answer mode in {strategy!r}; known: {FOUR!r} at the end")
        else:
            rest.append(part)
    return Signals("+".join(rest), bool(four), per_decision, CHOICE_TARGETS[win[1:]] if win else FOUR_WIN)


def fours(a: np.ndarray, b: np.ndarray, n: int) -> list[np.ndarray]:
    """Up to `n` fours as the rating page builds them: the first pair waiting and the next one with neither
    of its memes; a pair left without a partner stays unanswered."""
    waiting = list(range(len(a)))
    shown: list[np.ndarray] = []
    while waiting and len(shown) < n:
        first = waiting.pop(0)
        partner = next((j for j in waiting if not {a[j], b[j]} & {a[first], b[first]}), None)
        if partner is not None:
            waiting.remove(partner)
            shown.append(np.array([a[first], b[first], a[partner], b[partner]]))
    return shown


def four_comparisons(
    shown: list[np.ndarray], best: np.ndarray, win: float = FOUR_WIN
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The comparisons a pick implies: the best meme beats each other one shown with it (target `win`)."""
    a = np.concatenate([np.full(len(group) - 1, pick) for group, pick in zip(shown, best, strict=True)])
    b = np.concatenate([group[group != pick] for group, pick in zip(shown, best, strict=True)])
    return a, b, np.full(len(a), win, dtype=np.float32)


def curation_offer(mean: np.ndarray, vectors: np.ndarray, decided: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """The pool memes the product queues after a retrain, best first (see the module's docstring)."""
    fresh = np.flatnonzero(~decided)
    picked = pick_for_curation(mean[fresh], vectors[fresh], score_threshold(mean, GOOD_FRACTION), vectors[kept],
                               NEAR_DUPLICATE)  # fmt: skip
    return fresh[picked]


class Answers:
    """Everything the person has answered in a world, as the trainer's rows, and what it cost them."""

    def __init__(self, world: World, rater: Rater, signals: Signals, decision_targets: tuple[float, float]) -> None:
        """`decision_targets`: the targets of a keep and of a discard."""
        self.world, self.rater, self.signals = world, rater, signals
        self.keep_target, self.discard_target = decision_targets
        self.pairs = Pairs(np.zeros(0), np.zeros(0), np.zeros(0))
        self.interactions = 0
        self.decided = np.zeros(len(world.pool), dtype=bool)
        self.kept = np.zeros(len(world.pool), dtype=bool)
        self.cut = float(np.quantile(world.taste, 1 - GOOD_FRACTION))  # the good ones of world.good

    @property
    def comparisons(self) -> Pairs:
        return self.pairs.subset(~self.pairs.absolute)

    def _add(self, a: np.ndarray, b: np.ndarray, target: np.ndarray) -> None:
        p = self.pairs
        self.pairs = Pairs(np.r_[p.a, a], np.r_[p.b, b], np.r_[p.target, target])

    def answer_pairs(self, a: np.ndarray, b: np.ndarray, n: int | None = None) -> None:
        """The person answers these pairs, one interaction each, or `n` fours of two of them (all they make)."""
        if not self.signals.four:
            self._add(a, b, self.rater.rate(a, b))
            self.interactions += len(a)
            return
        shown = fours(a, b, len(a) // 2 if n is None else n)
        if shown:
            self._add(*four_comparisons(shown, self.rater.best(shown), self.signals.four_win))
        self.interactions += len(shown)

    def decide(self, offered: np.ndarray) -> None:
        keep = self.rater.keep(offered, self.cut)
        self._add(offered, np.full(len(offered), THRESHOLD), np.where(keep, self.keep_target, self.discard_target))
        self.decided[offered], self.kept[offered] = True, keep
        self.interactions += len(offered)

    def first(self, n: int, rng: np.random.Generator) -> None:
        """The first `n` interactions, before any model: random pairs (as fours in the four mode)."""
        self.answer_pairs(*self.world.random_pairs(self._asked(n), rng), n)

    def round(self, choose: Chooser, member: np.ndarray, n: int) -> None:
        """`n` more interactions after a retrain (per-member pool scores `member`): decisions on the curation
        queue at the chosen mix, the rest pairs by `choose`."""
        decisions = 0
        if self.signals.pairs_per_decision:
            offered = curation_offer(member.mean(1), self.world.x[self.world.pool], self.decided, self.kept)
            decisions = min(len(offered), round(n / (self.signals.pairs_per_decision + 1)))
            self.decide(offered[:decisions])
        if n > decisions:
            self.answer_pairs(*choose(member, self.comparisons, self._asked(n - decisions)), n - decisions)

    def _asked(self, n: int) -> int:
        """Pairs to ask the strategy for `n` interactions: two a four, and spares for pairs sharing a meme."""
        return 2 * n + n // 4 + 4 if self.signals.four else n
