"""Parsing Reddit listings: every usable image taken, every other post given a reason."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from memethresher_crawler.reddit import mean_post_gap_s, parse_listing, parse_post

from tests.support import reddit_posts as rp

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "reddit"


def sample(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / f"{name}.json").read_text())["body"]


@pytest.mark.parametrize(
    "name",
    [
        "TestSubredditListings.test_new__0",
        "TestSubredditListings.test_hot__0",
        "TestFront.test_new__0",
        "TestDomainListing.test_new__0",
        "TestMultiredditListings.test_hot__0",
        "TestSubreddit.test_submit_gallery__0",
    ],
)
def test_every_recorded_post_is_taken_or_given_a_reason(name: str) -> None:
    body = sample(name)
    result = parse_listing(body)
    assert len(result.posts) == len(body["data"]["children"])
    for post in result.posts:
        assert bool(post.media) != bool(post.skip_reason), post.key
        assert post.key.startswith("t3_")
        assert all(item.url.startswith("http") and "&amp;" not in item.url for item in post.media)


def test_self_post_listings_yield_nothing_to_download() -> None:
    reasons = Counter(p.skip_reason for p in parse_listing(sample("TestSubredditListings.test_new__0")).posts)
    assert reasons == {"self post without media": 96, "over_18": 4}


def test_front_page_takes_direct_images_and_imgur_pages() -> None:
    posts = parse_listing(sample("TestFront.test_new__0")).posts
    taken = [p for p in posts if p.media]
    direct = [p for p in taken if "i.imgur.com" in (p.url or "") and not p.url.endswith(".gifv")]  # type: ignore[union-attr]
    assert len(direct) == 12  # the 13th i.imgur.com link is a .gifv video
    assert len(taken) == 21
    gifv = next(p for p in posts if (p.url or "").endswith(".gifv"))
    assert gifv.skip_reason == "video"
    page = next(p for p in posts if p.url == "https://imgur.com/BOfrQre")
    assert page.media[0].url == "https://i.imgur.com/BOfrQre.jpg"
    assert page.media[0].fallback_url and page.media[0].fallback_url.startswith("https://i.redditmedia.com/")
    assert any(p.skip_reason == "unknown host: nytimes.com" for p in posts)


def test_multireddit_images_keep_metadata_and_preview_fallback() -> None:
    result = parse_listing(sample("TestMultiredditListings.test_hot__0"))
    taken = [p for p in result.posts if p.media]
    assert len(taken) >= 65
    assert result.after == "t3_4t8480"
    first = taken[0]
    assert first.subreddit and first.author and first.title
    assert first.permalink and first.permalink.startswith("https://www.reddit.com/r/")
    assert first.created_utc is not None and first.created_utc.year == 2016
    assert isinstance(first.score, int)
    assert sum(p.skip_reason == "video" for p in result.posts) == 3  # YouTube, gfycat, a .gifv


def test_gallery_keeps_order_and_only_valid_items() -> None:
    post = parse_listing(sample("TestSubreddit.test_submit_gallery__0")).posts[0]
    ids = [item.url.split("/")[3].split(".")[0] for item in post.media]
    assert ids == ["pb7qsvi6i3c51", "14wmudl6i3c51", "vkm62gm6i3c51", "wka18en6i3c51"]
    assert post.media[2].url == "https://i.redd.it/vkm62gm6i3c51.gif"  # animated: the GIF itself
    made = rp.gallery(1, ["https://i.redd.it/a.jpg", "https://i.redd.it/b.jpg"], invalid=2)
    assert [m.url for m in parse_post(made).media] == ["https://i.redd.it/a.jpg", "https://i.redd.it/b.jpg"]
    assert parse_post(rp.gallery(2, [], invalid=1)).skip_reason == "gallery without valid images"


def test_crosspost_uses_the_parents_media_and_its_own_metadata() -> None:
    parent = rp.post(1, "https://i.redd.it/parent.png", "pics")
    child = parse_post(rp.crosspost(2, parent, "memes"))
    assert child.key == "t3_p00002" and child.subreddit == "memes"
    assert [m.url for m in child.media] == ["https://i.redd.it/parent.png"]
    nsfw_parent = rp.post(3, "https://i.redd.it/x.png", "pics", over_18=True)
    assert parse_post(rp.crosspost(4, nsfw_parent)).skip_reason == "over_18"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"over_18": True}, "over_18"),
        ({"spoiler": True}, "spoiler"),
        ({"is_robot_indexable": False}, "not robot indexable"),
        ({"removed_by_category": "moderator"}, "removed (moderator)"),
        ({"author": "[deleted]"}, "removed or deleted"),
        ({"is_video": True}, "video"),
        ({"url": "https://v.redd.it/abc"}, "video"),
        ({"url": "https://example.com/clip.webm", "post_hint": None}, "video"),
        ({"url": "https://i.imgur.com/clip.gifv", "post_hint": None}, "video"),
        ({"url": "https://example.com/article", "post_hint": "link"}, "unknown host: example.com"),
        ({"is_self": True, "post_hint": None}, "self post without media"),
    ],
)
def test_skip_reasons(fields: dict[str, Any], reason: str) -> None:
    data = {**rp.post(1, "https://i.redd.it/a.jpg"), **fields}
    assert parse_post(data).skip_reason == reason


def test_spoilers_are_taken_when_the_setting_allows() -> None:
    assert parse_post(rp.post(1, "https://i.redd.it/a.jpg", spoiler=True), skip_spoilers=False).media


def test_any_image_url_is_tried_and_html_entities_are_decoded() -> None:
    taken = parse_post(rp.post(1, "https://cdn.example.org/pic.PNG?a=1&amp;b=2", post_hint=None))
    assert taken.media[0].url == "https://cdn.example.org/pic.PNG?a=1&b=2"


def test_not_a_listing_is_refused() -> None:
    for body in ({"kind": "t3"}, [], {"kind": "Listing", "data": {}}):
        with pytest.raises(ValueError):
            parse_listing(body)


def test_mean_post_gap() -> None:
    posts = [parse_post(rp.post(n, "https://i.redd.it/a.jpg")) for n in (1, 2, 4)]
    assert mean_post_gap_s(posts) == 90.0
    assert mean_post_gap_s(posts[:1]) is None
