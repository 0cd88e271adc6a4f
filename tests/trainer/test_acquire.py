"""Choosing pairs to rate: the strategies' values, rated pairs excluded, batches spread over memes."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from memethresher_trainer.acquire import STRATEGIES, candidate_pairs, k_center, pair_keys, pair_values, propose


def member_scores(n: int = 60, members: int = 8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # Memes differ in how much the members disagree about them.
    return (rng.normal(size=(n, 1)) + rng.normal(size=(n, members)) * rng.uniform(0, 2, size=(n, 1))).astype(np.float32)


def reference(scores: np.ndarray, a: np.ndarray, b: np.ndarray, strategy: str) -> np.ndarray:
    """The textbook formulas, one pair at a time."""
    out = []
    for i, j in zip(a, b, strict=True):
        p = 1 / (1 + np.exp(-(scores[i].astype(np.float64) - scores[j])))
        h = lambda q: -(q * np.log(q) + (1 - q) * np.log(1 - q))  # noqa: E731
        out.append({"variance": p.var(), "uncertainty": 0.5 - abs(p.mean() - 0.5),
                    "bald": h(p.mean()) - h(p).mean()}[strategy])  # fmt: skip
    return np.array(out)


@pytest.mark.parametrize("strategy", ["variance", "uncertainty", "bald"])
def test_pair_values_match_the_formulas(strategy: str) -> None:
    scores = member_scores()
    a, b = candidate_pairs(60, 10_000, np.random.default_rng(0))
    got = pair_values(torch.from_numpy(scores), torch.from_numpy(a), torch.from_numpy(b), strategy)
    np.testing.assert_allclose(got.numpy(), reference(scores, a, b, strategy), atol=1e-5)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_rated_pairs_are_never_proposed_in_either_order(strategy: str) -> None:
    scores = member_scores(n=30)
    all_a, all_b = np.triu_indices(30, k=1)
    rated_a, rated_b = all_b[::2], all_a[::2]  # half of every pair, rated with b shown first
    vectors = np.random.default_rng(1).normal(size=(30, 16))
    proposal = propose(scores, 40, strategy, exclude=(rated_a, rated_b), max_per_meme=4, vectors=vectors)
    rated = set(pair_keys(rated_a, rated_b, 30).tolist())
    chosen = pair_keys(proposal.a, proposal.b, 30).tolist()
    assert len(chosen) == 40 and len(set(chosen)) == 40
    assert not rated & set(chosen)
    assert (proposal.a != proposal.b).all()


def test_a_batch_spreads_over_many_memes() -> None:
    scores = member_scores(n=200)
    scores[7] = np.tile([4.0, -4.0], 4)  # members split on this meme: it would be in every top pair
    proposal = propose(scores, 64, "variance", max_per_meme=2)
    uses = Counter(proposal.a.tolist() + proposal.b.tolist())
    assert max(uses.values()) <= 2
    assert len(uses) >= 64
    assert uses[7] == 2
    uncapped = propose(scores, 64, "variance", max_per_meme=1000)
    assert Counter(uncapped.a.tolist() + uncapped.b.tolist())[7] > 10


def test_the_most_disputed_pairs_come_first() -> None:
    scores = member_scores(n=100)
    proposal = propose(scores, 20, "variance", max_per_meme=100)
    a, b = np.triu_indices(100, k=1)
    values = reference(scores, a, b, "variance")
    assert proposal.value.min() >= np.sort(values)[-20] - 1e-6
    assert proposal.strategy == "variance"


def test_large_collections_use_a_sample_of_distinct_candidates() -> None:
    a, b = candidate_pairs(100_000, 50_000, np.random.default_rng(1))
    assert 49_000 < len(a) <= 50_000
    assert (a < b).all()
    assert len(np.unique(pair_keys(a, b, 100_000))) == len(a)


def test_unknown_strategy_is_refused() -> None:
    with pytest.raises(ValueError, match="strategy must be one of"):
        propose(member_scores(), 4, "vibes")


def test_part_of_a_batch_can_be_random_exploration() -> None:
    scores = member_scores(n=200)
    proposal = propose(scores, 40, "variance", random_fraction=0.5, max_per_meme=2)
    assert list(proposal.chosen_by).count("variance") == 20 and list(proposal.chosen_by).count("random") == 20
    keys = pair_keys(proposal.a, proposal.b, 200)
    assert len(set(keys.tolist())) == 40
    assert max(Counter(proposal.a.tolist() + proposal.b.tolist()).values()) <= 2
    greedy = propose(scores, 40, "variance", max_per_meme=2)
    # The exploration half is not simply the next-best pairs by variance.
    assert proposal.value[proposal.chosen_by == "random"].mean() < greedy.value[20:].mean()


def clustered(sizes: tuple[int, ...] = (300, 6, 4), dim: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Tight clusters of memes around orthogonal directions, of very unequal sizes: vectors and cluster ids."""
    rng = np.random.default_rng(seed)
    cluster = np.repeat(np.arange(len(sizes)), sizes)
    vectors = np.eye(dim)[cluster] * 10 + rng.normal(scale=0.3, size=(len(cluster), dim))
    return vectors, cluster


