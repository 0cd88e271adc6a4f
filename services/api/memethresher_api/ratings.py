"""Storing, changing and undoing ratings, and asking for a retrain once enough have arrived.

A save is one transaction of Core statements built once, reading and writing plain columns (it runs
on every judgement): claim the acquisition pair, insert the rating, and count when a retrain may be
asked for. Claiming first, with one conditional UPDATE, makes two saves of one pair arriving together
(a retry, a second tab) store one rating: the second waits only for the first to commit, then finds
the pair rated and answers with the rating already stored, without a write of its own.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from memethresher_shared import coordination
from memethresher_shared.db import get_engine
from memethresher_shared.models import AcquisitionPair, Meme, ModelVersion, Rating, RatingEdit, utcnow
from memethresher_shared.observability import record_rating
from memethresher_shared.rating_events import rating_events
from sqlalchemy import Connection, Integer, Select, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from memethresher_api.errors import InvalidField
from memethresher_api.schemas import RatingIn, RatingOut
from memethresher_api.settings import ApiSettings

log = logging.getLogger(__name__)

OVERALL = "overall"
# Saves run on a plain connection; a test may pass a session.
Database = Session | Connection
# A stored rating's fields as the API names them, and their columns.
RATING_COLUMNS = {
    "id": Rating.id, "a": Rating.a_id, "b": Rating.b_id, "choice": Rating.choice, "axis": Rating.axis,
    "origin": Rating.origin, "pair_id": Rating.acquisition_pair_id, "created_at": Rating.created_at,
}  # fmt: skip


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


def new_rating_out(rating_id: int, body: RatingIn, axis: str, pair_id: int | None, created_at: datetime) -> RatingOut:
    """A rating just stored, as the API shows it (built from what was sent, not read back)."""
    origin = "acquisition" if pair_id is not None else "random"
    return RatingOut(
        id=rating_id, a=body.a, b=body.b, choice=body.choice, axis=axis, origin=origin, pair_id=pair_id,
        created_at=created_at,
    )  # fmt: skip


@functools.cache
def _statements() -> dict[str, Any]:
    """The rating's statements, built once: they run on every save."""
    a, b = bindparam("a", type_=Integer), bindparam("b", type_=Integer)
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
        "earlier": select(*RATING_COLUMNS.values())
        .where(Rating.acquisition_pair_id == bindparam("pair_id"), Rating.axis == bindparam("axis"))
        .limit(1),
        "insert": insert(Rating).returning(Rating.id),
        "mark_rated": claim.where(AcquisitionPair.id == bindparam("pair_id")),
    }


def _claim_pair(db: Database, body: RatingIn) -> tuple[int | None, str]:
    """The acquisition pair this rating answers (the one named, else a pending one of the same memes)
    and its status before this save; a pending pair is marked rated at once."""
    statements = _statements()
    if body.pair_id is None:
        claimed = db.execute(statements["claim_pending"], {"a": body.a, "b": body.b}).scalar()
        return claimed, "pending"
    parameters = {"pair_id": body.pair_id, "a": body.a, "b": body.b}
    if db.execute(statements["claim_named"], parameters).scalar() is not None:
        return body.pair_id, "pending"
    row = db.execute(statements["named_pair"], parameters).first()
    if row is None or {row.a_id, row.b_id} != {body.a, body.b}:
        message = f"acquisition pair {body.pair_id} is not a pair of memes {body.a} and {body.b}"
        raise InvalidField(message, "body", "pair_id")
    return body.pair_id, row.status


def rating_axis(body: RatingIn, axes: list[str]) -> str:
    """The axis the rating is on; refuses an unknown axis and a meme rated against itself."""
    axis = body.axis or OVERALL
    if axis != OVERALL and axis not in axes:
        raise InvalidField(f"unknown axis {axis!r}; configured: {[OVERALL, *axes]}", "body", "axis")
    if body.a == body.b:
        raise InvalidField("a meme cannot be rated against itself; 'a' and 'b' must differ", "body", "b")
    return axis


