"""Training time of the batched ensemble against a per-member loop with the same maths and data.

    python benchmarks/bench_train.py [--quick]

The headline row is what the trainer trains by default: 16 members, hidden 64, on the collection's 64
whitened principal components (`MEMETHRESHER_ENSEMBLE_INPUT_COMPONENTS`), one torch thread
(`MEMETHRESHER_TRAINER_THREADS`). The other rows: raw 1280-d embeddings, the seed's shape, two threads.
Writes benchmarks/results/train.json (`speedup`: loop time / batched time of the headline; target >= 5x).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from memethresher_trainer.model import Ensemble, EnsembleConfig
from memethresher_trainer.train import Pairs, _epoch
from memethresher_trainer.whiten import Whitening
from torch import nn

RESULTS = Path(__file__).parent / "results" / "train.json"


def synthetic(n_memes: int, n_pairs: int, dim: int, seed: int = 0) -> tuple[np.ndarray, Pairs]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_memes, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    taste = x @ rng.normal(size=dim)
    a = rng.integers(0, n_memes, n_pairs)
    b = (a + rng.integers(1, n_memes, n_pairs)) % n_memes
    return x, Pairs(a, b, np.where(taste[a] > taste[b], 0.8, 0.2))


def member_mlps(model: Ensemble) -> list[nn.Sequential]:
    """The ensemble's members as separate nn.Sequential MLPs with the same starting weights."""
    mlps = []
    for m in range(model.config.members):
        layers: list[nn.Module] = []
        for i, (w, b) in enumerate(zip(model.weights, model.biases, strict=True)):
            linear = nn.Linear(w.shape[1], w.shape[2])
            with torch.no_grad():
                linear.weight.copy_(w[m].T)
                linear.bias.copy_(b[m, 0])
            layers.append(linear)
            if i < len(model.weights) - 1:
                layers += [nn.SiLU(), nn.Dropout(model.config.dropout)]
        mlps.append(nn.Sequential(*layers))
    return mlps


