"""The product's rating loop in a simulated world: random pairs first, then a retrain and a new batch of
pairs from the new model every round, AUROC on the held-out memes after each retrain. Rounds count the
person's interactions: a pair, a best of four or a keep/discard decision is one (signals.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from memethresher_trainer.acquire import propose
from memethresher_trainer.evaluate import auroc
from memethresher_trainer.model import Ensemble, EnsembleConfig
from memethresher_trainer.settings import TrainerSettings
from memethresher_trainer.stopping import (
    NEXT,
    expected_decision_change,
    keep_decisions,
    observed_decision_change,
    twin_config,
)
from memethresher_trainer.train import FitResult, Pairs, fit

from benchmarks.learning.rater import Rater
from benchmarks.learning.signals import Answers, Chooser, Signals
from benchmarks.learning.worlds import GOOD_FRACTION, World

FIRST_RANDOM = 20
# Short rounds while the model is young, as the product's retrain_every does; after 512 only the points
# every report reads (AUROC at 1,024 and at the seed recipe's 1,000 / 1,256 / 1,512), to save time.
ROUNDS = (*range(40, 201, 20), 250, 256, 300, 350, 400, 450, 500, 512, 768, 1000, 1024, 1256, 1512)
# Learner variants the benchmark can run beside the product's defaults: overrides of EnsembleConfig.
LEARNERS: dict[str, dict[str, Any]] = {
    "default": {},
    "raw": {"input_components": 0, "weight_decay": 0.1},  # the default since issue 15
    "whitened64": {"input_components": 64, "weight_decay": 0.01},  # the default before it
    "pcs256": {"input_components": 256, "weight_decay": 0.01},
    # Issue 15 section 2's knobs (eighth round: none beyond the spread between draws, none adopted).
    "linear": {"depth": 0},  # linear Bradley-Terry members, weight decay as the default
    "members8": {"members": 8},
    "members32": {"members": 32},
    "hidden256": {"hidden": 256},
    "bootstrap": {"bootstrap": True},  # each member weighs the answers by its own Poisson(1) draws (tenth round)
}
# The stopping signal reads a bootstrapped twin's disagreement as the trainer does by default (stopping.py).
TWIN = bool(TrainerSettings.model_fields["stopping_spread_twin"].default)


def strategy_chooser(strategy: str, draw: int = 0, vectors: np.ndarray | None = None) -> Chooser:
    """The product's acquisition `strategy` ('name+random': half of each batch random); `draw` seeds the
    candidate sample it picks from; `diverse` and `balpm` read the pool's embeddings `vectors`; `epig` aims
    at the decision the benchmark judges, the top GOOD_FRACTION."""
    name, _, mix = strategy.partition("+")
    fraction = 0.5 if mix == "random" else 0.0

    def choose(member: np.ndarray, pairs: Pairs, n: int) -> tuple[np.ndarray, np.ndarray]:
        # A run rates fewer than 10,000 pairs, so no two draws ever share a candidate seed.
        seed = len(pairs) + 10_000 * draw
        proposal = propose(member, n, name, exclude=(pairs.a, pairs.b), seed=seed, random_fraction=fraction,
                           vectors=vectors, keep_fraction=GOOD_FRACTION)  # fmt: skip
        return proposal.a, proposal.b

    return choose


def train(world: World, config: EnsembleConfig, pairs: Pairs) -> FitResult:
    return fit(world.x[world.pool], pairs, config, keys=[int(i) for i in world.pool])


def judge(world: World, model: Ensemble) -> tuple[float, np.ndarray]:
    """AUROC on the held-out memes, and per-member scores (N_pool, M) for choosing the next pairs."""
    with torch.no_grad():
        scores = model.score_all(torch.from_numpy(world.x))[:, :, 0].numpy()  # (N, M)
    return auroc(scores[world.test].mean(1), world.good), scores[world.pool]


def learner_config(world: World, learner: str) -> EnsembleConfig:
    return EnsembleConfig(dim=world.x.shape[1], **LEARNERS[learner])


def extend(pairs: Pairs, a: np.ndarray, b: np.ndarray, rater: Rater) -> Pairs:
    return Pairs(np.r_[pairs.a, a], np.r_[pairs.b, b], np.r_[pairs.target, rater.rate(a, b)])


def keeps(member: np.ndarray) -> np.ndarray:
    """The curation decision on the pool: the top GOOD_FRACTION by the ensemble's mean score."""
    return keep_decisions(member.mean(1), GOOD_FRACTION)


def add_decision_changes(curve: list[dict], decisions: list[np.ndarray]) -> None:
    """Beside each round's predicted change of decisions (the stopping signal), the share that really
    changed by the first round at least NEXT ratings later."""
    for i, point in enumerate(curve):
        later = next((j for j in range(i + 1, len(curve)) if curve[j]["labels"] >= point["labels"] + NEXT), None)
        point["actual_change"] = None if later is None else float((decisions[i] != decisions[later]).mean())


def stopping_signals(
    member: np.ndarray, labels: int, curve: list[dict], means: list[np.ndarray], spread: np.ndarray | None = None
) -> dict:
    """A round's stopping signals as the trainer computes them: the members' disagreement (of the twin's
    members `spread` when given) and the change of decisions since the latest earlier round at least NEXT
    ratings back (`curve`, `means`: the rounds so far and their mean scores); the report combines them as
    the product does."""
    back = max((j for j, p in enumerate(curve) if p["labels"] <= labels - NEXT), default=None)
    disagreement = expected_decision_change(member if spread is None else spread, labels, GOOD_FRACTION)
    observed = None if back is None else observed_decision_change(member.mean(1), means[back], GOOD_FRACTION)
    return {"predicted_change": disagreement, "observed_change": observed}


def run_ours(
    world: World,
    choose: Chooser,
    budget: int,
    config: EnsembleConfig,
    signals: Signals | None = None,
    twin: bool = TWIN,
) -> list[dict]:
    """One run of the loop up to `budget` interactions: the curve of (interactions as `labels`, comparisons,
    decisions, AUROC, predicted change of the curation decision from the next ratings) after each retrain;
    `signals`: how the person answers (default: pairs); `twin`: the disagreement read from a bootstrapped
    twin (stopping.twin_config), as the trainer reads it."""
    rng, rater = np.random.default_rng(world.seed), Rater(world.taste[world.pool], world.seed)
    answers = Answers(world, rater, signals or Signals("pairs"), (config.keep_target, config.discard_target))
    answers.first(FIRST_RANDOM, rng)
    curve: list[dict] = []
    decisions: list[np.ndarray] = []
    means: list[np.ndarray] = []
    for stop in [r for r in ROUNDS if r <= budget] + [None]:
        value, member = judge(world, train(world, config, answers.pairs).model)
        twin_recipe = twin_config(config) if twin else None
        spread = None if twin_recipe is None else judge(world, train(world, twin_recipe, answers.pairs).model)[1]
        signals_now = stopping_signals(member, answers.interactions, curve, means, spread)
        curve.append({"labels": answers.interactions, "comparisons": len(answers.comparisons),
                      "decisions": int(answers.decided.sum()), "auroc": value} | signals_now)  # fmt: skip
        means.append(member.mean(1))
        decisions.append(keeps(member))
        if stop is None:
            break
        answers.round(choose, member, stop - answers.interactions)
    add_decision_changes(curve, decisions)
    return curve
