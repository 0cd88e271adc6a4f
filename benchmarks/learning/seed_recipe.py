"""The seed's recipe, the yardstick: random pairs, then variance-chosen batches, retrained from scratch each
time; 16 members of one hidden layer as wide as the embedding, lr 3e-4, batch 1, 5 epochs.

At its own width each step updates 26 M weights with AdamW (bandwidth-bound: about 75 ms a step on two
cores here, 20-35 min a world), so its curves are cached per world in a committed file
(benchmarks/results/learning_seed.json) and a rerun reuses every curve made with the same definitions.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from memethresher_trainer.acquire import propose
from memethresher_trainer.model import EnsembleConfig
from memethresher_trainer.train import Pairs

from benchmarks.learning.loop import extend, judge, train
from benchmarks.learning.rater import Rater
from benchmarks.learning.worlds import World

CACHE = Path(__file__).resolve().parents[1] / "results" / "learning_seed.json"
# Bump when the worlds, tastes, rater or recipe change: cached curves of another version are not reused.
VERSION = 2
PLAN = (1000, (256, 256))  # random pairs first, then variance-chosen batches
QUICK_PLAN = (300, (128,))


def seed_config(dim: int, hidden: int) -> EnsembleConfig:
    return EnsembleConfig(dim=dim, members=16, hidden=hidden, dropout=0.0, lr=3e-4, weight_decay=0.0,
                          batch_size=1, fixed_epochs=5, min_val_pairs=10**9, input_components=0)  # fmt: skip


def run_seed(world: World, plan: tuple[int, tuple[int, ...]], hidden: int) -> list[dict]:
    n_random, batches = plan
    rng, rater = np.random.default_rng(world.seed), Rater(world.taste[world.pool], world.seed)
    config = seed_config(world.x.shape[1], hidden)
    a, b = world.random_pairs(n_random, rng)
    pairs = Pairs(a, b, rater.rate(a, b))
    curve, member = [], np.zeros(0)
    for batch in [0, *batches]:
        if batch:
            proposal = propose(member, batch, "variance", exclude=(pairs.a, pairs.b), max_per_meme=batch)
            pairs = extend(pairs, proposal.a, proposal.b, rater)
        value, member = judge(world, train(world, config, pairs).model)
        curve.append({"labels": len(pairs), "auroc": value})
    return curve


def cache_key(world: World, hidden: int, plan: tuple[int, tuple[int, ...]]) -> str:
    return key_for(world.name, len(world.x), hidden, plan)


def key_for(name: str, memes: int, hidden: int, plan: tuple[int, tuple[int, ...]]) -> str:
    """The cache key of a world by its name ("conv/0"), without building the world."""
    return f"v{VERSION}/{name}/memes{memes}/hidden{hidden}/plan{plan[0]}+{'+'.join(map(str, plan[1]))}"


def load_cache(path: Path = CACHE) -> dict[str, dict]:
    return json.loads(path.read_text()) if path.exists() else {}


def seed_curve(world: World, hidden: int, plan: tuple[int, tuple[int, ...]], path: Path = CACHE) -> dict:
    """The cached run for this world and width, or a fresh one, stored in the cache at once (other
    processes may add theirs: the file is re-read just before writing)."""
    key = cache_key(world, hidden, plan)
    cached = load_cache(path).get(key)
    if cached is not None:
        return cached
    started = time.perf_counter()
    entry = {"curve": run_seed(world, plan, hidden), "hidden": hidden, "seconds": round(time.perf_counter() - started)}
    merged = load_cache(path) | {key: entry}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(sorted(merged.items())), indent=1))
    return entry
