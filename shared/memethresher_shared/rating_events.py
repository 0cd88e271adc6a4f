"""Rating events: the count a retrain is due on, which every new, changed or undone rating raises.

Counting rating rows alone misses edits: an undo lowers the count and a change leaves it as it was,
so neither would bring the next retrain closer. Events are the ratings ever stored (the rows there
are plus those undone) and every change or undo besides, so the count only grows. The API compares
it with the `n_ratings` the trainer stored for the newest version from the same count."""

from __future__ import annotations

from sqlalchemy import ScalarSelect, func, select

from memethresher_shared.models import Rating, RatingEdit


def rating_events() -> ScalarSelect[int]:
    """The number of rating events, as a scalar subquery (one statement with other counts)."""
    rows = select(func.count(Rating.id)).scalar_subquery()
    edits = select(func.count(RatingEdit.id)).scalar_subquery()
    undone = select(func.count(RatingEdit.id)).where(RatingEdit.kind == "undo").scalar_subquery()
    return select(rows + edits + undone).scalar_subquery()
