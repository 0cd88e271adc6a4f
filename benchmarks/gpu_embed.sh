#!/usr/bin/env bash
# Embedder throughput on one NVIDIA GPU, with random-init SigLIP (no weights to download):
# ViT-SO400M-14-SigLIP-384 (~670 GFLOPs/image) and ViT-B-16-SigLIP (~35 GFLOPs/image).
# For each: model-only, prep-only, end-to-end through a real Celery worker on `embed`,
# efficiency = end_to_end / min(model_only, prep_only), and the fraction of the card's dense
# bf16 peak reached. Published: ~282 images/s for SO400M-384 on an RTX Pro 6000 (timm); one
# H100 SXM at 100% of its 989 TFLOP/s would give ~1,476 images/s. Our target: >= 60% end to end.
#
#   benchmarks/gpu_embed.sh            # a few minutes on an H100
#   IMAGES=1024 benchmarks/gpu_embed.sh
#
# First, benchmarks/gpu_precision.py compares SO400M's model-only speed in fp32, autocast and bf16 weights
# (SKIP_PRECISION=1 leaves it out). Needs the dev install (`make install`; PYTHON names another
# interpreter with our packages on its path). Writes benchmarks/results/embed_gpu_*.json, and copies
# them to $OUT when that is set. PEAK_TFLOPS overrides the peak looked up from the card's name.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
IMAGES="${IMAGES:-2048}"
PREP_WORKERS="${PREP_WORKERS:-$(nproc)}"
RESULTS_DIR="benchmarks/results"

if ! nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader; then
    echo "gpu_embed.sh: no NVIDIA GPU here (nvidia-smi failed)" >&2
    exit 1
fi
"$PYTHON" -c "import torch; assert torch.cuda.is_available(), 'torch sees no CUDA device'"

export MEMETHRESHER_EMBEDDER_DEVICE=cuda
export TOKENIZERS_PARALLELISM=false
peak_args=()
if [[ -n "${PEAK_TFLOPS:-}" ]]; then
    peak_args=(--peak-tflops "$PEAK_TFLOPS")
fi

# Model-only speed of SO400M in each number format (fp32, autocast, bf16 weights) and the vectors' drift.
[[ -n "${SKIP_PRECISION:-}" ]] || "$PYTHON" benchmarks/gpu_precision.py --batches 4 || echo "gpu_embed.sh: the precision comparison failed; going on" >&2

# encoder, images per forward pass, meme ids per task
runs=(
    "ViT-SO400M-14-SigLIP-384:random 128 256"
    "ViT-B-16-SigLIP:random 256 512"
)
outputs=()
for run in "${runs[@]}"; do
    read -r encoder model_batch task_batch <<<"$run"
    slug="$(echo "${encoder%%:*}" | tr '[:upper:]' '[:lower:]')"
    out="$RESULTS_DIR/embed_gpu_${slug}.json"
    echo "== $encoder: $IMAGES images, model batch $model_batch, task batch $task_batch, $PREP_WORKERS decode threads"
    # Two tasks in flight per worker (threads pool): one's decoding and database write overlap
    # the other's forward passes, so the GPU does not idle between batches.
    "$PYTHON" benchmarks/bench_embed.py --encoder "$encoder" --images "$IMAGES" --rounds 2 \
        --model-batch "$model_batch" --task-batch "$task_batch" --prep-workers "$PREP_WORKERS" \
        --worker-pool threads --worker-concurrency 2 "${peak_args[@]}" --out "$out"
    outputs+=("$out")
done

"$PYTHON" - "${outputs[@]}" <<'EOF'
import json
import sys

columns = ("model_only_images_per_s", "prep_only_images_per_s", "end_to_end_images_per_s",
           "efficiency", "gflops_per_image", "model_only_peak_fraction", "end_to_end_peak_fraction")
print()
print("| encoder | device | " + " | ".join(columns) + " |")
print("|---" * (len(columns) + 2) + "|")
for path in sys.argv[1:]:
    result = json.load(open(path))
    cells = [str(result.get(column, "n/a")) for column in columns]
    print(f"| {result['encoder']} | {result['device']} | " + " | ".join(cells) + " |")
EOF

if [[ -n "${OUT:-}" ]]; then
    cp "${outputs[@]}" "$OUT"/; cp "$RESULTS_DIR/embed_gpu_precision.json" "$OUT"/ 2>/dev/null || true
fi
