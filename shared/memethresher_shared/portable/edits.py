"""Rating edits (a rating changed or undone) in the export: they count toward the next retrain like
new ratings (`rating_events`), so an install moved without them would wait that many ratings longer.

A changed rating names the rating it changed by its export identity (images, axis, moment); an undone
rating's row is gone, so its edit names no rating. Imported, an edit points at the rating here when
that rating is here, else at rating id 0 (none)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Table, select
from sqlalchemy.orm import Session, aliased

from memethresher_shared.models import Meme, Rating, RatingEdit
from memethresher_shared.portable import apply
from memethresher_shared.portable.records import RecordError, Report, iso, parse_time, sha
from memethresher_shared.settings import CHOICES

EDITS: Table = RatingEdit.__table__  # type: ignore[assignment]
KINDS = ("change", "undo")
NO_RATING = 0


def export_edits(session: Session) -> Iterator[dict[str, Any]]:
    a, b = aliased(Meme), aliased(Meme)
    query = (
        select(RatingEdit, a.sha256, b.sha256, Rating.axis, Rating.created_at)
        .outerjoin(Rating, Rating.id == RatingEdit.rating_id)
        .outerjoin(a, a.id == Rating.a_id)
        .outerjoin(b, b.id == Rating.b_id)
        .order_by(RatingEdit.id)
    )
    for edit, sha_a, sha_b, axis, rated_at in session.execute(query):
        rating = {"a": sha_a, "b": sha_b, "axis": axis, "created_at": iso(rated_at)} if sha_a else None
        yield {"kind": edit.kind, "choice_before": edit.choice_before, "choice_after": edit.choice_after,
               "created_at": iso(edit.created_at), "rating": rating}  # fmt: skip


def check_edit(record: dict[str, Any]) -> dict[str, Any]:
    kind = record.get("kind")
    if kind not in KINDS:
        raise RecordError(f"'kind' must be one of {list(KINDS)}, got {kind!r}")
    after = record.get("choice_after")
    if record.get("choice_before") not in CHOICES:
        raise RecordError(f"'choice_before' must be one of {list(CHOICES)}, got {record.get('choice_before')!r}")
    if kind == "change" and after not in CHOICES:
        raise RecordError(f"a change's 'choice_after' must be one of {list(CHOICES)}, got {after!r}")
    rating = record.get("rating")
    if rating is not None and not isinstance(rating, dict):
        raise RecordError("'rating' must be an object or null")
    return {
        "kind": kind, "choice_before": record["choice_before"], "choice_after": after if kind == "change" else None,
        "created_at": parse_time(record.get("created_at"), "created_at"),
        "rating": None if rating is None else {
            "a": sha(rating, "a"), "b": sha(rating, "b"), "axis": str(rating.get("axis")),
            "created_at": parse_time(rating.get("created_at"), "rating.created_at"),
        },
    }  # fmt: skip


def _identity(kind: str, created_at: Any, before: str, after: str | None) -> tuple[str, str | None, str, str | None]:
    return kind, iso(created_at), before, after


def _rating_id(connection: Connection, rating: dict[str, Any] | None) -> int:
    """The id here of the rating an edit names, or `NO_RATING`."""
    if rating is None:
        return NO_RATING
    ids = apply.meme_ids(connection, [rating["a"], rating["b"]])
    if len(ids) < 2:
        return NO_RATING
    found = apply.rating_id(connection, ids[rating["a"]], ids[rating["b"]], rating)
    return NO_RATING if found is None else found


def import_edits(connection: Connection, lines: Iterator[tuple[str, dict[str, Any]]], report: Report) -> None:
    """Add the edits not here yet (same kind, moment and choices); after the ratings, so a change finds its rating."""
    columns = (EDITS.c.kind, EDITS.c.created_at, EDITS.c.choice_before, EDITS.c.choice_after)
    here = {_identity(*row) for row in connection.execute(select(*columns))}
    for where, line in lines:
        try:
            edit = check_edit(line)
        except RecordError as error:
            report.skip("rating edits", str(error), where)
            continue
        identity = _identity(edit["kind"], edit["created_at"], edit["choice_before"], edit["choice_after"])
        if identity in here:
            report.skip("rating edits", "already here", where)
            continue
        connection.execute(EDITS.insert().values(
            rating_id=_rating_id(connection, edit["rating"]), kind=edit["kind"], choice_before=edit["choice_before"],
            choice_after=edit["choice_after"], created_at=edit["created_at"],
        ))  # fmt: skip
        here.add(identity)
        report.added["rating edits"] += 1
