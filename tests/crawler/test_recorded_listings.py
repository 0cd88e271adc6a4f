"""Real recorded Reddit listings, crawled over HTTP from the fake Reddit: per listing, the posts that yield a
meme and how, and why each other post does not; the same counts in `memethresher source list`.

The expected figures are read off the recordings (tests/data/reddit/README.md), not off the crawler."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from memethresher_crawler.cli import source as source_cli
from memethresher_crawler.crawl import crawl_source
from memethresher_crawler.settings import get_crawler_settings
from memethresher_crawler.tally import source_tallies
from memethresher_shared.db import session_scope
from memethresher_shared.models import Post
from memethresher_shared.sources import add_source
from sqlalchemy import select

from tests.support.fake_reddit import FakeReddit
from tests.support.image_hosts import SIGNED_HOSTS

RECORDINGS = Path(__file__).resolve().parents[1] / "data" / "reddit"
MULTI = "user/kjoneslol/m/sfwpornnetwork"


def _serve(fake: FakeReddit, recording: str, path: str) -> dict[str, Any]:
    body = json.loads((RECORDINGS / f"{recording}.json").read_text())["body"]
    fake.add_recorded(path, body)
    return body


@pytest.fixture
def recorded_env(reddit_env, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    # The recordings' image hosts (i.imgur.com, i.redd.it, ...) are answered by the fake on loopback.
    monkeypatch.setenv("MEMETHRESHER_ALLOW_PRIVATE_ADDRESSES", "true")
    get_crawler_settings.cache_clear()
    return reddit_env


def _add(target: str, **options: Any) -> int:
    with session_scope() as session:
        return add_source(session, "reddit", target, **options).id


# What each recording holds, read from its JSON:
# - the multireddit (hot): 67 image links (i.redd.it, i.imgur.com, artstation, wikimedia, ...), 13 single-image
#   imgur pages, 17 links to pages with a preview (12 flickr, a redbubble, a deviantart page, 3 imgur albums),
#   3 videos (YouTube, gfycat, a .gifv). One i.redd.it image is posted twice: 97 posts, 96 memes.
# - the front page (new): 12 i.imgur.com images, 4 imgur pages, 12 previews of links (5 imgur albums, 7 news,
#   wiki and deviantart pages), 10 news links without a preview, 47 self posts, 11 videos, 4 NSFW posts.
# - r/askreddit new: 96 self posts and 4 NSFW ones. r/askreddit hot: 102 posts, of which 6 were in "new" and
#   one on the front page, both crawled first; of the other 95, 92 are self posts and 3 NSFW.
EXPECTED = {
    MULTI: ({"image": 67, "imgur page": 13, "preview of a link": 17}, 96, {"video": 3}),
    "front": (
        {"image": 12, "imgur page": 4, "preview of a link": 12},
        28,
        {"self post without media": 47, "video": 11, "unknown host": 10, "over_18": 4},
    ),  # fmt: skip
    "r/askreddit new": ({}, 0, {"self post without media": 96, "over_18": 4}),
    "r/askreddit hot": ({}, 0, {"self post without media": 92, "over_18": 3}),
}


def test_recorded_listings_yield_what_their_posts_carry(recorded_env, fake_reddit: FakeReddit) -> None:  # type: ignore[no-untyped-def]
    _serve(fake_reddit, "TestMultiredditListings.test_hot__0", f"/{MULTI}/hot.json")
    _serve(fake_reddit, "TestFront.test_new__0", "/new.json")
    _serve(fake_reddit, "TestSubredditListings.test_new__0", "/r/askreddit/new.json")
    _serve(fake_reddit, "TestSubredditListings.test_hot__0", "/r/askreddit/hot.json")
    ids = {MULTI: _add(MULTI, sort="hot"), "front": _add("front"), "r/askreddit new": _add("r/askreddit"),
           "r/askreddit hot": _add("r/AskReddit", sort="hot")}  # fmt: skip
    assert len(set(ids.values())) == 4  # one subreddit, two sorts: two sources
    for name, source_id in ids.items():
        result = crawl_source(source_id, transport=fake_reddit.transport)
        assert result["error"] is None and result["images_failed"] == 0, (name, result)

    with session_scope() as session:
        tallies = source_tallies(session)
        bbc = session.scalar(select(Post).where(Post.url == "http://www.bbc.com/news/magazine-21145103"))
        assert bbc is not None and bbc.taken_as == "preview of a link"  # the post keeps its link
    for name, (taken, memes, skipped) in EXPECTED.items():
        tally = tallies.get(ids[name])
        got = (dict(tally.taken), tally.memes, dict(tally.skipped)) if tally else ({}, 0, {})
        assert got == (taken, memes, skipped), name

    # Signed previews were fetched exactly as the listings gave them: none was refused as mis-signed.
    signed = [url for url in fake_reddit.hosts.requested if url.split("/")[2] in SIGNED_HOSTS]
    assert len(signed) == 17 + 12  # the previews of links; imgur pages and images had their own image
    assert all(url in fake_reddit.hosts.offered for url in signed)

    listed = CliRunner().invoke(source_cli, ["list"]).output.splitlines()
    assert listed[1] == (
        "    taken: 97 posts, 96 memes (image 67, preview of a link 17, imgur page 13); skipped: 3 posts (video 3)"
    )
    assert listed[3] == (
        "    taken: 28 posts, 28 memes (image 12, preview of a link 12, imgur page 4); skipped: 72 posts "
        "(self post without media 47, video 11, unknown host 10, over_18 4)"
    )
    assert listed[5] == "    taken: 0 posts, 0 memes; skipped: 100 posts (self post without media 96, over_18 4)"
    assert listed[7] == "    taken: 0 posts, 0 memes; skipped: 95 posts (self post without media 92, over_18 3)"
    assert listed[6].startswith(f"#{ids['r/askreddit hot']} reddit r/askreddit [sort=hot]")


def test_a_source_may_refuse_link_previews_and_an_unreadable_imgur_page_falls_back(  # type: ignore[no-untyped-def]
    recorded_env, fake_reddit: FakeReddit
) -> None:
    _serve(fake_reddit, "TestFront.test_new__0", "/new.json")
    fake_reddit.hosts.missing.add("https://i.imgur.com/BOfrQre.jpg")  # the imgur page's image is gone
    source_id = _add("front", take_link_previews=False)
    assert crawl_source(source_id, transport=fake_reddit.transport)["images_failed"] == 0
    with session_scope() as session:
        tally = source_tallies(session)[source_id]
        page = session.scalar(select(Post).where(Post.url == "https://imgur.com/BOfrQre"))
        assert page is not None and page.skip_reason is None and page.taken_as == "imgur page"
    assert dict(tally.taken) == {"image": 12, "imgur page": 4}
    assert tally.skipped["link previews off"] == 12
    assert "https://i.imgur.com/BOfrQre.jpg" in fake_reddit.hosts.requested
