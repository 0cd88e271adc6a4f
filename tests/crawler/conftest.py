"""Crawler test fixtures: crawler settings are cached apart from the shared ones, so reset them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from memethresher_crawler.settings import get_crawler_settings

from tests.support.fake_reddit import FakeReddit


@pytest.fixture(autouse=True)
def _fresh_crawler_settings() -> Iterator[None]:
    get_crawler_settings.cache_clear()
    yield
    get_crawler_settings.cache_clear()


@pytest.fixture
def fake_reddit() -> Iterator[FakeReddit]:
    """A fake Reddit on loopback, stopped after the test."""
    with FakeReddit() as fake:
        yield fake


def _point_at(env, fake: FakeReddit, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    values = {
        # Reddit serves listings to an app's token (the other doors have tests of their own).
        **fake.oauth_env(),
        "MEMETHRESHER_REDDIT_USERNAME": "meme_hunter",
        "MEMETHRESHER_ALLOWED_PRIVATE_NETWORKS": '["127.0.0.1/32"]',
        "MEMETHRESHER_BACKOFF_BASE_S": "0.05",
        "MEMETHRESHER_BACKOFF_MAX_S": "2",
        "MEMETHRESHER_READ_TIMEOUT_S": "1",
        "MEMETHRESHER_TOTAL_TIMEOUT_S": "3",
        "MEMETHRESHER_REDDIT_REQUESTS_PER_MINUTE": "100",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    env.vars.update(values)
    get_crawler_settings.cache_clear()
    return env


@pytest.fixture
def reddit_env(env, fake_reddit: FakeReddit, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Settings pointing the crawler at the fake Reddit (SQLite), loopback allowed, short backoffs."""
    return _point_at(env, fake_reddit, monkeypatch)


@pytest.fixture
def pg_reddit_env(pg_env, fake_reddit: FakeReddit, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """As `reddit_env`, on a fresh PostgreSQL database."""
    return _point_at(pg_env, fake_reddit, monkeypatch)