def test_k_center_reaches_every_cluster_a_random_draw_misses() -> None:
    vectors, cluster = clustered()
    scores = member_scores(n=len(vectors))
    missed = 0
    for seed in range(10):
        centres, radius = k_center(vectors, 3, np.random.default_rng(seed))
        assert set(cluster[centres].tolist()) == {0, 1, 2}
        assert (np.diff(radius) <= 1e-6).all()  # each pick is no farther than the one before
        diverse = propose(scores, 4, "diverse", seed=seed, vectors=vectors)
        assert set(cluster[np.r_[diverse.a, diverse.b]].tolist()) == {0, 1, 2}
        drawn = propose(scores, 4, "random", seed=seed)
        missed += len(set(cluster[np.r_[drawn.a, drawn.b]].tolist())) < 3
    assert missed >= 5  # 8 memes drawn at random mostly miss a cluster of 6 or of 4 in 310


def test_diverse_is_deterministic_given_the_seed() -> None:
    vectors, _ = clustered()
    scores = member_scores(n=len(vectors))
    first, again = (propose(scores, 16, "diverse", seed=3, vectors=vectors) for _ in range(2))
    other = propose(scores, 16, "diverse", seed=4, vectors=vectors)
    assert (first.a == again.a).all() and (first.b == again.b).all()
    assert not np.array_equal(pair_keys(first.a, first.b, 310), pair_keys(other.a, other.b, 310))


def test_diverse_uses_each_meme_once_while_others_remain() -> None:
    vectors, _ = clustered()
    scores = member_scores(n=len(vectors))
    proposal = propose(scores, 64, "diverse", vectors=vectors, max_per_meme=2)
    uses = Counter(proposal.a.tolist() + proposal.b.tolist())
    assert len(proposal.a) == 64 and max(uses.values()) == 1
    assert set(proposal.chosen_by) == {"diverse"}
    assert (np.diff(proposal.value) <= 1e-9).all()  # the most spread pairs are asked first
    # Five memes: ten pairs, four rated; the six others fill the batch, repeating memes only now.
    rated = (np.r_[0, 1, 2, 3], np.r_[1, 2, 3, 4])
    few = propose(member_scores(n=5), 6, "diverse", vectors=vectors[:5], exclude=rated, max_per_meme=3)
    assert len(few.a) == 6 and not set(pair_keys(*rated, 5).tolist()) & set(pair_keys(few.a, few.b, 5).tolist())


def test_diverse_without_embeddings_is_refused() -> None:
    with pytest.raises(ValueError, match="needs the embeddings"):
        propose(member_scores(), 4, "diverse")


def test_diverse_batches_move_on_to_memes_the_earlier_ones_left_out() -> None:
    vectors = np.random.default_rng(2).standard_t(df=2, size=(200, 16))  # heavy tails: a few far-out memes
    scores = member_scores(n=200)
    rated_a, rated_b = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    for round_ in range(3):
        proposal = propose(scores, 16, "diverse", exclude=(rated_a, rated_b), seed=round_, vectors=vectors)
        rated_a, rated_b = np.r_[rated_a, proposal.a], np.r_[rated_b, proposal.b]
    # Three batches of 32 memes, each while at least 4 x 32 are unrated: 96 different ones, not the same
    # outliers again and again.
    assert len(set(np.r_[rated_a, rated_b].tolist())) == 96


