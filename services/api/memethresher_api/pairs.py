"""Choosing the next pairs to rate: the pending pairs of the current acquisition batches, else random.

Each rating axis has its own batch per training; a new batch supersedes the pending pairs of the
encoder's older ones on its axis, so only the newest batch of each axis has pending pairs, unless a
training proposed none. The axes' batches take turns (each one's best pair, then each one's second,
...), so no axis waits for another's whole batch; asked for one axis, only that axis' pairs are served."""

from __future__ import annotations

import functools
import random
from collections.abc import Collection
from typing import Any

from memethresher_shared.models import AcquisitionBatch, AcquisitionPair, Embedding, Meme, ModelVersion, Rating
from sqlalchemy import Connection, Select, bindparam, func, select
from sqlalchemy.orm import Session, aliased

from memethresher_api.errors import NotEnoughMemes
from memethresher_api.queries import meme_out_of
from memethresher_api.schemas import PairOut

# The rating loop reads on a plain connection; other callers may pass a session.
Database = Session | Connection


@functools.cache
def _acquisition_statement(excluding: bool, one_axis: bool = False) -> Select[Any]:
    """The hot query of the rating loop, built once: choose the pairs first (LIMIT), then join only
    their memes, and read plain columns rather than ORM objects."""
    chosen = (
        select(
            AcquisitionPair.id,
            AcquisitionPair.batch_id,
            AcquisitionPair.a_id,
            AcquisitionPair.b_id,
            AcquisitionPair.acquisition,
            AcquisitionPair.position,
            AcquisitionBatch.strategy,
            AcquisitionBatch.model_version_id,
            AcquisitionBatch.axis,
        )
        .join(AcquisitionBatch, AcquisitionBatch.id == AcquisitionPair.batch_id)
        .join(ModelVersion, ModelVersion.id == AcquisitionBatch.model_version_id)
        .where(AcquisitionPair.status == "pending", ModelVersion.encoder == bindparam("encoder"))
        .order_by(AcquisitionPair.position, AcquisitionPair.batch_id.desc(), AcquisitionPair.id)
        .limit(bindparam("count"))
    )
    if excluding:
        chosen = chosen.where(AcquisitionPair.id.not_in(bindparam("held", expanding=True)))
    if one_axis:
        chosen = chosen.where(AcquisitionBatch.axis == bindparam("axis"))
    pair = chosen.subquery()
    meme_a, meme_b = aliased(Meme), aliased(Meme)
    return (
        select(
            pair.c.id,
            pair.c.batch_id,
            pair.c.strategy,
            pair.c.acquisition,
            pair.c.model_version_id,
            pair.c.axis,
            meme_a.id,
            meme_a.title,
            meme_a.subreddit,
            meme_b.id,
            meme_b.title,
            meme_b.subreddit,
        )
        .join(meme_a, meme_a.id == pair.c.a_id)
        .join(meme_b, meme_b.id == pair.c.b_id)
        .order_by(pair.c.position, pair.c.batch_id.desc(), pair.c.id)
    )


def acquisition_pairs(
    session: Database, encoder: str, count: int, exclude: Collection[int] = (), axis: str | None = None
) -> list[PairOut]:
    """Pending pairs (of `axis`' batches only, when given) in the order their batch ranked them, the
    axes' batches taking turns (the newer batch first on the same rank)."""
    held = [pair_id for pair_id in exclude if 0 < pair_id < 2**31]
    parameters: dict[str, Any] = {"encoder": encoder, "count": count, "axis": axis}
    if held:
        parameters["held"] = held
    rows = session.execute(_acquisition_statement(bool(held), axis is not None), parameters).all()
    return [
        PairOut(
            a=meme_out_of(a_id, a_title, a_subreddit),
            b=meme_out_of(b_id, b_title, b_subreddit),
            origin="acquisition",
            pair_id=pair_id,
            batch_id=batch_id,
            strategy=strategy,
            acquisition=acquisition,
            model_version_id=model_version_id,
            axis=pair_axis,
        )
        for (
            pair_id,
            batch_id,
            strategy,
            acquisition,
            model_version_id,
            pair_axis,
            a_id,
            a_title,
            a_subreddit,
            b_id,
            b_title,
            b_subreddit,
        ) in rows
    ]


