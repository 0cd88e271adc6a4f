"""Ratings needed to learn a taste: a simulated rater, by acquisition strategy, against the seed's recipe.

    python benchmarks/bench_learning.py [--quick] [--worlds 3] [--draws 10] [--taste components|directions]
                                        [--reuse-seed]

Memes are the demo's sample memes (photographs from scikit-image, cropped, recoloured and captioned),
embedded by the offline encoder (EfficientNet-Lite0, 1280-d). The rater has a hidden taste, a fixed
nonlinear function of those features, and answers every pair with Bradley-Terry noise. Pairs are
rated in rounds as the product does (a retrain every `retrain_every` ratings, then the next pairs
come from the new model). AUROC is measured on held-out memes (never offered for rating) split into
good (top 30% of the hidden taste) and bad. Each world draws its own memes, hidden taste, split and
rater; the seed's recipe runs once in every world and each of our strategies `--draws` times, each draw
picking from its own sample of candidate pairs. A single run is partly luck: uncertainty picks near-ties,
whose order flips with the last bits of the scores, so one world's curve moves by a few hundredths between
draws (or machines). The verdict is the median over every run (world x draw) of the labels our default
needs for its world's seed-recipe final AUROC, over the seed recipe's labels. Writes
benchmarks/results/learning.json.

The seed recipe at its own width (one hidden layer as wide as the embedding) trains 26 M weights with
batch 1: 45-51 min a world here, three worlds sharing two cores (RESULTS.md). `--reuse-seed` takes its
curves from the results file, which is committed, so a rerun of our side takes minutes.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from memethresher_shared.settings import CHOICE_TARGETS
from memethresher_trainer.acquire import propose
from memethresher_trainer.evaluate import auroc
from memethresher_trainer.model import Ensemble, EnsembleConfig
from memethresher_trainer.train import FitResult, Pairs, fit

RESULTS = Path(__file__).parent / "results" / "learning.json"
ENCODER = "efficientnet_lite0:imagenet"
GOOD_FRACTION = 0.3
TARGET = 1 / 3  # of the seed recipe's labels, to reach its final AUROC
DEFAULT = "uncertainty"  # the product's default: every pair by uncertainty, none random


def embed_samples(count: int, cache: Path | None = None) -> np.ndarray:
    """(count, 1280) unit vectors of freshly drawn sample memes, cached between runs (by default in the
    temp folder, shared by every learning benchmark and probe)."""
    cache = cache or Path(tempfile.gettempdir()) / f"memethresher-bench-learning-{count}.npz"
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


def taste_components(x: np.ndarray) -> np.ndarray:
    """The components taste's inputs: the collection's top 48 principal components, each of unit variance."""
    centred = x - x.mean(0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    z = centred @ components[:48].T
    return z / z.std(0)


def hidden_taste(x: np.ndarray, seed: int = 7, kind: str = "components") -> np.ndarray:
    """A fixed nonlinear function of the features: a random tanh network over 48 directions.

    kind "components": the collection's top 48 principal components, whitened (what the trainer's
    input whitening keeps, so it flatters it); "directions": 48 random directions of the raw
    embedding, each scaled to unit variance, so part of the taste lies outside the top components.
    """
    rng = np.random.default_rng(seed)
    if kind == "components":
        z = taste_components(x)
    elif kind == "directions":
        z = (x - x.mean(0)) @ rng.normal(size=(x.shape[1], 48))
        z /= z.std(0)
    else:
        raise ValueError(f"taste kind must be components or directions, not {kind!r}")
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
        return np.array([CHOICE_TARGETS[c] for c in choice], dtype=np.float32)


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

    def train(self, config: EnsembleConfig, pairs: Pairs) -> FitResult:
        return fit(self.x[self.pool], pairs, config, keys=[int(i) for i in self.pool])

    def judge(self, model: Ensemble) -> tuple[float, np.ndarray]:
        """AUROC on held-out memes, and per-member scores (N_pool, M) for choosing the next pairs."""
        with torch.no_grad():
            scores = model.score_all(torch.from_numpy(self.x))[:, :, 0].numpy()  # (N, M)
        return auroc(scores[self.test].mean(1), self.good), scores[self.pool]

    def measure(self, config: EnsembleConfig, pairs: Pairs) -> tuple[float, np.ndarray]:
        return self.judge(self.train(config, pairs).model)


def make_world(memes: np.ndarray, index: int, n_memes: int, kind: str = "components") -> Experiment:
    """World `index`: its own draw of memes (world 0: the first ones), hidden taste, split and rater."""
    if index == 0:
        x = memes[:n_memes]
    else:
        rng = np.random.default_rng(10_000 + index)
        x = memes[np.sort(rng.choice(len(memes), n_memes, replace=False))]
    return Experiment(x, hidden_taste(x, seed=7 + index, kind=kind), seed=index)


# Chooses the next `n` pairs from per-member scores of the pool (N, M) and the pairs rated so far.
Chooser = Callable[[np.ndarray, Pairs, int], tuple[np.ndarray, np.ndarray]]


def strategy_chooser(strategy: str, draw: int = 0) -> Chooser:
    """The product's acquisition: `strategy`, or 'name+random' for half of each batch random.

    `draw` seeds the candidate sample the strategy picks from (draw 0: the benchmark's first)."""
    name, _, mix = strategy.partition("+")
    fraction = 0.5 if mix == "random" else 0.0

    def choose(member: np.ndarray, pairs: Pairs, n: int) -> tuple[np.ndarray, np.ndarray]:
        # A run rates fewer than 1,000 pairs, so no two draws ever share a candidate seed.
        seed = len(pairs) + 1000 * draw
        proposal = propose(member, n, name, exclude=(pairs.a, pairs.b), seed=seed, random_fraction=fraction)
        return proposal.a, proposal.b

    return choose


def run_ours(exp: Experiment, strategy: str | Chooser, budget: int, config: EnsembleConfig) -> list[dict]:
    """The product's loop: random pairs first, then a retrain and a new batch every round."""
    choose = strategy_chooser(strategy) if isinstance(strategy, str) else strategy
    rng, rater = np.random.default_rng(exp.seed), Rater(exp.taste[exp.pool], exp.seed)
    a, b = exp.random_pairs(20, rng)
    pairs = Pairs(a, b, rater.rate(a, b))
    curve = []
    while True:
        value, member = exp.measure(config, pairs)
        curve.append({"labels": len(pairs), "auroc": value})
        if len(pairs) >= budget:
            return curve
        n = 20 if len(pairs) < 200 else 50  # short cycles while the model is young
        a, b = choose(member, pairs, n)
        pairs = Pairs(np.r_[pairs.a, a], np.r_[pairs.b, b], np.r_[pairs.target, rater.rate(a, b)])


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


def auroc_at(curve: list[dict], labels: int) -> float | None:
    """AUROC of the last model trained on at most `labels` ratings."""
    points = [point["auroc"] for point in curve if point["labels"] <= labels]
    return points[-1] if points else None


def summarize(curve: list[dict], seed_curve: list[dict]) -> dict[str, Any]:
    target, seed_labels = seed_curve[-1]["auroc"], seed_curve[-1]["labels"]
    reached = labels_to_reach(curve, target)
    return {"to_0.80": labels_to_reach(curve, 0.80), "to_0.90": labels_to_reach(curve, 0.90),
            "to_seed_final": reached, "label_ratio": None if reached is None else reached / seed_labels,
            "auroc_at_300": auroc_at(curve, 300), "auroc_at_500": auroc_at(curve, 500),
            "final_labels": curve[-1]["labels"], "final_auroc": curve[-1]["auroc"]}  # fmt: skip


def median_or_none(values: list[float | None]) -> float | None:
    """Median where None (never reached) counts as worse than any value; None if that is the median."""
    median = float(np.median([np.inf if v is None else v for v in values]))
    return None if np.isinf(median) else median


def count_within(ratios: list[float | None]) -> int:
    """Runs that reached the seed recipe's final AUROC within the target share of its labels."""
    return sum(r is not None and r <= TARGET for r in ratios)


def pool_draws(runs: list[dict]) -> dict[str, Any]:
    """One strategy's draws in one world: medians of the labels needed, means of AUROC."""
    rows = [run["summary"] for run in runs]

    def mean(key: str) -> float | None:
        values = [row[key] for row in rows if row[key] is not None]
        return float(np.mean(values)) if values else None

    ratios = [row["label_ratio"] for row in rows]
    return {"to_0.80": median_or_none([row["to_0.80"] for row in rows]),
            "to_0.90": median_or_none([row["to_0.90"] for row in rows]),
            "to_seed_final": median_or_none([row["to_seed_final"] for row in rows]),
            "label_ratio": median_or_none(ratios), "within_target": count_within(ratios),
            "draws": len(rows), "auroc_at_300": mean("auroc_at_300"), "auroc_at_500": mean("auroc_at_500"),
            "final_labels": rows[0]["final_labels"], "final_auroc": mean("final_auroc")}  # fmt: skip


def previous_seed_curves(args: argparse.Namespace, n_memes: int) -> dict[int, list[dict]]:
    """Seed-recipe curves of the last results file, per world, when run on the same worlds."""
    if not (args.reuse_seed and args.out.exists()):
        return {}
    previous = json.loads(args.out.read_text())
    same = (previous.get("memes"), previous.get("seed_hidden"), previous.get("taste")) == (
        n_memes, args.seed_hidden, args.taste)  # fmt: skip
    return {int(w["world"]): w["curves"]["seed recipe"] for w in previous.get("worlds", [])} if same else {}


def run_world(exp: Experiment, args: argparse.Namespace, plan: tuple, seed_curve: list[dict] | None) -> dict:
    n_random, batches, budget = plan
    seed_curve = seed_curve or run_seed(exp, n_random, batches, args.seed_hidden)
    ours = EnsembleConfig(dim=exp.x.shape[1])  # the product's defaults
    runs: dict[str, list[dict]] = {}
    for strategy in args.strategies.split(","):
        runs[strategy] = []
        for draw in range(args.draws):
            curve = run_ours(exp, strategy_chooser(strategy, draw), budget, ours)
            runs[strategy].append({"draw": draw, "summary": summarize(curve, seed_curve), "curve": curve})
    summary = {"seed recipe": summarize(seed_curve, seed_curve)} | {name: pool_draws(r) for name, r in runs.items()}
    return {"world": exp.seed, "seed_final_auroc": seed_curve[-1]["auroc"], "summary": summary,
            "curves": {"seed recipe": seed_curve}, "runs": runs}  # fmt: skip


def print_world(world: dict) -> None:
    print(f"world {world['world']}: seed recipe final AUROC {world['seed_final_auroc']:.3f} "
          f"(our strategies: median labels over draws, mean AUROC; 'within': draws reaching it by 1/3)")  # fmt: skip
    print(f"  {'':20} {'to 0.80':>8} {'to 0.90':>8} {'to seed':>8} {'within':>7} {'@300':>6} {'@500':>6} "
          f"{'labels':>7} {'AUROC':>6}")  # fmt: skip
    for name, row in world["summary"].items():
        reached = (row["to_0.80"], row["to_0.90"], row["to_seed_final"])
        cells = " ".join(f"{'-' if c is None else round(c):>8}" for c in reached)
        within = f"{row['within_target']}/{row['draws']}" if name in world["runs"] else "-"
        at = " ".join("     -" if v is None else f"{v:6.3f}" for v in (row["auroc_at_300"], row["auroc_at_500"]))
        print(f"  {name:20} {cells} {within:>7} {at} {row['final_labels']:>7} {row['final_auroc']:6.3f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer memes and labels")
    parser.add_argument("--worlds", type=int, default=3, help="simulated worlds (memes, taste, split, rater)")
    parser.add_argument("--first-world", type=int, default=0, help="index of the first world")
    parser.add_argument("--draws", type=int, default=0,
                        help="runs of each strategy a world, each its own candidate sample (0: 10)")  # fmt: skip
    parser.add_argument("--taste", default="components", choices=("components", "directions"),
                        help="hidden taste over the top principal components, or over random directions")  # fmt: skip
    parser.add_argument("--seed-hidden", type=int, default=0,
                        help="hidden width of the seed recipe; 0: the embedding width, the seed's own "
                             "(45-51 min a world at 1280, see RESULTS.md; 128 is the --quick width)")  # fmt: skip
    parser.add_argument("--features", type=Path, help="cache of the embedded sample memes (.npz)")
    parser.add_argument("--strategies", default="uncertainty,uncertainty+random,random",
                        help="strategies for the product's model; '+random': half of each batch random")  # fmt: skip
    parser.add_argument("--reuse-seed", action="store_true",
                        help="take the seed recipe's curves from the last results file (minutes a world)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=RESULTS, help="results file")
    args = parser.parse_args()
    n_memes, plan = (500, (300, [128], 200)) if args.quick else (1000, (1000, [256, 256], 600))
    started = time.perf_counter()
    torch.set_num_threads(1)  # as the trainer runs (MEMETHRESHER_TRAINER_THREADS); two thrash on a busy machine
    # Each world draws its memes from three times as many, so worlds differ in memes too.
    memes = embed_samples(3 * n_memes, args.features)
    args.seed_hidden = args.seed_hidden or (128 if args.quick else memes.shape[1])
    args.draws = args.draws or (2 if args.quick else 10)
    reused = previous_seed_curves(args, n_memes)
    worlds = []
    for index in range(args.first_world, args.first_world + args.worlds):
        exp = make_world(memes, index, n_memes, args.taste)
        worlds.append(run_world(exp, args, plan, reused.get(index)))
        print_world(worlds[-1])
    print(f"{n_memes} memes per world ({int(0.7 * n_memes)} to rate, the rest held out); taste: {args.taste}; "
          f"{args.draws} draws of each strategy a world")  # fmt: skip
    ratios = {"seed recipe": [w["summary"]["seed recipe"]["label_ratio"] for w in worlds]}
    for name in worlds[0]["runs"]:
        ratios[name] = [run["summary"]["label_ratio"] for w in worlds for run in w["runs"][name]]
    medians = {name: median_or_none(r) for name, r in ratios.items()}
    within = {name: count_within(r) for name, r in ratios.items()}
    for name, r in ratios.items():
        median = "-" if medians[name] is None else f"{medians[name]:.2f}"
        print(f"{name:20} labels / seed recipe's labels to its final AUROC: median {median} over {len(r)} runs; "
              f"{within[name]} of {len(r)} within {TARGET:.2f}")  # fmt: skip
    verdict = medians.get(DEFAULT)
    shown = "- (half the runs or more never reach it)" if verdict is None else f"{verdict:.2f}"
    print(f"default ({DEFAULT}): median {shown} of the seed recipe's labels (target <= {TARGET:.2f})")
    result = {"worlds": worlds, "label_ratios": ratios, "median_label_ratio": medians, "within_target": within,
              "target": TARGET, "default": DEFAULT, "draws": args.draws, "taste": args.taste,
              "seed_hidden": args.seed_hidden, "memes": n_memes, "quick": args.quick,
              "seconds": time.perf_counter() - started}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
