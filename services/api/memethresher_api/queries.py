"""Reads shared by several pages: meme summaries, counts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from memethresher_shared.models import (
    AcquisitionBatch,
    AcquisitionPair,
    CurationItem,
    Embedding,
    Meme,
    ModelVersion,
    Rating,
    Score,
)
from memethresher_shared.settings import OVERALL
from memethresher_shared.versions import current_version
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from memethresher_api.schemas import MemeOut, StatsOut


def meme_out(meme: Meme) -> MemeOut:
    return meme_out_of(meme.id, meme.title, meme.subreddit)


def meme_out_of(meme_id: int, title: str | None, subreddit: str | None) -> MemeOut:
    """A meme as the API shows it, from plain columns (the rating loop reads no ORM objects)."""
    return MemeOut(
        id=meme_id,
        image_url=f"/api/memes/{meme_id}/image",
        thumb_url=f"/api/memes/{meme_id}/thumb/1024",
        title=title or "",
        subreddit=subreddit,
    )


def memes_by_id(session: Session, ids: Iterable[int]) -> dict[int, Meme]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {m.id: m for m in session.scalars(select(Meme).where(Meme.id.in_(wanted)))}


def _count(session: Session, statement) -> int:  # type: ignore[no-untyped-def]
    return int(session.scalar(statement) or 0)


def _count_by(session: Session, column, *where) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Rows counted per value of `column` (an axis)."""
    return {key: int(n) for key, n in session.execute(select(column, func.count()).where(*where).group_by(column))}


def stats(session: Session, encoder: str) -> StatsOut:
    model = current_version(session, encoder)
    scored_by_axis = _count_by(session, Score.axis, Score.model_version_id == model.id) if model else {}
    return StatsOut(
        memes=_count(session, select(func.count(Meme.id))),
        embedded=_count(session, select(func.count()).where(Embedding.encoder == encoder)),
        failed=_count(session, select(func.count(Meme.id)).where(Meme.status == "failed")),
        ratings=_count(session, select(func.count(Rating.id))),
        model_versions=_count(session, select(func.count(ModelVersion.id))),
        scored=scored_by_axis.get(OVERALL, 0),
        ratings_by_axis=_count_by(session, Rating.axis),
        scored_by_axis=scored_by_axis,
        curation_queued_by_axis=_count_by(session, CurationItem.axis, CurationItem.status == "pending"),
        curation_pending=_count(session, select(func.count(CurationItem.id)).where(CurationItem.status == "pending")),
        library=_count(session, select(func.count(CurationItem.id)).where(CurationItem.status == "kept")),
        stopping=(model.metrics or {}).get("stopping") if model else None,
    )


def ratings_since(session: Session, since: datetime) -> int:
    return _count(session, select(func.count(Rating.id)).where(Rating.created_at >= since))


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def start_of_today() -> datetime:
    now = datetime.now(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def pending_in_newest_batch(session: Session, encoder: str) -> int:
    """Pending pairs of the encoder's newest batch on each axis (a training chooses one per axis)."""
    newest = (
        select(func.max(AcquisitionBatch.id))
        .join(ModelVersion, ModelVersion.id == AcquisitionBatch.model_version_id)
        .where(ModelVersion.encoder == encoder)
        .group_by(AcquisitionBatch.axis)
    )
    return _count(
        session,
        select(func.count(AcquisitionPair.id)).where(
            AcquisitionPair.batch_id.in_(newest), AcquisitionPair.status == "pending"
        ),
    )
