"""Keeps and discards as comparisons with a learned keep threshold: the training interface."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from memethresher_trainer import artifacts
from memethresher_trainer.model import Ensemble, EnsembleConfig
from memethresher_trainer.train import (
    THRESHOLD,
    Pairs,
    evaluate_pairs,
    fit,
    pair_logits,
    split_pairs,
    validation_memes,
)
from safetensors.torch import load_file, save_file

from tests.trainer.tastes import hidden_taste, rated_pairs, unit_vectors


def auroc(scores: np.ndarray, good: np.ndarray) -> float:
    """Probability that a good meme outscores a bad one (ties count half)."""
    pos, neg = scores[good], scores[~good]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (len(pos) * len(neg)))


def decisions(taste: np.ndarray, memes: np.ndarray, seed: int = 3, keep: float = 0.9) -> Pairs:
    """A person keeping the memes of `memes` they like (noisily: P(keep) = sigmoid(taste - median))."""
    rng = np.random.default_rng(seed)
    cut = np.median(taste)
    kept = rng.random(len(memes)) < 1 / (1 + np.exp(-(taste[memes] - cut)))
    target = np.where(kept, keep, 1 - keep)
    return Pairs(memes, np.full(len(memes), THRESHOLD), target)


def mean_scores(model: Ensemble, x: np.ndarray, axis: int = 0) -> np.ndarray:
    with torch.no_grad():
        return model.score_all(torch.from_numpy(x))[:, :, axis].mean(1).numpy()


def test_threshold_is_the_b_of_an_absolute_label() -> None:
    assert THRESHOLD == -1 and isinstance(THRESHOLD, int)
    pairs = Pairs([0, 1], [THRESHOLD, 0], [1.0, 0.5])
    np.testing.assert_array_equal(pairs.absolute, [True, False])


def test_keeps_and_discards_alone_rank_liked_memes_first_on_memes_never_decided() -> None:
    x = unit_vectors(400, 16)
    taste = hidden_taste(x)
    decided = np.arange(200)  # the other 200 memes are never decided, never trained on
    result = fit(x, decisions(taste, decided), EnsembleConfig(dim=16, members=8))
    unseen = np.arange(200, 400)
    liked = taste[unseen] > np.median(taste)
    assert auroc(mean_scores(result.model, x)[unseen], liked) > 0.8
    assert result.metrics["n_train_pairs"] == result.metrics["n_val_pairs"] == 0
    assert result.metrics["n_train_absolute"] + result.metrics["n_val_absolute"] == 200


def test_a_keep_and_a_discard_are_enough_to_rank() -> None:
    x = unit_vectors(20, 8)
    pairs = Pairs([3, 7], [THRESHOLD, THRESHOLD], [1.0, 0.0])
    scores = mean_scores(fit(x, pairs, EnsembleConfig(dim=8, members=4)).model, x)
    assert scores[3] > scores[7]


def test_decisions_added_to_few_pairs_rank_unseen_memes_better() -> None:
    """Where pairs are few, the keeps and discards of 300 memes teach the model more of the taste."""
    x = unit_vectors(600, 24)
    config = EnsembleConfig(dim=24, members=8)
    unseen = np.arange(300, 600)
    gains = []
    for seed in range(3):
        taste = hidden_taste(x, seed=10 + seed)
        liked = taste[unseen] > np.median(taste)
        pairs = rated_pairs(taste[:300], 40, seed=seed)
        alone = mean_scores(fit(x, pairs, config).model, x)[unseen]
        more = Pairs.join(pairs, decisions(taste, np.arange(300), seed=seed))
        both = mean_scores(fit(x, more, config).model, x)[unseen]
        gains.append(auroc(both, liked) - auroc(alone, liked))
    assert np.mean(gains) > 0.05 and min(gains) > 0


def test_a_threshold_row_is_held_out_when_its_meme_is_and_never_reads_the_last_meme() -> None:
    pairs = Pairs([0, 1, 2, 3], [THRESHOLD, THRESHOLD, 3, 0], [1.0, 0.0, 0.8, 0.2])
    held_out = np.array([False, True, False, False, True])  # the last meme is held out
    train, val = split_pairs(pairs, held_out)
    np.testing.assert_array_equal(train.a, [0, 2, 3])  # the keep of meme 0 stays in training
    np.testing.assert_array_equal(val.a, [1])


def test_pair_logits_compare_a_meme_with_its_axis_threshold() -> None:
    config = EnsembleConfig(dim=8, members=3, axes=("overall", "funny"))
    model = Ensemble(config).eval()
    with torch.no_grad():
        model.threshold.copy_(torch.tensor([[[0.5, -1.0]], [[0.0, 2.0]], [[1.5, 0.25]]]))  # (M, 1, A)
    x = torch.from_numpy(unit_vectors(6, 8))
    pairs = Pairs([2, 4, 1], [THRESHOLD, THRESHOLD, 5], [1.0, 0.0, 0.8], axis=[1, 0, 1])
    logits = pair_logits(model, x, pairs)  # (M, P)
    with torch.no_grad():
        scores = model.score_all(x)  # (N, M, A)
    torch.testing.assert_close(logits[:, 0], scores[2, :, 1] - model.threshold[:, 0, 1].detach())
    torch.testing.assert_close(logits[:, 1], scores[4, :, 0] - model.threshold[:, 0, 0].detach())
    torch.testing.assert_close(logits[:, 2], scores[1, :, 1] - scores[5, :, 1])
    loss, accuracy = evaluate_pairs(model, x, pairs)
    assert np.isfinite(loss) and accuracy is not None


def test_each_axis_learns_its_own_threshold_from_soft_targets() -> None:
    x = unit_vectors(60, 8)
    config = EnsembleConfig(dim=8, members=4, axes=("overall", "funny"), weight_decay=0.0)
    # Every meme kept on "funny" (softly): that axis' threshold falls below the memes' scores.
    pairs = Pairs(np.arange(60), np.full(60, THRESHOLD), np.full(60, 0.9), axis=np.ones(60))
    model = fit(x, pairs, config).model
    assert torch.all(model.threshold[:, 0, 0] == 0)  # overall had no keeps or discards: untouched
    below = mean_scores(model, x, axis=1).mean() - model.threshold[:, 0, 1].detach().mean().item()
    assert below > 1.0


def test_a_whitened_fit_keeps_its_learned_threshold() -> None:
    x = unit_vectors(200, 16)
    taste = hidden_taste(x)
    pairs = Pairs.join(rated_pairs(taste, 100), decisions(taste, np.arange(100)))
    config = EnsembleConfig(dim=16, members=4, input_components=6)
    result = fit(x, pairs, config)
    assert result.metrics["input_components"] == 6
    assert result.model.threshold.abs().sum() > 0
    assert result.metrics["n_train_absolute"] + result.metrics["n_val_absolute"] == 100


def test_state_keeps_the_threshold_and_older_weights_still_load(tmp_path: Path) -> None:
    x = unit_vectors(80, 8)
    taste = hidden_taste(x)
    model = fit(x, Pairs.join(rated_pairs(taste, 60), decisions(taste, np.arange(40))), EnsembleConfig(dim=8)).model
    state = model.state()
    assert state["threshold"].shape == (16, 1, 1)
    artifacts.save(model, tmp_path / "v1", {})
    np.testing.assert_array_equal(artifacts.load(tmp_path / "v1").threshold.detach(), state["threshold"])
    # An artifact written before the threshold existed: same scores, threshold at zero.
    weights = tmp_path / "v1" / artifacts.WEIGHTS
    older = {k: v for k, v in load_file(str(weights)).items() if k != "threshold"}
    save_file(older, str(weights))
    loaded = artifacts.load(tmp_path / "v1")
    assert torch.all(loaded.threshold == 0)
    np.testing.assert_allclose(mean_scores(loaded, x), mean_scores(model, x), rtol=1e-6)


@pytest.mark.parametrize("target", [0.0, 0.1, 0.5, 1.0])
def test_any_target_in_the_unit_interval_is_accepted(target: float) -> None:
    x = unit_vectors(30, 8)
    pairs = Pairs(np.arange(30), np.full(30, THRESHOLD), np.full(30, target))
    result = fit(x, pairs, EnsembleConfig(dim=8, members=2, max_epochs=5))
    assert np.isfinite(result.metrics["train_loss"])


def test_validation_rows_are_counted_by_kind() -> None:
    x = unit_vectors(300, 8)
    taste = hidden_taste(x)
    pairs = Pairs.join(rated_pairs(taste, 200), decisions(taste, np.arange(300)))
    metrics = fit(x, pairs, EnsembleConfig(dim=8, members=2, max_epochs=10)).metrics
    held_out = validation_memes(range(300), 0.2)
    assert metrics["n_val_absolute"] == int(held_out.sum()) > 0
    assert metrics["n_train_absolute"] == 300 - int(held_out.sum())
    assert metrics["n_train_pairs"] + metrics["n_val_pairs"] == 200
