"""The memes an embedding benchmark measures: generated samples or a folder of files, in a private database."""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import random
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def sample_files(count: int, seed: int) -> list[tuple[bytes, str]]:
    """`count` distinct encoded memes, (bytes, Pillow format), made on every core."""
    chunks = [(seed, start, min(64, count - start)) for start in range(0, count, 64)]
    context = multiprocessing.get_context("spawn")  # no torch state crosses into the children
    with ProcessPoolExecutor(min(len(chunks), os.cpu_count() or 1), mp_context=context) as pool:
        return [file for chunk in pool.map(sample_chunk, chunks) for file in chunk]


def sample_chunk(job: tuple[int, int, int]) -> list[tuple[bytes, str]]:
    from memethresher_shared.samples import load_photos, make_meme

    seed, start, count = job
    rng = random.Random(seed * 1_000_003 + start)
    photos = load_photos()
    files = []
    for index in range(start, start + count):
        meme = make_meme(photos[index % len(photos)], rng)
        width = rng.choice((640, 800, 960, 1080))
        meme = meme.resize((width, int(meme.height * width / meme.width)))
        fmt = "PNG" if index % 5 == 0 else "JPEG"
        buffer = io.BytesIO()
        meme.save(buffer, fmt, **({"quality": 88} if fmt == "JPEG" else {}))
        files.append((buffer.getvalue(), fmt))
    return files


def folder_files(folder: Path, start: int, count: int) -> list[tuple[bytes, str]]:
    """`count` memes of `folder` from the `start`-th, in name order, (bytes, Pillow format)."""
    paths = sorted(p for p in folder.iterdir() if p.suffix in (".jpg", ".png"))[start : start + count]
    if len(paths) < count:
        raise SystemExit(f"{folder} has too few memes: write more with benchmarks/meme_files.py")
    return [(path.read_bytes(), "PNG" if path.suffix == ".png" else "JPEG") for path in paths]


def memes_to_measure(args: argparse.Namespace) -> tuple[list[int], list[int]]:
    """Warm-up and measured memes, added to the database and store."""
    if args.files:
        warmup = folder_files(args.files, 0, args.task_batch)
        return add_memes(warmup), add_memes(folder_files(args.files, args.task_batch, args.images))
    return add_memes(sample_files(args.task_batch, seed=1)), add_memes(sample_files(args.images, seed=2))


def add_memes(files: list[tuple[bytes, str]]) -> list[int]:
    from memethresher_shared.db import session_scope
    from memethresher_shared.models import Meme
    from memethresher_shared.store import get_store, sha256_hex

    store = get_store()
    with session_scope() as session:
        memes = []
        for data, fmt in files:
            digest = sha256_hex(data)
            key = store.put(data, fmt, sha256=digest)
            memes.append(Meme(sha256=digest, storage_key=key, format=fmt, width=0, height=0, byte_size=len(data)))
        session.add_all(memes)
        session.flush()
        return [m.id for m in memes]


def stored_paths(meme_ids: list[int]) -> list[tuple[int, Path]]:
    from memethresher_shared.db import session_scope
    from memethresher_shared.models import Meme
    from memethresher_shared.store import get_store
    from sqlalchemy import select

    store = get_store()
    with session_scope() as session:
        rows = session.execute(select(Meme.id, Meme.storage_key).where(Meme.id.in_(meme_ids)))
        return [(row.id, store.path(row.storage_key)) for row in rows]


def embedded_count(meme_ids: list[int]) -> int:
    from memethresher_shared.db import session_scope
    from memethresher_shared.models import Embedding
    from sqlalchemy import func, select

    query = (
        select(func.count())
        .select_from(Embedding)
        .where(Embedding.encoder == os.environ["MEMETHRESHER_EMBEDDER"], Embedding.meme_id.in_(meme_ids))
    )
    with session_scope() as session:
        return int(session.scalar(query) or 0)


def forget_vectors(meme_ids: list[int]) -> None:
    """Delete the measured memes' vectors so the next round embeds them again."""
    from memethresher_shared.db import session_scope
    from memethresher_shared.models import Embedding
    from sqlalchemy import delete

    with session_scope() as session:
        session.execute(delete(Embedding).where(Embedding.meme_id.in_(meme_ids)))
