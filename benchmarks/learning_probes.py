"""Probes behind bench_learning's verdict: where the learner stands, and acquisition ideas measured.

    python benchmarks/learning_probes.py curve                       # worlds 0-2: random pairs to 1,512, and a ceiling
    python benchmarks/learning_probes.py passive [--taste directions] # learner recipes on random pairs
    python benchmarks/learning_probes.py select [--taste directions]  # inputs picked by validation loss
    python benchmarks/learning_probes.py kernel [--taste directions]  # a kernel Bradley-Terry model for reference
    python benchmarks/learning_probes.py acquire --variant dopt|soft16|select|line [--worlds 101,102] [--taste ...]

Same worlds, memes, hidden tastes and rater as bench_learning (world i: `make_world(memes, i, 1000, taste)`);
tuning worlds are 101-106 and held-out ones 201-206, which the benchmark's worlds 0-2 do not overlap. Every
probe prints AUROC on the held-out memes; `acquire` also prints the paired difference to the product's
default (uncertainty), averaged over 300/350/400/450/500 ratings. One torch thread, as the trainer runs.
What help the product cannot have would give (oracle pairs, exact answers) is in learning_bounds.py.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from memethresher_trainer.acquire import pair_values, select, unrated_pairs
from memethresher_trainer.evaluate import auroc
from memethresher_trainer.model import EnsembleConfig
from memethresher_trainer.train import Pairs
from memethresher_trainer.whiten import Whitening

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks.bench_learning import (  # noqa: E402
    GOOD_FRACTION,
    Experiment,
    Rater,
    embed_samples,
    make_world,
    run_ours,
    strategy_chooser,
)

CHECKPOINTS = (300, 350, 400, 450, 500)
RECIPES = {  # learner variants for `passive`: overrides of the product's EnsembleConfig
    "default": {},
    "refit 40 epochs": {"min_refit_epochs": 40},
    "refit 80, weight decay 0.1": {"min_refit_epochs": 80, "weight_decay": 0.1},
    "32 members": {"members": 32},
    "hidden 128": {"hidden": 128},
    "dropout 0.3": {"dropout": 0.3},
    "no refit": {"refit": False},
    "lr 3e-3": {"lr": 3e-3},
}


def random_rated(exp: Experiment, n: int, seed: int) -> Pairs:
    rng, rater = np.random.default_rng(seed), Rater(exp.taste[exp.pool], seed)
    a, b = exp.random_pairs(n, rng)
    return Pairs(a, b, rater.rate(a, b))


def exact_targets(exp: Experiment, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The true probability that pool meme a beats b: an answer carrying all a rating could, without noise."""
    taste = exp.taste[exp.pool]
    return (1 / (1 + np.exp(taste[b] - taste[a]))).astype(np.float32)


def held_out_auroc(exp: Experiment, config: EnsembleConfig, pairs: Pairs) -> float:
    return exp.measure(config, pairs)[0]


def probe_curve(memes: np.ndarray) -> None:
    """The default on growing random pair sets, and on 20,000 noiseless pairs (what 700 memes allow)."""
    config = EnsembleConfig(dim=memes.shape[1])
    for world in (0, 1, 2):
        exp = make_world(memes, world, 1000)
        pairs = random_rated(exp, 1512, exp.seed)  # the seed recipe's own first draws
        cells = [f"{n}: {held_out_auroc(exp, config, pairs.subset(np.arange(1512) < n)):.4f}"
                 for n in (300, 500, 750, 1000, 1512)]  # fmt: skip
        a, b = exp.random_pairs(20_000, np.random.default_rng(5))
        ceiling = held_out_auroc(exp, config, Pairs(a, b, exact_targets(exp, a, b)))
        print(f"world {world}: random pairs {', '.join(cells)}; 20,000 noiseless pairs {ceiling:.4f}", flush=True)


