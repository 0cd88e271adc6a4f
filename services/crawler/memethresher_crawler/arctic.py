"""The Arctic Shift archive of Reddit (`/api/posts/search`) into posts, for the backfill of a new
subreddit source. Pure.

The archive answers `{"data": [post, ...]}`, each post shaped as Reddit's own listing data, newest first
with `sort=desc`; it carries no cursor, so the next page is asked `before` the oldest post of this one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from memethresher_crawler.posts import TakeRules
from memethresher_crawler.reddit import DEFAULT_RULES, Listing, parse_post

SEARCH = "/api/posts/search"
PAGE_SIZE = 100  # the archive's most per request


def archive_params(subreddit: str, after_epoch: int, before: str | None) -> dict[str, Any]:
    """One page of a subreddit's posts made after `after_epoch`, newest first, before the cursor `before`."""
    params: dict[str, Any] = {"subreddit": subreddit, "after": after_epoch, "sort": "desc", "limit": PAGE_SIZE}
    if before:
        params["before"] = before
    return params


def parse_archive(body: Any, rules: TakeRules = DEFAULT_RULES) -> Listing:
    """Parse an archive answer; the cursor is one second after its oldest post (a post of that second on
    the next page is known by then and passed over), none once a page is short."""
    if not isinstance(body, Mapping) or not isinstance(body.get("data"), list):
        raise ValueError("response is not an Arctic Shift post search")
    found = [post for post in body["data"] if isinstance(post, Mapping) and post.get("id")]
    posts = tuple(parse_post(post, rules) for post in found)
    times = [post["created_utc"] for post in found if isinstance(post.get("created_utc"), int | float)]
    full = len(found) >= PAGE_SIZE and bool(times)
    return Listing(posts, str(int(min(times)) + 1) if full else None)
