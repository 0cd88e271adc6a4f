"""Sample memes made offline for the demo: real photographs that scikit-image ships, cropped,
flipped and recoloured, with captions drawn by Pillow. Deterministic for a given seed."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

# scikit-image's bundled photographs (no download needed), by loader name.
PHOTOS = (
    "astronaut", "camera", "cat", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry",
    "motorcycle", "retina", "brick", "grass", "gravel", "coins", "moon", "page", "text", "cell", "colorwheel",
    "horse", "logo",
)  # fmt: skip

TOP = (
    "when the code works", "me explaining", "nobody:", "my brain at 3 am", "when you finally",
    "that moment when", "they said it couldn't", "me on monday", "how it started", "when the wifi",
    "pov: you", "one does not simply", "me after one", "when the tests", "expectation",
)  # fmt: skip
BOTTOM = (
    "on the first try", "to my cat", "absolutely nobody", "deploy on friday", "reality",
    "how it's going", "is this a meme?", "it's fine", "and it's beautiful", "just one more",
    "send help", "wait, what", "big brain time", "i have no idea", "perfectly balanced",
)  # fmt: skip


def load_photos() -> list[Image.Image]:
    from skimage import data

    photos = []
    for name in PHOTOS:
        if name == "motorcycle":
            array = data.stereo_motorcycle()[0]
        else:
            array = getattr(data, name)()
        if array.dtype != np.uint8:
            array = (255 * (array.astype(np.float64) / max(float(array.max()), 1e-9))).astype(np.uint8)
        photos.append(Image.fromarray(array).convert("RGB"))
    return photos


def _recolour(image: Image.Image, rng: random.Random) -> Image.Image:
    style = rng.choice(("none", "gray", "warm", "cool", "vivid", "dark", "invert"))
    if style == "gray":
        return ImageOps.grayscale(image).convert("RGB")
    if style == "invert":
        return ImageOps.invert(image)
    if style in ("warm", "cool"):
        r, g, b = image.split()
        shift = (lambda v: min(255, int(v * 1.25))) if style == "warm" else (lambda v: int(v * 0.8))
        r = r.point(shift) if style == "warm" else r.point(lambda v: int(v * 0.85))
        b = b.point(lambda v: int(v * 0.8)) if style == "warm" else b.point(lambda v: min(255, int(v * 1.25)))
        return Image.merge("RGB", (r, g, b))
    if style == "vivid":
        return ImageEnhance.Color(image).enhance(1.8)
    if style == "dark":
        return ImageEnhance.Brightness(image).enhance(0.6)
    return image


def _caption(image: Image.Image, text: str, top: bool) -> None:
    draw = ImageDraw.Draw(image)
    size = max(14, image.width // 14)
    font = ImageFont.load_default(size=size)
    text = text.upper()
    box = draw.textbbox((0, 0), text, font=font, stroke_width=2)
    x = max(4, (image.width - (box[2] - box[0])) // 2)
    y = 6 if top else image.height - (box[3] - box[1]) - 12
    draw.text((x, y), text, font=font, fill="white", stroke_width=max(2, size // 12), stroke_fill="black")


def make_meme(photo: Image.Image, rng: random.Random) -> Image.Image:
    w, h = photo.size
    scale = rng.uniform(0.55, 1.0)
    cw, ch = int(w * scale), int(h * scale)
    left, top = rng.randint(0, w - cw), rng.randint(0, h - ch)
    image = photo.crop((left, top, left + cw, top + ch))
    if rng.random() < 0.5:
        image = ImageOps.mirror(image)
    image = _recolour(image, rng)
    width = rng.choice((360, 420, 480, 540))
    image = image.resize((width, max(64, int(image.height * width / image.width))))
    if rng.random() < 0.85:
        _caption(image, rng.choice(TOP), top=True)
    if rng.random() < 0.85:
        _caption(image, rng.choice(BOTTOM), top=False)
    return image


def write_samples(folder: Path, count: int = 300, seed: int = 0) -> list[Path]:
    """Write `count` sample memes into `folder` (skipping files already there) and return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    photos = load_photos()
    paths = []
    for index in range(count):
        photo = photos[index % len(photos)]
        meme = make_meme(photo, rng)
        fmt = "png" if index % 5 == 0 else "jpg"
        path = folder / f"sample-{index:03d}.{fmt}"
        if not path.exists():
            meme.save(path, quality=88) if fmt == "jpg" else meme.save(path)
        paths.append(path)
    return paths
