"""Reading what training needs from the database: vectors of one encoder, ratings, rated pairs, and
the keeps and discards of the curation queue (evaluation labels stay out: they measure the model)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from memethresher_shared.models import CurationItem, Embedding, Meme, ModelVersion, Rating, Score
from memethresher_shared.rating_events import rating_events
from memethresher_shared.settings import OVERALL
from memethresher_shared.vectors import from_stored
from memethresher_shared.versions import current_version as current_version
from sqlalchemy import select
from sqlalchemy.orm import Session

from memethresher_trainer.model import EnsembleConfig
from memethresher_trainer.train import Pairs, threshold_rows


@dataclass
class Vectors:
    """Embedded memes of one encoder: ids (N,) and unit vectors (N, D) in the same order."""

    ids: np.ndarray
    matrix: np.ndarray

    def index(self) -> dict[int, int]:
        return {int(meme_id): i for i, meme_id in enumerate(self.ids)}


def load_vectors(session: Session, encoder: str, meme_ids: Iterable[int] | None = None) -> Vectors:
    """Vectors of `encoder`, by meme id; vectors of another dimension than the majority are skipped."""
    query = select(Embedding.meme_id, Embedding.dim, Embedding.vector).where(Embedding.encoder == encoder)
    if meme_ids is not None:
        query = query.where(Embedding.meme_id.in_(list(meme_ids)))
    rows = session.execute(query.order_by(Embedding.meme_id)).all()
    if not rows:
        return Vectors(np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32))
    dims = np.array([row.dim for row in rows])
    dim = int(np.bincount(dims).argmax())
    rows = [row for row in rows if row.dim == dim]
    ids = np.array([row.meme_id for row in rows], dtype=np.int64)
    matrix = np.stack([from_stored(row.vector, dim) for row in rows])
    return Vectors(ids, matrix)


@dataclass
class RatingSnapshot:
    """The ratings and decisions one training read: the usable ones as pairs (keeps and discards as
    threshold rows), and what identifies the snapshot."""

    pairs: Pairs
    # The rating events (new, changed or undone ratings, keeps, discards and their undos) up to this
    # snapshot: the number the API compares with to decide a retrain (`rating_events`).
    n_ratings: int
    last_rating: int  # the newest rating id read (0 when none)
    decisions: int = 0  # threshold rows from keeps and discards in the curation queue
    library: int = 0  # threshold rows from memes the person put in the library folder themselves

    @property
    def rated_pairs(self) -> int:
        return len(self.pairs) - self.decisions - self.library


def load_pairs(session: Session, vectors: Vectors, config: EnsembleConfig) -> RatingSnapshot:
    """Every rating and decision, read once: ratings over two memes with vectors, on a trained axis,
    become soft-target pairs; keeps and discards of memes with vectors, threshold rows."""
    where = vectors.index()
    axes = {name: i for i, name in enumerate(config.axes)}
    a, b, target, axis = [], [], [], []
    # Counted before the rows: an event landing between them is counted by the next training, never lost.
    events = session.scalar(select(rating_events())) or 0
    rows = session.execute(select(Rating.id, Rating.a_id, Rating.b_id, Rating.choice, Rating.axis)).all()
    for row in rows:
        if row.a_id not in where or row.b_id not in where or row.axis not in axes:
            continue
        if row.choice not in config.targets or row.a_id == row.b_id:
            continue
        a.append(where[row.a_id])
        b.append(where[row.b_id])
        target.append(config.targets[row.choice])
        axis.append(axes[row.axis])
    rated = Pairs(np.array(a), np.array(b), np.array(target), np.array(axis))
    decided, library = load_decisions(session, where, axes, config)
    pairs = Pairs.join(rated, decided, library)
    return RatingSnapshot(pairs, events, max((row.id for row in rows), default=0), len(decided), len(library))


def load_decisions(
    session: Session, where: dict[int, int], axes: dict[str, int], config: EnsembleConfig
) -> tuple[Pairs, Pairs]:
    """Threshold rows: each kept or discarded meme with a vector, on the axis that queued it; and, if
    `config.library_keeps`, each library-folder meme that never went through the queue, kept on overall
    (the person put it there because they like it)."""
    rows = session.execute(select(CurationItem.meme_id, CurationItem.status, CurationItem.axis)).all()
    decided = [
        (where[row.meme_id], config.keep_target if row.status == "kept" else config.discard_target, axes[row.axis])
        for row in rows
        if row.status in ("kept", "discarded") and row.meme_id in where and row.axis in axes
    ]
    library: list[tuple[int, float, int]] = []
    if config.library_keeps and OVERALL in axes:
        queued = {row.meme_id for row in rows}
        ids = session.execute(select(Meme.id).where(Meme.in_library.is_(True)).order_by(Meme.id)).scalars()
        library = [(where[i], config.keep_target, axes[OVERALL]) for i in ids if i in where and i not in queued]
    return threshold_rows(decided), threshold_rows(library)


def rated_pairs(session: Session, vectors: Vectors) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs never to propose again: every rated pair."""
    where = vectors.index()
    rows = session.execute(select(Rating.a_id, Rating.b_id)).all()
    pairs = [(where[r.a_id], where[r.b_id]) for r in rows if r.a_id in where and r.b_id in where]
    if not pairs:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    arr = np.array(pairs, dtype=np.int64)
    return arr[:, 0], arr[:, 1]


def newest_version(session: Session, encoder: str) -> ModelVersion | None:
    """The latest training of `encoder`, current or not."""
    query = select(ModelVersion).where(ModelVersion.encoder == encoder)
    return session.execute(query.order_by(ModelVersion.id.desc())).scalars().first()


def pinned_version(session: Session, encoder: str) -> ModelVersion | None:
    """The version the user pinned for `encoder`: automatic retrains do not replace it."""
    query = select(ModelVersion).where(ModelVersion.encoder == encoder, ModelVersion.pinned.is_(True))
    return session.execute(query.order_by(ModelVersion.id.desc())).scalars().first()


def version_scores(session: Session, version_id: int, axis: str = OVERALL) -> np.ndarray:
    query = select(Score.mean).where(Score.model_version_id == version_id, Score.axis == axis)
    rows = session.execute(query).scalars().all()
    return np.array(rows, dtype=np.float64)


def queued_memes(session: Session) -> set[int]:
    """Memes never to queue: in the curation queue in any state, or already in the library folder."""
    queued = set(session.execute(select(CurationItem.meme_id)).scalars().all())
    return queued | set(session.execute(select(Meme.id).where(Meme.in_library.is_(True))).scalars().all())


def curation_blockers(session: Session, encoder: str) -> np.ndarray:
    """Vectors of memes kept or waiting in the queue, and of the library folder's: new picks must not
    duplicate them."""
    waiting = select(CurationItem.meme_id).where(CurationItem.status.in_(("kept", "pending")))
    library = select(Meme.id).where(Meme.in_library.is_(True))
    ids = session.execute(waiting.union(library)).scalars().all()
    return load_vectors(session, encoder, ids).matrix if ids else np.zeros((0, 0), dtype=np.float32)
