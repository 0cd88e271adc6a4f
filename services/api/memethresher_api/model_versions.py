"""Finding, pinning, unpinning, deleting and comparing model versions: the reads and writes behind
the Models page."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
from memethresher_shared.models import EvaluationLabel, ModelVersion, Rating, Score
from memethresher_shared.settings import OVERALL
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from memethresher_api import queries, version_compare
from memethresher_api.errors import Conflict, NotFound
from memethresher_api.evaluation_data import TOP_FRACTIONS

DISAGREEMENTS = 12


def get_version(session: Session, model_version_id: int) -> ModelVersion:
    version = session.get(ModelVersion, model_version_id)
    if version is None:
        raise NotFound(f"no model version {model_version_id}", "path", "model_version_id")
    return version


def pin_version(session: Session, version: ModelVersion) -> None:
    """Pin this version and unpin any other of its encoder: at most one is pinned per encoder."""
    session.execute(
        update(ModelVersion)
        .where(ModelVersion.encoder == version.encoder)
        .values(pinned=ModelVersion.id == version.id)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    session.refresh(version)


def unpin_version(session: Session, version: ModelVersion) -> None:
    version.pinned = False
    session.commit()


def delete_version(session: Session, version: ModelVersion, store: Path) -> None:
    """Remove a version that is neither current nor pinned, with its scores, curve and batches; its
    folder goes once the row is gone (only a folder inside the store's models/)."""
    if version.is_current:
        raise Conflict(f"model version {version.id} is the current one; make another current before deleting it")
    if version.pinned:
        raise Conflict(f"model version {version.id} is pinned; unpin it before deleting it")
    folder = Path(version.artifact).resolve() if version.artifact else None
    session.execute(delete(ModelVersion).where(ModelVersion.id == version.id))
    session.commit()
    if folder is not None and folder.is_relative_to((store / "models").resolve()) and folder.is_dir():
        shutil.rmtree(folder)


def _scores(session: Session, version_id: int) -> dict[int, float]:
    # Compared on the evaluation labels, which judge the meme overall.
    query = select(Score.meme_id, Score.mean).where(Score.model_version_id == version_id, Score.axis == OVERALL)
    rows = session.execute(query)
    return {meme_id: mean for meme_id, mean in rows}


def _held_out_labels(session: Session) -> dict[int, bool]:
    """Labels on memes in no rating (a rated meme may be training data for either version)."""
    rated = select(Rating.a_id).union(select(Rating.b_id))
    query = select(EvaluationLabel.meme_id, EvaluationLabel.good).where(EvaluationLabel.meme_id.not_in(rated))
    rows = session.execute(query)
    return {meme_id: good for meme_id, good in rows}


def compare(session: Session, a: ModelVersion, b: ModelVersion) -> dict[str, Any]:
    """Both versions on the held-out labels both scored, and the memes they disagree on most."""
    scores_a, scores_b = _scores(session, a.id), _scores(session, b.id)
    both = np.array(sorted(scores_a.keys() & scores_b.keys()), dtype=np.int64)
    labels = _held_out_labels(session)
    labelled = np.array([m for m in both if int(m) in labels], dtype=np.int64)
    good = np.array([labels[int(m)] for m in labelled], dtype=bool)
    sides = {}
    for name, version, scores in (("a", a, scores_a), ("b", b, scores_b)):
        labelled_scores = np.array([scores[int(m)] for m in labelled], dtype=np.float64)
        sides[name] = {"id": version.id, "encoder": version.encoder, "n_ratings": version.n_ratings,
                       **version_compare.on_labels(labelled_scores, good, TOP_FRACTIONS)}  # fmt: skip
    gaps = version_compare.disagreements(
        both, np.array([scores_a[int(m)] for m in both]), np.array([scores_b[int(m)] for m in both]), DISAGREEMENTS
    )
    memes = queries.memes_by_id(session, [g.meme_id for g in gaps])
    return {
        **sides,
        "labels": len(labelled),
        "good": int(good.sum()),
        "scored_by_both": len(both),
        "disagreements": [
            {
                "meme": queries.meme_out(memes[g.meme_id]).model_dump(),
                "percentile_a": g.percentile_a,
                "percentile_b": g.percentile_b,
                "good": labels.get(g.meme_id),
            }
            for g in gaps
            if g.meme_id in memes
        ],  # fmt: skip
    }
