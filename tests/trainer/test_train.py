"""Training: learns a hidden taste, holds out memes by hash, stops early at the best step."""

from __future__ import annotations

import numpy as np
import torch
from memethresher_trainer.model import Ensemble, EnsembleConfig
from memethresher_trainer.train import (
    Pairs,
    _epoch,
    answer_weights,
    evaluate_pairs,
    fit,
    split_pairs,
    validation_memes,
)

from tests.trainer.tastes import hidden_taste, rated_pairs, unit_vectors


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.corrcoef(np.argsort(np.argsort(x)), np.argsort(np.argsort(y)))[0, 1])


def test_ensemble_learns_a_hidden_taste_on_memes_it_never_saw() -> None:
    x = unit_vectors(300, 16)
    taste = hidden_taste(x)
    result = fit(x, rated_pairs(taste, 800), EnsembleConfig(dim=16, members=8, hidden=32))
    held_out = validation_memes(range(300), 0.2)
    with torch.no_grad():
        scores = result.model.score_all(torch.from_numpy(x))[:, :, 0].mean(1).numpy()
    assert result.metrics["val_accuracy"] > 0.75
    assert spearman(scores[held_out], taste[held_out]) > 0.8


def test_validation_split_holds_memes_out_by_hash() -> None:
    keys = list(range(1000))
    held_out = validation_memes(keys, 0.2)
    assert 0.15 < held_out.mean() < 0.25
    # Stable: the same meme is held out whatever else is in the table, in any order.
    again = validation_memes(list(reversed(keys))[:500], 0.2)
    np.testing.assert_array_equal(again, held_out[::-1][:500])
    pairs = rated_pairs(np.zeros(1000), 3000)
    train, val = split_pairs(pairs, held_out)
    assert len(train) + len(val) == len(pairs)
    assert not held_out[train.a].any() and not held_out[train.b].any()
    assert (held_out[val.a] | held_out[val.b]).all()


def test_early_stopping_restores_the_best_step() -> None:
    x = unit_vectors(120, 32)
    pairs = rated_pairs(hidden_taste(x), 150, noisy=True)
    # Wide, no dropout, a high learning rate: it overfits quickly and validation loss turns up.
    config = EnsembleConfig(dim=32, members=4, hidden=256, dropout=0.0, lr=3e-2, weight_decay=0.0,
                            patience=6, max_epochs=80, min_val_pairs=4, refit=False)  # fmt: skip
    result = fit(x, pairs, config)
    losses = [point.val_loss for point in result.curve]
    best = int(np.argmin(losses))
    assert result.metrics["best_epoch"] == best
    assert len(losses) > best + 1 and losses[-1] > losses[best]  # it trained past the best step ...
    assert abs(result.metrics["val_loss"] - losses[best]) < 1e-6  # ... and came back to it
    held_out = validation_memes(range(120), config.val_fraction)
    val = split_pairs(pairs, held_out)[1]
    assert abs(evaluate_pairs(result.model, torch.from_numpy(x), val)[0] - losses[best]) < 1e-6


def test_refit_trains_on_every_rating_for_the_chosen_epochs() -> None:
    x = unit_vectors(200, 16)
    taste = hidden_taste(x)
    pairs = rated_pairs(taste, 400)
    split = fit(x, pairs, EnsembleConfig(dim=16, members=4, refit=False))
    refit = fit(x, pairs, EnsembleConfig(dim=16, members=4))
    assert refit.metrics["refit_epochs"] == max(split.metrics["best_epoch"] + 1, 15)
    assert refit.metrics["val_loss"] == split.metrics["val_loss"]  # measured before the refit
    # The refit model has seen the held-out memes' ratings too: it fits all ratings better.
    all_loss = [evaluate_pairs(r.model, torch.from_numpy(x), pairs)[0] for r in (split, refit)]
    assert all_loss[1] < all_loss[0]


def test_each_member_sees_its_own_data_order() -> None:
    x = unit_vectors(80, 8)
    pairs = rated_pairs(hidden_taste(x), 200)
    config = EnsembleConfig(dim=8, members=3, hidden=8, dropout=0.0)
    model = Ensemble(config)
    model.load_state({k: v[:1].expand_as(v).clone() for k, v in model.state().items()})
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr)
    _epoch(model, opt, torch.from_numpy(x), pairs, torch.Generator().manual_seed(0))
    trained = model.weights[0].detach()
    assert not torch.allclose(trained[0], trained[1])  # identical start, different orders, different end


def test_trains_on_twenty_ratings_over_fifty_memes() -> None:
    x = unit_vectors(50, 8)
    pairs = rated_pairs(hidden_taste(x), 20)
    result = fit(x, pairs, EnsembleConfig(dim=8))
    assert result.metrics["n_train_pairs"] + result.metrics["n_val_pairs"] >= 20
    assert np.isfinite(result.metrics["train_loss"])
    assert len(result.curve) >= 1


def test_ties_and_strong_preferences_train_together() -> None:
    x = unit_vectors(60, 8)
    pairs = Pairs(np.arange(0, 30), np.arange(30, 60), np.tile([0.95, 0.5, 0.05], 10))
    result = fit(x, pairs, EnsembleConfig(dim=8, members=2))
    assert np.isfinite(result.metrics["train_loss"])


def test_bootstrapped_members_disagree_more_than_members_on_the_same_answers() -> None:
    x = unit_vectors(120, 8)
    pairs = rated_pairs(hidden_taste(x), 80)
    spread = {}
    for bootstrap in (False, True):
        model = fit(x, pairs, EnsembleConfig(dim=8, members=8, bootstrap=bootstrap)).model
        with torch.no_grad():
            scores = model.score_all(torch.from_numpy(x))[:, :, 0]  # (N, M)
        centred = scores - scores.mean(0)  # members differ in offset, which no comparison sees
        spread[bootstrap] = centred.std(1).mean().item()
    assert spread[True] > 3 * spread[False]  # measured: about 9x


def test_an_answer_keeps_its_bootstrap_weight_when_answers_are_added() -> None:
    # Weights redrawn at every retrain would reshuffle the members each time a few answers arrive.
    x = unit_vectors(60, 8)
    config = EnsembleConfig(dim=8, members=4, bootstrap=True)
    pairs = rated_pairs(hidden_taste(x), 200)
    first = pairs.subset(np.arange(200) < 150)
    ids = np.arange(1000, 1060)  # the memes' ids, not their positions
    before, after = answer_weights(config, first, ids), answer_weights(config, pairs, ids)
    assert before is not None and after is not None
    torch.testing.assert_close(after[:, :150], before)
    assert not torch.equal(after[0], after[1])  # each member its own draws
    assert answer_weights(EnsembleConfig(dim=8), pairs, ids) is None  # off by default
