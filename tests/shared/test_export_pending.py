"""Ratings and labels on images an install does not have yet wait as pending, and are added when the
crawler takes those images (or a later import brings them); nothing is lost on the way."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from memethresher_crawler.crawl import crawl_source
from memethresher_shared.db import session_scope
from memethresher_shared.migrate import upgrade
from memethresher_shared.models import EvaluationLabel, Meme, PendingImport, Rating
from memethresher_shared.sources import add_source

from tests.api.helpers import add_memes
from tests.conftest import Env, reset_all
from tests.shared.rated_install import START, memethresher, snapshot


def rated_pairs(ids: list[int]) -> None:
    """Ratings of (0, 1), (2, 3), (4, 5) and a label on each of the first three memes."""
    with session_scope() as session:
        for n in range(0, len(ids), 2):
            session.add(Rating(a_id=ids[n], b_id=ids[n + 1], choice="a+", created_at=START))
        for meme_id in ids[:3]:
            session.add(EvaluationLabel(meme_id=meme_id, good=True, created_at=START))


def move_to(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """This process now works on a second, empty install at `url`; returns it."""
    monkeypatch.setenv("MEMETHRESHER_DATABASE_URL", url)
    monkeypatch.setenv("MEMETHRESHER_STORAGE", str(tmp_path / "target-images"))
    reset_all()
    upgrade(url)
    return url


@pytest.mark.postgres
@pytest.mark.parametrize("target", ["sqlite", "postgres"])
def test_records_wait_for_their_images_and_arrive_with_the_crawler(
    target: str, env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    ids = add_memes(6)
    rated_pairs(ids)
    with session_scope() as session:
        images = [env.storage / m.storage_key for m in session.query(Meme).order_by(Meme.id)]
    before = snapshot(env.database_url)
    memethresher("export", tmp_path / "export", "--no-images", env=env.vars)
    other = f"sqlite:///{tmp_path / 'target.db'}" if target == "sqlite" else request.getfixturevalue("postgres_url")
    url = move_to(other, tmp_path, monkeypatch)

    done = memethresher("import", tmp_path / "export", env={"MEMETHRESHER_DATABASE_URL": url,
                        "MEMETHRESHER_STORAGE": str(tmp_path / "target-images")})  # fmt: skip

    assert "kept 3 ratings pending until their images arrive" in done.stdout
    assert "kept 3 labels pending until their images arrive" in done.stdout
    assert "skipped 6 memes: image neither in the export nor in the image store" in done.stdout
    assert snapshot(url)["ratings"] == []

    # The first four images show up in a folder the crawler reads.
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for n, image in enumerate(images[:4]):
        shutil.copyfile(image, inbox / f"meme-{n}.png")
    with session_scope() as session:
        source_id = add_source(session, "folder", str(inbox)).id
    crawl_source(source_id)

    arrived = {image.stem for image in images[:4]}
    after = snapshot(url)
    assert after["ratings"] == [r for r in before["ratings"] if {r[0], r[1]} <= arrived]
    assert len(after["ratings"]) == 2 and after["labels"] == before["labels"]

    # Importing again keeps one copy of what is here and of what still waits.
    again = memethresher("import", tmp_path / "export", env={"MEMETHRESHER_DATABASE_URL": url,
                         "MEMETHRESHER_STORAGE": str(tmp_path / "target-images")})  # fmt: skip
    assert "skipped 2 ratings: already here" in again.stdout and "skipped 1 ratings: already pending" in again.stdout
    # The last two images arrive; the last rating is added then.
    for image in images[4:]:
        shutil.copyfile(image, inbox / image.name)
    crawl_source(source_id)
    assert snapshot(url)["ratings"] == before["ratings"]
    assert snapshot(url)["labels"] == before["labels"]


def test_records_waiting_from_one_import_are_added_by_a_later_import_that_brings_the_images(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = add_memes(6)
    rated_pairs(ids)
    before = snapshot(env.database_url)
    memethresher("export", tmp_path / "without-images", "--no-images", env=env.vars)
    # A later export of the same install carries the images, but not the ratings (they were undone there).
    with session_scope() as session:
        session.query(Rating).delete()
        session.query(EvaluationLabel).delete()
    memethresher("export", tmp_path / "with-images", env=env.vars)
    url = move_to(f"sqlite:///{tmp_path / 'target.db'}", tmp_path, monkeypatch)
    target = {"MEMETHRESHER_DATABASE_URL": url, "MEMETHRESHER_STORAGE": str(tmp_path / "target-images")}
    memethresher("import", tmp_path / "without-images", env=target)

    done = memethresher("import", tmp_path / "with-images", env=target)

    assert "added 6 memes" in done.stdout
    assert "added 3 ratings (pending from an earlier import)" in done.stdout
    assert "added 3 labels (pending from an earlier import)" in done.stdout
    after = snapshot(url)
    assert after["ratings"] == before["ratings"] and after["labels"] == before["labels"]
    with session_scope() as session:
        assert session.query(PendingImport).count() == 0
