"""Candidate pairs evaluated per second by each acquisition strategy, from per-member scores, and the time
of a batch of the strategies that do more than score candidates (`diverse`: k-center over the embeddings;
`epig`: information about the keep decisions of a sample of memes; `balpm`: greedy picks against the
rated memes' embeddings) at the product's sizes.

    python benchmarks/bench_acquire.py [--quick]

Writes benchmarks/results/acquire.json (`candidate_pairs_per_s`: variance, the seed's strategy,
with M=16 members; target >= 10 million/s; `batch_s`: seconds for a batch of 64 pairs among 50,000 memes
of 1,280 dimensions by each of those strategies, before any rating and after 5,000 rated pairs).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from memethresher_trainer.acquire import candidate_pairs, pair_values, propose

RESULTS = Path(__file__).parent / "results" / "acquire.json"
BATCH = 64  # the product's acquisition batch (acquisition_batch_size)
DIM = 1280  # the offline encoder's embedding width


def best_rate(scores: torch.Tensor, a: torch.Tensor, b: torch.Tensor, strategy: str, repeats: int) -> float:
    """Pairs per second, best of `repeats` runs (the least disturbed by other load)."""
    pair_values(scores, a[:100_000], b[:100_000], strategy)  # warm up
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        pair_values(scores, a, b, strategy)
        best = min(best, time.perf_counter() - started)
    return len(a) / best


def batch_s(strategy: str, scores: np.ndarray, vectors: np.ndarray, rated: int, repeats: int) -> float:
    """Seconds for one batch of BATCH pairs by `strategy` (best of `repeats`) after `rated` random rated
    pairs (for `diverse` the least rated memes it picks among are then every unrated one)."""
    rng = np.random.default_rng(1)
    exclude = candidate_pairs(len(vectors), rated, rng) if rated else None
    best = float("inf")
    for seed in range(repeats):
        started = time.perf_counter()
        proposal = propose(scores, BATCH, strategy, exclude=exclude, seed=seed, vectors=vectors)
        best = min(best, time.perf_counter() - started)
        assert len(proposal.a) == BATCH
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer candidates and repeats")
    args = parser.parse_args()
    n_memes, members = 50_000, 16
    n_candidates, repeats = (1_000_000, 2) if args.quick else (8_000_000, 3)
    rng = np.random.default_rng(0)
    scores = torch.from_numpy(rng.normal(size=(n_memes, members)).astype(np.float32))  # (N, M)
    a_np, b_np = candidate_pairs(n_memes, n_candidates, rng)
    a, b = torch.from_numpy(a_np), torch.from_numpy(b_np)
    rates = {s: best_rate(scores, a, b, s, repeats) for s in ("variance", "uncertainty", "bald")}
    started = time.perf_counter()
    proposal = propose(scores.numpy(), 64, "variance", max_candidates=2_000_000)
    propose_s = time.perf_counter() - started
    print(f"{n_memes} memes, M={members}, {len(a):,} candidate pairs")
    print(f"{'strategy':12} {'pairs/s':>14}")
    for strategy, rate in rates.items():
        print(f"{strategy:12} {rate:14,.0f}")
    print(f"a batch of {len(proposal.a)} pairs from 2M candidates (sample, score, select): {propose_s:.2f}s")
    vectors = rng.normal(size=(n_memes, DIM)).astype(np.float32)
    batches = {strategy: {f"rated_{rated}": batch_s(strategy, scores.numpy(), vectors, rated, repeats)
                          for rated in (0, 5_000)} for strategy in ("diverse", "epig", "balpm")}  # fmt: skip
    for strategy, times in batches.items():
        for key, seconds in times.items():
            print(f"{strategy}: {BATCH} pairs among {n_memes} x {DIM} memes, {key.replace('_', ' ')}: {seconds:.2f}s")
    result = {"candidate_pairs_per_s": rates["variance"], "by_strategy": rates, "members": members,
              "memes": n_memes, "candidates": len(a), "propose_64_from_2M_s": propose_s,
              "diverse_batch_s": batches["diverse"], "batch_s": batches, "dim": DIM, "quick": args.quick,
              "machine": platform.machine(), "threads": torch.get_num_threads()}  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
