"""The curation queue: the best pending meme, keeping it into the library folder, discarding, undo.

Pending memes are ranked by the current model's scores on one rating axis (overall unless asked),
not the scores of the model that queued them: after a retrain the queue follows the new model, and a
meme it no longer scores within that axis' top fraction (or has not scored) sinks to the end, with
the reason shown. The queue can also be narrowed to the memes one axis queued."""

from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from memethresher_shared.db import session_scope
from memethresher_shared.encoder_state import serving_encoder
from memethresher_shared.models import CurationItem, Embedding, Meme, Score
from memethresher_shared.settings import OVERALL, Settings
from memethresher_shared.store import EXTENSIONS, ImageStore
from memethresher_shared.vectors import from_stored
from memethresher_shared.versions import current_version
from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.orm import Session

from memethresher_api.axes import check_axis
from memethresher_api.errors import Conflict, InvalidField, NotFound
from memethresher_api.naming import unique_file_name
from memethresher_api.queries import meme_out
from memethresher_api.ratings import RetrainRequests, rating_counts
from memethresher_api.schemas import CurationItemOut
from memethresher_api.settings import ApiSettings


def near_duplicate(session: Session, meme_id: int, encoder: str) -> tuple[Meme, float] | None:
    """The kept meme most similar to this one, with its cosine similarity."""
    mine = session.get(Embedding, (meme_id, encoder))
    if mine is None:
        return None
    kept = session.execute(
        select(Embedding, Meme)
        .join(Meme, Meme.id == Embedding.meme_id)
        .join(CurationItem, CurationItem.meme_id == Embedding.meme_id)
        .where(CurationItem.status == "kept", Embedding.encoder == encoder, Embedding.meme_id != meme_id)
    ).all()
    if not kept:
        return None
    vector = from_stored(mine.vector)
    matrix = np.stack([from_stored(e.vector) for e, _ in kept])  # (K, D)
    norms = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(vector) or 1.0)
    cosines = matrix @ vector / np.where(norms == 0, 1.0, norms)
    best = int(np.argmax(cosines))
    return kept[best][1], float(cosines[best])


@dataclass(frozen=True)
class Ranking:
    """What orders the queue: the current version, the axis whose scores order it, and the score
    that axis' top fraction reach; `queued_by`, when set, keeps only the memes that axis queued."""

    version_id: int | None
    threshold: float | None  # None: no current version, or it scored nothing
    top_fraction: float
    axis: str = OVERALL
    queued_by: str | None = None

    def sunk_reason(self, score: float | None) -> str | None:
        """Why a pending meme waits behind the others, if it does."""
        if self.version_id is None:
            return None
        if score is None:
            return f"the current model v{self.version_id} has not scored it"
        if self.threshold is not None and score < self.threshold:
            on = "" if self.axis == OVERALL else f" on {self.axis}"
            return (
                f"the current model v{self.version_id} scores it {score:.3f}{on}, below the curation threshold "
                f"{self.threshold:.3f} (its top {self.top_fraction:.0%})"
            )
        return None


def threshold_offset(scored: int, top_fraction: float) -> int:
    """Rank (0 = best) of the lowest score inside the top fraction: the trainer queues memes at or
    above the (1 - top_fraction) quantile, which admits exactly the memes at or above this one."""
    return math.floor((scored - 1) * top_fraction)


def current_ranking(session: Session, settings: Settings, axis: str = OVERALL, queued_by: str | None = None) -> Ranking:
    """The queue's order on `axis` (refused unless configured), narrowed to what `queued_by` queued."""
    check_axis(settings, axis)
    check_axis(settings, queued_by, "queued_by")
    top_fraction = settings.curation_top_fraction_of(axis)
    model = current_version(session, serving_encoder(settings.embedder))
    if model is None:
        return Ranking(None, None, top_fraction, axis, queued_by)
    of_axis = (Score.model_version_id == model.id) & (Score.axis == axis)
    scored = session.scalar(select(func.count()).where(of_axis)) or 0
    threshold = None
    if scored:
        threshold = session.scalar(
            select(Score.mean)
            .where(of_axis)
            .order_by(Score.mean.desc())
            .offset(threshold_offset(scored, top_fraction))
            .limit(1)
        )
    return Ranking(model.id, threshold, top_fraction, axis, queued_by)


def item_out(session: Session, item: CurationItem, settings: Settings, ranking: Ranking) -> CurationItemOut:
    meme = session.get_one(Meme, item.meme_id)
    scores = version_scores(session, item.meme_id, ranking.version_id)
    score = scores.get(ranking.axis)
    encoder = serving_encoder(settings.embedder)
    duplicate = near_duplicate(session, item.meme_id, encoder) if item.status == "pending" else None
    pending = session.scalar(select(func.count(CurationItem.id)).where(*waiting(ranking)))
    flagged = duplicate is not None and duplicate[1] >= settings.near_duplicate_cosine
    return CurationItemOut(
        id=item.id,
        meme=meme_out(meme),
        score=score[0] if score else item.score,
        spread=score[1] if score else None,
        score_axis=ranking.axis if score else item.axis,
        scores={axis: scores[axis][0] for axis in settings.all_axes if axis in scores},
        scored_by_version_id=ranking.version_id if score else item.model_version_id,
        queued_by_version_id=item.model_version_id,
        axis=item.axis,
        sunk_reason=ranking.sunk_reason(score[0] if score else None) if item.status == "pending" else None,
        status=item.status,
        name=item.name,
        library_path=item.library_path,
        near_duplicate=meme_out(duplicate[0]) if flagged and duplicate else None,
        near_duplicate_cosine=duplicate[1] if flagged and duplicate else None,
        pending=int(pending or 0),
    )