def probe_passive(memes: np.ndarray, worlds: list[int], taste: str) -> None:
    results: dict[tuple[int, int, str], float] = {}
    for world in worlds:
        exp = make_world(memes, world, 1000, taste)
        for n in (300, 500):
            pairs = random_rated(exp, n, world)
            for name, overrides in RECIPES.items():
                results[world, n, name] = held_out_auroc(exp, EnsembleConfig(dim=memes.shape[1], **overrides), pairs)
    for n in (300, 500):
        for name in RECIPES:
            diffs = [results[w, n, name] - results[w, n, "default"] for w in worlds]
            mean = np.mean([results[w, n, name] for w in worlds])
            print(f"{taste} {n} random pairs  {name:28} {mean:.4f}  {np.mean(diffs):+.4f} "
                  f"({sum(d > 0 for d in diffs)}/{len(worlds)} worlds better)")  # fmt: skip


def probe_select(memes: np.ndarray, worlds: list[int], taste: str) -> None:
    """On 500 random pairs: whitened components or raw embeddings, and which the validation loss picks."""
    rows = []
    for world in worlds:
        exp = make_world(memes, world, 1000, taste)
        pairs = random_rated(exp, 500, world)
        cells = []
        for components in (64, 0):
            result = exp.train(EnsembleConfig(dim=memes.shape[1], input_components=components), pairs)
            cells.append((result.metrics["val_loss"], exp.judge(result.model)[0]))
        picked = min(cells, key=lambda c: c[0])
        rows.append([cells[0][1], cells[1][1], picked[1]])
        print(f"{taste} world {world}: 64 components {cells[0][1]:.4f} (validation loss {cells[0][0]:.4f}), "
              f"raw {cells[1][1]:.4f} ({cells[1][0]:.4f})", flush=True)  # fmt: skip
    mean = np.mean(rows, 0)
    print(f"{taste} mean AUROC: 64 components {mean[0]:.4f}, raw {mean[1]:.4f}, picked by validation {mean[2]:.4f}")


def kernel_bt_auroc(exp: Experiment, pairs: Pairs, components: int, width: float, strength: float) -> float:
    """Kernel logistic Bradley-Terry: s = K alpha over the pool, RBF on whitened components, L-BFGS."""
    whitening = Whitening.fit(exp.x[exp.pool], components)
    x = torch.from_numpy(exp.x)
    z = (whitening.apply(x) if whitening is not None else x).double()
    pool = z[torch.from_numpy(exp.pool)]
    sq = torch.cdist(pool, pool) ** 2
    scale = 2 * sq.median() * width
    kernel = torch.exp(-sq / scale) + 1e-6 * torch.eye(len(pool), dtype=torch.double)
    a, b, target = torch.from_numpy(pairs.a), torch.from_numpy(pairs.b), torch.from_numpy(pairs.target).double()
    alpha = torch.zeros(len(pool), dtype=torch.double, requires_grad=True)
    opt = torch.optim.LBFGS([alpha], max_iter=500, line_search_fn="strong_wolfe")

    def loss() -> torch.Tensor:
        opt.zero_grad()
        s = kernel @ alpha
        value = F.binary_cross_entropy_with_logits(s[a] - s[b], target, reduction="sum")
        value = value + strength * len(target) * alpha @ s
        value.backward()
        return value

    opt.step(loss)
    scores = (torch.exp(-(torch.cdist(z, pool) ** 2) / scale) @ alpha).detach().numpy()
    return auroc(scores[exp.test], exp.good)


def probe_kernel(memes: np.ndarray, worlds: list[int], taste: str) -> None:
    settings = [(64, 1.0, 1e-2), (64, 1.0, 1e-3), (64, 0.5, 1e-3), (64, 2.0, 1e-3), (128, 1.0, 1e-3)]
    for n in (300, 500):
        rows = []
        for world in worlds:
            exp = make_world(memes, world, 1000, taste)
            pairs = random_rated(exp, n, world)
            rows.append([kernel_bt_auroc(exp, pairs, *s) for s in settings])
        for s, mean in zip(settings, np.mean(rows, 0), strict=True):
            print(f"{taste} {n} random pairs  kernel BT, {s[0]} components, width x{s[1]}, strength {s[2]}: {mean:.4f}")


