"""The embedder's own settings (env `MEMETHRESHER_*`), read on first use through `get_embedder_settings()`."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Literal

from memethresher_shared.settings import Settings
from pydantic import Field


def _default_prep_workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


class EmbedderSettings(Settings):
    """Where weights come from, which device runs the model, and how work is split."""

    # A local open_clip checkpoint for the configured encoder; empty means the Hugging Face cache.
    embedder_weights: Path | None = None
    # Where open_clip looks for and downloads weights; empty means huggingface_hub's default cache.
    embedder_cache_dir: Path | None = None
    # Fetch weights missing from the cache from Hugging Face; off, a missing file fails at once.
    embedder_download: bool = True
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
    # Images per forward pass; a task's batch is fed to the model in chunks of this size.
    # 0 means 16 on a CPU and 64 on a GPU.
    embed_model_batch: int = Field(default=0, ge=0)


@functools.cache
def get_embedder_settings() -> EmbedderSettings:
    return EmbedderSettings()
