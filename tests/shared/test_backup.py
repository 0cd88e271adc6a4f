"""`memethresher backup` / `restore` in their own processes: back up, lose the disk, restore, and find
everything as it was, on SQLite and on PostgreSQL; the newest N backups are kept; no secret is written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import Env
from tests.shared.rated_install import fill, memethresher, snapshot

pytestmark = pytest.mark.usefixtures("small_models")


def wipe(env: Env) -> None:
    """The disk is gone: no database, no image store."""
    if env.database_url.startswith("sqlite"):
        for path in env.root.glob("memethresher.db*"):
            path.unlink()
    else:
        engine = sa.create_engine(env.database_url)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        engine.dispose()
    shutil.rmtree(env.storage)


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["env", "pg_env"])
def test_backup_then_a_lost_disk_then_restore_gives_everything_back(
    database: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    env: Env = request.getfixturevalue(database)
    fill()
    before = snapshot(env.database_url)
    images = sorted(p.relative_to(env.storage) for p in env.storage.rglob("*") if p.is_file())
    backups = tmp_path / "backups"

    done = memethresher("backup", "--to", backups, env=env.vars)
    wipe(env)
    folder = next(backups.glob("memethresher-*"))
    restored = memethresher("restore", folder, "--yes", env=env.vars)

    assert f"backup written to {folder}" in done.stdout and "restored" in restored.stdout
    assert snapshot(env.database_url) == before
    assert sorted(p.relative_to(env.storage) for p in env.storage.rglob("*") if p.is_file()) == images
    assert list(env.storage.glob("models/*/weights.safetensors"))


def test_only_the_newest_backups_are_kept_and_no_secret_is_written(env: Env, tmp_path: Path) -> None:
    fill(n_memes=8, n_ratings=10)
    backups = tmp_path / "backups"
    secrets = {"MEMETHRESHER_API_TOKEN": "tok-9f8e7d", "MEMETHRESHER_REDDIT_CLIENT_SECRET": "sec-1a2b3c",
               "MEMETHRESHER_REDDIT_COOKIE": "reddit_session=ck-77aa", "MEMETHRESHER_BACKUP_KEEP": "2",
               "MEMETHRESHER_KEY_MAP": '{"a+": "q"}'}  # fmt: skip

    made = [memethresher("backup", "--to", backups, env=env.vars | secrets) for _ in range(3)]

    kept = sorted(backups.glob("memethresher-*"))
    assert len(kept) == 2
    assert str(kept[-1]) in made[-1].stdout and "removed the older backup" in made[-1].stdout
    assert not list(backups.glob(".*")), "a finished backup leaves no partial folder"
    settings = (kept[-1] / "settings.env").read_text()
    assert 'MEMETHRESHER_RATING_AXES=["funny"]' in settings and "MEMETHRESHER_BACKUP_KEEP=2" in settings
    assert 'MEMETHRESHER_KEY_MAP={"a+": "q"}' in settings  # not a secret, though its name has "key"
    for path in kept[-1].rglob("*"):
        if path.is_file() and path.suffix in (".env", ".json", ".sqlite"):
            text = path.read_bytes()
            assert b"tok-9f8e7d" not in text and b"sec-1a2b3c" not in text and b"ck-77aa" not in text, path
    # Images unchanged since the previous backup are shared with it, not copied again.
    image = next(kept[-1].glob("images/**/*.png"))
    assert image.stat().st_nlink >= 2


def test_a_backup_of_the_other_database_is_refused_with_a_message(env: Env, tmp_path: Path) -> None:
    fill(n_memes=8, n_ratings=10)
    memethresher("backup", "--to", tmp_path / "backups", "--no-images", env=env.vars)
    folder = next((tmp_path / "backups").glob("memethresher-*"))
    on_postgres = env.vars | {"MEMETHRESHER_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/nowhere"}

    done = memethresher("restore", folder, "--yes", env=on_postgres, check=False)

    assert done.returncode == 1 and "use `memethresher export` and `import`" in done.stderr
    assert "Traceback" not in done.stderr
