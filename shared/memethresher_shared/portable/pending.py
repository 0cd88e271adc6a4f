"""Imported records whose images are not here yet: kept in `pending_imports`, applied when the
images arrive (a later import, or the crawler taking that image)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection
from typing import Any

from sqlalchemy import Connection, Table, delete, func, or_, select

from memethresher_shared.db import upsert_insert
from memethresher_shared.models import PendingImport, utcnow
from memethresher_shared.portable import apply
from memethresher_shared.portable.records import check_curation, check_label, check_rating, iso

PENDING: Table = PendingImport.__table__  # type: ignore[assignment]

# kind: (the record's images, how it is added)
Adder = Callable[[Connection, dict[str, Any], dict[str, int]], bool]
KINDS: dict[str, tuple[tuple[str, ...], Adder]] = {
    "ratings": (("a", "b"), apply.add_rating),
    "labels": (("id",), apply.add_label),
    "curation": (("sha256",), apply.add_curation),
}


def keep(connection: Connection, kind: str, key: str, record: dict[str, Any]) -> bool:
    """Keep `record` (checked, as `check_*` returns it) until its images arrive; False if already kept."""
    fields = KINDS[kind][0]
    stored = {name: iso(value) if hasattr(value, "tzinfo") else value for name, value in record.items()}
    statement = upsert_insert(connection, PENDING).on_conflict_do_nothing(index_elements=["key"])
    inserted = connection.execute(statement.returning(PENDING.c.id).values(
        kind=kind, key=key, sha_a=record[fields[0]], sha_b=record[fields[1]] if len(fields) > 1 else None,
        record=stored, created_at=utcnow(),
    )).first()  # fmt: skip
    return inserted is not None


def apply_pending(connection: Connection, shas: Collection[str]) -> Counter[str]:
    """Add the pending records whose images are now all here (one of them among `shas`); {kind: added}."""
    added: Counter[str] = Counter()
    wanted = list(shas)
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = connection.execute(
            select(PENDING.c.id, PENDING.c.kind, PENDING.c.record)
            .where(or_(PENDING.c.sha_a.in_(chunk), PENDING.c.sha_b.in_(chunk)))
            .order_by(PENDING.c.id)
        ).all()
        for row_id, kind, stored in rows:
            fields, add = KINDS[kind]
            ids = apply.meme_ids(connection, [stored[name] for name in fields])
            if len(ids) < len(set(stored[name] for name in fields)):
                continue  # still waiting for its other image
            if add(connection, _checked(kind, stored), ids):
                added[kind] += 1
            connection.execute(delete(PENDING).where(PENDING.c.id == row_id))
    return added


def _checked(kind: str, stored: dict[str, Any]) -> dict[str, Any]:
    if kind == "ratings":
        return check_rating(stored, (stored["axis"],))
    return check_label(stored) if kind == "labels" else check_curation(stored)


def pending_counts(connection: Connection) -> Counter[str]:
    query = select(PENDING.c.kind, func.count()).group_by(PENDING.c.kind)
    return Counter({kind: count for kind, count in connection.execute(query).all()})
