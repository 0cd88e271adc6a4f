"""Rating events: the count a retrain is due on, which every new, changed or undone rating raises,
and every keep or discard in the curation queue and every undo of one.

Counting rating rows alone misses edits: an undo lowers the count and a change leaves it as it was,
so neither would bring the next retrain closer. Events are the ratings ever stored (the rows there
are plus those undone) and every change or undo besides, so the count only grows. Decisions count
the same way: the items decided now, plus twice each undo (the decision it took back, and the undo).
The API compares the count with the `n_ratings` the trainer stored for the newest version from it."""

from __future__ import annotations

from sqlalchemy import ScalarSelect, func, select

from memethresher_shared.models import CurationItem, Rating, RatingEdit


def rating_events() -> ScalarSelect[int]:
    """The number of rating events, as a scalar subquery (one statement with other counts)."""
    rows = select(func.count(Rating.id)).scalar_subquery()
    edits = select(func.count(RatingEdit.id)).scalar_subquery()
    undone = select(func.count(RatingEdit.id)).where(RatingEdit.kind == "undo").scalar_subquery()
    return select(rows + edits + undone + decision_events()).scalar_subquery()


def decision_events() -> ScalarSelect[int]:
    """Keeps, discards and their undos, as a scalar subquery."""
    decided = select(func.count(CurationItem.id)).where(CurationItem.status.in_(("kept", "discarded")))
    undos = select(func.coalesce(func.sum(CurationItem.undone), 0))
    return select(decided.scalar_subquery() + 2 * undos.scalar_subquery()).scalar_subquery()
