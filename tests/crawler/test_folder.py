"""A folder source end to end on a real Celery worker: stored once, recorded, embedding enqueued."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from memethresher_crawler.crawl import crawl_due_sources, crawl_source
from memethresher_shared import tasks
from memethresher_shared.celery_app import send
from memethresher_shared.db import session_scope
from memethresher_shared.models import Meme, Post, PostMeme, Source
from memethresher_shared.sources import add_source
from memethresher_shared.store import ImageStore, sha256_hex
from sqlalchemy import func, select

from tests.conftest import wait_until
from tests.support.images import image_bytes, png_bomb
from tests.support.queues import queued_tasks


def _fill(folder: Path) -> dict[str, bytes]:
    files = {
        "a.jpg": image_bytes("JPEG", seed=1),
        "nested/b.png": image_bytes("PNG", seed=2),
        "c.webp": image_bytes("WEBP", seed=3),
        "copy-of-a.jpeg": image_bytes("JPEG", seed=1),
        "broken.jpg": image_bytes("JPEG", (300, 300), seed=4)[:2000],
        "notes.txt": b"shopping list",
        "bomb.png": png_bomb(),
        ".hidden.jpg": image_bytes("JPEG", seed=5),
    }
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return files


def _source_id(folder: Path, **options: object) -> int:
    with session_scope() as session:
        return add_source(session, "folder", str(folder), **options).id


def _counts() -> tuple[int, int, int]:
    with session_scope() as session:
        return (
            session.scalar(select(func.count()).select_from(Post)) or 0,
            session.scalar(select(func.count()).select_from(Meme)) or 0,
            session.scalar(select(func.count()).select_from(PostMeme)) or 0,
        )


@pytest.mark.integration
def test_folder_crawl_on_a_worker(env, redis_conn, start_worker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "memes"
    _fill(folder)
    source_id = _source_id(folder)
    start_worker("memethresher_crawler.tasks", tasks.CRAWL_QUEUE, env.vars)
    send(tasks.CRAWL_SOURCE, source_id)

    def crawled() -> dict | None:
        with session_scope() as session:
            return session.get(Source, source_id).last_result  # type: ignore[union-attr]

    result = wait_until(crawled, timeout_s=60, message="the folder crawl to finish")
    assert result["error"] is None
    assert (result["posts_new"], result["images_new"], result["images_duplicate"]) == (7, 3, 1)
    assert result["posts_skipped"] == 3
    assert _counts() == (7, 3, 4)

    with session_scope() as session:
        reasons = dict(session.execute(select(Post.key, Post.skip_reason)).all())
        memes = session.scalars(select(Meme).order_by(Meme.id)).all()
        store = ImageStore(env.storage)
        assert all(store.read(m.storage_key) and m.status == "new" for m in memes)
        assert {m.format for m in memes} == {"JPEG", "PNG", "WEBP"}
        meme_ids = [m.id for m in memes]
    assert "corrupt JPEG" in reasons[f"file:{folder / 'broken.jpg'}"]
    assert "not an image" in reasons[f"file:{folder / 'notes.txt'}"]
    assert "decompression bomb" in reasons[f"file:{folder / 'bomb.png'}"]
    assert reasons[f"file:{folder / 'copy-of-a.jpeg'}"] is None
    assert not any(".hidden" in key for key in reasons)
    assert queued_tasks(redis_conn, tasks.EMBED_QUEUE) == [(tasks.EMBED_BATCH, [meme_ids])]

    # A second crawl finds nothing new and enqueues nothing.
    send(tasks.CRAWL_SOURCE, source_id)
    wait_until(lambda: crawled()["posts_known"] == 7, timeout_s=60, message="the second crawl")  # type: ignore[index]
    assert _counts() == (7, 3, 4)
    assert len(queued_tasks(redis_conn, tasks.EMBED_QUEUE)) == 1


def test_embed_batches_follow_the_setting(env, redis_conn, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MEMETHRESHER_EMBED_BATCH_SIZE", "2")
    folder = tmp_path / "five"
    folder.mkdir()
    for seed in range(5):
        (folder / f"{seed}.png").write_bytes(image_bytes("PNG", seed=seed))
    result = crawl_source(_source_id(folder))
    assert result["embed_batches"] == 3
    batches = [args[0] for _name, args in queued_tasks(redis_conn, tasks.EMBED_QUEUE)]
    assert [len(batch) for batch in batches] == [2, 2, 1]
    assert len({i for batch in batches for i in batch}) == 5


def test_a_missing_folder_is_recorded_not_raised(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source_id = _source_id(tmp_path / "gone")
    result = crawl_source(source_id)
    assert "does not exist" in result["error"]
    with session_scope() as session:
        assert session.get(Source, source_id).last_crawl_at is not None  # type: ignore[union-attr]


def test_due_sources_are_enqueued_once(env, redis_conn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    once = _source_id(tmp_path / "once")
    (tmp_path / "once").mkdir()
    watched = _source_id(tmp_path / "watched", watch=True, interval_s=60)
    with session_scope() as session:
        reddit = add_source(session, "reddit", "r/memes").id
        disabled = add_source(session, "reddit", "r/pics")
        disabled.enabled = False
    due = crawl_due_sources()
    with session_scope() as session:  # the library folder is watched as a source of its own
        library = session.scalars(select(Source).where(Source.target == str(env.library))).one()
        assert library.options == {"watch": True, "library": True}
    assert sorted(due) == sorted([once, watched, reddit, library.id])
    assert crawl_due_sources() == []  # still queued: not enqueued twice
    assert len(queued_tasks(redis_conn, tasks.CRAWL_QUEUE)) == 4

    crawl_source(once)  # an unwatched folder is imported once, then never due again
    redis_conn.delete(tasks.CRAWL_QUEUE)
    assert once not in crawl_due_sources()


@pytest.mark.integration
def test_a_worker_killed_mid_crawl_loses_nothing(env, start_worker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "many"
    folder.mkdir()
    for seed in range(400):
        (folder / f"{seed:03d}.png").write_bytes(image_bytes("PNG", (160, 120), seed=seed))
    source_id = _source_id(folder)
    env.vars["MEMETHRESHER_CRAWL_LOCK_TIMEOUT_S"] = "5"
    worker = start_worker("memethresher_crawler.tasks", tasks.CRAWL_QUEUE, env.vars, name="doomed")
    send(tasks.CRAWL_SOURCE, source_id)
    wait_until(lambda: 0 < _counts()[0] < 400, timeout_s=60, interval_s=0.01, message="the crawl to be under way")
    worker.process.kill()  # SIGKILL: no chance to tidy up
    worker.process.wait()
    _assert_every_row_has_its_whole_file(env.storage)

    start_worker("memethresher_crawler.tasks", tasks.CRAWL_QUEUE, env.vars, name="heir")
    time.sleep(5)  # the dead worker's lock on the source lapses
    send(tasks.CRAWL_SOURCE, source_id)
    wait_until(lambda: _counts() == (400, 400, 400), timeout_s=60, message="the second crawl to finish")
    _assert_every_row_has_its_whole_file(env.storage)


def _assert_every_row_has_its_whole_file(storage: Path) -> None:
    store = ImageStore(storage)
    with session_scope() as session:
        memes = list(session.scalars(select(Meme)))
    for meme in memes:
        assert sha256_hex(store.read(meme.storage_key)) == meme.sha256
    # Whatever the kill interrupted is a temporary file, never a half image under a final name.
    finals = [p for p in storage.rglob("*") if p.is_file() and not p.name.startswith(".tmp-")]
    assert all(sha256_hex(p.read_bytes()) == p.name.split(".")[0] for p in finals)
