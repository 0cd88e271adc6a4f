"""What 500 ratings could give with help the product can never have, against the seed recipe's final AUROC.

    python benchmarks/learning_bounds.py oracle [--worlds 0,1,2] [--draws 3] [--rules cross,exact,...]
    python benchmarks/learning_bounds.py informed [--worlds 0,1,2] [--draws 3]

`oracle` runs the product's loop to 500 ratings with pairs chosen knowing the hidden taste (rules below),
the product's own strategies beside them, and `exact`: 500 random pairs answered with the true win
probability instead of a noisy choice. `informed` fits a learner told the components taste's form and
inputs on 500 random pairs, with noisy and with exact answers. Same worlds, memes, tastes and rater as
bench_learning; the seed recipe's finals come from its committed results. Each run prints its AUROC at
500 ratings and whether it reached its world's seed-recipe final within 504 labels. One torch thread.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from memethresher_trainer.acquire import select, unrated_pairs
from memethresher_trainer.evaluate import auroc
from memethresher_trainer.model import EnsembleConfig
from memethresher_trainer.train import Pairs

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks.bench_learning import (  # noqa: E402
    GOOD_FRACTION,
    RESULTS,
    Experiment,
    embed_samples,
    make_world,
    run_ours,
    strategy_chooser,
    taste_components,
)
from benchmarks.learning_probes import exact_targets, held_out_auroc, most_uncertain, random_rated  # noqa: E402

ORACLE_RULES = "uncertainty,random,cross,boundary,informative,cross+uncertainty,exact"


def oracle_chooser(exp: Experiment, rule: str, draw: int, max_per_meme: int = 2):
    """Pairs chosen with the hidden taste in hand: what acquisition could gain if it knew the answers.

    "cross": one good and one bad meme; "boundary": the same, both within 15 percentiles of the good/bad
    line; "informative": true gap between 1 and 3 (answers neither coin flips nor foregone); "cross+uncertainty":
    the product's uncertainty ranking among cross pairs only.
    """
    taste = exp.taste[exp.pool]
    line = np.quantile(exp.taste, 1 - GOOD_FRACTION)
    rank = (taste[:, None] > exp.taste[None, :]).mean(1)  # the pool memes' taste percentiles

    def choose(member: np.ndarray, pairs: Pairs, n: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(len(pairs) + 1000 * draw)
        ca, cb = unrated_pairs(len(taste), 2_000_000, rng, (pairs.a, pairs.b))
        cross = (taste[ca] > line) != (taste[cb] > line)
        if rule in ("cross", "cross+uncertainty"):
            keep = cross
        elif rule == "boundary":
            keep = cross & (np.abs(rank[ca] - 0.7) < 0.15) & (np.abs(rank[cb] - 0.7) < 0.15)
        elif rule == "informative":
            keep = (np.abs(taste[ca] - taste[cb]) > 1) & (np.abs(taste[ca] - taste[cb]) < 3)
        else:
            raise ValueError(f"unknown oracle rule {rule!r}")
        ca, cb = ca[keep], cb[keep]
        if rule == "cross+uncertainty":
            return most_uncertain(member, ca, cb, n, max_per_meme)
        picked = np.array(select(ca, cb, rng.permutation(len(ca)), n, max_per_meme), dtype=np.int64)
        return ca[picked], cb[picked]

    return choose


def informed_auroc(exp: Experiment, pairs: Pairs, restarts: int = 8) -> float:
    """AUROC of a learner handed the components taste's own form and inputs, fitted on the same answers.

    The form: a tanh layer of 32 over the taste's 48 components, plus its product and square terms; only the
    weights are left to learn. Early stopping on a fifth of the pairs; `restarts` fits averaged.
    """
    z = torch.from_numpy(taste_components(exp.x).astype(np.float32))
    pool = z[torch.from_numpy(exp.pool)]
    a, b, target = (torch.from_numpy(v) for v in (pairs.a, pairs.b, pairs.target))
    held = torch.from_numpy(np.random.default_rng(0).random(len(pairs)) < 0.2)
    total = torch.zeros(len(z))
    for restart in range(restarts):
        generator = torch.Generator().manual_seed(restart)
        hidden = (torch.randn(48, 32, generator=generator) / 48**0.5).requires_grad_()
        out = (0.1 * torch.randn(32, generator=generator)).requires_grad_()
        terms = torch.zeros(2, requires_grad=True)
        weights = [hidden, out, terms]

        def score(v: torch.Tensor, w: list[torch.Tensor] = weights) -> torch.Tensor:
            return torch.tanh(v @ w[0]) @ w[1] + w[2][0] * v[:, 0] * v[:, 1] + w[2][1] * v[:, 2] ** 2

        optimizer = torch.optim.Adam(weights, lr=1e-2, weight_decay=1e-3)
        best, kept = float("inf"), [w.detach().clone() for w in weights]
        for step in range(1500):
            s = score(pool)
            loss = F.binary_cross_entropy_with_logits(s[a] - s[b], target, reduction="none")
            optimizer.zero_grad()
            loss[~held].mean().backward()
            optimizer.step()
            if step % 10 == 0 and float(loss[held].mean().detach()) < best:
                best, kept = float(loss[held].mean().detach()), [w.detach().clone() for w in weights]
        with torch.no_grad():
            s = score(z, kept)
            total += (s - s.mean()) / s.std()
    return auroc(total[exp.test].numpy(), exp.good)


def probe_informed(memes: np.ndarray, worlds: list[int], draws: int) -> None:
    """500 random pairs: the default and a learner that knows the taste's form, on noisy and on exact answers."""
    rows = []
    for world in worlds:
        exp = make_world(memes, world, 1000)
        for draw in range(draws):
            pairs = random_rated(exp, 500, 1000 * draw + world)
            exact = Pairs(pairs.a, pairs.b, exact_targets(exp, pairs.a, pairs.b))
            rows.append([held_out_auroc(exp, EnsembleConfig(dim=memes.shape[1]), pairs),
                         informed_auroc(exp, pairs), informed_auroc(exp, exact)])  # fmt: skip
            print(f"world {world} draw {draw}: default {rows[-1][0]:.4f}, informed learner {rows[-1][1]:.4f}, "
                  f"informed learner on exact answers {rows[-1][2]:.4f}", flush=True)  # fmt: skip
    mean = np.mean(rows, 0)
    print(f"mean AUROC at 500: default {mean[0]:.4f}, informed {mean[1]:.4f}, informed on exact answers {mean[2]:.4f}")


