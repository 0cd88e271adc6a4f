"""`memethresher export` / `import` in their own processes: a person moves from SQLite to PostgreSQL
and back and loses nothing; a second import adds nothing; what is skipped is reported with its reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Env
from tests.shared.rated_install import fill, memethresher, snapshot

pytestmark = pytest.mark.usefixtures("small_models")


def target(tmp_path: Path, database_url: str, migrated: bool = True) -> dict[str, str]:
    """Settings of a second, empty install (its own database and image store)."""
    values = {
        "MEMETHRESHER_DATABASE_URL": database_url,
        "MEMETHRESHER_STORAGE": str(tmp_path / "target-images"),
        "MEMETHRESHER_DATA_DIR": str(tmp_path / "target"),
    }
    if migrated:
        memethresher("migrate", env=values)
    return values


@pytest.mark.postgres
@pytest.mark.parametrize("source", ["env", "pg_env"])
def test_a_move_between_sqlite_and_postgresql_keeps_everything(
    source: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    origin: Env = request.getfixturevalue(source)
    fill()
    before = snapshot(origin.database_url)
    other_url = f"sqlite:///{tmp_path / 'target.db'}" if source == "pg_env" else request.getfixturevalue("postgres_url")
    moved_to = target(tmp_path, other_url)

    memethresher("export", tmp_path / "export", env=origin.vars)
    done = memethresher("import", tmp_path / "export", env=moved_to)

    after = snapshot(other_url)
    assert after == before
    assert len(before["ratings"]) == 60 and len(before["labels"]) == 10 and len(before["sources"]) == 2
    assert {status for _, status, *_ in before["curation"]} >= {"kept", "discarded"}
    assert "added 60 ratings" in done.stdout and "added 24 memes" in done.stdout
    # Both axes' scores, and the rating edits: the change still names its rating, and the moved install
    # counts as many rating events as the original (its next retrain comes no later).
    assert {axis for _, _, axis, _ in before["scores"]} == {"overall", "funny"}
    assert [edit[0] for edit in before["rating_edits"]] == ["change", "undo"] and before["rating_edits"][0][4]
    # 60 ratings, one more made and undone, two edits, and the keep and the discard of the curation queue.
    assert before["rating_events"] == 60 + 1 + 2 + 2 and "added 2 rating edits" in done.stdout
    # Every image and the model folder came along, into the new install's store.
    assert len(list((tmp_path / "target-images").rglob("*.png"))) == 24
    assert list((tmp_path / "target-images" / "models").glob("*/weights.safetensors"))


def test_a_second_import_adds_nothing(env: Env, tmp_path: Path) -> None:
    fill()
    memethresher("export", tmp_path / "export", env=env.vars)
    moved_to = target(tmp_path, f"sqlite:///{tmp_path / 'target.db'}", migrated=False)  # import migrates
    memethresher("import", tmp_path / "export", env=moved_to)
    once = snapshot(moved_to["MEMETHRESHER_DATABASE_URL"])

    again = memethresher("import", tmp_path / "export", env=moved_to)

    assert snapshot(moved_to["MEMETHRESHER_DATABASE_URL"]) == once
    assert "added" not in again.stdout
    assert "skipped 60 ratings: already here" in again.stdout
    assert "skipped 24 memes: already here" in again.stdout
    assert "skipped 2 rating edits: already here" in again.stdout


def test_bad_lines_are_skipped_with_their_reason_and_the_rest_imported(env: Env, tmp_path: Path) -> None:
    fill()
    export = tmp_path / "export"
    memethresher("export", export, env=env.vars)
    ratings = (export / "ratings.jsonl").read_text().splitlines()
    broken = json.loads(ratings[2]) | {"choice": "meh"}
    ratings[2] = json.dumps(broken)
    ratings[4] = "{not json"
    (export / "ratings.jsonl").write_text("\n".join(ratings) + "\n")
    edits = (export / "rating_edits.jsonl").read_text().splitlines()
    edits[0] = json.dumps(json.loads(edits[0]) | {"choice_after": "meh"})
    (export / "rating_edits.jsonl").write_text("\n".join(edits) + "\n")
    moved_to = target(tmp_path, f"sqlite:///{tmp_path / 'target.db'}")

    done = memethresher("import", export, env=moved_to)

    assert "added 58 ratings" in done.stdout
    assert "skipped 1 ratings: 'choice' must be one of ['a+', 'a', 'tie', 'b', 'b+'], got 'meh'" in done.stdout
    assert "(first at ratings.jsonl:3)" in done.stdout
    assert "skipped 1 ratings: not valid JSON" in done.stdout
    assert len(snapshot(moved_to["MEMETHRESHER_DATABASE_URL"])["ratings"]) == 58
    assert "skipped 1 rating edits: a change's 'choice_after' must be one of" in done.stdout
    assert "added 1 rating edits" in done.stdout


def test_a_folder_that_is_not_an_export_is_refused_with_a_message(env: Env, tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    done = memethresher("import", tmp_path / "photos", env=env.vars, check=False)
    assert done.returncode == 1
    assert "no readable manifest.json" in done.stderr and "Traceback" not in done.stderr


def test_export_refuses_a_folder_that_is_not_empty(env: Env, tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    done = memethresher("export", tmp_path / "full", env=env.vars, check=False)
    assert done.returncode == 1 and "is not empty" in done.stderr
    assert (tmp_path / "full" / "notes.txt").read_text() == "mine"
