"""Storing and undoing ratings, and asking for a retrain once enough have arrived."""

from __future__ import annotations

import functools
import logging

from memethresher_shared import coordination
from memethresher_shared.models import AcquisitionPair, Meme, ModelVersion, Rating
from sqlalchemy import Select, bindparam, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from memethresher_api.deps import field_error
from memethresher_api.schemas import RatingIn, RatingOut

log = logging.getLogger(__name__)

OVERALL = "overall"


def rating_out(rating: Rating) -> RatingOut:
    return RatingOut(
        id=rating.id,
        a=rating.a_id,
        b=rating.b_id,
        choice=rating.choice,
        axis=rating.axis,
        origin=rating.origin,
        pair_id=rating.acquisition_pair_id,
        created_at=rating.created_at,
    )


def _check_memes(session: Session, body: RatingIn) -> None:
    found = set(session.scalars(select(Meme.id).where(Meme.id.in_([body.a, body.b]))))
    for field, meme_id in (("a", body.a), ("b", body.b)):
        if meme_id not in found:
            field_error("body", field, f"no meme with id {meme_id}")


def _matching_pair(session: Session, body: RatingIn) -> AcquisitionPair | None:
    """The acquisition pair this rating answers: the one named, else a pending one of the same memes.

    Locked (FOR UPDATE on PostgreSQL) until the rating commits: two saves of one pair arriving
    together (a retry, a second tab) then store one rating, the second seeing the pair rated,
    and only one of them waits for a durable commit."""
    if body.pair_id is not None:
        pair = session.get(AcquisitionPair, body.pair_id, with_for_update=True)
        if pair is None or {pair.a_id, pair.b_id} != {body.a, body.b}:
            field_error(
                "body",
                "pair_id",
                f"acquisition pair {body.pair_id} is not a pair of memes {body.a} and {body.b}",
            )
        return pair
    return session.scalar(
        select(AcquisitionPair)
        .where(
            AcquisitionPair.status == "pending",
            or_(
                (AcquisitionPair.a_id == body.a) & (AcquisitionPair.b_id == body.b),
                (AcquisitionPair.a_id == body.b) & (AcquisitionPair.b_id == body.a),
            ),
        )
        .order_by(AcquisitionPair.batch_id.desc())
        .limit(1)
        .with_for_update()
    )


def store_rating(session: Session, body: RatingIn, axes: list[str]) -> tuple[Rating, bool]:
    """Store one rating; returns it and whether it is new (a retried save of a rated pair is not)."""
    axis = body.axis or OVERALL
    if axis != OVERALL and axis not in axes:
        field_error("body", "axis", f"unknown axis {axis!r}; configured: {[OVERALL, *axes]}")
    if body.a == body.b:
        field_error("body", "b", "a meme cannot be rated against itself; 'a' and 'b' must differ")
    pair = _matching_pair(session, body)
    if pair is not None and pair.status == "rated":
        earlier = session.scalar(
            select(Rating).where(Rating.acquisition_pair_id == pair.id, Rating.axis == axis).limit(1)
        )
        if earlier is not None:
            return earlier, False
    rating = Rating(
        a_id=body.a,
        b_id=body.b,
        choice=body.choice,
        axis=axis,
        origin="acquisition" if pair is not None else "random",
        acquisition_pair_id=pair.id if pair is not None else None,
    )
    if pair is not None:
        pair.status = "rated"
    session.add(rating)
    try:
        session.flush()
    except IntegrityError:
        # The foreign keys refused an unknown meme: find which one, for the error message.
        session.rollback()
        _check_memes(session, body)
        raise
    return rating, True


def undo_rating(session: Session, rating: Rating) -> RatingOut:
    """Remove a rating; its acquisition pair goes back to pending so it is asked again."""
    out = rating_out(rating)
    if rating.acquisition_pair_id is not None:
        others = session.scalar(
            select(func.count(Rating.id)).where(
                Rating.acquisition_pair_id == rating.acquisition_pair_id, Rating.id != rating.id
            )
        )
        pair = session.get(AcquisitionPair, rating.acquisition_pair_id)
        if pair is not None and not others:
            pair.status = "pending"
    session.delete(rating)
    return out


@functools.cache
def _ratings_and_current_model_statement() -> Select[tuple[int, int | None]]:
    """Built once: it runs in every rating's transaction."""
    current_n = (
        select(ModelVersion.n_ratings)
        .where(ModelVersion.encoder == bindparam("encoder"), ModelVersion.is_current.is_(True))
        .order_by(ModelVersion.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return select(func.count(Rating.id), current_n)


def retrain_due_now(session: Session, encoder: str, every: int) -> bool:
    """Whether `every` ratings arrived since the current model (one query, in the rating's transaction)."""
    total, at_model = session.execute(_ratings_and_current_model_statement(), {"encoder": encoder}).one()
    return coordination.retrain_due(int(total), int(at_model or 0), every)


def request_retrain_quietly(encoder: str) -> None:
    """Queue a retrain (it coalesces); a broker hiccup is logged, never raised: the rating is stored."""
    try:
        coordination.request_retrain(coordination.redis_client(), encoder)
    except Exception:
        log.warning("could not request a retrain for %s; will ask again on the next rating", encoder, exc_info=True)
