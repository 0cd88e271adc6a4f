"""Parsing Reddit listings: every usable image taken, every other post given a reason."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from memethresher_crawler.posts import TakeRules
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


def test_front_page_takes_direct_images_imgur_pages_and_previews_of_links() -> None:
    posts = parse_listing(sample("TestFront.test_new__0")).posts
    taken = [p for p in posts if p.media]
    direct = [p for p in taken if "i.imgur.com" in (p.url or "") and not p.url.endswith(".gifv")]  # type: ignore[union-attr]
    assert len(direct) == 12  # the 13th i.imgur.com link is a .gifv video
    # 12 images, 4 imgur pages, 5 imgur albums and 7 news/wiki/deviantart links that carry a preview.
    assert Counter(p.taken_as for p in taken) == {"image": 12, "imgur page": 4, "preview of a link": 12}
    gifv = next(p for p in posts if (p.url or "").endswith(".gifv"))
    assert gifv.skip_reason == "video"
    page = next(p for p in posts if p.url == "https://imgur.com/BOfrQre")
    assert page.media[0].url == "https://i.imgur.com/BOfrQre.jpg"
    assert page.media[0].fallback_url and page.media[0].fallback_url.startswith("https://i.redditmedia.com/")
    bbc = next(p for p in posts if (p.url or "").startswith("http://www.bbc.com/"))
    assert bbc.url == "http://www.bbc.com/news/magazine-21145103"  # the post keeps its link
    assert bbc.media[0].url.startswith("https://i.redditmedia.com/xp8rRwGYWBLFqIi")
    # Ten news links came without any preview: nothing to take.
    assert sum(1 for p in posts if (p.skip_reason or "").startswith("unknown host")) == 10
    assert any(p.skip_reason == "unknown host: nytimes.com" for p in posts)


def test_link_previews_can_be_turned_off() -> None:
    posts = parse_listing(sample("TestMultiredditListings.test_hot__0"), TakeRules(take_link_previews=False)).posts
    reasons = Counter(p.skip_reason.split(":")[0] for p in posts if p.skip_reason)
    # 12 flickr pages, a redbubble and a deviantart page, and 3 imgur albums are left; 3 videos as ever.
    assert reasons == {"link previews off": 17, "video": 3}


def _previewed(url: str, source: tuple[int, int], resolutions: list[tuple[int, int]]) -> dict[str, Any]:
    base = "https://preview.redd.it/abc.jpg"
    sizes = [{"url": f"{base}?width={w}&amp;crop=smart&amp;s=sig{w}", "width": w, "height": h} for w, h in resolutions]
    data = rp.post(1, url, post_hint="link")
    data["preview"] = {"images": [{"source": {"url": f"{base}?auto=webp&amp;not=1&amp;s=sigsrc", "width": source[0],
                                              "height": source[1]}, "resolutions": sizes}]}  # fmt: skip
    return data


def test_a_preview_is_taken_whole_or_at_the_largest_size_within_the_limit() -> None:
    data = _previewed("https://www.flickr.com/photos/someone/1/", (4000, 3000), [(320, 240), (960, 720), (640, 480)])
    whole = parse_post(data)
    assert whole.taken_as == "preview of a link" and whole.url == "https://www.flickr.com/photos/someone/1/"
    # Signed URLs exactly as Reddit's raw_json=1 gives them: `&amp;` undone, `&not` left alone.
    assert whole.media[0].url == "https://preview.redd.it/abc.jpg?auto=webp&not=1&s=sigsrc"
    assert whole.media[0].fallback_url == "https://preview.redd.it/abc.jpg?width=960&crop=smart&s=sig960"
    limited = parse_post(data, TakeRules(max_pixels=600_000))  # 4000x3000 and 960x720 are over it
    assert [limited.media[0].url, limited.media[0].fallback_url] == [
        "https://preview.redd.it/abc.jpg?width=640&crop=smart&s=sig640",
        "https://preview.redd.it/abc.jpg?width=320&crop=smart&s=sig320",
    ]
    assert parse_post(data, TakeRules(max_pixels=1000)).skip_reason == "unknown host: flickr.com"


def test_an_imgur_link_the_crawler_cannot_read_falls_back_to_its_preview() -> None:
    for url in ("https://imgur.com/gallery/rmgNh/new", "https://imgur.com/t/funny/abc123", "https://imgur.com/a/x"):
        post = parse_post(_previewed(url, (800, 600), []))
        assert (post.taken_as, post.media[0].url) == (
            "preview of a link",
            "https://preview.redd.it/abc.jpg?auto=webp&not=1&s=sigsrc",
        )
    assert parse_post(rp.post(2, "https://imgur.com/t/funny/abc123", post_hint="link")).skip_reason == (
        "unknown host: imgur.com"
    )


def test_multireddit_images_keep_metadata_and_preview_fallback() -> None:
    result = parse_listing(sample("TestMultiredditListings.test_hot__0"))
    taken = [p for p in result.posts if p.media]
    # 67 images, 13 imgur pages; 12 flickr pages, a redbubble, a deviantart page and 3 imgur albums by preview.
    assert Counter(p.taken_as for p in taken) == {"image": 67, "imgur page": 13, "preview of a link": 17}
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
        ({"url": "https://imgur.com/a/album", "post_hint": "link"}, "unknown host: imgur.com"),
        ({"is_self": True, "post_hint": None}, "self post without media"),
    ],
)
def test_skip_reasons(fields: dict[str, Any], reason: str) -> None:
    data = {**rp.post(1, "https://i.redd.it/a.jpg"), **fields}
    assert parse_post(data).skip_reason == reason


def test_spoilers_are_taken_when_the_setting_allows() -> None:
    assert parse_post(rp.post(1, "https://i.redd.it/a.jpg", spoiler=True), TakeRules(skip_spoilers=False)).media


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
