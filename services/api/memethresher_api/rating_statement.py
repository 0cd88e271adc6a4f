"""A rating saved in one PostgreSQL statement: the rating loop's common case.

Claiming the acquisition pair, inserting the rating and reading the counts a retrain decision needs
are one data-modifying statement, run outside an explicit transaction: PostgreSQL commits it (durably,
as `synchronous_commit` says) before answering, in one round trip instead of five (BEGIN, count,
claim, insert, COMMIT). Anything unusual (a pair already rated or skipped, an unknown meme) changes
nothing here and is answered by `ratings.store_rating` in a transaction, with its errors.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from memethresher_shared.models import utcnow
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from memethresher_api.schemas import RatingIn, RatingOut

SAME_MEMES = "((a_id = %(a)s AND b_id = %(b)s) OR (a_id = %(b)s AND b_id = %(a)s))"
# The counts are read in the statement's snapshot, so they do not include the new rating.
COUNTS = """
SELECT stored.id, stored.acquisition_pair_id,
       (SELECT count(*) FROM ratings),
       (SELECT n_ratings FROM model_versions WHERE encoder = %(encoder)s AND is_current
        ORDER BY id DESC LIMIT 1)
FROM stored
"""
NO_COUNTS = "SELECT stored.id, stored.acquisition_pair_id, NULL, NULL FROM stored"
INSERT = """
INSERT INTO ratings (a_id, b_id, choice, axis, origin, acquisition_pair_id, created_at)
"""
# The pair the page named, if it is still pending and holds these two memes.
NAMED_PAIR = """
WITH claimed AS (
    UPDATE acquisition_pairs SET status = 'rated'
    WHERE id = %(pair_id)s AND status = 'pending' AND {same_memes}
    RETURNING id
), stored AS (
    {insert}
    SELECT %(a)s, %(b)s, %(choice)s, %(axis)s, 'acquisition', claimed.id, %(created_at)s FROM claimed
    RETURNING id, acquisition_pair_id
)
{select}
"""
# No pair named: the newest pending pair of these memes if there is one, else a random pair's rating.
ANY_PAIR = """
WITH claimed AS (
    UPDATE acquisition_pairs SET status = 'rated'
    WHERE status = 'pending' AND id = (
        SELECT id FROM acquisition_pairs WHERE status = 'pending' AND {same_memes}
        ORDER BY batch_id DESC LIMIT 1
    )
    RETURNING id
), stored AS (
    {insert}
    SELECT %(a)s, %(b)s, %(choice)s, %(axis)s,
           CASE WHEN claimed.id IS NULL THEN 'random' ELSE 'acquisition' END, claimed.id, %(created_at)s
    FROM (SELECT 1) AS one LEFT JOIN claimed ON true
    RETURNING id, acquisition_pair_id
)
{select}
"""


STATEMENTS = {
    (named, count): template.format(same_memes=SAME_MEMES, insert=INSERT, select=COUNTS if count else NO_COUNTS)
    for named, template in ((True, NAMED_PAIR), (False, ANY_PAIR))
    for count in (True, False)
}


class Saved(NamedTuple):
    rating: RatingOut
    counts: tuple[int, int] | None  # every rating before this one, and those the current model saw


def save(engine: Engine, body: RatingIn, axis: str, encoder: str, count: bool = True) -> Saved | None:
    """Store a valid new rating (axis checked, two different memes) committed, with the counts if
    asked; None when this is not the common case and nothing was changed."""
    if engine.dialect.name != "postgresql":
        return None
    created_at = utcnow()
    parameters = {"a": body.a, "b": body.b, "choice": body.choice, "axis": axis, "encoder": encoder}
    parameters |= {"pair_id": body.pair_id, "created_at": created_at}
    statement = STATEMENTS[body.pair_id is not None, count]
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            row = connection.exec_driver_sql(statement, parameters).first()
    except IntegrityError:
        return None  # an unknown meme: the transactional path names it in a 422
    if row is None:
        return None
    rating_id, pair_id, before, at_model = row
    counts = (int(before), int(at_model or 0)) if count else None
    return Saved(new_rating_out(rating_id, body, axis, pair_id, created_at), counts)


def new_rating_out(rating_id: int, body: RatingIn, axis: str, pair_id: int | None, created_at: datetime) -> RatingOut:
    """A rating just stored, as the API shows it (built from what was sent, not read back)."""
    return RatingOut(
        id=rating_id,
        a=body.a,
        b=body.b,
        choice=body.choice,
        axis=axis,
        origin="acquisition" if pair_id is not None else "random",
        pair_id=pair_id,
        created_at=created_at,
    )
