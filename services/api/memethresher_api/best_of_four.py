"""Best of four: one choice among the memes of two offered pairs, stored as the comparisons it implies.

Picking the best of four memes is a Plackett-Luce top-1 choice. Broken at its winner it says that
the winner beats each of the other three, and nothing about how those three compare among
themselves: three ratings, the winner as `a`. Under Plackett-Luce, given that the choice fell on one
of two memes, it fell on each with exactly its Bradley-Terry probability, so a Bradley-Terry fit of
them stays consistent: the trainer reads them as any other rating. The three share one judgement,
though, and weigh as three independent ones would.

Each is stored as "a" (better), not "a+" (much better): the choice says which meme is best, not by
how much; the runner-up may be close behind.

Both pairs are claimed as a pair rating claims its pair, and every rating names a pair: the winner
against its own partner names the winner's pair, the winner against the other two memes names the
other pair. So undoing the three ratings puts both pairs back to pending, and a retry finds the
answer by either pair.
"""

from __future__ import annotations

from memethresher_shared.models import Rating, utcnow
from sqlalchemy import Connection, insert, select

from memethresher_api import ratings
from memethresher_api.errors import InvalidField
from memethresher_api.ratings import RetrainRequests
from memethresher_api.schemas import BestOfFourIn, RatingOut
from memethresher_api.settings import ApiSettings

ORIGIN = "four"
WIN = "a"
# (winner, loser, index in `BestOfFourIn.pairs` of the pair the rating names)
Comparison = tuple[int, int, int]


def comparisons(body: BestOfFourIn) -> list[Comparison]:
    """The three comparisons of the answer; refuses a meme shown twice and a best one not shown."""
    shown = [meme for pair in body.pairs for meme in (pair.a, pair.b)]
    repeated = sorted({meme for meme in shown if shown.count(meme) > 1})
    if repeated:
        raise InvalidField(f"the four memes must differ; shown more than once: {repeated}", "body", "pairs")
    if body.best not in shown:
        raise InvalidField(f"the best meme {body.best} is not one of the four shown, {shown}", "body", "best")
    own = shown.index(body.best) // 2
    return [(body.best, meme, own if i // 2 == own else 1 - own) for i, meme in enumerate(shown) if meme != body.best]


def store_best_of_four(db: Connection, body: BestOfFourIn) -> list[tuple[RatingOut, bool]]:
    """Claim both pairs and store the three ratings (in the caller's transaction); each with whether
    it is new. An answer whose named pairs were all rated already, by an answer of best of four (a
    retry, a second tab), is answered with the ratings stored first, as for a pair."""
    beaten = comparisons(body)
    pair_ids, claimed_now = _claim_pairs(db, body)
    named = [pair.pair_id for pair in body.pairs if pair.pair_id is not None]
    if named and not claimed_now:
        earlier = _earlier_answer(db, named)
        if earlier:
            return [(rating, False) for rating in earlier]
    created_at = utcnow()
    rows = [
        {"a_id": winner, "b_id": loser, "choice": WIN, "axis": ratings.OVERALL, "origin": ORIGIN,
         "acquisition_pair_id": pair_ids[pair], "created_at": created_at}
        for winner, loser, pair in beaten
    ]  # fmt: skip
    # One statement for the three rows; the ids come back in the order of the rows.
    ids = db.execute(insert(ratings.RATINGS).returning(Rating.id, sort_by_parameter_order=True), rows).scalars()
    return [
        (RatingOut(id=rating_id, a=winner, b=loser, choice=WIN, axis=ratings.OVERALL, origin=ORIGIN,
                   pair_id=pair_ids[pair], created_at=created_at), True)
        for rating_id, (winner, loser, pair) in zip(ids, beaten, strict=True)
    ]  # fmt: skip


def _claim_pairs(db: Connection, body: BestOfFourIn) -> tuple[list[int | None], list[int]]:
    """Claim both pairs: the pair each rating names (the named one even if rated already), and those
    claimed now. A named pair that is not of its memes is refused."""
    pair_ids: list[int | None] = [pair.pair_id for pair in body.pairs]
    claimed_now = []
    # In id order: two answers naming the same two pairs wait for each other rather than deadlock.
    for index in sorted(range(len(body.pairs)), key=lambda i: body.pairs[i].pair_id or 0):
        pair = body.pairs[index]
        claimed = ratings.claim_pair(db, pair.a, pair.b, pair.pair_id)
        if claimed is not None:
            pair_ids[index] = claimed
            claimed_now.append(claimed)
        elif pair.pair_id is not None:
            ratings.refuse_unless_pair_of(db, pair.pair_id, pair.a, pair.b, field="pairs")
    return pair_ids, claimed_now


def _earlier_answer(db: Connection, pair_ids: list[int]) -> list[RatingOut]:
    """The ratings of the first best-of-four answer that named one of these pairs (its ratings share
    the winner and the moment they were stored); none if no such answer rated them."""
    columns = list(ratings.RATING_COLUMNS.values())
    first = db.execute(
        select(Rating.a_id, Rating.created_at)
        .where(Rating.acquisition_pair_id.in_(pair_ids), Rating.origin == ORIGIN, Rating.axis == ratings.OVERALL)
        .order_by(Rating.id)
        .limit(1)
    ).first()
    if first is None:
        return []
    rows = db.execute(
        select(*columns)
        .where(Rating.origin == ORIGIN, Rating.a_id == first.a_id, Rating.created_at == first.created_at)
        .order_by(Rating.id)
    )
    return [RatingOut(**dict(zip(ratings.RATING_COLUMNS, row, strict=True))) for row in rows]


def store_and_maybe_retrain(body: BestOfFourIn, settings: ApiSettings, retrain: RetrainRequests) -> list[RatingOut]:
    """Store the answer committed (three ratings, all or none), then ask for a retrain if one is due."""
    named = [("pairs", meme) for pair in body.pairs for meme in (pair.a, pair.b)]
    return ratings.saved_and_maybe_retrain(
        lambda connection: store_best_of_four(connection, body), named, 3, settings, retrain
    )
