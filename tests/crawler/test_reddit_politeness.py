"""Rate limits, backoff, retries and OAuth against the fake Reddit."""

from __future__ import annotations

import time
from typing import Any

import pytest
from memethresher_crawler.crawl import crawl_source
from memethresher_shared import tasks
from memethresher_shared.celery_app import send
from memethresher_shared.db import session_scope
from memethresher_shared.models import Meme, PostMeme, Source
from memethresher_shared.sources import add_source
from sqlalchemy import func, select

from tests.conftest import wait_until
from tests.support import reddit_posts as rp
from tests.support.fake_reddit import FakeReddit
from tests.support.images import image_bytes


def _source(target: str = "r/memes", **options: Any) -> int:
    with session_scope() as session:
        return add_source(session, "reddit", target, **options).id


def _fill(fake: FakeReddit, count: int, subreddit: str = "memes", first: int = 0) -> None:
    image = fake.add_image("one.jpg", image_bytes("JPEG", (8, 8)))
    fake.add_posts(subreddit, [rp.post(n, image, subreddit) for n in range(first, first + count)])


@pytest.mark.parametrize("mode", ["429", "503", "truncated", "stall", "slow"])
def test_a_listing_failure_is_retried(reddit_env, fake_reddit: FakeReddit, mode: str) -> None:  # type: ignore[no-untyped-def]
    _fill(fake_reddit, 150)
    fake_reddit.fail_next(mode, 2)
    started = time.monotonic()
    result = crawl_source(_source())
    assert result["error"] is None
    assert result["posts_new"] == 150
    assert result["listing_requests"] == 2 + (2 if mode != "slow" else 0)
    if mode == "429":
        assert time.monotonic() - started >= 2 * fake_reddit.retry_after_s  # Retry-After honoured


def test_retry_after_as_an_http_date_is_honoured(reddit_env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with FakeReddit(retry_after_s=2.0, retry_after_as_date=True) as fake:
        for name, value in fake.oauth_env().items():
            monkeypatch.setenv(name, value)
        _fill(fake, 5)
        fake.fail_next("429")
        result = crawl_source(_source())
    assert result["error"] is None and result["posts_new"] == 5
    first, second = fake.listing_times
    assert second - first >= 2.0 - 0.1  # the date said to come back in 2-3 s; backoff alone is 0.05 s


def test_retries_run_out_with_a_clear_error(reddit_env, fake_reddit: FakeReddit, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MEMETHRESHER_MAX_RETRIES", "2")
    _fill(fake_reddit, 150)
    fake_reddit.fail_next("503", 100)
    result = crawl_source(_source())
    assert "failed after 3 tries: HTTP 503" in result["error"]
    assert result["listing_requests"] == 3


def test_ratelimit_headers_are_obeyed(reddit_env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with FakeReddit(allowance=2, window_s=1.5) as fake:
        for name, value in fake.oauth_env().items():
            monkeypatch.setenv(name, value)
        _fill(fake, 450)
        started = time.monotonic()
        result = crawl_source(_source())
    assert result["posts_new"] == 450
    assert fake.over_limit == 0  # never asked while the headers said nothing was left
    assert time.monotonic() - started >= 2 * 1.5 - 0.5  # five pages, two per window


def test_oauth_token_is_fetched_once_and_refreshed(reddit_env, redis_conn, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with FakeReddit(token_ttl_s=1) as fake:
        for name, value in {"REDDIT_OAUTH_BASE_URL": fake.oauth_url, "REDDIT_CLIENT_ID": fake.client_id,
                            "REDDIT_CLIENT_SECRET": fake.client_secret,
                            "REDDIT_TOKEN_URL": f"{fake.base_url}/api/v1/access_token"}.items():  # fmt: skip
            monkeypatch.setenv(f"MEMETHRESHER_{name}", value)
        _fill(fake, 150)
        assert crawl_source(_source())["posts_new"] == 150
        assert fake.token_requests == 1  # two pages, one token
        time.sleep(1.1)  # the token expires on Reddit's side; the crawler learns it from a 401
        _fill(fake, 10, first=150)
        assert crawl_source(_source())["posts_new"] == 10
        assert fake.token_requests == 2


def test_wrong_credentials_are_a_clear_error(reddit_env, fake_reddit: FakeReddit, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MEMETHRESHER_REDDIT_CLIENT_ID", "someone-else")
    _fill(fake_reddit, 5)
    assert "refused the OAuth credentials" in crawl_source(_source())["error"]


@pytest.mark.integration
def test_two_workers_share_one_budget(reddit_env, fake_reddit: FakeReddit, start_worker, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    budget = {"MEMETHRESHER_REDDIT_REQUESTS_PER_MINUTE": "3", "MEMETHRESHER_REDDIT_BUDGET_WINDOW_S": "2"}
    reddit_env.vars.update(budget)
    _fill(fake_reddit, 400, "cats")
    _fill(fake_reddit, 400, "dogs", first=1000)
    sources = [_source("r/cats"), _source("r/dogs")]
    for name in ("one", "two"):
        start_worker("memethresher_crawler.tasks", tasks.CRAWL_QUEUE, reddit_env.vars, name=name)
    for source_id in sources:
        send(tasks.CRAWL_SOURCE, source_id)

    def done() -> bool:
        with session_scope() as session:
            return all(session.get(Source, s).last_result for s in sources)  # type: ignore[union-attr]

    wait_until(done, timeout_s=60, message="both crawls")
    assert len(fake_reddit.listing_times) == 8
    assert fake_reddit.requests_over_budget(3, window_s=2, slack_s=0.5) == 0
    assert max(fake_reddit.listing_times) - min(fake_reddit.listing_times) >= 2 * 2 - 0.5
    with session_scope() as session:
        # Both subreddits carry the same image: the two workers stored it once, linked to all 800 posts.
        assert session.scalar(select(func.count()).select_from(Meme)) == 1
        assert session.scalar(select(func.count()).select_from(PostMeme)) == 800