def version_scores(session: Session, meme_id: int, version_id: int | None) -> dict[str, tuple[float, float]]:
    """A meme's (score, spread) on each axis under one version."""
    if version_id is None:
        return {}
    rows = session.execute(
        select(Score.axis, Score.mean, Score.spread).where(
            Score.meme_id == meme_id, Score.model_version_id == version_id
        )
    )
    return {axis: (mean, spread) for axis, mean, spread in rows}


def waiting(ranking: Ranking) -> list[ColumnElement[bool]]:
    """Pending items, only those `ranking.queued_by` queued when it is set."""
    where = [CurationItem.status == "pending"]
    if ranking.queued_by is not None:
        where.append(CurationItem.axis == ranking.queued_by)
    return where


def next_item(session: Session, ranking: Ranking) -> CurationItem | None:
    """The pending meme the current model scores highest on the ranking's axis; those it scores below
    that axis' threshold, or not at all, after every other (in the queuing model's order, for want of
    a current one)."""
    query = select(CurationItem).where(*waiting(ranking))
    if ranking.version_id is None:
        return session.scalar(query.order_by(CurationItem.score.desc(), CurationItem.id).limit(1))
    current = (
        select(Score.meme_id, Score.mean)
        .where(Score.model_version_id == ranking.version_id, Score.axis == ranking.axis)
        .subquery()
    )
    sunk: ColumnElement[bool] = current.c.mean.is_(None)
    if ranking.threshold is not None:
        sunk = or_(sunk, current.c.mean < ranking.threshold)
    return session.scalar(
        query.outerjoin(current, current.c.meme_id == CurationItem.meme_id)
        .order_by(case((sunk, 1), else_=0), func.coalesce(current.c.mean, CurationItem.score).desc(), CurationItem.id)
        .limit(1)
    )


def pending_item(session: Session, item_id: int) -> CurationItem:
    item = session.get(CurationItem, item_id)
    if item is None:
        raise NotFound(f"no curation item {item_id}", "path", "item_id")
    if item.status != "pending":
        raise Conflict(f"curation item {item_id} is already {item.status}", "path", "item_id")
    return item


def _copy_exclusive(source: Path, library: Path, name: str, extension: str) -> str:
    """Copy into the library under the first free safe name; never overwrites, never leaves the folder."""
    library.mkdir(parents=True, exist_ok=True)
    taken = set(os.listdir(library))
    while True:
        file_name = unique_file_name(name, extension, taken)
        target = library / file_name
        try:
            with source.open("rb") as src, target.open("xb") as dst:
                shutil.copyfileobj(src, dst)
        except FileExistsError:  # someone else took the name between listing and opening
            taken.add(file_name)
            continue
        return file_name


def keep(session: Session, item: CurationItem, name: str, library: Path, store: ImageStore) -> None:
    meme = session.get_one(Meme, item.meme_id)
    extension = EXTENSIONS.get(meme.format.upper(), Path(meme.storage_key).suffix.lstrip(".") or "bin")
    try:
        file_name = _copy_exclusive(store.path(meme.storage_key), library, name, extension)
    except ValueError as error:
        raise InvalidField(str(error), "body", "name") from None
    except FileNotFoundError:
        raise Conflict(f"the image of meme {meme.id} is missing from the store", "path", "item_id") from None
    item.status, item.name, item.library_path = "kept", name, file_name
    item.decided_at = datetime.now(UTC)


def discard(item: CurationItem) -> None:
    item.status = "discarded"
    item.decided_at = datetime.now(UTC)


def retrain_if_due(settings: ApiSettings, retrain: RetrainRequests) -> None:
    """After a keep, discard or undo is committed: the model learns from decisions, so like a rating
    each counts toward the next retrain, and one is asked for once enough have arrived."""
    encoder = serving_encoder(settings.embedder)
    if not retrain.may_ask(encoder):
        return
    with session_scope() as session:
        events, at_model = rating_counts(session, encoder)
    retrain.ask_if_due(encoder, events, at_model, settings.retrain_every)


def undo_last(session: Session, library: Path) -> CurationItem | None:
    """Put the most recent decision back in the queue; a kept file is removed from the library."""
    item = session.scalar(
        select(CurationItem)
        .where(CurationItem.status.in_(["kept", "discarded"]), CurationItem.decided_at.is_not(None))
        .order_by(CurationItem.decided_at.desc(), CurationItem.id.desc())
        .limit(1)
    )
    if item is None:
        return None
    if item.status == "kept" and item.library_path:
        path = (library / item.library_path).resolve()
        if path.is_relative_to(library.resolve()):
            path.unlink(missing_ok=True)
    item.status, item.name, item.library_path, item.decided_at = "pending", None, None, None
    item.undone += 1  # the undo brings the next retrain closer (`rating_events`)
    return item
