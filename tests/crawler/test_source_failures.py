"""Crawl and download failures per source, as the dashboard reads them from the API, and a retry of a
source through the API: crawls against the fake Reddit over real HTTP, the retry queued on the real Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient
from memethresher_api.main import create_app
from memethresher_api.settings import get_api_settings
from memethresher_crawler.crawl import crawl_source
from memethresher_shared import tasks
from memethresher_shared.db import session_scope
from memethresher_shared.models import Post, utcnow
from memethresher_shared.sources import add_source
from sqlalchemy import select

from tests.api.helpers import BASE_URL
from tests.support import reddit_posts as rp
from tests.support.fake_reddit import FakeReddit
from tests.support.images import image_bytes
from tests.support.queues import queued_tasks


@pytest.fixture
def api(reddit_env) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    get_api_settings.cache_clear()
    with TestClient(create_app(), base_url=BASE_URL) as client:
        yield client
    get_api_settings.cache_clear()


def _source(target: str) -> int:
    with session_scope() as session:
        return add_source(session, "reddit", target).id


def test_failures_are_shown_per_source_and_a_retry_fetches_them_again(  # type: ignore[no-untyped-def]
    api: TestClient, fake_reddit: FakeReddit, redis_conn: redis.Redis
) -> None:
    fake_reddit.add_posts("memes", [
        rp.post(1, fake_reddit.add_image("fine.jpg", image_bytes("JPEG", seed=1))),
        rp.post(2, fake_reddit.add_image("busy.jpg", image_bytes("JPEG", seed=2))),
        rp.post(3, f"{fake_reddit.base_url}/img/missing.jpg"),
    ])  # fmt: skip
    fake_reddit.unavailable.add("busy.jpg")  # 503 until it is back
    memes, missing = _source("r/memes"), _source("r/nosuchplace")
    crawl_source(memes)
    crawl_source(missing)
    assert api.get("/api/sources/failures").status_code == 200
    failures = {f["source_id"]: f for f in api.get("/api/sources/failures").json()}
    assert set(failures) == {memes, missing}
    shown = failures[memes]
    assert (shown["error"], shown["images_failed"], shown["posts_waiting"]) == (None, 2, 1)
    assert shown["image_failures"] in ("1 HTTP 503, 1 HTTP 404", "1 HTTP 404, 1 HTTP 503")
    assert shown["examples"] == [{"title": "post 2", "url": f"{fake_reddit.base_url}/img/busy.jpg",
                                  "reason": "HTTP 503"}]  # fmt: skip
    assert "HTTP 404" in failures[missing]["error"]

    fake_reddit.unavailable.discard("busy.jpg")
    retried = api.post(f"/api/sources/{memes}/retry").json()
    assert retried == {"queued": True, "detail": f"crawl of source {memes} queued; 1 waiting posts fetched again"}
    assert queued_tasks(redis_conn, tasks.CRAWL_QUEUE) == [(tasks.CRAWL_SOURCE, [memes])]
    with session_scope() as session:
        due = session.scalar(select(Post.retry_at).where(Post.key == "t3_p00002"))
        assert due is not None and due.replace(tzinfo=None) <= utcnow().replace(tzinfo=None)

    result = crawl_source(memes)  # what the worker does with the queued task
    assert result["posts_recovered"] == 1
    assert [f["source_id"] for f in api.get("/api/sources/failures").json()] == [missing]
    assert api.post("/api/sources/4242/retry").status_code == 404
