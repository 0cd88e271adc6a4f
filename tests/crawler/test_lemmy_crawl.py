"""Lemmy crawls against the fake Lemmy on loopback: what is stored, what is skipped and why, paging,
a 429 honoured, and nothing stored twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from memethresher_crawler.crawl import crawl_source
from memethresher_crawler.settings import get_crawler_settings
from memethresher_shared.db import session_scope
from memethresher_shared.models import Meme, Post, PostMeme
from memethresher_shared.sources import add_source
from sqlalchemy import func, select

from tests.support.fake_lemmy import FakeLemmy
from tests.support.images import image_bytes


@pytest.fixture
def fake_lemmy() -> Iterator[FakeLemmy]:
    with FakeLemmy() as fake:
        yield fake


@pytest.fixture
def lemmy_env(env, fake_lemmy: FakeLemmy, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """lemmy.ml answered by the fake, loopback allowed for its images, short backoffs."""
    values = {
        "MEMETHRESHER_LEMMY_BASE_URLS": json.dumps({"lemmy.ml": fake_lemmy.base_url}),
        "MEMETHRESHER_ALLOWED_PRIVATE_NETWORKS": '["127.0.0.1/32"]',
        "MEMETHRESHER_BACKOFF_BASE_S": "0.05",
        "MEMETHRESHER_BACKOFF_MAX_S": "5",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    get_crawler_settings.cache_clear()
    return env


def _source(target: str = "memes@lemmy.ml", **options: Any) -> int:
    with session_scope() as session:
        return add_source(session, "lemmy", target, **options).id


def _posts() -> dict[int, Post]:
    with session_scope() as session:
        return {int(p.key.rsplit("/", 1)[1]): p for p in session.scalars(select(Post))}


def _image_post(fake: FakeLemmy, n: int, seed: int | None = None, **fields: Any) -> dict[str, Any]:
    url = fake.add_image(f"{n}.jpg", image_bytes("JPEG", seed=n if seed is None else seed))
    return fake.post(n, "memes", url, **fields)


def test_posts_are_taken_or_skipped_with_their_reasons(lemmy_env, fake_lemmy: FakeLemmy) -> None:  # type: ignore[no-untyped-def]
    thumbnail = fake_lemmy.add_image("thumb.jpg", image_bytes("JPEG", seed=99))
    fake_lemmy.add_posts("memes", [
        _image_post(fake_lemmy, 1),
        _image_post(fake_lemmy, 2, nsfw=True),
        fake_lemmy.post(3, "memes", "https://example.com/clip", embed_video_url="https://example.com/clip.mp4"),
        fake_lemmy.post(4, "memes", "https://files.example/cat.mp4", url_content_type="video/mp4"),
        fake_lemmy.post(5, "memes", None, body="only words"),
        fake_lemmy.post(6, "memes", "https://news.example/story", thumbnail_url=thumbnail),
        fake_lemmy.post(7, "memes", "https://news.example/other"),
        _image_post(fake_lemmy, 8, removed=True),
    ])  # fmt: skip
    result = crawl_source(_source())
    assert result["error"] is None, result
    posts = _posts()
    assert {n: p.skip_reason for n, p in posts.items()} == {
        1: None, 2: "over_18 (marked NSFW)", 3: "video", 4: "video", 5: "self post without media", 6: None,
        7: "unknown host: news.example", 8: "removed or deleted",
    }  # fmt: skip
    assert (posts[1].taken_as, posts[6].taken_as) == ("image", "preview of a link")
    first = posts[1]
    assert (first.subreddit, first.author, first.title, first.reddit_score) == (
        "memes@lemmy.ml",
        "lemming1",
        "lemmy post 1",
        1,
    )
    assert first.key == first.permalink == "https://lemmy.ml/post/1"
    assert first.created_utc is not None and first.created_utc.timestamp() == 1_700_000_060
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Meme)) == 2
    assert result["skip_reasons"]["over_18"] == 1
    asked = fake_lemmy.requests[0][1]
    assert (asked["community_name"], asked["sort"], asked["limit"]) == ("memes@lemmy.ml", "New", "50")


def test_pages_are_followed_and_a_later_crawl_takes_only_what_is_new(
    lemmy_env, fake_lemmy: FakeLemmy, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MEMETHRESHER_LEMMY_PAGE_SIZE", "3")
    get_crawler_settings.cache_clear()
    fake_lemmy.add_posts("memes", [_image_post(fake_lemmy, n) for n in range(1, 8)])
    fake_lemmy.add_posts("memes", [_image_post(fake_lemmy, 8, seed=1)])  # the image of post 1 again
    source = _source()
    result = crawl_source(source)
    assert result["error"] is None, result
    assert sorted(_posts()) == list(range(1, 9))
    assert [q.get("page_cursor") for _t, q in fake_lemmy.requests] == [None, "P6", "P3", "P1"]
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Meme)) == 7  # post 8's image is post 1's meme
        assert session.scalar(select(func.count()).select_from(PostMeme)) == 8

    fake_lemmy.add_posts("memes", [_image_post(fake_lemmy, 9)])
    before = len(fake_lemmy.requests)
    result = crawl_source(source)
    assert result["posts_new"] == 1 and result["images_new"] == 1
    assert len(fake_lemmy.requests) - before == 1  # [9, 8, 7]: 8 was seen, so no second page
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Post)) == 9


def test_a_429_is_waited_out_as_lemmy_asks(lemmy_env, fake_lemmy: FakeLemmy) -> None:  # type: ignore[no-untyped-def]
    fake_lemmy.retry_after_s = 1.5
    fake_lemmy.add_posts("memes", [_image_post(fake_lemmy, 1)])
    fake_lemmy.fail_next(429)
    result = crawl_source(_source())
    assert result["error"] is None, result
    (refused_at, _), (asked_again_at, _), *_ = fake_lemmy.requests
    assert asked_again_at - refused_at >= 1.5
    assert result["listing_requests"] == len(fake_lemmy.requests)
    assert sorted(_posts()) == [1]


def test_sort_top_asks_for_the_window_and_an_unknown_community_is_a_clear_error(
    lemmy_env, fake_lemmy: FakeLemmy
) -> None:  # type: ignore[no-untyped-def]
    fake_lemmy.add_posts("memes", [_image_post(fake_lemmy, 1)])
    assert crawl_source(_source(sort="top", time="week"))["error"] is None
    assert fake_lemmy.requests[-1][1]["sort"] == "TopWeek"
    result = crawl_source(_source("!nosuchthing@lemmy.ml"))
    assert "HTTP 404 (couldnt_find_community)" in result["error"]


def test_images_that_failed_for_a_passing_reason_are_fetched_again_later(
    lemmy_env, fake_lemmy: FakeLemmy, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MEMETHRESHER_FAILED_POST_RETRY_S", "0")  # due again at once
    get_crawler_settings.cache_clear()
    fake_lemmy.add_posts("memes", [_image_post(fake_lemmy, n) for n in (1, 2, 3)])
    fake_lemmy.unavailable.update({"1.jpg", "2.jpg"})
    source = _source()
    first = crawl_source(source)
    assert (first["images_new"], first["images_failed"]) == (1, 2)
    assert {n: p.retry_at is not None for n, p in _posts().items()} == {1: True, 2: True, 3: False}

    fake_lemmy.unavailable.clear()
    fake_lemmy.remove_post(2)  # deleted meanwhile
    again = crawl_source(source)
    assert (again["posts_retried"], again["posts_recovered"], again["images_new"]) == (2, 1, 1)
    posts = _posts()
    assert posts[1].skip_reason is None and posts[1].retry_at is None
    assert posts[2].skip_reason == "deleted or removed from Lemmy before its images could be fetched"
    assert posts[2].retry_at is None
    assert {"id": "1"} in [query for _t, query in fake_lemmy.requests]  # asked by its id on its instance
