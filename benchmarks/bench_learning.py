"""Ratings needed to learn a taste: a simulated rater, by acquisition strategy, against the seed's recipe.

    python benchmarks/bench_learning.py [--quick]

Memes are the demo's sample memes (photographs from scikit-image, cropped, recoloured and captioned),
embedded by the offline encoder (EfficientNet-Lite0, 1280-d). The rater has a hidden taste, a fixed
nonlinear function of those features, and answers every pair with Bradley-Terry noise. Pairs are
rated in rounds as the product does (a retrain every `retrain_every` ratings, then the next pairs
come from the new model). AUROC is measured on held-out memes (never offered for rating) split into
good (top 30% of the hidden taste) and bad. Writes benchmarks/results/learning.json.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from memethresher_trainer.acquire import propose
from memethresher_trainer.evaluate import auroc
from memethresher_trainer.model import DEFAULT_TARGETS, EnsembleConfig
from memethresher_trainer.train import Pairs, fit

RESULTS = Path(__file__).parent / "results" / "learning.json"
ENCODER = "efficientnet_lite0:imagenet"
GOOD_FRACTION = 0.3
DEFAULT = "uncertainty"  # the product's default: every pair by uncertainty, none random


def embed_samples(count: int, cache: Path) -> np.ndarray:
    """(count, 1280) unit vectors of freshly drawn sample memes, cached between runs."""
    if cache.exists():
        return np.load(cache)["vectors"]
    from memethresher_embedder.encoders import load_encoder
    from memethresher_embedder.preprocess import prepare_image
    from memethresher_embedder.settings import EmbedderSettings
    from memethresher_shared.samples import load_photos, make_meme

    encoder = load_encoder(ENCODER, EmbedderSettings(embedder_device="cpu"))
    photos, rng = load_photos(), random.Random(1234)
    vectors = []
    for start in range(0, count, 32):
        batch = []
        for index in range(start, min(count, start + 32)):
            buffer = io.BytesIO()
            make_meme(photos[index % len(photos)], rng).save(buffer, "PNG")
            batch.append(prepare_image(buffer.getvalue(), encoder.preprocess))
        vectors.append(encoder.encode(np.stack(batch)))
    out = np.concatenate(vectors).astype(np.float32)
    np.savez(cache, vectors=out)
    return out


def hidden_taste(x: np.ndarray, seed: int = 7) -> np.ndarray:
    """A fixed nonlinear function of the features: a random tanh network over 48 whitened components."""
    rng = np.random.default_rng(seed)
    centred = x - x.mean(0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    z = centred @ components[:48].T
    z /= z.std(0)
    hidden = np.tanh(z @ rng.normal(size=(48, 32)) / np.sqrt(48) * 2.0)  # (N, 32)
    taste = hidden @ rng.normal(size=32) + z[:, 0] * z[:, 1] - 0.5 * z[:, 2] ** 2
    # Scaled so that, as with a person, many answers between two memes are close calls.
    return 1.5 * (taste - taste.mean()) / taste.std()


class Rater:
    """Answers on the 5-point scale: Bradley-Terry on the hidden taste; '+' when the gap is wide."""

    def __init__(self, taste: np.ndarray, seed: int) -> None:
        self.taste, self.rng = taste, np.random.default_rng(seed)

    def rate(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        gap = self.taste[a] - self.taste[b]
        a_wins = self.rng.random(len(a)) < 1.0 / (1.0 + np.exp(-gap))
        sure = np.abs(gap) > 2.0
        choice = np.where(a_wins, np.where(sure, "a+", "a"), np.where(sure, "b+", "b"))
        return np.array([DEFAULT_TARGETS[c] for c in choice], dtype=np.float32)


class Experiment:
    """One world: pool memes to rate, held-out memes to measure AUROC on."""

    def __init__(self, x: np.ndarray, taste: np.ndarray, seed: int) -> None:
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(x))
        n_pool = int(0.7 * len(x))
        self.pool, self.test = order[:n_pool], order[n_pool:]
        self.x, self.taste, self.seed = x, taste, seed
        self.good = taste[self.test] > np.quantile(taste, 1 - GOOD_FRACTION)

    def random_pairs(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        a = rng.integers(0, len(self.pool), n)
        b = (a + rng.integers(1, len(self.pool), n)) % len(self.pool)
        return a, b

    def measure(self, config: EnsembleConfig, pairs: Pairs) -> tuple[float, np.ndarray]:
        """AUROC on held-out memes, and per-member scores (N_pool, M) for choosing the next pairs."""
        model = fit(self.x[self.pool], pairs, config, keys=[int(i) for i in self.pool]).model
        with torch.no_grad():
            scores = model.score_all(torch.from_numpy(self.x))[:, :, 0].numpy()  # (N, M)
        return auroc(scores[self.test].mean(1), self.good), scores[self.pool]


def run_ours(exp: Experiment, strategy: str, budget: int, stop_at: float, config: EnsembleConfig) -> list[dict]:
    """The product's loop: random pairs first, then a retrain and a new batch every round."""
    rng, rater = np.random.default_rng(exp.seed), Rater(exp.taste[exp.pool], exp.seed)
    a, b = exp.random_pairs(20, rng)
    pairs = Pairs(a, b, rater.rate(a, b))
    curve = []
    while True:
        value, member = exp.measure(config, pairs)
        curve.append({"labels": len(pairs), "auroc": value})
        if len(pairs) >= budget or value >= stop_at:
            return curve
        n = 20 if len(pairs) < 200 else 50  # short cycles while the model is young
        name, _, mix = strategy.partition("+")
        fraction = 0.5 if mix == "random" else 0.0
        proposal = propose(member, n, name, exclude=(pairs.a, pairs.b), seed=len(pairs), random_fraction=fraction)
        pairs = Pairs(np.r_[pairs.a, proposal.a], np.r_[pairs.b, proposal.b],
                      np.r_[pairs.target, rater.rate(proposal.a, proposal.b)])  # fmt: skip