def epig_reference(scores: np.ndarray, a: int, b: int, targets: np.ndarray, keep_fraction: float) -> float:
    """Mutual information between a pair's answer and each target's keep decision, the ensemble a uniform
    mixture of its members, by summing the four joint outcomes; mean over the targets."""
    top = int(np.ceil(len(scores) * keep_fraction))
    threshold = np.sort(scores, axis=0)[-top]  # the lowest of each member's top memes
    win = 1 / (1 + np.exp(-(scores[a].astype(np.float64) - scores[b])))  # (M,)
    infos = []
    for t in targets:
        keep = 1 / (1 + np.exp(-(scores[t].astype(np.float64) - threshold)))
        info = 0.0
        for pw in (win, 1 - win):
            for pk in (keep, 1 - keep):
                joint = (pw * pk).mean()
                info += joint * np.log(joint / (pw.mean() * pk.mean()))
        infos.append(info)
    return float(np.mean(infos))


def test_epig_values_match_the_formula() -> None:
    from memethresher_trainer.acquire import epig_values, keep_probabilities

    scores = member_scores(n=40)
    a, b = candidate_pairs(40, 10_000, np.random.default_rng(0))
    targets = np.arange(0, 40, 3)
    keep = keep_probabilities(torch.from_numpy(scores), 0.25)[torch.from_numpy(targets)]
    got = epig_values(torch.from_numpy(scores), torch.from_numpy(a), torch.from_numpy(b), keep).numpy()
    want = [epig_reference(scores, i, j, targets, 0.25) for i, j in zip(a[:50], b[:50], strict=True)]
    np.testing.assert_allclose(got[:50], want, rtol=1e-3, atol=1e-7)


def test_epig_asks_about_memes_near_the_curation_threshold_where_bald_cannot_tell() -> None:
    rng = np.random.default_rng(0)
    # Enough members that chance agreement between members' scores of unrelated memes carries no weight.
    members = 64
    far_below = -8 + rng.normal(size=(20, members))  # surely discarded, members unsure of their order
    near = rng.normal(size=(20, members))  # as unsure, around the threshold
    kept = 8 + rng.normal(scale=0.1, size=(10, 1)) + np.zeros(members)  # surely kept, all agree
    scores = np.vstack([far_below, near, kept]).astype(np.float32)
    is_near = np.r_[np.zeros(20), np.ones(20), np.zeros(10)].astype(bool)
    # With the top 30% kept, the threshold falls among the "near" memes.
    epig = propose(scores, 10, "epig", keep_fraction=0.3, max_per_meme=2)
    assert is_near[np.r_[epig.a, epig.b]].all()
    bald = propose(scores, 10, "bald", max_per_meme=2)
    assert not is_near[np.r_[bald.a, bald.b]].all()  # BALD values the far-below pairs as much


def test_balpm_goes_to_memes_far_from_every_rated_one_and_spreads_its_batch() -> None:
    vectors, cluster = clustered()
    scores = np.zeros((len(vectors), 8), dtype=np.float32)  # no model preference at all: BALD is flat
    rated = (np.arange(0, 100, 2), np.arange(1, 101, 2))  # only memes of the big cluster have been rated
    proposal = propose(scores, 2, "balpm", exclude=rated, max_per_meme=1, vectors=vectors)
    # Both small clusters in one batch of two pairs: after a pick, its cluster is no longer far from
    # everything chosen.
    assert set(cluster[np.r_[proposal.a, proposal.b]].tolist()) == {1, 2}
    assert set(proposal.chosen_by) == {"balpm"}


def test_balpm_weighs_uncertainty_against_novelty() -> None:
    vectors, cluster = clustered()
    scores = np.zeros((len(vectors), 8), dtype=np.float32)
    scores[:20] = np.tile([3.0, -3.0], 4) * np.linspace(1, 2, 20)[:, None]  # members split on 20 big-cluster memes
    rated = (np.arange(100, 200, 2), np.arange(101, 201, 2))
    proposal = propose(scores, 4, "balpm", exclude=rated, max_per_meme=1, vectors=vectors)
    # The disputed memes are close to rated ones but far more uncertain: some of them are asked.
    assert (np.r_[proposal.a, proposal.b] < 20).any()


def test_strategies_reading_embeddings_refuse_to_run_without_them() -> None:
    with pytest.raises(ValueError, match="balpm strategy needs the embeddings"):
        propose(member_scores(), 4, "balpm")