def store_rating(db: Database, body: RatingIn, axes: list[str]) -> tuple[RatingOut, bool]:
    """Store one rating in the caller's transaction; returns it and whether it is new (a retried
    save of a rated pair is not). An unknown meme raises the foreign key's IntegrityError."""
    axis = rating_axis(body, axes)
    pair_id, status = _claim_pair(db, body)
    if pair_id is not None and status == "rated":
        earlier = db.execute(_statements()["earlier"], {"pair_id": pair_id, "axis": axis}).first()
        if earlier is not None:
            return RatingOut(**dict(zip(RATING_COLUMNS, earlier, strict=True))), False
    origin = "acquisition" if pair_id is not None else "random"
    created_at = utcnow()
    values: dict[str, Any] = {"a_id": body.a, "b_id": body.b, "choice": body.choice, "axis": axis, "origin": origin}
    values |= {"acquisition_pair_id": pair_id, "created_at": created_at}
    rating_id = db.execute(_statements()["insert"], values).scalar_one()
    if pair_id is not None and status not in ("pending", "rated"):  # a skipped pair rated after all
        db.execute(_statements()["mark_rated"], {"pair_id": pair_id})
    return new_rating_out(rating_id, body, axis, pair_id, created_at), True


def unknown_meme(items: list[RatingIn]) -> InvalidField:
    """The refusal naming the first meme of these ratings that does not exist."""
    wanted = {meme_id for item in items for meme_id in (item.a, item.b)}
    with get_engine().connect() as connection:
        found = set(connection.scalars(select(Meme.id).where(Meme.id.in_(wanted))))
    for item in items:
        for field, meme_id in (("a", item.a), ("b", item.b)):
            if meme_id not in found:
                return InvalidField(f"no meme with id {meme_id}", "body", field)
    return InvalidField("a meme or acquisition pair of this rating was removed meanwhile; nothing was stored")


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
    session.add(RatingEdit(rating_id=rating.id, kind="undo", choice_before=rating.choice))
    session.delete(rating)
    return out


def change_rating(session: Session, rating: Rating, choice: str) -> RatingOut:
    """Give a rating a new choice; choosing what it already says changes nothing."""
    if choice != rating.choice:
        session.add(RatingEdit(rating_id=rating.id, kind="change", choice_before=rating.choice, choice_after=choice))
        rating.choice = choice
    return rating_out(rating)


@functools.cache
def _ratings_and_current_model_statement() -> Select[int, int | None]:
    """Built once: it runs in every rating's transaction. The rating events (new, changed or undone
    ratings), and those the newest version of the encoder saw (current or not: a pinned version
    stays current)."""
    current_n = (
        select(ModelVersion.n_ratings)
        .where(ModelVersion.encoder == bindparam("encoder"))
        .order_by(ModelVersion.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return select(rating_events(), current_n)


def save_ratings(
    items: list[RatingIn], encoder: str, axes: list[str], count: bool = True
) -> tuple[list[tuple[RatingOut, bool]], tuple[int, int] | None]:
    """Store the ratings committed (all or none); returns each with whether it is new, and if
    `count`, the numbers of ratings before them and at the newest model."""
    try:
        with get_engine().begin() as connection:
            # Counted before the ratings claim their pair, so the pair is held only for the insert
            # and commit; a count a moment stale is harmless (due means "at least `every` since").
            counts = rating_counts(connection, encoder) if count else None
            stored = [store_rating(connection, item, axes) for item in items]
    except IntegrityError:
        raise unknown_meme(items) from None  # the foreign keys refused it: nothing was stored
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


def rating_counts(db: Database, encoder: str) -> tuple[int, int]:
    """All rating events, and those the current model was trained on (one query)."""
    total, at_model = db.execute(_ratings_and_current_model_statement(), {"encoder": encoder}).one()
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
