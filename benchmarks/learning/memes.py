"""The simulated collection: the demo's sample memes, embedded by the offline encoder, and features of the
same images that the learner never sees (pixel statistics, a random-init convolutional network)."""

from __future__ import annotations

import io
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ENCODER = "efficientnet_lite0:imagenet"
PIXEL_STATS = ("brightness", "contrast", "colourfulness", "saturation", "warmth", "edges", "text")


@dataclass
class Memes:
    vectors: np.ndarray  # (N, 1280) the learner's input: unit embeddings
    pixels: np.ndarray  # (N, len(PIXEL_STATS)) pixel statistics
    conv: np.ndarray  # (N, 96) pooled features of a random-init CNN, another network than the encoder
    photo: np.ndarray  # (N,) which source photograph the meme was made from

    def take(self, index: np.ndarray) -> Memes:
        return Memes(self.vectors[index], self.pixels[index], self.conv[index], self.photo[index])

    def __len__(self) -> int:
        return len(self.vectors)


def pixel_stats(image: Image.Image) -> np.ndarray:
    """Brightness, contrast, colourfulness (Hasler and Suesstrunk), saturation, warmth, edge density and
    the share of white caption-like pixels, each from the image's pixels alone."""
    rgb = np.asarray(image.convert("RGB").resize((160, 160)), dtype=np.float32) / 255.0
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    lum = 0.299 * r + 0.587 * g + 0.114 * b
    rg, yb = r - g, 0.5 * (r + g) - b
    colourful = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())
    saturation = (rgb.max(-1) - rgb.min(-1)).mean()
    gx, gy = np.diff(lum, axis=1)[:-1], np.diff(lum, axis=0)[:, :-1]
    edges = (np.hypot(gx, gy) > 0.1).mean()
    text = ((lum > 0.93) & (rgb.max(-1) - rgb.min(-1) < 0.06)).mean()
    return np.array([lum.mean(), lum.std(), colourful, saturation, (r - b).mean(), edges, text], np.float32)


class RandomConv(torch.nn.Module):
    """Three random-init conv layers, mean- and max-pooled: features no trained encoder shares."""

    def __init__(self, seed: int = 99) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.layers = torch.nn.Sequential(
            torch.nn.Conv2d(3, 16, 5, stride=2), torch.nn.ReLU(),
            torch.nn.Conv2d(16, 32, 3, stride=2), torch.nn.ReLU(),
            torch.nn.Conv2d(32, 48, 3, stride=2), torch.nn.ReLU(),
        )  # fmt: skip

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        h = self.layers(images)
        return torch.cat([h.mean((2, 3)), h.amax((2, 3))], dim=1)


def _conv_input(image: Image.Image) -> torch.Tensor:
    array = np.asarray(image.convert("RGB").resize((128, 128)), dtype=np.float32) / 255.0
    return torch.from_numpy(array - 0.5).permute(2, 0, 1)


def load_memes(count: int, cache: Path | None = None) -> Memes:
    """`count` freshly drawn sample memes with all their features, cached between runs (by default in the
    temp folder, shared by every learning benchmark and probe)."""
    cache = cache or Path(tempfile.gettempdir()) / f"memethresher-bench-learning-v2-{count}.npz"
    if cache.exists():
        data = np.load(cache)
        return Memes(data["vectors"], data["pixels"], data["conv"], data["photo"])
    from memethresher_embedder.encoders import load_encoder
    from memethresher_embedder.preprocess import prepare_image
    from memethresher_embedder.settings import EmbedderSettings
    from memethresher_shared.samples import load_photos, make_meme

    encoder = load_encoder(ENCODER, EmbedderSettings(embedder_device="cpu"))
    photos, rng, conv = load_photos(), random.Random(1234), RandomConv()
    vectors, pixels, convs = [], [], []
    for start in range(0, count, 32):
        batch, images = [], []
        for index in range(start, min(count, start + 32)):
            meme, buffer = make_meme(photos[index % len(photos)], rng), io.BytesIO()
            meme.save(buffer, "PNG")
            batch.append(prepare_image(buffer.getvalue(), encoder.preprocess))
            pixels.append(pixel_stats(meme))
            images.append(_conv_input(meme))
        vectors.append(encoder.encode(np.stack(batch)))
        convs.append(conv(torch.stack(images)).numpy())
    memes = Memes(np.concatenate(vectors).astype(np.float32), np.stack(pixels),
                  np.concatenate(convs).astype(np.float32), np.arange(count) % len(photos))  # fmt: skip
    np.savez(cache, vectors=memes.vectors, pixels=memes.pixels, conv=memes.conv, photo=memes.photo)
    return memes
