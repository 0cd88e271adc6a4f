"""Migration 0011 on SQLite and PostgreSQL: the taste prompts' tables come and go, the rest stays."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from memethresher_shared.migrate import downgrade, upgrade

from tests.shared.test_migrations import table_names

PROMPT_TABLES = {"taste_prompts", "prompt_vectors"}


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_prompts_and_their_vectors_are_stored_and_the_downgrade_removes_only_them(
    backend: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue(f"{backend}_url")
    upgrade(url, "0010")
    before = table_names(url)
    assert not before & PROMPT_TABLES
    upgrade(url, "0011")
    assert table_names(url) == before | PROMPT_TABLES
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO taste_prompts (id, text, liked, created_at) VALUES (1, 'programming jokes', true,"
            " CURRENT_TIMESTAMP)"
        )
        conn.execute(
            sa.text(
                "INSERT INTO prompt_vectors (prompt_id, encoder, dim, vector, created_at)"
                " VALUES (1, 'tiny-siglip:random', 2, :blob, CURRENT_TIMESTAMP)"
            ),
            {"blob": b"\x00<\x00<"},
        )
        rows = conn.exec_driver_sql("SELECT p.text, v.encoder, v.dim FROM taste_prompts p JOIN prompt_vectors v"
                                    " ON v.prompt_id = p.id").all()  # fmt: skip
        assert rows == [("programming jokes", "tiny-siglip:random", 2)]
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO taste_prompts (text, liked, created_at) VALUES ('programming jokes', false, CURRENT_TIMESTAMP)"
        )
    engine.dispose()
    downgrade(url, "0010")
    assert table_names(url) == before
    upgrade(url)
    assert PROMPT_TABLES <= table_names(url)
