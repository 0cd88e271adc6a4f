#!/usr/bin/env bash
# Embedder throughput on NVIDIA GPUs, as shipped: the worker process of compose, k8s and
# `memethresher up` (threads pool holding 8 embed tasks, one engine: decode threads, full model
# batches across tasks, a writer thread), 32 memes a task, the model batch and decode defaults of
# a GPU, fed by Celery tasks, against a folder of memes at real-world sizes (40 KB-2 MB, JPEG and
# PNG, from benchmarks/meme_files.py). Reports, per run: images/s end to end, GPU utilisation
# (nvidia-smi every 200 ms), the model-only rate, and the fraction of the compute bound
# (GFLOPs per image from torch's counter, ~671 for SO400M-384, over the card's dense bf16 peak).
#
# Runs: 1 GPU with JPEGs decoded on the GPU (the default); 1 GPU with every image decoded on the
# CPU; 2 GPUs (one worker pinned to each) when there are two; torch.compile on one GPU unless
# SKIP_COMPILE=1. Targets (issue 17): >= 0.6 of the bound end to end on one H100/H200, 2 GPUs >= 1.9x one.
#
#   HF_CACHE=/models/hf benchmarks/gpu_embed.sh      # real SigLIP weights from a mounted HF cache
#   ENCODER=ViT-SO400M-14-SigLIP-384:random benchmarks/gpu_embed.sh   # same FLOPs, random weights
#
# Weights: nothing is downloaded. HF_CACHE names a Hugging Face cache folder (the layout
# `huggingface-cli download timm/ViT-SO400M-14-SigLIP-384` writes, e.g. HF_HOME/hub) holding the
# encoder's repo; the embedder checks each file's sha256 against its blob name before loading.
# Other knobs: IMAGES (default 3072), MEMES (the meme folder, made once), PYTHON, PEAK_TFLOPS,
# SKIP_PRECISION=1. Writes benchmarks/results/embed_gpu_*.json, copied to $OUT when that is set.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
IMAGES="${IMAGES:-3072}"
ENCODER="${ENCODER:-ViT-SO400M-14-SigLIP-384:webli}"
MEMES="${MEMES:-${TMPDIR:-/tmp}/memethresher-gpu-memes}"
RESULTS_DIR="benchmarks/results"

if ! nvidia-smi --query-gpu=index,name,memory.total,clocks.max.sm --format=csv,noheader; then
    echo "gpu_embed.sh: no NVIDIA GPU here (nvidia-smi failed)" >&2
    exit 1
fi
GPUS="$(nvidia-smi -L | wc -l)"
"$PYTHON" -c "import torch; assert torch.cuda.is_available(), 'torch sees no CUDA device'"

export MEMETHRESHER_EMBEDDER_DEVICE=cuda TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1
export MEMETHRESHER_EMBEDDER_DOWNLOAD=false
if [[ -n "${HF_CACHE:-}" ]]; then
    export MEMETHRESHER_EMBEDDER_CACHE_DIR="$HF_CACHE"
elif [[ "$ENCODER" != *:random ]]; then
    echo "gpu_embed.sh: $ENCODER needs its weights: set HF_CACHE to a Hugging Face cache folder holding them," >&2
    echo "  or run ENCODER=${ENCODER%%:*}:random for the same model with random weights" >&2
    exit 2
fi
peak_args=()
[[ -z "${PEAK_TFLOPS:-}" ]] || peak_args=(--peak-tflops "$PEAK_TFLOPS")

# The memes, made once on every core (about a minute for 3,000 on 16 cores).
wanted=$((IMAGES + 64))
if [[ "$(find "$MEMES" -maxdepth 1 \( -name '*.jpg' -o -name '*.png' \) 2>/dev/null | wc -l)" -lt "$wanted" ]]; then
    rm -rf "$MEMES"
    "$PYTHON" benchmarks/meme_files.py "$MEMES" --count "$wanted"
fi

# Model-only speed of SO400M in each number format (fp32, autocast, bf16 weights) and the vectors' drift.
[[ -n "${SKIP_PRECISION:-}" ]] || "$PYTHON" benchmarks/gpu_precision.py --batches 4 \
    || echo "gpu_embed.sh: the precision comparison failed; going on" >&2

outputs=()
bench() {  # name, then extra bench_embed.py arguments; settings come from the environment
    local name="$1"; shift
    local out="$RESULTS_DIR/embed_gpu_${name}.json"
    echo "== $name: $ENCODER, $IMAGES memes from $MEMES"
    "$PYTHON" benchmarks/bench_embed.py --encoder "$ENCODER" --files "$MEMES" --images "$IMAGES" --rounds 2 \
        --gpu-util "${peak_args[@]}" --out "$out" "$@"
    outputs+=("$out")
}

bench 1gpu
MEMETHRESHER_EMBED_DEVICE_DECODE=off bench 1gpu_cpu_decode
if [[ "$GPUS" -ge 2 ]]; then
    bench 2gpu --workers 2 --pin-gpus
fi
[[ -n "${SKIP_COMPILE:-}" ]] || MEMETHRESHER_EMBED_COMPILE=true bench 1gpu_compile \
    || echo "gpu_embed.sh: the torch.compile run failed; going on" >&2

"$PYTHON" - "${outputs[@]}" <<'EOF'
import json
import sys

columns = ("workers", "end_to_end_images_per_s", "model_only_images_per_s", "prep_only_images_per_s",
           "efficiency", "end_to_end_peak_fraction", "model_only_peak_fraction", "gpu_utilisation_percent")
runs = {path.rsplit("embed_gpu_", 1)[1].removesuffix(".json"): json.load(open(path)) for path in sys.argv[1:]}
first = next(iter(runs.values()))
print(f"\n{first['encoder']} on {first['device']}, {first['gflops_per_image']} GFLOP/image, "
      f"dense bf16 peak {first.get('peak_tflops_dense_bf16', 'n/a')} TFLOP/s")
print("| run | " + " | ".join(columns) + " |")
print("|---" * (len(columns) + 1) + "|")
for name, result in runs.items():
    print(f"| {name} | " + " | ".join(str(result.get(column, "n/a")) for column in columns) + " |")
if "2gpu" in runs:
    scaling = runs["2gpu"]["end_to_end_images_per_s"] / runs["1gpu"]["end_to_end_images_per_s"]
    print(f"\n2 GPUs / 1 GPU end to end: {scaling:.2f}x (target >= 1.9)")
EOF

if [[ -n "${OUT:-}" ]]; then
    cp "${outputs[@]}" "$OUT"/; cp "$RESULTS_DIR/embed_gpu_precision.json" "$OUT"/ 2>/dev/null || true
fi
