"""Model-only speed of an encoder under the embedder's optional settings (torch.compile, channels-last).

    python benchmarks/bench_embed_options.py [--encoder ID] [--out PATH]

Each variant runs in its own process (torch.compile and thread settings do not leak between them), one
torch thread, batches of 8 random uint8 images: the first batch's time (compile included) and the best
of 3 batches after it. The variants run twice, alternately, since other work on the machine only slows one.
Writes benchmarks/results/embed_options.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "embed_options.json"
VARIANTS = {"eager": {}, "compile": {"embed_compile": True}, "channels_last_on": {"embed_channels_last": "on"},
            "channels_last_off": {"embed_channels_last": "off"}}  # fmt: skip


def measure(encoder_id: str, options: dict) -> dict:
    import numpy as np
    from memethresher_embedder.encoders import load_encoder
    from memethresher_embedder.settings import EmbedderSettings

    encoder = load_encoder(encoder_id, EmbedderSettings(torch_threads=1, embed_model_batch=8, **options))
    size = encoder.preprocess.size
    images = np.random.default_rng(0).integers(0, 256, (8, 3, size, size), dtype=np.uint8)
    started = time.perf_counter()
    encoder.encode(images)
    first = time.perf_counter() - started
    rates = []
    for _ in range(3):
        started = time.perf_counter()
        encoder.encode(images)
        rates.append(len(images) / (time.perf_counter() - started))
    load = round(os.getloadavg()[0], 2)
    return {"first_batch_s": round(first, 2), "images_per_s": round(max(rates), 2), "load": load}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", default="efficientnet_lite0:imagenet")
    parser.add_argument("--variants", default="eager,compile", help=f"comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a child process measuring one variant
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.encoder, VARIANTS[args.one])))
        return
    runs: list[dict] = []
    for _ in range(2):
        for variant in args.variants.split(","):
            command = [sys.executable, __file__, "--encoder", args.encoder, "--one", variant]
            output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            runs.append({"variant": variant, **json.loads(output.strip().splitlines()[-1])})
            print(f"{args.encoder:32} {variant:18} {runs[-1]}")
    args.out.write_text(json.dumps({"encoder": args.encoder, "runs": runs}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