def seed_config(dim: int, hidden: int) -> EnsembleConfig:
    """The seed's recipe: 16 members, one hidden layer, lr 3e-4, batch 1, 5 epochs, no early stopping."""
    return EnsembleConfig(dim=dim, members=16, hidden=hidden, dropout=0.0, lr=3e-4, weight_decay=0.0,
                          batch_size=1, fixed_epochs=5, min_val_pairs=10**9, input_components=0)  # fmt: skip


def run_seed(exp: Experiment, n_random: int, batches: list[int], hidden: int) -> list[dict]:
    """Random pairs, then variance-chosen batches, the model retrained from scratch each time."""
    rng, rater = np.random.default_rng(exp.seed), Rater(exp.taste[exp.pool], exp.seed)
    config = seed_config(exp.x.shape[1], hidden)
    a, b = exp.random_pairs(n_random, rng)
    pairs = Pairs(a, b, rater.rate(a, b))
    curve, member = [], np.zeros(0)
    for batch in [0, *batches]:
        if batch:
            proposal = propose(member, batch, "variance", exclude=(pairs.a, pairs.b), max_per_meme=batch)
            pairs = Pairs(np.r_[pairs.a, proposal.a], np.r_[pairs.b, proposal.b],
                          np.r_[pairs.target, rater.rate(proposal.a, proposal.b)])  # fmt: skip
        value, member = exp.measure(config, pairs)
        curve.append({"labels": len(pairs), "auroc": value})
    return curve


def labels_to_reach(curve: list[dict], level: float) -> int | None:
    return next((point["labels"] for point in curve if point["auroc"] >= level), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer memes and labels")
    parser.add_argument("--seed-hidden", type=int, default=128,
                        help="hidden width of the seed recipe (the seed's: the embedding width)")  # fmt: skip
    parser.add_argument("--features", type=Path, help="cache of the embedded sample memes (.npz)")
    parser.add_argument("--strategies", default="uncertainty,uncertainty+random,variance+random,variance,random",
                        help="strategies for the product's model; '+random': half of each batch random")  # fmt: skip
    parser.add_argument("--reuse-seed", action="store_true",
                        help="take the seed recipe's curve from the last results file (it takes minutes)")  # fmt: skip
    args = parser.parse_args()
    n_memes, n_random, batches, budget = (500, 300, [128], 200) if args.quick else (1000, 1000, [256, 256], 600)
    cache = args.features or Path(tempfile.gettempdir()) / f"memethresher-bench-learning-{n_memes}.npz"
    started = time.perf_counter()
    torch.set_num_threads(1)  # as the trainer runs (MEMETHRESHER_TRAINER_THREADS); two thrash on a busy machine
    x = embed_samples(n_memes, cache)
    exp = Experiment(x, hidden_taste(x), seed=0)
    previous = json.loads(RESULTS.read_text()) if args.reuse_seed and RESULTS.exists() else {}
    same = previous.get("memes") == len(x) and previous.get("seed_hidden") == args.seed_hidden
    seed_curve = previous["curves"]["seed recipe"] if same else run_seed(exp, n_random, batches, args.seed_hidden)
    target = seed_curve[-1]["auroc"]
    ours = EnsembleConfig(dim=x.shape[1])  # the product's defaults
    curves: dict[str, Any] = {"seed recipe": seed_curve}
    for strategy in args.strategies.split(","):
        curves[strategy] = run_ours(exp, strategy, budget, max(0.9, target), ours)
        print(f"{strategy}: {curves[strategy][-1]}", flush=True)
    summary = {
        name: {"to_0.80": labels_to_reach(c, 0.80), "to_0.90": labels_to_reach(c, 0.90),
               "to_seed_final": labels_to_reach(c, target), "final_labels": c[-1]["labels"],
               "final_auroc": c[-1]["auroc"]}
        for name, c in curves.items()
    }  # fmt: skip
    for row in summary.values():
        reached = row["to_seed_final"]
        row["label_ratio"] = None if reached is None else reached / seed_curve[-1]["labels"]
    print(f"{len(x)} memes ({len(exp.pool)} to rate, {len(exp.test)} held out); seed final AUROC {target:.3f}")
    print(f"{'':14} {'to 0.80':>8} {'to 0.90':>8} {'to seed':>8} {'labels':>7} {'AUROC':>6}")
    for name, row in summary.items():
        cells = [row["to_0.80"], row["to_0.90"], row["to_seed_final"]]
        shown = " ".join(f"{'-' if c is None else c:>8}" for c in cells)
        print(f"{name:14} {shown} {row['final_labels']:>7} {row['final_auroc']:6.3f}")
    ours_needed = summary.get(DEFAULT, {}).get("to_seed_final")
    ratio = None if ours_needed is None else ours_needed / seed_curve[-1]["labels"]
    print(f"default ({DEFAULT}) needs {ratio if ratio is None else f'{ratio:.2f}'} of the seed recipe's labels"
          " for its final AUROC (target <= 0.33)")  # fmt: skip
    result = {"summary": summary, "curves": curves, "seed_final_auroc": target, "label_ratio": ratio,
              "seed_hidden": args.seed_hidden, "memes": len(x), "quick": args.quick,
              "seconds": time.perf_counter() - started}  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
