"""Choosing the next pairs to rate: acquisition batches first (newest, then older), else random."""

from __future__ import annotations

import random
from collections.abc import Collection

from memethresher_shared.models import AcquisitionBatch, AcquisitionPair, Embedding, Meme, ModelVersion
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from memethresher_api.queries import meme_out
from memethresher_api.schemas import PairOut


class NotEnoughMemes(LookupError):
    """Fewer than two memes have a vector under the current encoder."""


def acquisition_pairs(session: Session, encoder: str, count: int, exclude: Collection[int] = ()) -> list[PairOut]:
    """Pending pairs of the newest batch first, then older batches', so rating never runs dry."""
    meme_a, meme_b = aliased(Meme), aliased(Meme)
    statement = (
        select(AcquisitionPair, AcquisitionBatch.strategy, AcquisitionBatch.model_version_id, meme_a, meme_b)
        .join(AcquisitionBatch, AcquisitionBatch.id == AcquisitionPair.batch_id)
        .join(ModelVersion, ModelVersion.id == AcquisitionBatch.model_version_id)
        .join(meme_a, meme_a.id == AcquisitionPair.a_id)
        .join(meme_b, meme_b.id == AcquisitionPair.b_id)
        .where(AcquisitionPair.status == "pending", ModelVersion.encoder == encoder)
        .order_by(AcquisitionBatch.id.desc(), AcquisitionPair.position, AcquisitionPair.id)
        .limit(count)
    )
    held = [pair_id for pair_id in exclude if 0 < pair_id < 2**31]
    if held:
        statement = statement.where(AcquisitionPair.id.not_in(held))
    return [
        PairOut(
            a=meme_out(a),
            b=meme_out(b),
            origin="acquisition",
            pair_id=pair.id,
            batch_id=pair.batch_id,
            strategy=strategy,
            acquisition=pair.acquisition,
            model_version_id=model_version_id,
        )
        for pair, strategy, model_version_id, a, b in session.execute(statement).all()
    ]


def random_pairs(session: Session, encoder: str, count: int) -> list[PairOut]:
    """Random pairs of embedded memes, never a meme with itself."""
    memes = list(
        session.scalars(
            select(Meme)
            .join(Embedding, (Embedding.meme_id == Meme.id) & (Embedding.encoder == encoder))
            .order_by(func.random())
            .limit(2 * count)
        )
    )
    if len(memes) < 2:
        raise NotEnoughMemes(f"fewer than two memes are embedded with {encoder!r}; crawl and embed some first")
    if len(memes) < 2 * count:
        # A tiny collection: reuse memes across pairs, still never one with itself.
        memes = [m for _ in range(count) for m in random.sample(memes, 2)]
    return [
        PairOut(a=meme_out(a), b=meme_out(b), origin="random") for a, b in zip(memes[0::2], memes[1::2], strict=True)
    ]


def next_pairs(session: Session, encoder: str, count: int, exclude: Collection[int] = ()) -> list[PairOut]:
    """Up to `count` pairs, each shown with a random left/right placement."""
    pairs = acquisition_pairs(session, encoder, count, exclude)
    if len(pairs) < count:
        try:
            pairs += random_pairs(session, encoder, count - len(pairs))
        except NotEnoughMemes:
            if not pairs:
                raise
    return [_shuffled(pair) for pair in pairs]


def _shuffled(pair: PairOut) -> PairOut:
    if random.random() < 0.5:
        return pair.model_copy(update={"a": pair.b, "b": pair.a})
    return pair
