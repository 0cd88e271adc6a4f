"""Storing and undoing ratings, and asking for a retrain once enough have arrived."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from memethresher_shared import coordination
from memethresher_shared.db import get_engine, session_scope
from memethresher_shared.models import AcquisitionPair, Meme, ModelVersion, Rating, utcnow
from memethresher_shared.observability import record_rating
from sqlalchemy import Select, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from memethresher_api import rating_statement
from memethresher_api.deps import field_error
from memethresher_api.schemas import RatingIn, RatingOut
from memethresher_api.settings import ApiSettings

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


@functools.cache
def _statements() -> dict[str, Any]:
    """The rating's statements, built once: they run on every save. Plain columns, not ORM objects."""
    a, b = bindparam("a"), bindparam("b")
    same_memes = or_(
        (AcquisitionPair.a_id == a) & (AcquisitionPair.b_id == b),
        (AcquisitionPair.a_id == b) & (AcquisitionPair.b_id == a),
    )
    newest_pending = (
        select(AcquisitionPair.id)
        .where(AcquisitionPair.status == "pending", same_memes)
        .order_by(AcquisitionPair.batch_id.desc())
        .limit(1)
        .scalar_subquery()
    )
    # synchronize_session=False: these sessions hold no AcquisitionPair objects to keep in step.
    claim = (
        update(AcquisitionPair)
        .values(status="rated")
        .returning(AcquisitionPair.id)
        .execution_options(synchronize_session=False)
    )
    return {
        "claim_named": claim.where(
            AcquisitionPair.id == bindparam("pair_id"), AcquisitionPair.status == "pending", same_memes
        ),
        "claim_pending": claim.where(AcquisitionPair.id == newest_pending, AcquisitionPair.status == "pending"),
        "named_pair": select(AcquisitionPair.a_id, AcquisitionPair.b_id, AcquisitionPair.status).where(
            AcquisitionPair.id == bindparam("pair_id")
        ),
        "insert": insert(Rating).returning(Rating.id),
        "mark_rated": claim.where(AcquisitionPair.id == bindparam("pair_id")),
    }


def _claim_pair(session: Session, body: RatingIn) -> tuple[int | None, str]:
    """The acquisition pair this rating answers (the one named, else a pending one of the same memes)
    and its status before this save; a pending pair is marked rated at once.

    Claim first, with one conditional UPDATE: two saves of one pair arriving together (a retry, a
    second tab) store one rating, the second waiting only for the first to commit and then seeing
    the pair rated, without a write (and a durable commit) of its own."""
    statements = _statements()
    if body.pair_id is None:
        claimed = session.execute(statements["claim_pending"], {"a": body.a, "b": body.b}).scalar()
        return claimed, "pending"
    parameters = {"pair_id": body.pair_id, "a": body.a, "b": body.b}
    if session.execute(statements["claim_named"], parameters).scalar() is not None:
        return body.pair_id, "pending"
    row = session.execute(statements["named_pair"], parameters).first()
    if row is None or {row.a_id, row.b_id} != {body.a, body.b}:
        field_error(
            "body",
            "pair_id",
            f"acquisition pair {body.pair_id} is not a pair of memes {body.a} and {body.b}",
        )
    return body.pair_id, row.status


