"""Writing what the API reads: model versions and loss curves, scores, acquisition batches, curation."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
from memethresher_shared.db import upsert_insert
from memethresher_shared.models import (
    AcquisitionBatch,
    AcquisitionPair,
    CurationItem,
    ModelVersion,
    Score,
    TrainingMetric,
)
from memethresher_shared.settings import OVERALL
from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from memethresher_trainer.acquire import Proposal
from memethresher_trainer.train import EpochMetric


def add_version(
    session: Session, encoder: str, config: dict[str, Any], metrics: dict[str, Any], n_ratings: int
) -> ModelVersion:
    """A new, not yet current, model version; its artifact folder is filled in by the caller."""
    version = ModelVersion(encoder=encoder, config=config, metrics=metrics, artifact="", n_ratings=n_ratings)
    session.add(version)
    session.flush()
    return version


def add_curve(session: Session, version_id: int, curve: list[EpochMetric]) -> None:
    session.add_all(
        TrainingMetric(
            model_version_id=version_id,
            step=point.step,
            train_loss=point.train_loss,
            val_loss=point.val_loss,
            val_accuracy=point.val_accuracy,
        )
        for point in curve
    )


def make_current(session: Session, version: ModelVersion, chosen: bool = False) -> None:
    """Exactly one current version per encoder. A version the user `chosen` also takes over any pin;
    an automatic switch leaves pins alone (a pin set meanwhile wins at the next training)."""
    others = update(ModelVersion).where(ModelVersion.encoder == version.encoder, ModelVersion.id != version.id)
    session.execute(others.values(is_current=False, pinned=False) if chosen else others.values(is_current=False))
    version.is_current = True
    session.flush()


def upsert_scores(
    session: Session, version_id: int, axis: str, meme_ids: np.ndarray, mean: np.ndarray, spread: np.ndarray
) -> None:
    """Scores of one version on one axis; writing them again replaces them."""
    rows = [
        {"meme_id": int(m), "model_version_id": version_id, "axis": axis, "mean": float(s), "spread": float(u)}
        for m, s, u in zip(meme_ids, mean, spread, strict=True)
    ]
    table = cast(Table, Score.__table__)
    for start in range(0, len(rows), 2000):
        stmt = upsert_insert(session, table).values(rows[start : start + 2000])
        stmt = stmt.on_conflict_do_update(
            index_elements=["meme_id", "model_version_id", "axis"],
            set_={"mean": stmt.excluded.mean, "spread": stmt.excluded.spread},
        )
        session.execute(stmt)


def publish_batch(
    session: Session, version_id: int, proposal: Proposal, meme_ids: np.ndarray, axis: str = OVERALL
) -> int | None:
    """A new acquisition batch on `axis`; pairs still pending from the encoder's older batches of that
    axis become superseded (the newer model chose with more ratings), apart from the pairs the user skipped."""
    if len(proposal.a) == 0:
        return None
    encoder = select(ModelVersion.encoder).where(ModelVersion.id == version_id).scalar_subquery()
    same_encoder = (
        select(AcquisitionBatch.id)
        .join(ModelVersion, ModelVersion.id == AcquisitionBatch.model_version_id)
        .where(ModelVersion.encoder == encoder, AcquisitionBatch.axis == axis)
    )
    session.execute(
        update(AcquisitionPair)
        .where(AcquisitionPair.status == "pending", AcquisitionPair.batch_id.in_(same_encoder))
        .values(status="superseded")
        .execution_options(synchronize_session=False)
    )
    batch = AcquisitionBatch(model_version_id=version_id, strategy=proposal.strategy, axis=axis)
    session.add(batch)
    session.flush()
    session.add_all(
        AcquisitionPair(
            batch_id=batch.id,
            a_id=int(meme_ids[a]),
            b_id=int(meme_ids[b]),
            position=i,
            acquisition=float(value),
        )
        for i, (a, b, value) in enumerate(zip(proposal.a, proposal.b, proposal.value, strict=True))
    )
    return batch.id


def queue_for_curation(
    session: Session, version_id: int, meme_ids: list[int], scores: list[float], axis: str = OVERALL
) -> None:
    """Pending curation items queued by `axis`' threshold; a meme already queued (by another axis or a
    concurrent scorer) is left as it is."""
    if not meme_ids:
        return
    rows = [
        {"meme_id": m, "model_version_id": version_id, "axis": axis, "score": s, "status": "pending"}
        for m, s in zip(meme_ids, scores, strict=True)
    ]
    stmt = upsert_insert(session, CurationItem).values(rows).on_conflict_do_nothing(index_elements=["meme_id"])
    session.execute(stmt)
