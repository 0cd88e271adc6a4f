"""Which model version of an encoder is the current one: the one every service scores, curates and
evaluates with (the newest of those marked current, should two ever be)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ScalarSelect, Select, select
from sqlalchemy.orm import Session

from memethresher_shared.models import ModelVersion


def current_version_query(encoder: Any) -> Select[ModelVersion]:
    """`encoder` is a name or a bind parameter (for statements built once)."""
    return (
        select(ModelVersion)
        .where(ModelVersion.encoder == encoder, ModelVersion.is_current.is_(True))
        .order_by(ModelVersion.id.desc())
        .limit(1)
    )


def current_version(session: Session, encoder: str) -> ModelVersion | None:
    return session.scalar(current_version_query(encoder))


def current_version_id(encoder: Any) -> ScalarSelect[int]:
    """The current version's id as a scalar subquery, to join its scores inside one statement."""
    return current_version_query(encoder).with_only_columns(ModelVersion.id).scalar_subquery()
