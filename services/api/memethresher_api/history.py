"""The rating history: every stored rating, newest first, filtered and paged; changing or undoing
any of them, and asking for a retrain once enough edits and new ratings have arrived."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from memethresher_shared import coordination
from memethresher_shared.db import session_scope
from memethresher_shared.encoder_state import serving_encoder
from memethresher_shared.models import AcquisitionBatch, AcquisitionPair, Meme, Rating
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, aliased

from memethresher_api import queries, ratings
from memethresher_api.errors import NotFound
from memethresher_api.schemas import HistoryPageOut, HistoryRatingOut, RatingOut
from memethresher_api.settings import ApiSettings

MAX_PAGE = 200


@dataclass(frozen=True)
class HistoryFilter:
    """Which ratings a history page shows; `before` is the cursor (a rating id, older ones follow)."""

    axis: str | None = None
    origin: str | None = None
    choice: str | None = None
    meme: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    before: int | None = None
    limit: int = 50


def as_utc(moment: datetime) -> datetime:
    """Times are stored in UTC; one given without a zone is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _history_statement(wanted: HistoryFilter) -> Select:
    meme_a, meme_b = aliased(Meme), aliased(Meme)
    statement = (
        select(
            Rating,
            meme_a.title,
            meme_a.subreddit,
            meme_b.title,
            meme_b.subreddit,
            AcquisitionPair.batch_id,
            AcquisitionBatch.strategy,
        )  # fmt: skip
        .join(meme_a, meme_a.id == Rating.a_id)
        .join(meme_b, meme_b.id == Rating.b_id)
        .outerjoin(AcquisitionPair, AcquisitionPair.id == Rating.acquisition_pair_id)
        .outerjoin(AcquisitionBatch, AcquisitionBatch.id == AcquisitionPair.batch_id)
        .order_by(Rating.id.desc())
        .limit(wanted.limit + 1)  # one more tells whether an older page follows
    )
    for column, value in ((Rating.axis, wanted.axis), (Rating.origin, wanted.origin), (Rating.choice, wanted.choice)):
        if value is not None:
            statement = statement.where(column == value)
    if wanted.meme is not None:
        statement = statement.where(or_(Rating.a_id == wanted.meme, Rating.b_id == wanted.meme))
    if wanted.since is not None:
        statement = statement.where(Rating.created_at >= as_utc(wanted.since))
    if wanted.until is not None:
        statement = statement.where(Rating.created_at < as_utc(wanted.until))
    if wanted.before is not None:
        statement = statement.where(Rating.id < wanted.before)
    return statement


def rating_history(session: Session, wanted: HistoryFilter) -> HistoryPageOut:
    """One page of ratings, newest first."""
    rows = session.execute(_history_statement(wanted)).all()
    page = [
        HistoryRatingOut(
            id=rating.id,
            a=queries.meme_out_of(rating.a_id, a_title, a_subreddit),
            b=queries.meme_out_of(rating.b_id, b_title, b_subreddit),
            choice=rating.choice,
            axis=rating.axis,
            origin=rating.origin,
            pair_id=rating.acquisition_pair_id,
            batch_id=batch_id,
            strategy=strategy,
            created_at=rating.created_at,
        )  # fmt: skip
        for rating, a_title, a_subreddit, b_title, b_subreddit, batch_id, strategy in rows[: wanted.limit]
    ]
    more = len(rows) > wanted.limit
    return HistoryPageOut(ratings=page, next_before=page[-1].id if more else None)


Edit = Callable[[Session, Rating], RatingOut]


def edit_and_maybe_retrain(
    rating_id: int, edit: Edit, settings: ApiSettings, retrain: ratings.RetrainRequests
) -> RatingOut:
    """Apply `edit` to a stored rating and commit; then, like a new rating, ask for a retrain if
    enough rating events have arrived since the newest model."""
    with session_scope() as session:
        rating = session.get(Rating, rating_id)
        if rating is None:
            raise NotFound(f"no rating {rating_id}", "path", "rating_id")
        out = edit(session, rating)
        session.flush()
        events, at_model = ratings.rating_counts(session, serving_encoder(settings.embedder))
    # After the commit, so the training that starts reads the edit.
    if coordination.retrain_due(events, at_model, settings.retrain_every):
        retrain.ask(serving_encoder(settings.embedder))
    return out
