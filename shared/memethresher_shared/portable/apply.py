"""Adding one imported rating, label or curation decision whose images are all here (Core statements
on a connection: the importer and the crawler's hook share them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, select

from memethresher_shared.models import CurationItem, EvaluationLabel, Meme, ModelVersion, Rating
from memethresher_shared.portable.records import iso, model_key

MEMES: Table = Meme.__table__  # type: ignore[assignment]
RATINGS: Table = Rating.__table__  # type: ignore[assignment]
LABELS: Table = EvaluationLabel.__table__  # type: ignore[assignment]
CURATION: Table = CurationItem.__table__  # type: ignore[assignment]
VERSIONS: Table = ModelVersion.__table__  # type: ignore[assignment]


def meme_ids(connection: Connection, shas: list[str]) -> dict[str, int]:
    """{sha256: id} of those of `shas` that are memes here (asked 500 at a time)."""
    found: dict[str, int] = {}
    for start in range(0, len(shas), 500):
        query = select(MEMES.c.sha256, MEMES.c.id).where(MEMES.c.sha256.in_(shas[start : start + 500]))
        found.update({sha: meme_id for sha, meme_id in connection.execute(query).all()})
    return found


def model_ids(connection: Connection) -> dict[str, int]:
    """{model_key: id} of every model version here."""
    rows = connection.execute(select(VERSIONS.c.encoder, VERSIONS.c.created_at, VERSIONS.c.id)).all()
    return {model_key(encoder, created_at): version_id for encoder, created_at, version_id in rows}


def rating_id(connection: Connection, a_id: int, b_id: int, rating: dict[str, Any]) -> int | None:
    """The id of the rating here of the same pair, axis and moment, if there is one."""
    query = select(RATINGS.c.id, RATINGS.c.created_at).where(
        RATINGS.c.a_id == a_id, RATINGS.c.b_id == b_id, RATINGS.c.axis == rating["axis"]
    )
    wanted = iso(rating["created_at"])
    return next((found for found, moment in connection.execute(query) if iso(moment) == wanted), None)


def rating_exists(connection: Connection, a_id: int, b_id: int, rating: dict[str, Any]) -> bool:
    return rating_id(connection, a_id, b_id, rating) is not None


def add_rating(connection: Connection, rating: dict[str, Any], ids: dict[str, int]) -> bool:
    """Insert the rating unless the same one (pair, axis, moment) is here; True when inserted."""
    a_id, b_id = ids[rating["a"]], ids[rating["b"]]
    if rating_exists(connection, a_id, b_id, rating):
        return False
    connection.execute(RATINGS.insert().values(
        a_id=a_id, b_id=b_id, choice=rating["choice"], axis=rating["axis"], origin=rating["origin"],
        created_at=rating["created_at"],
    ))  # fmt: skip
    return True


def add_label(connection: Connection, label: dict[str, Any], ids: dict[str, int]) -> bool:
    meme_id = ids[label["id"]]
    if connection.scalar(select(LABELS.c.meme_id).where(LABELS.c.meme_id == meme_id)) is not None:
        return False
    connection.execute(LABELS.insert().values(meme_id=meme_id, good=label["good"], created_at=label["created_at"]))
    return True


def add_curation(connection: Connection, item: dict[str, Any], ids: dict[str, int]) -> bool:
    meme_id = ids[item["sha256"]]
    if connection.scalar(select(CURATION.c.id).where(CURATION.c.meme_id == meme_id)) is not None:
        return False
    version_id = model_ids(connection).get(item["model"]) if item["model"] else None
    connection.execute(CURATION.insert().values(
        meme_id=meme_id, model_version_id=version_id, axis=item["axis"], score=item["score"], status=item["status"],
        name=item["name"], library_path=item["library_path"], created_at=item["created_at"],
        decided_at=item["decided_at"],
    ))  # fmt: skip
    return True
