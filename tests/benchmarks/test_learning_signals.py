"""The learning benchmark's person: a best of four answers as the pair rater does, a keep follows the good
cut, and a run counts what the person did (a pair, a four or a decision is one interaction)."""

from __future__ import annotations

import numpy as np
import pytest
from memethresher_shared.settings import CHOICE_TARGETS
from memethresher_trainer.model import EnsembleConfig
from memethresher_trainer.train import THRESHOLD

from benchmarks.learning.loop import run_ours, strategy_chooser
from benchmarks.learning.memes import Memes
from benchmarks.learning.rater import Rater
from benchmarks.learning.signals import Answers, Signals, parse_signals
from benchmarks.learning.worlds import GOOD_FRACTION, World


def small_world(n: int = 120, dim: int = 16) -> World:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return World(Memes(vectors, np.zeros((n, 7), np.float32), np.zeros((n, 96), np.float32), np.zeros(n, int)),
                 "directions", 0)  # fmt: skip


def test_best_of_four_is_the_softmax_of_taste_and_of_two_the_pair_raters_odds() -> None:
    taste = np.array([1.0, 0.0, -0.5, 0.5])
    rater = Rater(taste, seed=0)
    picks = rater.best([np.arange(4)] * 40_000)
    share = np.bincount(picks, minlength=4) / len(picks)
    assert np.abs(share - np.exp(taste) / np.exp(taste).sum()).max() < 0.01
    # Of two memes, the pick is the pair rater's winner as often: the same noise, the same scale.
    of_two = (rater.best([np.array([0, 1])] * 40_000) == 0).mean()
    answers = rater.answer(np.zeros(40_000, int), np.ones(40_000, int))
    wins = np.isin(answers, ["a", "a+"]).mean() + 0.5 * (answers == "tie").mean()
    assert of_two == pytest.approx(1 / (1 + np.exp(-1.0)), abs=0.01)
    assert wins == pytest.approx(of_two, abs=0.015)


def test_a_four_is_one_interaction_and_three_comparisons_won_by_the_pick() -> None:
    world = small_world()
    answers = Answers(world, Rater(world.taste[world.pool], 0), Signals("random", four=True), (0.9, 0.1))
    answers.answer_pairs(np.array([0, 2, 4, 6]), np.array([1, 3, 5, 7]))
    assert answers.interactions == 2
    pairs = answers.pairs
    assert len(pairs) == 6 and (pairs.target == CHOICE_TARGETS["a"]).all()
    for group, rows in ((range(0, 4), slice(0, 3)), (range(4, 8), slice(3, 6))):
        assert len(set(pairs.a[rows])) == 1 and {*pairs.a[rows], *pairs.b[rows]} == set(group)


def test_curation_decides_the_models_top_pool_memes_once_each_at_the_chosen_mix() -> None:
    world = small_world()
    rater = Rater(world.taste[world.pool], 0)
    answers = Answers(world, rater, Signals("random", pairs_per_decision=4), (0.9, 0.1))
    perfect = np.repeat(world.taste[world.pool][:, None], 4, axis=1)  # (N_pool, M): a model that knows the taste
    choose = strategy_chooser("random")
    for _ in range(4):
        answers.round(choose, perfect, 20)
    decided = answers.pairs.a[answers.pairs.absolute]
    assert answers.interactions == 80 and len(decided) == 16 and len(answers.comparisons) == 64
    assert len(set(decided)) == 16  # never offered twice
    top = world.taste[world.pool] >= np.quantile(world.taste[world.pool], 1 - GOOD_FRACTION)
    assert top[decided].all()
    # The best memes of a perfect model are mostly above the person's good cut: most are kept.
    targets = answers.pairs.target[answers.pairs.absolute]
    assert np.isin(targets, np.float32([0.9, 0.1])).all() and (targets == np.float32(0.9)).mean() > 0.6
    assert (answers.pairs.b[answers.pairs.absolute] == THRESHOLD).all()


def test_a_run_counts_interactions_and_trains_on_fours_and_decisions() -> None:
    world = small_world()
    config = EnsembleConfig(dim=16, members=4, hidden=8)
    curves = {}
    for name in ("random", "random/four", "random+curation1"):
        signals = parse_signals(name)
        curves[name] = run_ours(world, strategy_chooser(signals.acquisition), 60, config, signals)
    for curve in curves.values():
        assert [p["labels"] for p in curve] == [20, 40, 60]
    assert [p["comparisons"] for p in curves["random"]] == [20, 40, 60]
    assert [p["comparisons"] for p in curves["random/four"]] == [60, 120, 180]
    mixed = curves["random+curation1"][-1]
    assert mixed["decisions"] == 20 and mixed["comparisons"] == 40


def test_strategy_names_select_the_signals() -> None:
    assert parse_signals("diverse") == Signals("diverse")
    assert parse_signals("uncertainty+random+curation2/four") == Signals("uncertainty+random", True, 2)
    assert parse_signals("diverse+curation") == Signals("diverse", pairs_per_decision=4)
    assert parse_signals("diverse/four:a+").four_win == CHOICE_TARGETS["a+"]
    with pytest.raises(SystemExit):
        parse_signals("diverse/five")
