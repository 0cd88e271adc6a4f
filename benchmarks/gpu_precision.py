"""Model-only images/s of one encoder on a GPU in each number format, and how far the vectors move.

    python benchmarks/gpu_precision.py [--encoder ViT-SO400M-14-SigLIP-384:random] [--batch 128]

Random uint8 images (fresh per batch set), timed with CUDA events after a warm-up, median of the repeats.
"cosine to fp32" compares each format's vectors with float32 weights on the same images and weights.
Writes benchmarks/results/embed_gpu_precision.json; `gpu_embed.sh` runs it first.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np
import torch
from memethresher_embedder.encoders import load_encoder
from memethresher_embedder.settings import EmbedderSettings

RESULTS = Path(__file__).parent / "results" / "embed_gpu_precision.json"


def time_batches(encoder, batches: list[np.ndarray], repeats: int) -> float:
    """Median images/s over `repeats` passes through all batches, host copies and sync included."""
    for batch in batches[:2]:
        encoder.encode(batch)
    rates = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for batch in batches:
            encoder.encode(batch)
        end.record()
        torch.cuda.synchronize()
        rates.append(sum(len(b) for b in batches) / (start.elapsed_time(end) / 1e3))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", default="ViT-SO400M-14-SigLIP-384:random")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows, reference, probe = [], None, None
    for precision in ("fp32", "amp", "bf16"):
        torch.manual_seed(0)  # the same random weights for every format
        encoder = load_encoder(args.encoder, EmbedderSettings(embedder_device="cuda", embedder_precision=precision))
        size = encoder.preprocess.size
        if probe is None:
            probe = rng.integers(0, 256, (args.batch, 3, size, size), dtype=np.uint8)
        vectors = encoder.encode(probe)
        reference = vectors if reference is None else reference
        cosine = float((vectors * reference).sum(1).mean())
        batches = [rng.integers(0, 256, (args.batch, 3, size, size), dtype=np.uint8) for _ in range(args.batches)]
        rate = time_batches(encoder, batches, args.repeats)
        rows.append({"precision": precision, "images_per_s": round(rate, 1), "cosine_to_fp32": round(cosine, 5)})
        del encoder
        torch.cuda.empty_cache()
    print(f"{args.encoder} on {torch.cuda.get_device_name(0)}, batch {args.batch}")
    print(f"{'precision':10} {'images/s':>10} {'cosine to fp32':>15}")
    for row in rows:
        print(f"{row['precision']:10} {row['images_per_s']:10.1f} {row['cosine_to_fp32']:15.5f}")
    result = {"encoder": args.encoder, "device": torch.cuda.get_device_name(0), "batch": args.batch, "rows": rows}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
