"""The migrations build the same schema on SQLite and PostgreSQL, and go down and up again."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from memethresher_shared.migrate import downgrade, upgrade
from memethresher_shared.models import Base


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"{request.param}_url")


def table_names(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_migrations_create_every_table_and_downgrade_cleanly(database_url: str) -> None:
    upgrade(database_url)
    assert table_names(database_url) == set(Base.metadata.tables)
    downgrade(database_url, "base")
    assert table_names(database_url) == set()
    upgrade(database_url)
    assert table_names(database_url) == set(Base.metadata.tables)


def test_migrations_match_the_models(sqlite_url: str) -> None:
    """A model change without a migration fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    upgrade(sqlite_url)
    engine = sa.create_engine(sqlite_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []
