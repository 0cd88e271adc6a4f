"""Embedder throughput for one encoder, in one run (issue 6):

- model_only: preprocessed uint8 images already in memory, through the model (copy to device included);
- prep_only: encoded files in the store, read, decoded and preprocessed by the worker's pool, no model;
- end_to_end: files in the store to vectors in the database, through a real Celery worker process on
  `embed` of the shipped shape (threads pool holding 8 tasks, one shared engine), fed by Celery tasks;
- bound: on a CPU, where decoding and the model share the cores, 1 / (1/model + 1/prep);
  with a GPU, min(model, prep); efficiency = end_to_end / bound (target >= 0.9).

    python benchmarks/bench_embed.py [--quick] [--encoder ID] [--images N] [--out PATH]

Images are sample memes (scikit-image photographs with captions) at Reddit-like widths of
640-1080 px, one in five PNG. Writes benchmarks/results/embed.json unless --out says otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from memethresher_shared.launcher import EMBEDDER_TASKS_AHEAD

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks.embed_memes import embedded_count, forget_vectors, memes_to_measure, stored_paths  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "embed.json"
TARGET_EFFICIENCY = 0.9
# Dense bf16 tensor-core peaks, TFLOP/s, by a substring of torch.cuda.get_device_name().
DENSE_BF16_PEAK_TFLOPS = {"H100 PCIe": 756.0, "H100 NVL": 835.0, "H100": 989.4, "H200": 989.4, "A100": 312.0}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer images, for CI and smoke runs")
    parser.add_argument("--encoder", default="efficientnet_lite0:imagenet")
    parser.add_argument("--images", type=int, help="images per phase (default 384, quick 64)")
    parser.add_argument("--task-batch", type=int, default=32, help="meme ids per embed task")
    parser.add_argument("--model-batch", type=int, help="images per forward pass (default: the setting)")
    parser.add_argument("--prep-workers", type=int, help="decode threads (default: the setting)")
    parser.add_argument("--worker-pool", default="threads", help="end-to-end worker's Celery pool (shipped: threads)")
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        default=EMBEDDER_TASKS_AHEAD,
        help=f"embed tasks the worker holds at once (shipped: {EMBEDDER_TASKS_AHEAD})",
    )
    parser.add_argument("--peak-tflops", type=float, help="dense bf16 peak of the GPU, if not in the table")
    parser.add_argument("--rounds", type=int, help="best of N rounds (default 3; quick 1)")
    parser.add_argument("--files", type=Path, help="a folder of memes (benchmarks/meme_files.py), not generated ones")
    parser.add_argument("--workers", type=int, default=1, help="worker processes on `embed`")
    parser.add_argument("--pin-gpus", action="store_true", help="worker i sees only GPU i (CUDA_VISIBLE_DEVICES)")
    parser.add_argument("--gpu-util", action="store_true", help="sample nvidia-smi during the end-to-end phase")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    args.images = args.images or (64 if args.quick else 384)
    args.rounds = args.rounds or (1 if args.quick else 3)
    return args


def configure(root: Path, redis_url: str, args: argparse.Namespace) -> None:
    """Point every setting at a private database, store and Redis, before anything reads them."""
    values = {
        "DATA_DIR": str(root),
        "DATABASE_URL": f"sqlite:///{root / 'bench.db'}",
        "BROKER_URL": redis_url,
        "STORAGE": str(root / "images"),
        "EMBEDDER": args.encoder,
        "EMBED_BATCH_SIZE": str(args.task_batch),
    }
    if args.model_batch:
        values["EMBED_MODEL_BATCH"] = str(args.model_batch)
    if args.prep_workers:
        values["EMBED_PREP_WORKERS"] = str(args.prep_workers)
    for key, value in values.items():
        os.environ[f"MEMETHRESHER_{key}"] = value


def measure_prep(files: list[tuple[int, Path]]) -> tuple[float, list[Any]]:
    """Images/s of the worker's decode threads reading and preprocessing every file on the CPU."""
    from concurrent.futures import ThreadPoolExecutor

    from memethresher_embedder.pipeline import read_and_prepare
    from memethresher_embedder.settings import get_embedder_settings

    spec = get_encoder_now().preprocess
    with ThreadPoolExecutor(get_embedder_settings().embed_prep_workers) as pool:
        list(pool.map(lambda file: read_and_prepare(file[1], spec), files[:8]))  # threads started
        started = time.perf_counter()
        arrays = list(pool.map(lambda file: read_and_prepare(file[1], spec), files))
    return len(files) / (time.perf_counter() - started), arrays


def measure_model(arrays: list[Any]) -> float:
    """Images/s through the model for preprocessed images already in memory."""
    import numpy as np
    from memethresher_embedder.settings import get_embedder_settings

    encoder = get_encoder_now()
    size = encoder.batch_size(get_embedder_settings().embed_model_batch)
    batches = [np.stack(arrays[i : i + size]) for i in range(0, len(arrays), size)]
    for batch in batches[:2]:
        encoder.encode(batch)  # warm-up: kernels chosen, memory allocated
    started = time.perf_counter()
    for batch in batches:
        encoder.encode(batch)
    return len(arrays) / (time.perf_counter() - started)


def gflops_per_image() -> float:
    """Forward FLOPs of one image, attention included (counted through the unfused path)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    encoder = get_encoder_now()
    fused = [m for m in encoder.network.modules() if getattr(m, "fused_attn", False)]
    for module in fused:
        module.fused_attn = False  # the counter has no formula for every fused attention kernel
    size = encoder.preprocess.size
    image = torch.zeros((1, 3, size, size), device=encoder.device, dtype=encoder.dtype)
    try:
        with torch.inference_mode(), FlopCounterMode(display=False) as counter:
            encoder.features(image)
    finally:
        for module in fused:
            module.fused_attn = True
    return counter.get_total_flops() / 1e9


def get_encoder_now() -> Any:
    from memethresher_embedder.encoders import get_encoder

    return get_encoder(os.environ["MEMETHRESHER_EMBEDDER"])


def start_worker(root: Path, args: argparse.Namespace, index: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "celery", "-A", "memethresher_embedder.tasks", "worker", "-Q", "embed",
               "-n", f"bench-embed{index}@%h", "--pool", args.worker_pool,
               "--concurrency", str(args.worker_concurrency), "--prefetch-multiplier", "1",
               "--without-gossip", "--without-mingle", "--without-heartbeat",
               "--loglevel", "INFO"]  # fmt: skip
    env = {**os.environ, **({"CUDA_VISIBLE_DEVICES": str(index)} if args.pin_gpus else {})}
    log = worker_log(root, index).open("wb")
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


def worker_log(root: Path, index: int) -> Path:
    return root / f"worker{index}.log"


def warm_up(root: Path, args: argparse.Namespace, warmup: list[int]) -> None:
    """Embed the warm-up memes until every worker has loaded its model and run it (left out of the figures)."""
    for _ in range(20):
        forget_vectors(warmup)
        embed_through_worker(warmup, max(1, args.task_batch // 4), timeout_s=900)
        if all("loaded encoder" in worker_log(root, i).read_text() for i in range(args.workers)):
            return
    raise RuntimeError("some worker never took a warm-up task")


def embed_through_worker(meme_ids: list[int], task_batch: int, timeout_s: float) -> float:
    """Seconds from enqueueing every batch to the last vector in the database."""
    from memethresher_shared import tasks
    from memethresher_shared.celery_app import send

    started = time.perf_counter()
    sent = [send(tasks.EMBED_BATCH, meme_ids[i : i + task_batch]) for i in range(0, len(meme_ids), task_batch)]
    # Each result is published after its batch's commit; waiting on them costs the worker no CPU,
    # where polling the database would.
    for result in sent:
        result.get(timeout=max(1.0, timeout_s - (time.perf_counter() - started)))
    elapsed = time.perf_counter() - started
    if (count := embedded_count(meme_ids)) != len(meme_ids):
        raise RuntimeError(f"{count} of {len(meme_ids)} memes have vectors after every batch finished")
    return elapsed


def measure_rounds(root: Path, args: argparse.Namespace, warmup: list[int], measured: list[int]) -> dict:
    """Best images/s of each phase over the rounds: other work on the machine only ever slows a phase."""
    files = stored_paths(measured)
    best: dict[str, Any] = {"prep": 0.0, "model": 0.0, "end_to_end": 0.0, "gpu_util": {}}
    workers = [start_worker(root, args, i) for i in range(args.workers)]
    try:
        warm_up(root, args, warmup)
        for _ in range(args.rounds):
            prep, arrays = measure_prep(files)
            model = measure_model(arrays)
            del arrays
            forget_vectors(measured)
            end_to_end, gpu_util = end_to_end_rate(measured, args)
            if end_to_end > best["end_to_end"]:
                best["gpu_util"] = gpu_util
            for phase, value in (("prep", prep), ("model", model), ("end_to_end", end_to_end)):
                best[phase] = max(best[phase], value)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(30)
    return best


def end_to_end_rate(measured: list[int], args: argparse.Namespace) -> tuple[float, dict[int, float]]:
    """Images/s through the workers, and each GPU's mean utilisation meanwhile (when asked for)."""
    if not args.gpu_util:
        return len(measured) / embed_through_worker(measured, args.task_batch, timeout_s=1800), {}
    from benchmarks.gpu_sampler import GpuSampler  # needs nvidia-smi

    with GpuSampler() as gpus:
        seconds = embed_through_worker(measured, args.task_batch, timeout_s=1800)
    return len(measured) / seconds, gpus.mean_utilisation()


def peak_tflops(device: str, override: float | None) -> float | None:
    if override:
        return override
    return next((peak for name, peak in DENSE_BF16_PEAK_TFLOPS.items() if name in device), None)


def device_name() -> str:
    import torch

    encoder = get_encoder_now()
    if encoder.device.type == "cuda":
        return torch.cuda.get_device_name(encoder.device)
    return f"CPU {cpu_model()}, {os.cpu_count()} cores, torch {torch.get_num_threads()} threads"


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if "model name" in line]
    return names[0] if names else platform.machine()


def run(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    from memethresher_embedder.settings import get_embedder_settings
    from memethresher_shared.migrate import upgrade

    upgrade(os.environ["MEMETHRESHER_DATABASE_URL"])
    load_before = os.getloadavg()[0]
    warmup, measured = memes_to_measure(args)
    best = measure_rounds(root, args, warmup, measured)
    model, prep, end_to_end = best["model"], best["prep"], best["end_to_end"]
    gpu = get_encoder_now().device.type == "cuda"
    bound = min(model, prep) if gpu else 1 / (1 / model + 1 / prep)
    settings = get_embedder_settings()
    result = {
        "encoder": args.encoder,
        "device": device_name(),
        "images": args.images,
        "task_batch": args.task_batch,
        "model_batch": get_encoder_now().batch_size(settings.embed_model_batch),
        "prep_workers": settings.embed_prep_workers,
        "worker_pool": f"{args.worker_pool} x{args.worker_concurrency}",
        "workers": args.workers,
        "files": str(args.files) if args.files else "generated samples, 640-1080 px, 1 in 5 PNG",
        "rounds": args.rounds,
        "model_only_images_per_s": round(model, 1),
        "prep_only_images_per_s": round(prep, 1),
        "end_to_end_images_per_s": round(end_to_end, 1),
        "bound_images_per_s": round(bound, 1),
        "efficiency": round(end_to_end / bound, 3),
        "target_efficiency": TARGET_EFFICIENCY,
        "gflops_per_image": round(gflops_per_image(), 2),
        # Other work on the machine skews every figure; the 1-minute load average says how much there was.
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }
    if best["gpu_util"]:
        result["gpu_utilisation_percent"] = best["gpu_util"]
    peak = peak_tflops(result["device"], args.peak_tflops) if gpu else None
    if peak:
        # Model-only runs on one GPU; end to end on `workers` of them, so its bound is that many times one.
        for phase, gpus in (("model_only", 1), ("end_to_end", args.workers if args.pin_gpus else 1)):
            achieved = result[f"{phase}_images_per_s"] * result["gflops_per_image"] / 1e3  # TFLOP/s
            result[f"{phase}_peak_fraction"] = round(achieved / (peak * gpus), 3)
        result["peak_tflops_dense_bf16"] = peak
    return result


def main() -> None:
    args = parse_args()
    from memethresher_shared.embedded_redis import EmbeddedRedis

    with tempfile.TemporaryDirectory(prefix="bench-embed-") as tmp:
        root = Path(tmp)
        redis_server = EmbeddedRedis(root / "redis", persist=False)
        configure(root, redis_server.start(), args)
        try:
            result = run(args, root)
        finally:
            redis_server.stop()
    width = max(len(key) for key in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out}")


if __name__ == "__main__":
    main()
