"""Reddit crawls against the fake Reddit on loopback: what is stored, what is skipped and why."""

from __future__ import annotations

import re
from typing import Any

import pytest
from memethresher_crawler.crawl import crawl_source
from memethresher_shared import tasks
from memethresher_shared.db import session_scope
from memethresher_shared.models import Meme, Post, PostMeme, Source
from memethresher_shared.sources import add_source
from prometheus_client import REGISTRY
from sqlalchemy import select

from tests.support import reddit_posts as rp
from tests.support.fake_reddit import FakeReddit
from tests.support.images import image_bytes
from tests.support.queues import queued_tasks


def _source(target: str = "r/memes", **options: Any) -> int:
    with session_scope() as session:
        return add_source(session, "reddit", target, **options).id


def _posts() -> dict[str, Post]:
    with session_scope() as session:
        return {p.key: p for p in session.scalars(select(Post))}


def _memes_of(key: str) -> list[Meme]:
    with session_scope() as session:
        rows = session.execute(
            select(Meme).join(PostMeme).join(Post).where(Post.key == key).order_by(PostMeme.position)
        )
        return list(rows.scalars())


def _mixed_subreddit(fake: FakeReddit) -> dict[str, int]:
    """One post of every kind; returns post number by what it is."""
    base = fake.base_url
    img = [fake.add_image(f"{i}.jpg", image_bytes("JPEG", seed=i)) for i in range(6)]
    parent = rp.post(1, img[0], "pics")
    fake.add_posts("pics", [parent])
    fake.add_posts("memes", [
        rp.post(10, img[1]),
        rp.post(11, img[1]),  # the same image again: stored once, linked twice
        rp.gallery(12, [img[2], img[3], f"{base}/bad/truncated.jpg"], invalid=1),
        rp.crosspost(13, parent),
        rp.with_preview(rp.post(14, f"{base}/bad/html.png"), img[4]),  # the original lies; the preview works
        rp.post(15, img[5], over_18=True),
        rp.video_post(16, base),
        rp.self_post(17),
        rp.post(18, f"{base}/bad/bomb.png"),
        rp.post(19, f"{base}/bad/empty.png"),
        rp.post(20, f"{base}/bad/endless.jpg"),
        rp.post(21, f"{base}/bad/redirect-private.jpg"),
        rp.post(22, f"{base}/bad/missing.jpg"),
        rp.post(23, f"{base}/redirect/{img[4].rsplit('/', 1)[1]}"),
        rp.post(24, f"{base}/bad/video.mp4", post_hint=None),
        rp.post(25, "https://example.com/article", post_hint="link"),
    ])  # fmt: skip
    return {}