def dopt_chooser(exp: Experiment, strength: float = 1.0, max_per_meme: int = 2):
    """Greedy D-optimal batch on the whitened inputs: p(1-p) times the pair's novelty to the rated ones."""
    whitening = Whitening.fit(exp.x[exp.pool], 64)
    z = whitening.apply(torch.from_numpy(exp.x[exp.pool])).double()

    def choose(member: np.ndarray, pairs: Pairs, n: int) -> tuple[np.ndarray, np.ndarray]:
        s = torch.from_numpy(member).double()

        def weight(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            p = torch.sigmoid(s[a] - s[b]).mean(1)
            return p * (1 - p)

        ra, rb = torch.from_numpy(pairs.a), torch.from_numpy(pairs.b)
        rated = z[ra] - z[rb]
        information = strength * torch.eye(z.shape[1], dtype=torch.double)
        information += (rated * weight(ra, rb)[:, None]).T @ rated
        inverse = torch.linalg.inv(information)
        ca, cb = unrated_pairs(len(z), 2_000_000, np.random.default_rng(len(pairs)), (pairs.a, pairs.b))
        w = weight(torch.from_numpy(ca), torch.from_numpy(cb))
        d = z[torch.from_numpy(ca)] - z[torch.from_numpy(cb)]
        novelty = ((d @ inverse) * d).sum(1)
        uses: dict[int, int] = {}
        chosen: list[int] = []
        open_ = torch.ones(len(ca), dtype=torch.bool)
        while len(chosen) < n and bool(open_.any()):
            i = int(torch.where(open_, w * novelty, torch.tensor(-1.0, dtype=torch.double)).argmax())
            open_[i] = False
            if uses.get(int(ca[i]), 0) >= max_per_meme or uses.get(int(cb[i]), 0) >= max_per_meme:
                continue
            for m in (int(ca[i]), int(cb[i])):
                uses[m] = uses.get(m, 0) + 1
            chosen.append(i)
            # Sherman-Morrison: the chosen pair's information lowers every other pair's novelty.
            v = inverse @ d[i]
            denom = 1 + w[i] * (d[i] @ v)
            novelty -= w[i] * (d @ v) ** 2 / denom
            inverse -= w[i] * torch.outer(v, v) / denom
        picked = np.array(chosen, dtype=np.int64)
        return ca[picked], cb[picked]

    return choose


def soft_chooser(power: float, max_per_meme: int = 2):
    """Pairs sampled with probability proportional to (p(1-p))^power instead of the top ones taken."""

    def choose(member: np.ndarray, pairs: Pairs, n: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(len(pairs) + 17)
        ca, cb = unrated_pairs(len(member), 2_000_000, rng, (pairs.a, pairs.b))
        s = torch.from_numpy(member)
        p = torch.sigmoid(s[torch.from_numpy(ca)] - s[torch.from_numpy(cb)]).mean(1).numpy()
        key = power * np.log(np.clip(p * (1 - p), 1e-9, None)) + rng.gumbel(size=len(p))  # Gumbel top-k
        picked = np.array(select(ca, cb, np.argsort(-key), n, max_per_meme), dtype=np.int64)
        return ca[picked], cb[picked]

    return choose


def line_chooser(good_fraction: float = GOOD_FRACTION, max_per_meme: int = 2):
    """Uncertainty among pairs the model's mean scores place on either side of its own good/bad line.

    The oracle's "cross+uncertainty" (learning_bounds.py) with the model's belief in place of the truth."""

    def choose(member: np.ndarray, pairs: Pairs, n: int) -> tuple[np.ndarray, np.ndarray]:
        ca, cb = unrated_pairs(len(member), 2_000_000, np.random.default_rng(len(pairs)), (pairs.a, pairs.b))
        mean = member.mean(1)
        above = mean > np.quantile(mean, 1 - good_fraction)
        across = above[ca] != above[cb]
        return most_uncertain(member, ca[across], cb[across], n, max_per_meme)

    return choose


def most_uncertain(
    member: np.ndarray, a: np.ndarray, b: np.ndarray, n: int, max_per_meme: int
) -> tuple[np.ndarray, np.ndarray]:
    """The `n` pairs of (a, b) the product's uncertainty ranks first, spread as `propose` spreads them."""
    value = pair_values(torch.from_numpy(member), torch.from_numpy(a), torch.from_numpy(b), "uncertainty").numpy()
    picked = np.array(select(a, b, np.argsort(-value, kind="stable"), n, max_per_meme), dtype=np.int64)
    return a[picked], b[picked]


class SelectedInputs(Experiment):
    """Trains on whitened components and on raw embeddings each round; keeps the lower validation loss."""

    def measure(self, config: EnsembleConfig, pairs: Pairs) -> tuple[float, np.ndarray]:
        fits = [self.train(c, pairs) for c in (config, dataclasses.replace(config, input_components=0))]
        judged = all(r.metrics["val_loss"] is not None for r in fits)  # too few ratings: the whitened one
        return self.judge(min(fits, key=lambda r: r.metrics["val_loss"]).model if judged else fits[0].model)


def probe_acquire(memes: np.ndarray, worlds: list[int], taste: str, variant: str) -> None:
    config = EnsembleConfig(dim=memes.shape[1])
    diffs, at = [], {"default": [], variant: []}
    for world in worlds:
        exp = make_world(memes, world, 1000, taste)
        default = {p["labels"]: p["auroc"] for p in run_ours(exp, "uncertainty", 500, config)}
        if variant == "select":
            exp = SelectedInputs(exp.x, exp.taste, exp.seed)
            chooser = strategy_chooser("uncertainty")
        elif variant == "line":
            chooser = line_chooser()
        else:
            chooser = dopt_chooser(exp) if variant == "dopt" else soft_chooser(float(variant.removeprefix("soft")))
        other = {p["labels"]: p["auroc"] for p in run_ours(exp, chooser, 500, config)}
        diffs.append(np.mean([other[k] - default[k] for k in CHECKPOINTS]))
        at["default"].append([default[k] for k in (300, 400, 500)])
        at[variant].append([other[k] for k in (300, 400, 500)])
        print(f"{taste} world {world}: default {default[500]:.4f}, {variant} {other[500]:.4f} at 500", flush=True)
    for name, rows in at.items():
        print(f"{taste} {name:10} AUROC @300 / @400 / @500 (mean): " + " / ".join(f"{v:.4f}" for v in np.mean(rows, 0)))
    better = sum(d > 0 for d in diffs)
    print(f"{variant}: {np.mean(diffs):+.4f} against the default ({better}/{len(worlds)} worlds better)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("probe", choices=("curve", "passive", "select", "kernel", "acquire"))
    parser.add_argument("--worlds", default="101,102,103,104", help="comma-separated world indices")
    parser.add_argument("--taste", default="components", choices=("components", "directions"))
    parser.add_argument("--variant", default="soft16", help="acquire: dopt, softP (power P), select or line")
    parser.add_argument("--features", type=Path, help="bench_learning's cache of embedded sample memes")
    args = parser.parse_args()
    torch.set_num_threads(1)
    memes = embed_samples(3000, args.features)
    worlds = [int(w) for w in args.worlds.split(",")]
    started = time.process_time()
    if args.probe == "curve":
        probe_curve(memes)
    elif args.probe == "passive":
        probe_passive(memes, worlds, args.taste)
    elif args.probe == "select":
        probe_select(memes, worlds, args.taste)
    elif args.probe == "kernel":
        probe_kernel(memes, worlds, args.taste)
    else:
        probe_acquire(memes, worlds, args.taste, args.variant)
    print(f"{time.process_time() - started:.0f} s CPU")


if __name__ == "__main__":
    main()
