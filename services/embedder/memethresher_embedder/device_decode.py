"""JPEG decoding and resizing on the model's device (nvJPEG on a GPU), batch by batch.

The decode threads only read a JPEG's header (`device_jpeg`); the model thread decodes a whole
batch of them at once with `torchvision.io.decode_jpeg` and resizes on the device, so the CPU
cores are left to PNG, WebP and GIF. On a CPU the same code runs with torchvision's decoder.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from memethresher_embedder.preprocess import MAX_PIXELS, ImageRejected, PreprocessSpec, prepare_image

_JPEG_MAGIC = b"\xff\xd8\xff"
# Modes nvJPEG turns into RGB exactly as Pillow does; CMYK and the like go the CPU way.
_DEVICE_MODES = ("RGB", "L")


@dataclass(frozen=True)
class EncodedJpeg:
    """A JPEG whose header was checked, left encoded for the device to decode."""

    data: bytes


def device_jpeg(data: bytes) -> EncodedJpeg | None:
    """The JPEG to decode on the device, or None when the CPU must take the file (and give any reason)."""
    if not data.startswith(_JPEG_MAGIC):
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:  # reads the header only
            width, height = image.size
            fits = image.format == "JPEG" and image.mode in _DEVICE_MODES
    except Exception:  # any header Pillow cannot read: the CPU path words the reason
        return None
    if not fits or width * height > MAX_PIXELS or min(width, height) < 1:
        return None
    return EncodedJpeg(data)


def decode_jpegs(jpegs: Sequence[EncodedJpeg], spec: PreprocessSpec, device: torch.device) -> list[torch.Tensor]:
    """(3, S, S) uint8 tensors on `device`, one per JPEG; raises ImageRejected only per image via `decode_one`."""
    tensors = [torch.frombuffer(bytearray(jpeg.data), dtype=torch.uint8) for jpeg in jpegs]
    try:
        decoded = _decode(tensors, device)
    except RuntimeError:  # one bad file fails the whole batch call: decode one by one instead
        return [decode_one(jpeg, spec, device) for jpeg in jpegs]
    return [resize_on_device(image, spec) for image in decoded]


def decode_one(jpeg: EncodedJpeg, spec: PreprocessSpec, device: torch.device) -> torch.Tensor:
    """One JPEG on the device; one the device decoder refuses is tried by Pillow, which gives the reason."""
    try:
        (image,) = _decode([torch.frombuffer(bytearray(jpeg.data), dtype=torch.uint8)], device)
        return resize_on_device(image, spec)
    except RuntimeError:
        array = prepare_image(jpeg.data, spec)  # raises ImageRejected with the reason
        return torch.from_numpy(array).to(device)


def _decode(tensors: list[torch.Tensor], device: torch.device) -> list[torch.Tensor]:
    from torchvision.io import ImageReadMode, decode_jpeg  # type: ignore[import-untyped]

    decoded = decode_jpeg(tensors, mode=ImageReadMode.RGB, device=device, apply_exif_orientation=True)
    return list(decoded)


def resize_on_device(image: torch.Tensor, spec: PreprocessSpec) -> torch.Tensor:
    """A (3, H, W) uint8 image resized as `prepare_image` does: squashed, or shortest side then centre crop."""
    height, width = int(image.shape[1]), int(image.shape[2])
    if spec.resize_mode == "squash":
        size = (spec.size, spec.size)
    else:
        shortest = max(spec.size, round(spec.size / spec.crop_pct))
        scale = shortest / min(width, height)
        size = (max(spec.size, round(height * scale)), max(spec.size, round(width * scale)))
    mode = "bilinear" if spec.interpolation == "bilinear" else "bicubic"
    resized = F.interpolate(image[None].float(), size=size, mode=mode, antialias=True, align_corners=False)[0]
    top = (size[0] - spec.size) // 2
    left = (size[1] - spec.size) // 2
    cropped = resized[:, top : top + spec.size, left : left + spec.size]
    return cropped.round_().clamp_(0, 255).to(torch.uint8)


def assemble(
    items: Sequence[np.ndarray | EncodedJpeg], spec: PreprocessSpec, device: torch.device
) -> tuple[torch.Tensor | None, list[int], dict[int, str]]:
    """One (B, 3, S, S) uint8 batch on `device` from CPU-ready arrays and encoded JPEGs.

    Returns the batch, the positions of `items` it holds (in order) and a reason per position
    that could not be decoded.
    """
    arrays = [(i, item) for i, item in enumerate(items) if isinstance(item, np.ndarray)]
    jpegs = [(i, item) for i, item in enumerate(items) if isinstance(item, EncodedJpeg)]
    images: dict[int, torch.Tensor] = {}
    failures: dict[int, str] = {}
    if arrays:
        stacked = to_device(np.stack([array for _, array in arrays]), device)
        images.update((i, stacked[k]) for k, (i, _) in enumerate(arrays))
    if jpegs:
        for (i, _), image in zip(jpegs, _decode_each(jpegs, spec, device), strict=True):
            if isinstance(image, str):
                failures[i] = image
            else:
                images[i] = image
    kept = sorted(images)
    batch = torch.stack([images[i] for i in kept]) if kept else None
    return batch, kept, failures


def _decode_each(
    jpegs: list[tuple[int, EncodedJpeg]], spec: PreprocessSpec, device: torch.device
) -> list[torch.Tensor | str]:
    try:
        return list(decode_jpegs([jpeg for _, jpeg in jpegs], spec, device))
    except ImageRejected:
        pass  # some file is bad: find which, keeping the others
    results: list[torch.Tensor | str] = []
    for _, jpeg in jpegs:
        try:
            results.append(decode_one(jpeg, spec, device))
        except ImageRejected as exc:
            results.append(str(exc))
    return results


def to_device(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """Pinned and non-blocking on CUDA, so the copy overlaps the previous batch's compute."""
    batch = torch.from_numpy(images)
    if device.type == "cuda":
        batch = batch.pin_memory().to(device, non_blocking=True)
    return batch
