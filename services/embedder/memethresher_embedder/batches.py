"""Database side of embedding: which memes need vectors, and storing a batch's vectors in one transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memethresher_shared.db import session_scope, upsert_insert
from memethresher_shared.models import Embedding, Meme
from memethresher_shared.store import ImageStore
from memethresher_shared.vectors import to_stored
from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from memethresher_embedder.engine import Engine
from memethresher_embedder.pipeline import BatchVectors


@dataclass
class BatchReport:
    """What one batch did: memes newly embedded, embedded before, failed (with reasons), unknown."""

    encoder: str
    embedded: list[int] = field(default_factory=list)
    already_embedded: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    unknown: list[int] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "encoder": self.encoder,
            "embedded": len(self.embedded),
            "already_embedded": len(self.already_embedded),
            "failed": len(self.failed),
            "unknown": len(self.unknown),
        }


def embed_memes(meme_ids: Sequence[int], engine: Engine, encoder_id: str, store: ImageStore) -> BatchReport:
    """Embed the memes of `meme_ids` lacking a vector for `encoder_id`; no transaction spans the model.

    Returns once the vectors are stored (by the engine's writer thread), so a task that acks
    after this call never acks a batch whose vectors could still be lost.
    """
    report = BatchReport(encoder=encoder_id)
    files = _files_to_embed(meme_ids, encoder_id, store, report)

    def write(outcome: BatchVectors) -> None:
        report.failed.update(outcome.failures)
        with session_scope() as session:
            report.embedded = store_vectors(session, encoder_id, outcome)
            mark_failed(session, report.failed)

    engine.submit(files, write).result()
    return report


def _files_to_embed(
    meme_ids: Sequence[int], encoder_id: str, store: ImageStore, report: BatchReport
) -> list[tuple[int, Path]]:
    wanted = list(dict.fromkeys(meme_ids))
    with session_scope() as session:
        memes = {m.id: m.storage_key for m in session.scalars(select(Meme).where(Meme.id.in_(wanted)))}
        done = set(
            session.scalars(
                select(Embedding.meme_id).where(Embedding.encoder == encoder_id, Embedding.meme_id.in_(wanted))
            )
        )
    files: list[tuple[int, Path]] = []
    for meme_id in wanted:
        if meme_id not in memes:
            report.unknown.append(meme_id)
        elif meme_id in done:
            report.already_embedded.append(meme_id)
        else:
            try:
                files.append((meme_id, store.path(memes[meme_id])))
            except ValueError as exc:
                report.failed[meme_id] = str(exc)
    return files


def store_vectors(session: Session, encoder_id: str, outcome: BatchVectors) -> list[int]:
    """Insert the vectors, keeping any row another worker wrote first; mark the memes embedded."""
    if not outcome.vectors:
        return []
    rows = [
        {
            "meme_id": meme_id,
            "encoder": encoder_id,
            "dim": int(vector.shape[0]),
            "vector": to_stored(vector),
        }
        for meme_id, vector in outcome.vectors.items()
    ]
    inserted = _insert_new(session, rows)
    session.execute(
        update(Meme).where(Meme.id.in_(list(outcome.vectors))).values(status="embedded", failure_reason=None)
    )
    return inserted


def _insert_new(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """One INSERT for the batch; rows already there (another worker's, or an earlier run's) are kept."""
    statement = (
        upsert_insert(session, Embedding)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["meme_id", "encoder"])
        .returning(Embedding.meme_id)
    )
    return list(session.scalars(statement))


def mark_failed(session: Session, failures: dict[int, str]) -> None:
    for meme_id, reason in failures.items():
        session.execute(update(Meme).where(Meme.id == meme_id).values(status="failed", failure_reason=reason))


def memes_missing_vectors(session: Session, encoder_id: str) -> list[int]:
    """Ids of memes with no vector for `encoder_id` (failed images excluded), newest first."""
    has_vector = exists().where(Embedding.meme_id == Meme.id, Embedding.encoder == encoder_id)
    query = select(Meme.id).where(Meme.status != "failed", ~has_vector).order_by(Meme.added_at.desc(), Meme.id.desc())
    return list(session.scalars(query))


def chunked(ids: Iterable[int], size: int) -> list[list[int]]:
    items = list(ids)
    return [items[start : start + size] for start in range(0, len(items), size)]
