"""A folder of memes at real-world file sizes (about 40 KB to 2 MB), for the GPU embedding benchmark.

Reddit's memes are mostly JPEGs of 500-2,400 px at quality 75-95, with a share of PNG
screenshots; this writes that mix from scikit-image photographs with captions:

    python benchmarks/meme_files.py OUT_DIR [--count 4096] [--seed 7]

Files outside 40 KB-2 MB are drawn again, so every size class is real; prints the size spread.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import random
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

MIN_BYTES = 40_000
MAX_BYTES = 2_000_000
WIDTHS = (500, 640, 800, 1080, 1440, 1920, 2400)
PNG_SHARE = 0.3


def encode(image: object, fmt: str, quality: int) -> bytes:
    buffer = io.BytesIO()
    options = {"quality": quality} if fmt == "JPEG" else {"optimize": False}
    image.save(buffer, fmt, **options)  # type: ignore[attr-defined]
    return buffer.getvalue()


def write_chunk(job: tuple[Path, int, int, int]) -> list[int]:
    from memethresher_shared.samples import load_photos, make_meme

    folder, seed, start, count = job
    rng = random.Random(seed * 1_000_003 + start)
    photos = load_photos()
    sizes = []
    index = start
    while index < start + count:
        meme = make_meme(photos[rng.randrange(len(photos))], rng)
        width = rng.choice(WIDTHS)
        meme = meme.resize((width, max(64, int(meme.height * width / meme.width))))
        fmt = "PNG" if rng.random() < PNG_SHARE else "JPEG"
        data = encode(meme, fmt, rng.randint(75, 95))
        if not MIN_BYTES <= len(data) <= MAX_BYTES:
            continue  # drawn again: only real-world sizes
        (folder / f"{index:06d}.{'png' if fmt == 'PNG' else 'jpg'}").write_bytes(data)
        sizes.append(len(data))
        index += 1
    return sizes


def write_memes(folder: Path, count: int, seed: int) -> list[int]:
    """Write `count` memes into `folder` on every core; returns their sizes in bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    chunks = [(folder, seed, start, min(128, count - start)) for start in range(0, count, 128)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(min(len(chunks), os.cpu_count() or 1), mp_context=context) as pool:
        return [size for chunk in pool.map(write_chunk, chunks) for size in chunk]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=4096)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    sizes = sorted(write_memes(args.out, args.count, args.seed))
    pngs = len(list(args.out.glob("*.png")))
    print(f"{len(sizes)} memes in {args.out}: {pngs} PNG, {len(sizes) - pngs} JPEG, {sum(sizes) / 1e6:.0f} MB")
    for share in (0.0, 0.25, 0.5, 0.75, 1.0):
        print(f"  p{int(share * 100):<3} {sizes[min(len(sizes) - 1, int(share * len(sizes)))] / 1e3:8.0f} KB")


if __name__ == "__main__":
    main()
