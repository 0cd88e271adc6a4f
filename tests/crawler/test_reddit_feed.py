"""Reddit's Atom feeds: entries parsed into posts, and feed crawls against the fake Reddit within one
feed request a minute (the window shortened), backing off on 429."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from memethresher_crawler.cli import source as source_cli
from memethresher_crawler.crawl import crawl_source
from memethresher_crawler.reddit import parse_listing
from memethresher_crawler.reddit_feed import feed_path, parse_feed
from memethresher_crawler.settings import get_crawler_settings
from memethresher_shared.db import session_scope
from memethresher_shared.models import Post
from memethresher_shared.sources import add_source
from sqlalchemy import select

from tests.support import reddit_posts as rp
from tests.support.fake_reddit import FakeReddit
from tests.support.images import image_bytes

FEED = Path(__file__).parents[1] / "data" / "reddit" / "memes_new.atom"


def test_a_recorded_feed_becomes_posts_with_their_images() -> None:
    listing = parse_listing(parse_feed(FEED.read_text()))
    image, flickr, text, video = listing.posts
    assert (image.key, image.title, image.author, image.subreddit) == (
        "t3_1h3k9zq", "Monday again & again", "Spare_Dog_4410", "memes")  # fmt: skip
    assert image.permalink == "https://www.reddit.com/r/memes/comments/1h3k9zq/monday_again/"
    assert image.url == "https://i.redd.it/q8x1v2m4a44e1.jpeg" and image.taken_as == "image"
    # The preview the entry shows is the fallback, its signature kept exactly (one `&` per parameter).
    assert image.media[0].url == "https://i.redd.it/q8x1v2m4a44e1.jpeg"
    assert image.media[0].fallback_url == (
        "https://preview.redd.it/q8x1v2m4a44e1.jpeg?width=640&crop=smart&auto=webp"
        "&s=5d0c2f4e8a1b3c6d7e9f0a1b2c3d4e5f6a7b8c9d"
    )
    assert image.created_utc is not None and image.created_utc.year == 2026
    assert image.score is None  # feeds carry no score
    assert flickr.taken_as == "preview of a link" and flickr.media[0].url.startswith("https://external-preview")
    assert text.skip_reason == "self post without media"
    assert video.skip_reason == "video"
    assert listing.after is None


def test_what_is_not_a_feed_is_refused() -> None:
    with pytest.raises(ValueError, match="not an Atom feed"):
        parse_feed("<html><body>hello</body></html>")
    with pytest.raises(ValueError, match="not an Atom feed"):
        parse_feed('{"kind": "Listing"}')


def test_feed_paths_follow_the_listing() -> None:
    assert feed_path("/r/memes/new.json") == "/r/memes/new/.rss"
    assert feed_path("/user/me/m/funny/top.json") == "/user/me/m/funny/top/.rss"
    assert feed_path("/new.json") == "/new/.rss"


def _feed_env(monkeypatch: pytest.MonkeyPatch, fake: FakeReddit, **extra: str) -> None:
    values = {"REDDIT_ACCESS": "feed", "REDDIT_CLIENT_ID": "", "REDDIT_BUDGET_WINDOW_S": "1", **extra}
    for name, value in values.items():
        monkeypatch.setenv(f"MEMETHRESHER_{name}", value)
    get_crawler_settings.cache_clear()


def _fill(fake: FakeReddit, count: int, first: int = 0) -> None:
    image = fake.add_image(f"feed{first}.jpg", image_bytes("JPEG", (8, 8), seed=first))
    fake.add_posts("memes", [rp.post(n, image) for n in range(first, first + count)])


def _source(target: str = "r/memes") -> int:
    with session_scope() as session:
        return add_source(session, "reddit", target).id


def test_a_feed_crawl_takes_posts_without_scores_within_the_feed_budget(
    reddit_env, fake_reddit: FakeReddit, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    # Reddit's minute, shortened as the crawler's window is (less a little: a busy machine delays requests).
    fake_reddit.doors.feed_window_s = 0.9
    _feed_env(monkeypatch, fake_reddit)
    _fill(fake_reddit, 20)
    source = _source()
    first = crawl_source(source)
    assert first["error"] is None and first["access_mode"] == "feed" and first["posts_new"] == 20
    _fill(fake_reddit, 5, first=20)
    started = time.monotonic()
    second = crawl_source(source)  # within the minute: the budget waits rather than earn a 429
    assert second["posts_new"] == 5 and second["listing_requests"] == 1
    assert time.monotonic() - started >= 0.5
    assert fake_reddit.doors.feeds_refused == 0 and fake_reddit.listing_times == []  # no JSON asked
    with session_scope() as session:
        scores = {p.reddit_score for p in session.scalars(select(Post))}
    assert scores == {None}
    listed = CliRunner().invoke(source_cli, ["list"])
    assert "5 new posts, 1 new images, 0 skipped by feed (feeds carry no Reddit scores)" in listed.output


def test_a_429_from_the_feed_is_waited_out(reddit_env, fake_reddit: FakeReddit, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    fake_reddit.doors.feed_window_s = 1.0
    _feed_env(monkeypatch, fake_reddit, REDDIT_FEED_REQUESTS_PER_MINUTE="10")  # more than Reddit allows
    _fill(fake_reddit, 3)
    source = _source()
    assert crawl_source(source)["posts_new"] == 3
    _fill(fake_reddit, 2, first=3)
    result = crawl_source(source)
    assert result["error"] is None and result["posts_new"] == 2
    assert fake_reddit.doors.feeds_refused == 1 and result["listing_requests"] == 2


def test_a_429_storm_is_a_refusal_with_what_to_do(reddit_env, fake_reddit: FakeReddit, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    fake_reddit.doors.feed_window_s = 600.0
    _feed_env(monkeypatch, fake_reddit, REDDIT_FEED_REQUESTS_PER_MINUTE="10", MAX_RETRIES="2",
              BACKOFF_MAX_S="0.1")  # fmt: skip
    _fill(fake_reddit, 3)
    source = _source()
    crawl_source(source)
    result = crawl_source(source)
    assert result["refusal"]["kind"] == "rate_limited"
    assert "429" in result["error"] and "about one feed a minute per address" in result["error"]
    assert result["listing_requests"] == 3


def test_a_private_feed_token_reads_the_front_page(reddit_env, fake_reddit: FakeReddit, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    _feed_env(monkeypatch, fake_reddit, REDDIT_FEED_TOKEN="fake-feed-token")
    _fill(fake_reddit, 4)
    assert crawl_source(_source("front"))["posts_new"] == 4
    assert "feed=[redacted]" in caplog.text and "fake-feed-token" not in caplog.text  # httpx logs the URL
    _feed_env(monkeypatch, fake_reddit, REDDIT_FEED_TOKEN="an-old-token")
    fake_reddit.doors.feed_window_s = 0.0
    result = crawl_source(_source("r/memes"))
    assert result["refusal"]["kind"] == "forbidden"
    assert "MEMETHRESHER_REDDIT_FEED_TOKEN" in result["error"]
