"""Encoders: load once per process, lazily, on the best device; uint8 images in, unit vectors out."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F

from memethresher_embedder.device_decode import to_device
from memethresher_embedder.preprocess import PreprocessSpec
from memethresher_embedder.registry import EncoderSpec, parse_encoder_id
from memethresher_embedder.settings import EmbedderSettings, get_embedder_settings
from memethresher_embedder.text import TextTower, TextTowerUnavailable, load_tokenizer, split_text_tower
from memethresher_embedder.weights import lite0_file, load_by_key_order, load_open_clip_weights

log = logging.getLogger(__name__)

CONFIG_DIR = Path(__file__).parent / "model_configs"
Features = Callable[[torch.Tensor], torch.Tensor]


class Encoder:
    """A loaded model: `encode` takes (B, 3, S, S) uint8 images and returns (B, D) L2-normalised float32."""

    def __init__(
        self,
        spec: EncoderSpec,
        network: torch.nn.Module,
        features: Features,
        preprocess: PreprocessSpec,
        device: torch.device,
        channels_last: bool = False,
        precision: str = "fp32",
    ) -> None:
        self.spec = spec
        self.text: TextTower | None = None  # an open_clip encoder's text tower, for taste prompts
        self.text_missing = "has none"  # why `text` is None
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.precision = precision if device.type == "cuda" else "fp32"
        self.dtype = _weights_dtype(self.precision)
        # torch's stubs have no overload with memory_format beside device and dtype; torch takes all three.
        self.network = (
            network.eval()
            .requires_grad_(False)
            .to(  # type: ignore[call-overload]
                device, self.dtype, memory_format=self.memory_format
            )
        )
        self.features = features
        self._fixed_batch = 0
        self.preprocess = preprocess
        self.device = device
        self._mean = torch.tensor(preprocess.mean, device=device).view(1, 3, 1, 1) * 255
        self._std = torch.tensor(preprocess.std, device=device).view(1, 3, 1, 1) * 255
        self.dim = int(self.encode(np.zeros((1, 3, preprocess.size, preprocess.size), np.uint8)).shape[1])

    @property
    def encoder_id(self) -> str:
        return self.spec.encoder_id

    def batch_size(self, configured: int) -> int:
        """Images per forward pass: the setting, or a default that suits the device."""
        return configured or (64 if self.device.type == "cuda" else 16)

    def compile(self, model_batch: int) -> None:
        """torch.compile the network for batches of exactly `model_batch` (shorter ones are padded)."""
        self.features = cast(Features, torch.compile(self.features, dynamic=False))
        self._fixed_batch = model_batch

    def normalise_input(self, batch: torch.Tensor) -> torch.Tensor:
        normalised = (batch.float() - self._mean) / self._std
        return normalised.to(self.dtype).contiguous(memory_format=self.memory_format)

    @torch.inference_mode()
    def encode_tensor(self, batch: torch.Tensor) -> np.ndarray:
        """Vectors for a (B, 3, S, S) uint8 batch already on the device."""
        count = int(batch.shape[0])
        if self._fixed_batch and count < self._fixed_batch:
            padding = batch.new_zeros((self._fixed_batch - count, *batch.shape[1:]))
            batch = torch.cat([batch, padding])
        with _autocast(self.precision):
            vectors = self.features(self.normalise_input(batch))[:count]  # (B, D)
        return F.normalize(vectors.float(), dim=-1).cpu().numpy()

    def encode(self, images: np.ndarray) -> np.ndarray:
        """Vectors for a (B, 3, S, S) uint8 array in memory."""
        return self.encode_tensor(to_device(images, self.device))

    def encode_text(self, texts: list[str]) -> np.ndarray:
        """(P, D) vectors of `texts` in the images' space; TextTowerUnavailable without a text tower."""
        if self.text is None:
            why = self.text_missing
            raise TextTowerUnavailable(f"encoder {self.encoder_id} cannot embed text: its text tower {why}")
        return self.text.encode(texts)


def _half_dtype() -> torch.dtype:
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _weights_dtype(precision: str) -> torch.dtype:
    return _half_dtype() if precision == "bf16" else torch.float32


def _autocast(precision: str) -> contextlib.AbstractContextManager[object]:
    if precision != "amp":
        return contextlib.nullcontext()
    return torch.autocast("cuda", dtype=_half_dtype())


