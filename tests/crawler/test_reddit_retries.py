"""Posts whose images failed for passing reasons (5xx, 429, timeouts) are fetched again by later crawls of
their source, by id, with doubling waits, until their images come, the post is gone, or the retries are spent.
Against the fake Reddit on loopback; failures that will not pass (404, a corrupt image) are never retried."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from memethresher_crawler.cli import source
from memethresher_crawler.crawl import crawl_source
from memethresher_crawler.posts import next_retry_at
from memethresher_crawler.reddit_crawl import GONE
from memethresher_crawler.settings import get_crawler_settings
from memethresher_shared import tasks
from memethresher_shared.db import session_scope
from memethresher_shared.models import Meme, Post, PostMeme
from memethresher_shared.sources import add_source
from sqlalchemy import select

from tests.support import reddit_posts as rp
from tests.support.fake_reddit import FakeReddit
from tests.support.images import image_bytes
from tests.support.queues import queued_tasks


@pytest.fixture
def due_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """No wait before a retry, so the next crawl retries; at most two retries."""
    monkeypatch.setenv("MEMETHRESHER_FAILED_POST_RETRY_S", "0")
    monkeypatch.setenv("MEMETHRESHER_FAILED_POST_RETRIES", "2")
    get_crawler_settings.cache_clear()


def _source() -> int:
    with session_scope() as session:
        return add_source(session, "reddit", "r/memes").id


def _post(key: str) -> dict[str, Any]:
    with session_scope() as session:
        post = session.scalars(select(Post).where(Post.key == key)).one()
        return {"skip_reason": post.skip_reason, "retry_at": post.retry_at, "retries": post.retries}


def _shas_of(key: str) -> list[str]:
    with session_scope() as session:
        query = select(Meme.sha256).join(PostMeme).join(Post).where(Post.key == key).order_by(PostMeme.position)
        return list(session.scalars(query))


def _sha(seed: int) -> str:
    return hashlib.sha256(image_bytes("JPEG", seed=seed)).hexdigest()


def _down_image(fake: FakeReddit, name: str, seed: int) -> str:
    url = fake.add_image(name, image_bytes("JPEG", seed=seed))
    fake.unavailable.add(name)
    return url


def test_waits_double_until_the_retries_are_spent() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    waits = [next_retry_at(now, done, 1800, 3) for done in range(4)]
    assert waits[:3] == [now + timedelta(seconds=s) for s in (1800, 3600, 7200)]
    assert waits[3] is None
    assert next_retry_at(now, 0, 1800, 0) is None  # retries turned off


def test_a_post_whose_image_host_was_down_is_taken_by_a_later_crawl(
    reddit_env, fake_reddit: FakeReddit, redis_conn, due_at_once: None
) -> None:  # type: ignore[no-untyped-def]
    _check_recovery(fake_reddit, redis_conn)


@pytest.mark.postgres
def test_a_post_whose_image_host_was_down_is_taken_by_a_later_crawl_on_postgres(
    pg_reddit_env, fake_reddit: FakeReddit, redis_conn, due_at_once: None
) -> None:  # type: ignore[no-untyped-def]
    _check_recovery(fake_reddit, redis_conn)


def _check_recovery(fake: FakeReddit, redis_conn) -> None:  # type: ignore[no-untyped-def]
    down = _down_image(fake, "down.jpg", seed=1)
    fake.add_posts("memes", [rp.post(1, down), rp.post(2, f"{fake.base_url}/bad/missing.jpg")])
    source_id = _source()

    first = crawl_source(source_id)
    assert (first["posts_new"], first["images_new"], first["images_failed"]) == (2, 0, 2)
    failed, missing = _post("t3_p00001"), _post("t3_p00002")
    assert "HTTP 503" in failed["skip_reason"] and failed["retry_at"] is not None
    assert "HTTP 404" in missing["skip_reason"] and missing["retry_at"] is None  # will not pass: not retried
    assert "1 post waiting to be fetched again" in CliRunner().invoke(source, ["list"]).output

    fake.unavailable.clear()
    second = crawl_source(source_id)
    assert (second["posts_retried"], second["posts_recovered"], second["images_new"]) == (1, 1, 1)
    assert _post("t3_p00001") == {"skip_reason": None, "retry_at": None, "retries": 1}
    assert _shas_of("t3_p00001") == [_sha(1)]
    with session_scope() as session:
        meme_id = session.scalars(select(Meme.id).where(Meme.sha256 == _sha(1))).one()
    assert meme_id in [i for _n, args in queued_tasks(redis_conn, tasks.EMBED_QUEUE) for i in args[0]]

    requests = dict(fake.image_requests)
    third = crawl_source(source_id)
    assert (third["posts_retried"], third["posts_new"]) == (0, 0)
    assert fake.image_requests == requests  # nothing downloaded again
    assert "waiting" not in CliRunner().invoke(source, ["list"]).output


def test_retries_stop_when_spent(reddit_env, fake_reddit: FakeReddit, due_at_once: None) -> None:  # type: ignore[no-untyped-def]
    fake_reddit.add_posts("memes", [rp.post(1, _down_image(fake_reddit, "down.jpg", seed=1))])
    source_id = _source()
    retried = [crawl_source(source_id)["posts_retried"] for _ in range(4)]
    assert retried == [0, 1, 1, 0]  # the first crawl fails it; two retries; then no more
    post = _post("t3_p00001")
    assert post["retries"] == 2 and post["retry_at"] is None and "HTTP 503" in post["skip_reason"]
    requests = fake_reddit.image_requests["down.jpg"]
    crawl_source(source_id)
    assert fake_reddit.image_requests["down.jpg"] == requests


def test_a_post_deleted_meanwhile_is_not_retried_again(reddit_env, fake_reddit: FakeReddit, due_at_once: None) -> None:  # type: ignore[no-untyped-def]
    fake_reddit.add_posts("memes", [rp.post(1, _down_image(fake_reddit, "down.jpg", seed=1))])
    source_id = _source()
    crawl_source(source_id)
    fake_reddit.remove_post("t3_p00001")
    second = crawl_source(source_id)
    assert (second["posts_retried"], second["posts_recovered"]) == (1, 0)
    assert _post("t3_p00001") == {"skip_reason": GONE, "retry_at": None, "retries": 1}


def test_a_gallery_gets_its_missing_image_in_place(reddit_env, fake_reddit: FakeReddit, due_at_once: None) -> None:  # type: ignore[no-untyped-def]
    first_image = fake_reddit.add_image("0.jpg", image_bytes("JPEG", seed=0))
    fake_reddit.add_posts("memes", [rp.gallery(1, [first_image, _down_image(fake_reddit, "1.jpg", seed=1)])])
    source_id = _source()
    crawl_source(source_id)
    partial = _post("t3_p00001")
    assert partial["skip_reason"] is None and partial["retry_at"] is not None  # one image taken, one to come
    assert _shas_of("t3_p00001") == [_sha(0)]

    fake_reddit.unavailable.clear()
    second = crawl_source(source_id)
    assert (second["posts_retried"], second["posts_recovered"], second["images_new"]) == (1, 1, 1)
    assert _shas_of("t3_p00001") == [_sha(0), _sha(1)]  # gallery order kept