def loop_epoch(mlps: list[nn.Sequential], opts: list[torch.optim.Optimizer], x: torch.Tensor, pairs: Pairs,
               order: torch.Tensor, batch: int) -> None:  # fmt: skip
    """One epoch the per-member way: each member's forward, backward and step in turn."""
    a, b, t = torch.from_numpy(pairs.a), torch.from_numpy(pairs.b), torch.from_numpy(pairs.target)
    for start in range(0, len(pairs), batch):
        for m, (mlp, opt) in enumerate(zip(mlps, opts, strict=True)):
            idx = order[m, start : start + batch]
            logits = (mlp(x[a[idx]]) - mlp(x[b[idx]]))[:, 0]
            loss = F.binary_cross_entropy_with_logits(logits, t[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()


def measure(config: EnsembleConfig, x_np: np.ndarray, pairs: Pairs, epochs: int) -> dict[str, float]:
    x = torch.from_numpy(x_np)
    model = Ensemble(config)
    mlps = member_mlps(model)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True)
    opts = [torch.optim.AdamW(m.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True) for m in mlps]
    # The loop as most code writes it: torch's default AdamW (a per-tensor loop on CPU). Reported
    # beside the headline, which is against the loop's fastest form (fused, as above).
    plain_mlps = member_mlps(model)
    plain = [torch.optim.AdamW(m.parameters(), lr=config.lr, weight_decay=config.weight_decay) for m in plain_mlps]
    gen = torch.Generator().manual_seed(0)
    # Wall-clock and CPU seconds of each way: on one thread CPU time is what the work costs even when
    # other jobs share the machine; on a quiet machine the two agree.
    wall = {"batched": 0.0, "loop": 0.0, "plain": 0.0}
    cpu = dict(wall)
    # Alternate them so that any other load on the machine weighs on all alike.
    for epoch in range(epochs + 1):
        order = torch.rand(config.members, len(pairs), generator=gen).argsort(dim=1)
        ways = {
            "batched": partial(_epoch, model, opt, x, pairs, gen),
            "loop": partial(loop_epoch, mlps, opts, x, pairs, order, config.batch_size),
            "plain": partial(loop_epoch, plain_mlps, plain, x, pairs, order, config.batch_size),
        }
        for way, run in ways.items():
            started, started_cpu = time.perf_counter(), time.process_time()
            run()
            if epoch:  # the first epoch of each warms up allocators and thread pools
                wall[way] += time.perf_counter() - started
                cpu[way] += time.process_time() - started_cpu
    return {
        "batched_s": wall["batched"],
        "loop_s": wall["loop"],
        "speedup": wall["loop"] / wall["batched"],
        "loop_default_adamw_s": wall["plain"],
        "speedup_vs_default_adamw": wall["plain"] / wall["batched"],
        "batched_cpu_s": cpu["batched"],
        "loop_cpu_s": cpu["loop"],
        "speedup_cpu": cpu["loop"] / cpu["batched"],
    }


def same_maths(x_np: np.ndarray, pairs: Pairs) -> float:
    """Largest weight difference after identical steps (no dropout): batched and looped agree."""
    config = EnsembleConfig(dim=x_np.shape[1], members=4, hidden=16, dropout=0.0, batch_size=16)
    model = Ensemble(config)
    mlps = member_mlps(model)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True)
    opts = [torch.optim.AdamW(m.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True) for m in mlps]
    order = torch.rand(config.members, len(pairs), generator=torch.Generator().manual_seed(1)).argsort(dim=1)
    _epoch(model, opt, torch.from_numpy(x_np), pairs, torch.Generator().manual_seed(1))
    loop_epoch(mlps, opts, torch.from_numpy(x_np), pairs, order, config.batch_size)
    with torch.no_grad():
        return max(float((model.weights[0][m] - mlps[m][0].weight.T).abs().max()) for m in range(4))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer pairs and epochs")
    args = parser.parse_args()
    n_pairs, epochs = (256, 1) if args.quick else (512, 2)
    x, pairs = synthetic(2000, n_pairs, 1280)
    whitened = Whitening.fit(x, 64).apply(torch.from_numpy(x)).numpy()  # what `fit` trains on by default
    drift = same_maths(x[:, :64].copy(), synthetic(200, 64, 64)[1])
    default_threads = torch.get_num_threads()
    rows = []
    for name, inputs, hidden, threads in [
        ("default: 64 whitened components, hidden 64, 1 thread", whitened, 64, 1),
        ("default: 64 whitened components, hidden 64, 2 threads", whitened, 64, 2),
        ("raw 1280-d embeddings, hidden 64, 1 thread", x, 64, 1),
        ("seed shape: raw 1280-d, hidden 1280, 2 threads", x, 1280, 2),
    ]:
        torch.set_num_threads(threads)
        config = EnsembleConfig(dim=inputs.shape[1], members=16, hidden=hidden, batch_size=32)
        rows.append({"config": name, "dim": inputs.shape[1], "hidden": hidden, "threads": threads,
                     "pairs": n_pairs, "epochs": epochs, **measure(config, inputs, pairs, epochs)})  # fmt: skip
    torch.set_num_threads(default_threads)
    print(f"{'config':56} {'batched s':>10} {'loop s':>10} {'speedup':>8} {'CPU-time speedup':>17}"
          f" {'vs default AdamW':>17}")  # fmt: skip
    for row in rows:
        print(f"{row['config']:56} {row['batched_s']:10.3f} {row['loop_s']:10.3f} {row['speedup']:8.1f}x"
              f" {row['speedup_cpu']:16.1f}x {row['speedup_vs_default_adamw']:16.1f}x")  # fmt: skip
    print(f"max weight difference batched vs loop after one epoch: {drift:.2e}")
    result = {"speedup": rows[0]["speedup"], "headline": rows[0]["config"], "rows": rows,
              "max_weight_difference": drift, "members": 16, "quick": args.quick,
              "machine": platform.machine(), "load_average_1min": os.getloadavg()[0]}  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
