"""Lemmy's post lists into posts: what to download, how, and why a post is skipped. Pure.

The shapes are Lemmy 0.19's HTTP API: `GET /api/v3/post/list` answers `{"posts": [PostView], "next_page":
cursor}`, each PostView holding `post` (`ap_id`, `name`, `url`, `thumbnail_url`, `nsfw`, `embed_video_url`,
`url_content_type`, `removed`, `deleted`, `published`), `creator`, `community` and `counts`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from memethresher_crawler.posts import MediaItem, PostInfo, TakeRules
from memethresher_crawler.reddit import IMAGE_EXTENSIONS, PREVIEW_OF_A_LINK, VIDEO_EXTENSIONS, VIDEO_HOSTS, Listing

# Lemmy's SortType names; "top" takes its time window in the name (TopDay, TopWeek, ...).
_SORTS = {"new": "New", "hot": "Hot"}
_TOP = {"hour": "TopHour", "day": "TopDay", "week": "TopWeek", "month": "TopMonth", "year": "TopYear", "all": "TopAll"}
NSFW = "over_18 (marked NSFW)"
DEFAULT_RULES = TakeRules()


def lemmy_sort(sort: str, time_window: str) -> str:
    """Lemmy's name for a source's sort: `New`, `Hot`, `TopDay`, ..."""
    if sort == "top":
        return _TOP[time_window or "day"]
    return _SORTS[sort]


def parse_post_list(body: Any, rules: TakeRules = DEFAULT_RULES) -> Listing:
    """Parse a post list body; raises ValueError if it is not one."""
    if not isinstance(body, Mapping) or not isinstance(body.get("posts"), list):
        raise ValueError("response is not a Lemmy post list")
    posts = [parse_post_view(view, rules) for view in body["posts"] if _is_view(view)]
    cursor = body.get("next_page")
    # An empty page may still carry a cursor; there is nothing after it.
    more = isinstance(cursor, str) and cursor and posts
    return Listing(tuple(posts), cursor if more else None)


def _is_view(view: Any) -> bool:
    return isinstance(view, Mapping) and isinstance(view.get("post"), Mapping) and bool(view["post"].get("ap_id"))


def parse_post_view(view: Mapping[str, Any], rules: TakeRules = DEFAULT_RULES) -> PostInfo:
    """A post's metadata with the images to fetch and how they are taken, or the reason it is skipped."""
    info = _metadata(view)
    reason = skip_reason(view)
    if reason is None:
        media, taken_as, reason = _media(view["post"], rules)
        if reason is None:
            return PostInfo(**{**info.__dict__, "media": media, "taken_as": taken_as})
    return PostInfo(**{**info.__dict__, "skip_reason": reason})


def _metadata(view: Mapping[str, Any]) -> PostInfo:
    post = view["post"]
    creator = _part(view, "creator")
    counts = _part(view, "counts")
    score = counts.get("score")
    # The post's id where it was made: the same post federated to two instances is one post.
    ap_id = str(post["ap_id"])
    return PostInfo(
        key=ap_id,
        title=str(post.get("name") or ""),
        subreddit=_community(view),
        author=creator.get("name") if isinstance(creator.get("name"), str) else None,
        permalink=ap_id,
        url=post.get("url") if isinstance(post.get("url"), str) else None,
        created_utc=_published(post.get("published")),
        score=score if isinstance(score, int) else None,
    )


def _part(view: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """One object of a PostView (`creator`, `community`, `counts`), empty if it is missing."""
    part = view.get(name)
    return part if isinstance(part, Mapping) else {}


def _community(view: Mapping[str, Any]) -> str | None:
    """`memes@lemmy.ml`: the community's name on its home instance."""
    community = view.get("community")
    if not isinstance(community, Mapping) or not isinstance(community.get("name"), str):
        return None
    home = urlsplit(str(community.get("actor_id") or "")).hostname
    return f"{community['name']}@{home}" if home else community["name"]


def _published(value: Any) -> datetime | None:
    """Lemmy's timestamps: ISO 8601, in UTC (older versions leave out the zone)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def skip_reason(view: Mapping[str, Any]) -> str | None:
    """Why a post is not taken, before looking at its media; None if it may be."""
    post = view["post"]
    community = _part(view, "community")
    if post.get("nsfw") or community.get("nsfw"):
        return NSFW
    if post.get("removed") or post.get("deleted"):
        return "removed or deleted"
    if _is_video(post):
        return "video"
    if not post.get("url"):
        return "self post without media"
    return None


def _is_video(post: Mapping[str, Any]) -> bool:
    url = str(post.get("url") or "")
    host = (urlsplit(url).hostname or "").removeprefix("www.")
    return bool(
        post.get("embed_video_url")
        or str(post.get("url_content_type") or "").startswith("video/")
        or host in VIDEO_HOSTS
        or urlsplit(url).path.lower().endswith(VIDEO_EXTENSIONS)
    )


def _media(post: Mapping[str, Any], rules: TakeRules) -> tuple[tuple[MediaItem, ...], str | None, str | None]:
    """(images, how they are taken, None) of a post with a link, or ((), None, reason)."""
    url = str(post["url"])
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return (), None, "no media URL"
    thumbnail = post.get("thumbnail_url") if isinstance(post.get("thumbnail_url"), str) else None
    content_type = str(post.get("url_content_type") or "")
    if content_type.startswith("image/") or parts.path.lower().endswith(IMAGE_EXTENSIONS):
        fallback = thumbnail if thumbnail != url else None
        return (MediaItem(url, fallback),), "image", None
    # A page the crawler cannot read: the thumbnail the instance made of it.
    if thumbnail is None:
        return (), None, f"unknown host: {parts.hostname or url}"
    if not rules.take_link_previews:
        return (), None, f"link previews off: {parts.hostname}"
    return (MediaItem(thumbnail),), PREVIEW_OF_A_LINK, None
