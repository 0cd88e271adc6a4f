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
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, cast

from memethresher_shared import coordination
from memethresher_shared.db import get_engine
from memethresher_shared.encoder_state import serving_encoder
from memethresher_shared.models import AcquisitionPair, Meme, ModelVersion, Rating, RatingEdit, utcnow
from memethresher_shared.observability import record_rating
from memethresher_shared.rating_events import rating_events
from sqlalchemy import (
    CTE,
    ColumnElement,
    Connection,
    FromClause,
    Insert,
    Integer,
    Select,
    Table,
    bindparam,
    case,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
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
# Inserts go to the table, not the mapped class: given parameters, a session would take an insert
# of the class for an ORM bulk insert.
RATINGS = cast(Table, Rating.__table__)


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
    # The pair named is claimed unless rated already: a skipped or superseded pair rated after all.
    claim_named = claim.where(AcquisitionPair.id == bindparam("pair_id"), AcquisitionPair.status != "rated", same_memes)
    claim_pending = claim.where(AcquisitionPair.id == newest_pending, AcquisitionPair.status == "pending")
    return {
        "claim_named": claim_named,
        "claim_pending": claim_pending,
        "save_named": _insert_claimed(claim_named.cte("claimed"), named=True),
        "save_pending": _insert_claimed(claim_pending.cte("claimed"), named=False),
        "named_pair": select(AcquisitionPair.a_id, AcquisitionPair.b_id, AcquisitionPair.status).where(
            AcquisitionPair.id == bindparam("pair_id")
        ),
        "earlier": select(*RATING_COLUMNS.values())
        .where(Rating.acquisition_pair_id == bindparam("pair_id"), Rating.axis == bindparam("axis"))
        .limit(1),
        "insert": insert(RATINGS).returning(Rating.id),
    }


INSERTED = [
    Rating.a_id,
    Rating.b_id,
    Rating.choice,
    Rating.axis,
    Rating.origin,
    Rating.acquisition_pair_id,
    Rating.created_at,
]


def _insert_claimed(claimed: CTE, named: bool) -> Insert:
    """Claim and insert in one statement (PostgreSQL: an UPDATE in a WITH): the rating of the pair
    claimed; with a pair named, nothing when it was not claimable, else a random pair's rating when
    no pending pair of these memes was there."""
    origin: ColumnElement[str] = literal("acquisition")
    source: FromClause = claimed
    if not named:
        origin = case((claimed.c.id.is_(None), "random"), else_="acquisition")
        one = select(literal(1).label("one")).subquery("one")
        source = one.outerjoin(claimed, true())
    values = select(
        bindparam("a", type_=Integer),
        bindparam("b", type_=Integer),
        bindparam("choice", type_=Rating.choice.type),
        bindparam("axis", type_=Rating.axis.type),
        origin,
        claimed.c.id,
        bindparam("rated_at", type_=Rating.created_at.type),
    ).select_from(source)
    inserted = insert(RATINGS).from_select(INSERTED, values).returning(Rating.id, Rating.acquisition_pair_id)
    return inserted.add_cte(claimed)


def _folds_claim(db: Database) -> bool:
    """Whether the database takes the claim inside the insert (a data-modifying WITH)."""
    bind = db.get_bind() if isinstance(db, Session) else db
    return bind.dialect.name == "postgresql"


def _claim_and_insert(db: Database, body: RatingIn, values: dict[str, Any]) -> tuple[int, int | None] | None:
    """Claim the pair this rating answers (the one named, else the newest pending one of these
    memes) and insert the rating: the rating's id and pair, or None when the pair named could not
    be claimed (rated already, or not a pair of these memes) and nothing was stored.

    On PostgreSQL one statement, one round trip: a single rating commits without BEGIN and COMMIT.
    SQLite, in process, runs the same two steps as two statements in the caller's transaction."""
    statements = _statements()
    if _folds_claim(db):
        row = db.execute(statements["save_named" if body.pair_id else "save_pending"], values).first()
        return None if row is None else (row[0], row[1])
    pair_id = db.execute(statements["claim_named" if body.pair_id else "claim_pending"], values).scalar()
    if pair_id is None and body.pair_id is not None:
        return None
    return db.execute(statements["insert"], _row(values, pair_id)).scalar_one(), pair_id


def _row(values: dict[str, Any], pair_id: int | None) -> dict[str, Any]:
    """The rating's columns for the plain insert."""
    origin = "acquisition" if pair_id is not None else "random"
    row = {"a_id": values["a"], "b_id": values["b"], "choice": values["choice"], "axis": values["axis"]}
    return row | {"origin": origin, "acquisition_pair_id": pair_id, "created_at": values["rated_at"]}


def rating_axis(body: RatingIn, axes: list[str]) -> str:
    """The axis the rating is on; refuses an unknown axis and a meme rated against itself."""
    axis = body.axis or OVERALL
    if axis != OVERALL and axis not in axes:
        raise InvalidField(f"unknown axis {axis!r}; configured: {[OVERALL, *axes]}", "body", "axis")
    if body.a == body.b:
        raise InvalidField("a meme cannot be rated against itself; 'a' and 'b' must differ", "body", "b")
    return axis


def store_rating(db: Database, body: RatingIn, axes: list[str]) -> tuple[RatingOut, bool]:
    """Store one rating (in the caller's transaction, if any); returns it and whether it is new (a
    retried save of a rated pair is not). An unknown meme raises the foreign key's IntegrityError."""
    axis = rating_axis(body, axes)
    created_at = utcnow()
    # Named unlike any column: a DML statement takes parameters named as its table's columns as
    # values to set, and the claim's UPDATE would set them on the pair.
    values = {
        "a": body.a,
        "b": body.b,
        "pair_id": body.pair_id,
        "choice": body.choice,
        "axis": axis,
        "rated_at": created_at,
    }
    stored = _claim_and_insert(db, body, values)
    if stored is None:  # the pair named was rated already, or is not theirs
        return _rated_pair(db, body, values)
    return new_rating_out(stored[0], body, axis, stored[1], created_at), True


def claim_pair(db: Database, a: int, b: int, pair_id: int | None) -> int | None:
    """Mark rated the pair a rating of memes `a` and `b` answers, as a save does: the one named
    (unless rated already or not of these memes), else the newest pending one of these memes. Its
    id, or None when none was claimed."""
    statement = _statements()["claim_named" if pair_id is not None else "claim_pending"]
    return cast(int | None, db.execute(statement, {"a": a, "b": b, "pair_id": pair_id}).scalar())


def refuse_unless_pair_of(db: Database, pair_id: int, a: int, b: int, field: str = "pair_id") -> None:
    """A 422 naming `field` unless acquisition pair `pair_id` is a pair of memes `a` and `b`."""
    row = db.execute(_statements()["named_pair"], {"pair_id": pair_id}).first()
    if row is None or {row.a_id, row.b_id} != {a, b}:
        raise InvalidField(f"acquisition pair {pair_id} is not a pair of memes {a} and {b}", "body", field)


def _rated_pair(db: Database, body: RatingIn, values: dict[str, Any]) -> tuple[RatingOut, bool]:
    """A rating naming a pair it could not claim: refused if the pair is not of these memes; else the
    rating already stored on its axis (a retry, a second tab), or a new one on another axis."""
    refuse_unless_pair_of(db, cast(int, body.pair_id), body.a, body.b)  # only a named pair fails to be claimed
    earlier = db.execute(_statements()["earlier"], values).first()
    if earlier is not None:
        return RatingOut(**dict(zip(RATING_COLUMNS, earlier, strict=True))), False
    rating_id = db.execute(_statements()["insert"], _row(values, body.pair_id)).scalar_one()
    return new_rating_out(rating_id, body, values["axis"], body.pair_id, values["rated_at"]), True


def memes_named(items: list[RatingIn]) -> list[tuple[str, int]]:
    """The memes these ratings name, each with the field that names it."""
    return [(field, meme_id) for item in items for field, meme_id in (("a", item.a), ("b", item.b))]


def unknown_meme(named: list[tuple[str, int]]) -> InvalidField:
    """The refusal naming the first of these (field, meme id) whose meme does not exist."""
    with get_engine().connect() as connection:
        found = set(connection.scalars(select(Meme.id).where(Meme.id.in_({meme_id for _, meme_id in named}))))
    for field, meme_id in named:
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


def _saving_connection(ratings: int) -> AbstractContextManager[Connection]:
    """One rating on PostgreSQL is one statement, atomic by itself: no BEGIN and COMMIT round trips.
    Several ratings (all or none), and SQLite's two statements a rating, take a transaction."""
    engine = get_engine()
    if ratings == 1 and engine.dialect.name == "postgresql":
        return engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    return engine.begin()


# Stores ratings on the connection given (in its transaction): each with whether it is new.
StoreRatings = Callable[[Connection], list[tuple[RatingOut, bool]]]


def save_ratings(
    store: StoreRatings, named: list[tuple[str, int]], ratings: int, encoder: str, count: bool = True
) -> tuple[list[tuple[RatingOut, bool]], tuple[int, int] | None]:
    """Store `ratings` ratings committed (all or none), refusing one of the `named` memes that does
    not exist; returns each with whether it is new, and if `count`, the numbers of ratings before
    them and at the newest model."""
    try:
        with _saving_connection(ratings) as connection:
            # Counted before the ratings claim their pair, so the pair is held only for the insert
            # and commit; a count a moment stale is harmless (due means "at least `every` since").
            counts = rating_counts(connection, encoder) if count else None
            stored = store(connection)
    except IntegrityError:
        raise unknown_meme(named) from None  # the foreign keys refused it: nothing was stored
    return stored, counts


def store_and_maybe_retrain(items: list[RatingIn], settings: ApiSettings, retrain: RetrainRequests) -> list[RatingOut]:
    """Store the ratings committed, then ask for a retrain if one is due (same thread, no second hop)."""

    def store(connection: Connection) -> list[tuple[RatingOut, bool]]:
        return [store_rating(connection, item, settings.rating_axes) for item in items]

    return saved_and_maybe_retrain(store, memes_named(items), len(items), settings, retrain)


def saved_and_maybe_retrain(
    store: StoreRatings, named: list[tuple[str, int]], ratings: int, settings: ApiSettings, retrain: RetrainRequests
) -> list[RatingOut]:
    """Store ratings committed (see `save_ratings`), then ask for a retrain if one is due."""
    encoder = serving_encoder(settings.embedder)
    may_ask = retrain.may_ask(encoder)
    stored, counts = save_ratings(store, named, ratings, encoder, count=may_ask)
    for rating, _ in stored:
        record_rating(rating.choice, rating.origin)
    new = sum(1 for _, is_new in stored if is_new)
    if counts is not None:  # after the commit: the ratings are safe
        retrain.ask_if_due(encoder, counts[0] + new, counts[1], settings.retrain_every)
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

    def ask_if_due(self, encoder: str, events: int, at_model: int, every: int) -> None:
        """Ask once `every` rating events have come since those the current model was trained on."""
        if coordination.retrain_due(events, at_model, every):
            self.ask(encoder)

    def ask(self, encoder: str) -> None:
        if self.may_ask(encoder):
            self._asked[encoder] = self._clock()  # two threads racing here both ask: harmless, it coalesces
            request_retrain_quietly(encoder)
