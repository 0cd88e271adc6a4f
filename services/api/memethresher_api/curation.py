"""The curation queue: the best pending meme, keeping it into the library folder, discarding, undo."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from memethresher_shared.models import CurationItem, Embedding, Meme, Score
from memethresher_shared.store import EXTENSIONS, ImageStore
from memethresher_shared.vectors import from_stored
from memethresher_shared.versions import current_version
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from memethresher_api.deps import field_error
from memethresher_api.naming import unique_file_name
from memethresher_api.queries import meme_out
from memethresher_api.schemas import CurationItemOut


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


def item_out(session: Session, item: CurationItem, encoder: str, threshold: float) -> CurationItemOut:
    meme = session.get_one(Meme, item.meme_id)
    model = current_version(session, encoder)
    score = session.get(Score, (item.meme_id, model.id)) if model else None
    duplicate = near_duplicate(session, item.meme_id, encoder) if item.status == "pending" else None
    pending = session.scalar(select(func.count(CurationItem.id)).where(CurationItem.status == "pending"))
    flagged = duplicate is not None and duplicate[1] >= threshold
    return CurationItemOut(
        id=item.id,
        meme=meme_out(meme),
        score=score.mean if score else item.score,
        spread=score.spread if score else None,
        status=item.status,
        name=item.name,
        library_path=item.library_path,
        near_duplicate=meme_out(duplicate[0]) if flagged and duplicate else None,
        near_duplicate_cosine=duplicate[1] if flagged and duplicate else None,
        pending=int(pending or 0),
    )


def next_item(session: Session) -> CurationItem | None:
    return session.scalar(
        select(CurationItem)
        .where(CurationItem.status == "pending")
        .order_by(CurationItem.score.desc(), CurationItem.id)
        .limit(1)
    )


def pending_item(session: Session, item_id: int) -> CurationItem:
    item = session.get(CurationItem, item_id)
    if item is None:
        field_error("path", "item_id", f"no curation item {item_id}", status=404)
    if item.status != "pending":
        field_error("path", "item_id", f"curation item {item_id} is already {item.status}", status=409)
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
        field_error("body", "name", str(error))
    except FileNotFoundError:
        field_error("path", "item_id", f"the image of meme {meme.id} is missing from the store", status=409)
    item.status, item.name, item.library_path = "kept", name, file_name
    item.decided_at = datetime.now(UTC)


def discard(item: CurationItem) -> None:
    item.status = "discarded"
    item.decided_at = datetime.now(UTC)


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
    return item