def exact_answers(exp: Experiment, draw: int) -> list[dict]:
    """500 random pairs answered exactly (no rater noise): a bound on what better answers would give."""
    a, b = exp.random_pairs(500, np.random.default_rng(1000 * draw + exp.seed))
    config = EnsembleConfig(dim=exp.x.shape[1])
    return [{"labels": 500, "auroc": held_out_auroc(exp, config, Pairs(a, b, exact_targets(exp, a, b)))}]


def probe_oracle(memes: np.ndarray, worlds: list[int], draws: int, rules: list[str]) -> None:
    """The product's loop to 500 ratings with oracle-chosen pairs, against the seed recipe's final AUROC."""
    seed_final = {w["world"]: w["seed_final_auroc"] for w in json.loads(RESULTS.read_text())["worlds"]}
    if missing := sorted(set(worlds) - set(seed_final)):
        sys.exit(f"oracle: no seed-recipe final for worlds {missing} in {RESULTS}; it has {sorted(seed_final)}")
    config = EnsembleConfig(dim=memes.shape[1])
    at: dict[str, list[float]] = {rule: [] for rule in rules}
    within: dict[str, int] = dict.fromkeys(rules, 0)
    for world in worlds:
        exp = make_world(memes, world, 1000)
        for rule in rules:
            for draw in range(draws):
                if rule == "exact":
                    curve = exact_answers(exp, draw)
                else:
                    known = rule in ("uncertainty", "random")
                    chooser = strategy_chooser(rule, draw) if known else oracle_chooser(exp, rule, draw)
                    curve = run_ours(exp, chooser, 500, config)
                at[rule].append(curve[-1]["auroc"])
                within[rule] += any(p["auroc"] >= seed_final[world] for p in curve if p["labels"] <= 504)
                print(f"world {world} {rule:18} draw {draw}: AUROC at 500 {curve[-1]['auroc']:.4f} "
                      f"(seed recipe's final {seed_final[world]:.4f})", flush=True)  # fmt: skip
    for rule in rules:
        print(f"{rule:18} mean AUROC at 500 {np.mean(at[rule]):.4f}; "
              f"{within[rule]} of {len(at[rule])} runs reach the seed recipe's final within 504 labels")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("probe", choices=("oracle", "informed"))
    parser.add_argument("--worlds", default="0,1,2", help="comma-separated world indices (with seed-recipe finals)")
    parser.add_argument("--draws", type=int, default=3, help="runs of each rule a world")
    parser.add_argument("--rules", default=ORACLE_RULES, help="oracle: comma-separated rules")
    parser.add_argument("--features", type=Path, help="bench_learning's cache of embedded sample memes")
    args = parser.parse_args()
    torch.set_num_threads(1)
    memes = embed_samples(3000, args.features)
    worlds = [int(w) for w in args.worlds.split(",")]
    started = time.process_time()
    if args.probe == "oracle":
        probe_oracle(memes, worlds, args.draws, args.rules.split(","))
    else:
        probe_informed(memes, worlds, args.draws)
    print(f"{time.process_time() - started:.0f} s CPU")


if __name__ == "__main__":
    main()
