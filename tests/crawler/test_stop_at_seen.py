"""A crawl stops at the posts its own source has seen, and resumes where an earlier crawl was cut off."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from memethresher_crawler.crawl import crawl_source
from memethresher_crawler.settings import get_crawler_settings
from memethresher_shared.db import session_scope
from memethresher_shared.models import Post, Source
from memethresher_shared.sources import add_source
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from tests.support import reddit_posts as rp
from tests.support.fake_reddit import FakeReddit
from tests.support.images import image_bytes


class FailingReddit(FakeReddit):
    """The fake Reddit, answering 503 to the listing requests numbered in `fail_at` (1 is the first)."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_at: set[int] = set()
        self.listings_served = 0

    async def _listing(self, request: Request) -> Response:
        self.listings_served += 1
        if self.listings_served in self.fail_at:
            self.fail_next("503")
        return await super()._listing(request)


@pytest.fixture
def fake_reddit() -> Iterator[FailingReddit]:
    with FailingReddit() as fake:
        yield fake


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def small_pages(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Pages of two posts, at most two pages a crawl, no retries of a failed listing; SQLite, then PostgreSQL."""
    env = request.getfixturevalue("reddit_env" if request.param == "sqlite" else "pg_reddit_env")
    for key, value in {"LISTING_PAGE_SIZE": "2", "MAX_LISTING_PAGES": "2", "MAX_RETRIES": "0"}.items():
        monkeypatch.setenv(f"MEMETHRESHER_{key}", value)
    get_crawler_settings.cache_clear()
    return env


def _add_posts(fake: FakeReddit, subreddit: str, numbers: list[int]) -> None:
    fake.add_posts(subreddit, [
        rp.post(n, fake.add_image(f"{n}.jpg", image_bytes("JPEG", seed=n)), subreddit) for n in numbers
    ])  # fmt: skip


def _source(target: str, **options: Any) -> int:
    with session_scope() as session:
        return add_source(session, "reddit", target, **options).id


def _posts_of(source_id: int) -> set[int]:
    """The post numbers recorded by `source_id`."""
    with session_scope() as session:
        keys = session.scalars(select(Post.key).where(Post.source_id == source_id))
        return {int(key.removeprefix("t3_p")) for key in keys}


def _gaps(source_id: int) -> list[str]:
    with session_scope() as session:
        source = session.get(Source, source_id)
        assert source is not None
        return list(source.crawl_state.get("gaps", []))


def test_posts_known_from_another_source_do_not_end_the_crawl(
    small_pages, fake_reddit: FakeReddit, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMETHRESHER_MAX_LISTING_PAGES", "10")
    get_crawler_settings.cache_clear()
    _add_posts(fake_reddit, "cats", [2, 4, 6, 8, 10])  # the newest post is a cat
    _add_posts(fake_reddit, "dogs", [1, 3, 5, 7, 9])
    cats = _source("r/cats")
    assert crawl_source(cats)["error"] is None
    assert _posts_of(cats) == {2, 4, 6, 8, 10}

    both = _source("r/cats+dogs")
    result = crawl_source(both)
    assert result["error"] is None
    assert _posts_of(both) == {1, 3, 5, 7, 9}  # every dog post, though each page starts with a known cat
    assert result["posts_new"] == 5 and result["posts_known"] == 5

    # Later, a new dog post: taken, and the crawl ends at the first dog post it had taken before.
    _add_posts(fake_reddit, "dogs", [11])
    before = len(fake_reddit.listing_times)
    result = crawl_source(both)
    assert _posts_of(both) == {1, 3, 5, 7, 9, 11}
    assert result["posts_new"] == 1
    assert len(fake_reddit.listing_times) - before == 2  # [11, 10] then [9 (its own), 8]: no third page


def test_a_crawl_cut_off_by_the_page_limit_resumes_where_it_stopped(small_pages, fake_reddit: FakeReddit) -> None:
    _add_posts(fake_reddit, "memes", list(range(1, 11)))
    memes = _source("r/memes")
    crawl_source(memes)
    assert _posts_of(memes) == {10, 9, 8, 7}  # two pages of two
    assert _gaps(memes) == ["t3_p00007"]

    _add_posts(fake_reddit, "memes", [11])
    result = crawl_source(memes)
    # The top down to what it had seen ([11, 10]), then two pages on from where it stopped.
    assert _posts_of(memes) == {11, 10, 9, 8, 7, 6, 5, 4, 3}
    assert result["posts_new"] == 5
    assert _gaps(memes) == ["t3_p00003"]

    crawl_source(memes)
    assert _posts_of(memes) == set(range(1, 12))
    assert _gaps(memes) == []  # the listing's end reached: nothing left to resume


def test_a_crawl_cut_off_by_an_error_resumes_after_the_last_page_it_recorded(
    small_pages, fake_reddit: FailingReddit
) -> None:
    _add_posts(fake_reddit, "memes", list(range(1, 7)))
    fake_reddit.fail_at = {2}  # the second page of the first crawl
    memes = _source("r/memes")
    result = crawl_source(memes)
    assert "HTTP 503" in result["error"], result
    assert _posts_of(memes) == {6, 5}  # the page listed before the error is kept
    assert _gaps(memes) == ["t3_p00005"]

    result = crawl_source(memes)
    assert result["error"] is None
    assert _posts_of(memes) == {6, 5, 4, 3, 2, 1}
    assert _gaps(memes) == []