def store_rating(session: Session, body: RatingIn, axes: list[str]) -> tuple[RatingOut, bool]:
    """Store one rating; returns it and whether it is new (a retried save of a rated pair is not)."""
    axis = body.axis or OVERALL
    if axis != OVERALL and axis not in axes:
        field_error("body", "axis", f"unknown axis {axis!r}; configured: {[OVERALL, *axes]}")
    if body.a == body.b:
        field_error("body", "b", "a meme cannot be rated against itself; 'a' and 'b' must differ")
    pair_id, status = _claim_pair(session, body)
    if pair_id is not None and status == "rated":
        earlier = session.scalar(
            select(Rating).where(Rating.acquisition_pair_id == pair_id, Rating.axis == axis).limit(1)
        )
        if earlier is not None:
            return rating_out(earlier), False
    origin = "acquisition" if pair_id is not None else "random"
    created_at = utcnow()
    values = {"a_id": body.a, "b_id": body.b, "choice": body.choice, "axis": axis, "origin": origin}
    values |= {"acquisition_pair_id": pair_id, "created_at": created_at}
    try:
        rating_id = session.execute(_statements()["insert"], values).scalar_one()
    except IntegrityError:
        # The foreign keys refused an unknown meme: find which one, for the error message.
        session.rollback()
        _check_memes(session, body)
        raise
    if pair_id is not None and status not in ("pending", "rated"):  # a skipped pair rated after all
        session.execute(_statements()["mark_rated"], {"pair_id": pair_id})
    return rating_statement.new_rating_out(rating_id, body, axis, pair_id, created_at), True


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


def save_ratings(
    items: list[RatingIn], encoder: str, axes: list[str], count: bool = True
) -> tuple[list[tuple[RatingOut, bool]], tuple[int, int] | None]:
    """Store the ratings committed (all or none); returns each with whether it is new, and if
    `count`, the numbers of ratings before them and at the current model."""
    if len(items) == 1:
        axis = items[0].axis or OVERALL
        if items[0].a != items[0].b and (axis == OVERALL or axis in axes):
            saved = rating_statement.save(get_engine(), items[0], axis, encoder, count)
            if saved is not None:
                return [(saved.rating, True)], saved.counts
    with session_scope() as session:
        # Counted before the ratings claim their pair, so the pair is held only for the insert and
        # commit; a count a moment stale is harmless (due means "at least `every` since the model").
        counts = rating_counts(session, encoder) if count else None
        stored = [store_rating(session, item, axes) for item in items]
    return stored, counts


def store_and_maybe_retrain(items: list[RatingIn], settings: ApiSettings, retrain: RetrainRequests) -> list[RatingOut]:
    """Store the ratings committed, then ask for a retrain if one is due (same thread, no second hop)."""
    may_ask = retrain.may_ask(settings.embedder)
    stored, counts = save_ratings(items, settings.embedder, settings.rating_axes, count=may_ask)
    for rating, _ in stored:
        record_rating(rating.choice, rating.origin)
    new = sum(1 for _, is_new in stored if is_new)
    if counts is not None and coordination.retrain_due(counts[0] + new, counts[1], settings.retrain_every):
        retrain.ask(settings.embedder)  # after the commit: the ratings are safe
    return [rating for rating, _ in stored]


def rating_counts(session: Session, encoder: str) -> tuple[int, int]:
    """All ratings, and those the current model was trained on (one query)."""
    total, at_model = session.execute(_ratings_and_current_model_statement(), {"encoder": encoder}).one()
    return int(total), int(at_model or 0)


def request_retrain_quietly(encoder: str) -> None:
    """Queue a retrain (it coalesces); a broker hiccup is logged, never raised: the rating is stored."""
    try:
        coordination.request_retrain(coordination.redis_client(), encoder)
    except Exception:
        log.warning("could not request a retrain for %s; will ask again on a later rating", encoder, exc_info=True)


class RetrainRequests:
    """Asks for a retrain at most once per `interval_s` per encoder (held by the app).

    While the trainer is busy or down every rating finds a retrain due, and each would ask the
    broker only to hear that one is queued already. Asking again after the interval keeps the
    promise that ratings arriving while a training runs queue the next one: the next rating after
    the interval asks, and a retrain is due only after `RETRAIN_EVERY` new ratings anyway."""

    def __init__(self, interval_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._asked: dict[str, float] = {}

    def may_ask(self, encoder: str) -> bool:
        """False for `interval_s` after asking: no need to count whether a retrain is due."""
        return self._clock() - self._asked.get(encoder, -self.interval_s) >= self.interval_s

    def ask(self, encoder: str) -> None:
        if self.may_ask(encoder):
            self._asked[encoder] = self._clock()  # two threads racing here both ask: harmless, it coalesces
            request_retrain_quietly(encoder)
