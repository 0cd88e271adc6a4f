"""`memethresher export DIR`: every record a person made, as JSON lines, with images, vectors and model folders."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from memethresher_shared.models import (
    CurationItem,
    Embedding,
    EvaluationLabel,
    Meme,
    ModelVersion,
    Rating,
    Score,
    Source,
    utcnow,
)
from memethresher_shared.portable.edits import export_edits
from memethresher_shared.portable.records import FILES, FORMAT, FORMAT_VERSION, MANIFEST, iso, model_key, write_lines
from memethresher_shared.store import ImageStore

IMAGES = "images"
MODELS = "models"
EMBEDDINGS = "embeddings"


def encoder_file(encoder: str) -> str:
    return f"{EMBEDDINGS}/{encoder.replace(':', '__').replace('/', '_')}.npz"


def export_all(session: Session, store: ImageStore, out: Path, with_images: bool = True) -> dict[str, int]:
    """Write the export into `out` (created; must be empty) and return the count of each kind."""
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty; export into a new folder")
    keys = {v.id: model_key(v.encoder, v.created_at) for v in session.scalars(select(ModelVersion))}
    counts = {
        "sources": write_lines(out / FILES["sources"], _sources(session)),
        "memes": write_lines(out / FILES["memes"], _memes(session, store, out if with_images else None)),
        "models": write_lines(out / FILES["models"], _models(session, keys, out)),
        "scores": write_lines(out / FILES["scores"], _scores(session, keys)),
        "ratings": write_lines(out / FILES["ratings"], _ratings(session)),
        "labels": write_lines(out / FILES["labels"], _labels(session)),
        "curation": write_lines(out / FILES["curation"], _curation(session, keys)),
        "rating_edits": write_lines(out / FILES["rating_edits"], export_edits(session)),
    }
    encoders = _embeddings(session, out)
    counts["embeddings"] = sum(encoders.values())
    manifest = {"format": FORMAT, "version": FORMAT_VERSION, "created_at": iso(utcnow()),
                "counts": counts, "embeddings": {e: encoder_file(e) for e in encoders}}  # fmt: skip
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return counts


def _sources(session: Session) -> Iterator[dict[str, Any]]:
    for s in session.scalars(select(Source).order_by(Source.id)):
        yield {"kind": s.kind, "target": s.target, "sort": s.sort, "time_window": s.time_window,
               "options": s.options, "enabled": s.enabled, "interval_s": s.interval_s,
               "created_at": iso(s.created_at)}  # fmt: skip


def _memes(session: Session, store: ImageStore, out: Path | None) -> Iterator[dict[str, Any]]:
    for m in session.scalars(select(Meme).order_by(Meme.id)):
        image = None
        if out is not None and store.exists(m.storage_key):
            image = f"{IMAGES}/{m.storage_key}"
            (out / image).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(store.path(m.storage_key), out / image)
        yield {"sha256": m.sha256, "format": m.format, "width": m.width, "height": m.height,
               "byte_size": m.byte_size, "title": m.title, "subreddit": m.subreddit,
               "in_library": m.in_library, "status": m.status, "added_at": iso(m.added_at),
               "image": image}  # fmt: skip


def _models(session: Session, keys: dict[int, str], out: Path) -> Iterator[dict[str, Any]]:
    for v in session.scalars(select(ModelVersion).order_by(ModelVersion.id)):
        folder = None
        if v.artifact and Path(v.artifact).is_dir():
            folder = f"{MODELS}/{v.id}"
            shutil.copytree(v.artifact, out / folder)
        yield {"key": keys[v.id], "encoder": v.encoder, "config": v.config, "metrics": v.metrics,
               "n_ratings": v.n_ratings, "is_current": v.is_current, "pinned": v.pinned,
               "created_at": iso(v.created_at), "artifact": folder}  # fmt: skip


def _scores(session: Session, keys: dict[int, str]) -> Iterator[dict[str, Any]]:
    query = select(Meme.sha256, Score.model_version_id, Score.axis, Score.mean, Score.spread).join(
        Meme, Meme.id == Score.meme_id
    )
    for sha, version_id, axis, mean, spread in session.execute(
        query.order_by(Score.model_version_id, Score.axis, Meme.id)
    ):
        yield {"sha256": sha, "model": keys[version_id], "axis": axis, "mean": mean, "spread": spread}


def _ratings(session: Session) -> Iterator[dict[str, Any]]:
    a, b = aliased(Meme), aliased(Meme)
    query = (
        select(a.sha256, b.sha256, Rating.choice, Rating.axis, Rating.origin, Rating.created_at)
        .join(a, a.id == Rating.a_id)
        .join(b, b.id == Rating.b_id)
        .order_by(Rating.id)
    )
    for sha_a, sha_b, choice, axis, origin, created_at in session.execute(query):
        yield {"a": sha_a, "b": sha_b, "choice": choice, "axis": axis, "origin": origin, "created_at": iso(created_at)}


def _labels(session: Session) -> Iterator[dict[str, Any]]:
    query = select(Meme.sha256, EvaluationLabel.good, EvaluationLabel.created_at).join(
        Meme, Meme.id == EvaluationLabel.meme_id
    )
    for sha, good, created_at in session.execute(query.order_by(EvaluationLabel.created_at)):
        yield {"id": sha, "good": good, "created_at": iso(created_at)}


def _curation(session: Session, keys: dict[int, str]) -> Iterator[dict[str, Any]]:
    query = select(Meme.sha256, CurationItem).join(Meme, Meme.id == CurationItem.meme_id)
    for sha, c in session.execute(query.order_by(CurationItem.id)):
        yield {"sha256": sha, "status": c.status, "name": c.name, "library_path": c.library_path,
               "score": c.score, "axis": c.axis, "model": keys.get(c.model_version_id) if c.model_version_id else None,
               "created_at": iso(c.created_at), "decided_at": iso(c.decided_at)}  # fmt: skip


def _embeddings(session: Session, out: Path) -> dict[str, int]:
    """One .npz per encoder: `ids` (sha256) and `vectors` (N x d float16), as the offline command reads."""
    written: dict[str, int] = {}
    for encoder in session.scalars(select(Embedding.encoder).distinct().order_by(Embedding.encoder)):
        query = select(Meme.sha256, Embedding.dim, Embedding.vector).join(Meme, Meme.id == Embedding.meme_id)
        rows = session.execute(query.where(Embedding.encoder == encoder).order_by(Meme.id)).all()
        vectors = np.stack([np.frombuffer(vector, dtype="<f2", count=dim) for _, dim, vector in rows])
        path = out / encoder_file(encoder)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, ids=np.array([sha for sha, _, _ in rows]), vectors=vectors)
        written[encoder] = len(rows)
    return written