def pick_device(choice: str) -> torch.device:
    """CUDA when asked for or present; a clear error when asked for and absent."""
    if choice == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("MEMETHRESHER_EMBEDDER_DEVICE=cuda but torch sees no CUDA device")
    if choice in ("cuda", "auto") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def load_encoder(encoder_id: str, settings: EmbedderSettings) -> Encoder:
    """Build the encoder named `encoder_id` with its weights (uncached; see `get_encoder`)."""
    spec = parse_encoder_id(encoder_id)
    device = pick_device(settings.embedder_device)
    if device.type == "cpu":
        torch.set_num_threads(settings.torch_threads or max(1, (os.cpu_count() or 1) // 2))
    if spec.family == "lite0":
        encoder = _load_lite0(spec, device, settings)
    else:
        encoder = _load_open_clip(spec, settings, device)
    if settings.embed_compile:
        encoder.compile(encoder.batch_size(settings.embed_model_batch))
    return encoder


def _channels_last(settings: EmbedderSettings, convolutional: bool) -> bool:
    return settings.embed_channels_last == "on" or (settings.embed_channels_last == "auto" and convolutional)


# Worker threads (a `--pool threads` worker) share one encoder; the lock stops a double load.
_load_lock = threading.Lock()


@functools.cache
def _cached_encoder(encoder_id: str) -> Encoder:
    encoder = load_encoder(encoder_id, get_embedder_settings())
    log.info(
        "loaded encoder %s on %s (%d-d, %d torch threads)",
        encoder_id, encoder.device, encoder.dim, torch.get_num_threads(),
    )  # fmt: skip
    return encoder


def get_encoder(encoder_id: str) -> Encoder:
    """The process's encoder for `encoder_id`, loaded on first use."""
    with _load_lock:
        return _cached_encoder(encoder_id)


def _load_lite0(spec: EncoderSpec, device: torch.device, settings: EmbedderSettings) -> Encoder:
    import timm
    from timm.models.efficientnet import EfficientNet

    network = cast(EfficientNet, timm.create_model("efficientnet_lite0", pretrained=False))
    load_by_key_order(network, lite0_file())
    config = cast(dict[str, Any], network.pretrained_cfg)  # set by timm's builder, so untyped
    preprocess = PreprocessSpec(
        size=int(config["input_size"][-1]),
        resize_mode="shortest",
        crop_pct=float(config["crop_pct"]),
        interpolation=str(config["interpolation"]),
        mean=tuple(config["mean"]),
        std=tuple(config["std"]),
    )

    def pooled(batch: torch.Tensor) -> torch.Tensor:
        return network.forward_head(network.forward_features(batch), pre_logits=True)  # (B, 1280)

    channels_last = _channels_last(settings, convolutional=True)
    return Encoder(spec, network, pooled, preprocess, device, channels_last, settings.embedder_precision)


def _load_open_clip(spec: EncoderSpec, settings: EmbedderSettings, device: torch.device) -> Encoder:
    import open_clip

    register_model_configs()

    def build(weights: str | None) -> torch.nn.Module:
        return cast(torch.nn.Module, open_clip.create_model(spec.architecture, pretrained=weights, device="cpu"))

    visual, rest = split_text_tower(build(None) if spec.random_init else load_open_clip_weights(spec, settings, build))
    preprocess = _open_clip_preprocess(spec, visual)
    channels_last = _channels_last(settings, convolutional=False)
    encoder = Encoder(spec, visual, visual, preprocess, device, channels_last, settings.embedder_precision)
    encoder.text, encoder.text_missing = _text_tower(spec, settings, rest, encoder)
    return encoder


def _text_tower(
    spec: EncoderSpec, settings: EmbedderSettings, model: torch.nn.Module, encoder: Encoder
) -> tuple[TextTower | None, str]:
    """The text tower, kept as the setting says, or None and why: images are embedded either way.

    Keeping it costs as much memory as the image tower or more (see `embed_text_tower`)."""
    if settings.embed_text_tower == "off":
        return None, "was dropped (MEMETHRESHER_EMBED_TEXT_TOWER=off)"
    cache_dir = str(settings.embedder_cache_dir) if settings.embedder_cache_dir else None
    try:
        tokenizer = load_tokenizer(spec.architecture, cache_dir)
    except Exception as exc:  # a missing package or tokenizer file must not stop the images from embedding
        log.warning("encoder %s keeps no text tower, taste prompts cannot be embedded: %s", spec.encoder_id, exc)
        return None, f"has no tokenizer here ({exc})"
    if settings.embed_text_tower == "device":
        return TextTower(model, tokenizer, encoder.device, encoder.dtype), ""
    return TextTower(model, tokenizer, torch.device("cpu"), torch.float32), ""


def _open_clip_preprocess(spec: EncoderSpec, visual: torch.nn.Module) -> PreprocessSpec:
    import open_clip

    config = dict(getattr(visual, "preprocess_cfg", {}))
    tag: str | None = spec.tag
    if spec.random_init:
        # Random-init models take the preprocessing of the architecture's released weights.
        tag = next(iter(open_clip.list_pretrained_tags_by_model(spec.architecture)), None)
    if tag:
        config.update(open_clip.get_pretrained_cfg(spec.architecture, tag))
    size = config.get("size", 224)
    return PreprocessSpec(
        size=int(size[-1] if isinstance(size, tuple | list) else size),
        resize_mode="squash" if config.get("resize_mode") == "squash" else "shortest",
        interpolation=str(config.get("interpolation", "bicubic")),
        mean=tuple(config.get("mean", (0.5, 0.5, 0.5))),
        std=tuple(config.get("std", (0.5, 0.5, 0.5))),
    )


@functools.cache
def register_model_configs() -> None:
    """Tell open_clip about the architectures defined in this package (once per process)."""
    import open_clip

    open_clip.add_model_config(CONFIG_DIR)
