"""Archive backfill: a new subreddit source also takes its posts of the last weeks from the Arctic Shift
archive (a fake of it over real HTTP), once, without duplicates; nothing is asked of it unless it is set."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from memethresher_crawler.crawl import crawl_source
from memethresher_crawler.settings import get_crawler_settings
from memethresher_shared.db import session_scope
from memethresher_shared.models import Meme, Post, Source
from memethresher_shared.sources import add_source
from sqlalchemy import func, select

from tests.support import reddit_posts as rp
from tests.support.fake_arctic import FakeArctic
from tests.support.fake_reddit import FakeReddit
from tests.support.images import image_bytes

HOUR = 3600


@pytest.fixture
def fake_arctic() -> Iterator[FakeArctic]:
    with FakeArctic() as fake:
        yield fake


def _post(fake: FakeReddit, n: int, hours_ago: float) -> dict:
    url = fake.add_image(f"{n}.jpg", image_bytes("JPEG", seed=n))
    return rp.post(n, url, created_utc=float(int(time.time() - hours_ago * HOUR)))


def _keys() -> set[str]:
    with session_scope() as session:
        return set(session.scalars(select(Post.key)))


def _source() -> int:
    with session_scope() as session:
        return add_source(session, "reddit", "r/memes").id


def test_a_new_subreddit_source_starts_with_its_archived_weeks(  # type: ignore[no-untyped-def]
    reddit_env, fake_reddit: FakeReddit, fake_arctic: FakeArctic, monkeypatch
) -> None:
    monkeypatch.setenv("MEMETHRESHER_ARCHIVE_BASE_URL", fake_arctic.base_url)
    get_crawler_settings.cache_clear()
    live = [_post(fake_reddit, n, hours_ago=n) for n in (1, 2, 3)]  # what Reddit's listing still shows
    fake_reddit.add_posts("memes", live)
    older = [_post(fake_reddit, n, hours_ago=24 * n) for n in range(4, 210)]  # 4 days to 8.7 weeks ago
    fake_arctic.archive("memes", live + older)

    source = _source()
    result = crawl_source(source)
    assert result["error"] is None, result
    within = {"t3_p00001", "t3_p00002", "t3_p00003"} | {f"t3_p{n:05d}" for n in range(4, 28)}  # < 28 days
    assert _keys() == within  # the live posts once, the archived ones of the last four weeks
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Meme)) == len(within)
        row = session.get(Source, source)
        assert row is not None and row.crawl_state.get("backfilled") is True
    assert fake_arctic.requests[0]["subreddit"] == "memes" and fake_arctic.requests[0]["sort"] == "desc"

    asked = len(fake_arctic.requests)
    crawl_source(source)
    assert len(fake_arctic.requests) == asked  # once per source


def test_pages_of_the_archive_are_followed(  # type: ignore[no-untyped-def]
    reddit_env, fake_reddit: FakeReddit, fake_arctic: FakeArctic, monkeypatch
) -> None:
    monkeypatch.setenv("MEMETHRESHER_ARCHIVE_BASE_URL", fake_arctic.base_url)
    get_crawler_settings.cache_clear()
    fake_reddit.add_posts("memes", [_post(fake_reddit, 1, hours_ago=1)])
    fake_arctic.archive("memes", [_post(fake_reddit, n, hours_ago=n) for n in range(2, 252)])  # 250 in ~10 days
    crawl_source(_source())
    assert len(_keys()) == 251
    befores = [q.get("before") for q in fake_arctic.requests]
    assert len(befores) == 3 and befores[0] is None and all(befores[1:])  # 100, 100, then 50: the end


def test_no_archive_is_asked_unless_one_is_set(reddit_env, fake_reddit: FakeReddit, fake_arctic: FakeArctic) -> None:  # type: ignore[no-untyped-def]
    fake_reddit.add_posts("memes", [_post(fake_reddit, 1, hours_ago=1)])
    fake_arctic.archive("memes", [_post(fake_reddit, n, hours_ago=n) for n in (1, 2, 3)])
    crawl_source(_source())
    assert _keys() == {"t3_p00001"} and fake_arctic.requests == []
