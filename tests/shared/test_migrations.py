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


@pytest.mark.postgres
def test_scores_and_curation_from_before_the_axes_become_overall_and_another_axis_fits_beside(
    database_url: str,
) -> None:
    upgrade(database_url, "0009")
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO memes (id, sha256, storage_key, title, format, width, height, byte_size, status, in_library,"
            " added_at) VALUES (1, 'aa', 'k', '', 'PNG', 1, 1, 1, 'embedded', false, CURRENT_TIMESTAMP)"
        )
        conn.exec_driver_sql(
            "INSERT INTO model_versions (id, encoder, config, metrics, artifact, n_ratings, is_current, pinned,"
            " created_at) VALUES (1, 'e', '{}', '{}', '', 0, true, false, CURRENT_TIMESTAMP)"
        )
        conn.exec_driver_sql("INSERT INTO scores (meme_id, model_version_id, mean, spread) VALUES (1, 1, 0.5, 0.1)")
        conn.exec_driver_sql(
            "INSERT INTO curation_queue (meme_id, model_version_id, score, status, created_at)"
            " VALUES (1, 1, 0.5, 'pending', CURRENT_TIMESTAMP)"
        )
        conn.exec_driver_sql(
            "INSERT INTO acquisition_batches (model_version_id, strategy, created_at)"
            " VALUES (1, 'bald', CURRENT_TIMESTAMP)"
        )
    engine.dispose()
    upgrade(database_url)
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        assert conn.exec_driver_sql("SELECT axis, mean FROM scores").all() == [("overall", 0.5)]
        assert conn.exec_driver_sql("SELECT axis FROM curation_queue").all() == [("overall",)]
        assert conn.exec_driver_sql("SELECT axis FROM acquisition_batches").all() == [("overall",)]
        conn.exec_driver_sql(
            "INSERT INTO scores (meme_id, model_version_id, axis, mean, spread) VALUES (1, 1, 'funny', 0.9, 0)"
        )
    engine.dispose()
    downgrade(database_url, "0009")
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT mean FROM scores").all() == [(0.5,)]
    engine.dispose()
