"""The embedder's own settings (env `MEMETHRESHER_*`), read on first use through `get_embedder_settings()`."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Literal

from memethresher_shared.settings import Settings
from pydantic import Field


def available_cores(cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """Cores this process may use: its CPU affinity, capped by a cgroup v2 quota (a container's CPU limit)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = cpu_max.read_text().split()
    except (OSError, ValueError):
        return cores
    if quota == "max":
        return cores
    return max(1, min(cores, int(quota) // int(period)))


def _default_prep_workers() -> int:
    return max(1, min(8, available_cores()))


class EmbedderSettings(Settings):
    """Where weights come from, which device runs the model, and how work is split."""

    # A local open_clip checkpoint for the configured encoder; empty means the Hugging Face cache.
    embedder_weights: Path | None = None
    # Where open_clip looks for and downloads weights; empty means huggingface_hub's default cache.
    embedder_cache_dir: Path | None = None
    # The sha256 of MEMETHRESHER_EMBEDDER_WEIGHTS; empty: the file's `<name>.sha256` beside it, if any.
    # Files in the Hugging Face cache are checked against the sum their blob is named by.
    embedder_weights_sha256: str = ""
    # Fetch weights missing from the cache from Hugging Face; off, a missing file fails at once.
    embedder_download: bool = True
    # A Hugging Face mirror to download from; empty means huggingface_hub's default (HF_ENDPOINT).
    embedder_hf_endpoint: str | None = None
    embedder_device: Literal["auto", "cpu", "cuda"] = "auto"
    # Number format of the model on a GPU: "bf16" holds the weights in bfloat16 (float16 on cards
    # without it), "amp" keeps float32 weights under autocast, "fp32" neither. On an H100, bf16
    # weights ran SigLIP SO400M 8.5% faster than autocast (benchmarks/RESULTS.md). CPUs use fp32.
    embedder_precision: Literal["bf16", "amp", "fp32"] = "bf16"
    # Threads torch may use for the model on a CPU; 0 means half the cores (at least one): the
    # decode pool and the other workers need the rest, and torch's threads stall badly when a
    # core is taken from them (measured 3-4x slower with 2 threads than 1 on a busy 2-core box).
    torch_threads: int = Field(default=0, ge=0)
    # Threads that read, decode and resize images while the model runs.
    embed_prep_workers: int = Field(default_factory=_default_prep_workers, ge=1)
    # Images per forward pass, drawn from every task the worker holds; 0 means 16 on a CPU and
    # 64 on a GPU (the GPU default is not yet measured with the continuous engine).
    embed_model_batch: int = Field(default=0, ge=0)
    # Decoded images that may wait for the model, in model batches: enough to ride out a slow
    # file without holding much memory (64 x 3 x 384 x 384 bytes is 28 MB a batch).
    embed_ready_batches: int = Field(default=4, ge=1)
    # JPEGs decoded by nvJPEG on the model's device and resized there ("auto": when the model is
    # on a GPU; "on" also runs torchvision's batch decoder on a CPU). Not yet measured on a GPU.
    embed_device_decode: Literal["auto", "on", "off"] = "auto"
    # torch.compile the image tower for the fixed model batch (partial batches are padded).
    # Off: not yet measured on a GPU; it needs a C compiler, which the shipped images lack, and
    # costs about a minute at the first batch (on a CPU it ran EfficientNet-Lite0 38% faster).
    embed_compile: bool = False
    # Channels-last memory format: "auto" is on for convolutional encoders (EfficientNet-Lite0
    # on one CPU thread, 16 -> 28 images/s) and off for ViTs (ViT-B-16 on a CPU: 3.6 -> 1.8-2.8).
    embed_channels_last: Literal["auto", "on", "off"] = "auto"
    # Where an open_clip encoder keeps its text tower, which embeds the taste prompts: "cpu" (in float32,
    # off the GPU: prompts are few and short), "device" (beside the image tower, in its number format),
    # or "off" (dropped; prompts then wait for a worker that keeps it). The text tower is as large as the
    # image tower or larger (parameters counted from open_clip's configs): SigLIP SO400M 450M beside 428M
    # for images (1.8 GB of host memory in float32, 0.9 GB of GPU memory in bf16), SigLIP 2 SO400M 708M
    # (its vocabulary is 256k tokens; 2.8 GB in float32), ViT-B-16-SigLIP2 282M beside 93M (1.1 GB).
    embed_text_tower: Literal["cpu", "device", "off"] = "cpu"


@functools.cache
def get_embedder_settings() -> EmbedderSettings:
    return EmbedderSettings()