def test_a_mixed_subreddit(reddit_env, fake_reddit: FakeReddit, redis_conn, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _check_mixed_subreddit(fake_reddit, redis_conn, monkeypatch)


@pytest.mark.postgres
def test_a_mixed_subreddit_on_postgres(pg_reddit_env, fake_reddit: FakeReddit, redis_conn, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _check_mixed_subreddit(fake_reddit, redis_conn, monkeypatch)


def _check_mixed_subreddit(fake_reddit: FakeReddit, redis_conn, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MEMETHRESHER_MAX_IMAGE_BYTES", str(2 * 1024 * 1024))
    _mixed_subreddit(fake_reddit)
    crawled_before = _metric("memethresher_images_crawled_total", source_kind="reddit")
    bombs_before = _metric("memethresher_images_failed_total", stage="crawl", reason="bomb")
    result = crawl_source(_source())
    assert _metric("memethresher_images_crawled_total", source_kind="reddit") == crawled_before + 5
    assert _metric("memethresher_images_failed_total", stage="crawl", reason="bomb") == bombs_before + 1
    assert result["error"] is None, result
    posts = _posts()
    assert len(posts) == 16

    def reason(n: int) -> str | None:
        return posts[f"t3_p{n:05d}"].skip_reason

    assert [reason(n) for n in (10, 11, 12, 13, 14, 23)] == [None] * 6
    assert reason(15) == "over_18"
    assert reason(16) == "video"
    assert reason(17) == "self post without media"
    assert "decompression bomb" in reason(18)  # type: ignore[operator]
    assert "empty file" in reason(19)  # type: ignore[operator]
    assert "too large" in reason(20)  # type: ignore[operator]
    assert "private or internal address" in reason(21)  # type: ignore[operator]
    assert "HTTP 404" in reason(22)  # type: ignore[operator]
    assert "video" in reason(24)  # type: ignore[operator]
    assert reason(25) == "unknown host: example.com"

    assert _memes_of("t3_p00010")[0].id == _memes_of("t3_p00011")[0].id
    gallery = _memes_of("t3_p00012")
    assert [m.sha256 for m in gallery] == [_sha(2), _sha(3)]  # order kept; the truncated third refused
    assert [m.sha256 for m in _memes_of("t3_p00013")] == [_sha(0)]  # crosspost: the parent's image
    assert [m.sha256 for m in _memes_of("t3_p00014")] == [_sha(4)]  # preview fallback
    post = posts["t3_p00010"]
    assert (post.subreddit, post.author, post.title, post.reddit_score) == ("memes", "user3", "post 10", 10)
    assert post.permalink == "https://www.reddit.com/r/memes/comments/p00010/post_10/"
    assert post.created_utc is not None

    with session_scope() as session:
        memes = list(session.scalars(select(Meme)))
    assert len(memes) == 5 and all(m.format == "JPEG" and m.width == 64 for m in memes)
    embedded = [i for _n, args in queued_tasks(redis_conn, tasks.EMBED_QUEUE) for i in args[0]]
    assert sorted(embedded) == sorted(m.id for m in memes)
    # Reddit's required form, never a browser's: `<platform>:<app id>:<version> (by /u/<name>)`.
    (agent,) = fake_reddit.user_agents
    assert re.fullmatch(r"python:memethresher:\d+\.\d+\S* \(by /u/meme_hunter\)", agent), agent


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _sha(seed: int) -> str:
    import hashlib

    return hashlib.sha256(image_bytes("JPEG", seed=seed)).hexdigest()


def _numbered(fake: FakeReddit, numbers: range, subreddit: str = "memes") -> None:
    fake.add_posts(subreddit, [
        rp.post(n, fake.add_image(f"{subreddit}-{n}.jpg", image_bytes("JPEG", (16, 16), seed=n)), subreddit)
        for n in numbers
    ])  # fmt: skip


def test_pagination_and_incremental_crawls(reddit_env, fake_reddit: FakeReddit, redis_conn) -> None:  # type: ignore[no-untyped-def]
    _numbered(fake_reddit, range(250))
    source_id = _source()
    first = crawl_source(source_id)
    assert (first["posts_new"], first["images_new"], first["listing_requests"]) == (250, 250, 3)
    assert len(queued_tasks(redis_conn, tasks.EMBED_QUEUE)) == 8  # 250 in batches of 32

    _numbered(fake_reddit, range(250, 260))
    images_before = sum(fake_reddit.image_requests.values())
    second = crawl_source(source_id)
    assert (second["posts_new"], second["images_new"], second["listing_requests"]) == (10, 10, 1)
    assert sum(fake_reddit.image_requests.values()) - images_before == 10  # known posts not downloaded

    third = crawl_source(source_id)
    assert (third["posts_new"], third["listing_requests"]) == (0, 1)


def test_multireddit_and_user_listings(reddit_env, fake_reddit: FakeReddit) -> None:  # type: ignore[no-untyped-def]
    _numbered(fake_reddit, range(5), "cats")
    _numbered(fake_reddit, range(5, 8), "dogs")
    fake_reddit.multis[("alice", "pets")] = ["cats", "dogs"]
    user = crawl_source(_source("user/user3"))
    assert (user["posts_seen"], user["posts_new"]) == (1, 1)  # of posts 0-7 only post 3 is user3's
    multi = crawl_source(_source("/user/alice/m/pets", sort="top", time="week"))
    assert (multi["posts_seen"], multi["posts_new"]) == (8, 7)
    both = crawl_source(_source("r/cats+dogs", sort="hot"))
    assert (both["posts_new"], both["posts_known"]) == (0, 8)


def test_front_page_r_all_and_r_popular_are_listings_of_every_subreddit(reddit_env, fake_reddit: FakeReddit) -> None:  # type: ignore[no-untyped-def]
    _numbered(fake_reddit, range(3), "cats")
    _numbered(fake_reddit, range(3, 5), "dogs")
    front = crawl_source(_source("front", sort="hot"))
    assert (front["error"], front["posts_seen"], front["posts_new"]) == (None, 5, 5)
    for target in ("r/all", "r/popular"):
        listed = crawl_source(_source(target, sort="top", time="week"))
        assert (listed["error"], listed["posts_seen"], listed["posts_known"]) == (None, 5, 5)
    with session_scope() as session:
        assert [(s.target, s.sort) for s in session.scalars(select(Source).order_by(Source.id))] == [
            ("front", "hot"), ("r/all", "top"), ("r/popular", "top"),
        ]  # fmt: skip


def test_a_missing_subreddit_is_a_recorded_error(reddit_env, fake_reddit: FakeReddit) -> None:  # type: ignore[no-untyped-def]
    result = crawl_source(_source("r/nosuchplace"))
    assert "HTTP 404" in result["error"]


def test_a_stream_polls_at_the_pace_of_its_posts(reddit_env, fake_reddit: FakeReddit) -> None:  # type: ignore[no-untyped-def]
    image = fake_reddit.add_image("x.jpg", image_bytes("JPEG", (8, 8)))
    # Posts ten minutes apart.
    fake_reddit.add_posts("slow", [rp.post(n * 10, image, "slow") for n in range(5)])
    source_id = _source("r/slow", stream=True)
    crawl_source(source_id)
    with session_scope() as session:
        assert session.get(Source, source_id).interval_s == 600  # type: ignore[union-attr]