# Random memes drawn per request to pair up: enough that some pair among them is still unrated
# long after most pairs of a small collection have been.
RANDOM_POOL = 64


def random_pairs(session: Database, encoder: str, count: int, axis: str | None = None) -> list[PairOut]:
    """Random pairs of embedded memes, never a meme with itself and never a pair already rated (on
    `axis`, when given: a pair rated on another axis only may be asked on this one)."""
    memes = {
        meme_id: (meme_id, title, subreddit)
        for meme_id, title, subreddit in session.execute(
            select(Meme.id, Meme.title, Meme.subreddit)
            .join(Embedding, (Embedding.meme_id == Meme.id) & (Embedding.encoder == encoder))
            .order_by(func.random())
            .limit(max(2 * count, RANDOM_POOL))
        )
    }
    if len(memes) < 2:
        raise NotEnoughMemes(f"fewer than two memes are embedded with {encoder!r}; crawl and embed some first")
    chosen = unrated_pairs(list(memes), rated_among(session, list(memes), axis), count)
    if not chosen:
        raise NotEnoughMemes("every pair of the memes drawn has been rated already; crawl and embed some more")
    return [PairOut(a=meme_out_of(*memes[a]), b=meme_out_of(*memes[b]), origin="random") for a, b in chosen]


def rated_among(session: Database, meme_ids: list[int], axis: str | None = None) -> set[frozenset[int]]:
    """The pairs of these memes that have a rating (on `axis`, when given), in either order."""
    query = select(Rating.a_id, Rating.b_id).where(Rating.a_id.in_(meme_ids), Rating.b_id.in_(meme_ids))
    if axis is not None:
        query = query.where(Rating.axis == axis)
    rows = session.execute(query.distinct())
    return {frozenset(row) for row in rows}


def unrated_pairs(meme_ids: list[int], rated: set[frozenset[int]], count: int) -> list[tuple[int, int]]:
    """Up to `count` pairs of different memes not in `rated`, in the order given; each meme in one pair
    while unused memes remain, then (a tiny collection) memes again in new pairs."""
    chosen: list[tuple[int, int]] = []
    taken: set[frozenset[int]] = set()
    used: set[int] = set()
    for reuse in (False, True):
        for i, a in enumerate(meme_ids):
            for b in meme_ids[i + 1 :]:
                if len(chosen) == count:
                    return chosen
                if not reuse and a in used:
                    break
                pair = frozenset((a, b))
                if pair in rated or pair in taken or (not reuse and b in used):
                    continue
                chosen.append((a, b))
                taken.add(pair)
                used.update(pair)
    return chosen


def next_pairs(
    session: Database,
    encoder: str,
    count: int,
    exclude: Collection[int] = (),
    held: Collection[int] = (),
    spare: int = 0,
    axis: str | None = None,
) -> list[PairOut]:
    """Up to `count` pairs (to rate on `axis`, when given), plus up to `spare` more acquisition pairs
    for the caller to choose from, each shown with a random left/right placement. Pairs `held` for
    other raters come only once no other pending pair is left."""
    wanted = count + spare
    pairs = acquisition_pairs(session, encoder, wanted, [*exclude, *held], axis)
    if held and len(pairs) < wanted:
        chosen = {pair.pair_id for pair in pairs}
        again = acquisition_pairs(session, encoder, wanted, exclude, axis)
        pairs += [pair for pair in again if pair.pair_id not in chosen][: wanted - len(pairs)]
    if len(pairs) < count:
        try:
            pairs += random_pairs(session, encoder, count - len(pairs), axis)
        except NotEnoughMemes:
            if not pairs:
                raise
    return [_shuffled(pair) for pair in pairs]


def _shuffled(pair: PairOut) -> PairOut:
    if random.random() < 0.5:
        pair.a, pair.b = pair.b, pair.a  # built just now for this response: swapping in place is safe
    return pair
