"""Reddit listings into posts: what to download, how, and why a post is skipped. Pure."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from memethresher_crawler.posts import MediaItem, PostInfo, TakeRules

IMAGE_HOSTS = frozenset({"i.redd.it", "i.imgur.com", "preview.redd.it", "i.reddituploads.com", "i.redditmedia.com"})
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".avif")
VIDEO_EXTENSIONS = (".mp4", ".webm", ".mkv", ".mov", ".gifv", ".m4v", ".avi")
VIDEO_HOSTS = frozenset({"v.redd.it", "youtube.com", "youtu.be", "m.youtube.com", "gfycat.com", "streamable.com"})
_IMGUR_PAGE = re.compile(r"^/([A-Za-z0-9]{5,8})/?$")
PREVIEW_OF_A_LINK = "preview of a link"
DEFAULT_RULES = TakeRules()


@dataclass(frozen=True)
class Listing:
    """One page of a listing: its posts in order and the cursor of the next page."""

    posts: tuple[PostInfo, ...]
    after: str | None


def parse_listing(body: Any, rules: TakeRules = DEFAULT_RULES) -> Listing:
    """Parse a listing body (`kind: Listing`); raises ValueError if it is not one."""
    if not isinstance(body, Mapping) or body.get("kind") != "Listing" or not isinstance(body.get("data"), Mapping):
        raise ValueError("response is not a Reddit listing")
    data = body["data"]
    children = data.get("children")
    if not isinstance(children, list):
        raise ValueError("listing has no children list")
    posts = []
    for child in children:
        if isinstance(child, Mapping) and child.get("kind") == "t3" and isinstance(child.get("data"), Mapping):
            posts.append(parse_post(child["data"], rules))
    after = data.get("after")
    return Listing(tuple(posts), after if isinstance(after, str) and after else None)


def parse_post(post: Mapping[str, Any], rules: TakeRules = DEFAULT_RULES) -> PostInfo:
    """A post's metadata with the images to fetch and how they are taken, or the reason it is skipped."""
    info = _metadata(post)
    reason = skip_reason(post, rules.skip_spoilers)
    if reason is None:
        media, taken_as, reason = _media(_media_post(post), rules)
        if reason is None:
            return PostInfo(**{**info.__dict__, "media": media, "taken_as": taken_as})
    return PostInfo(**{**info.__dict__, "skip_reason": reason})


def reddit_unescape(text: str) -> str:
    """Undo Reddit's escaping of `&`, `<`, `>` in JSON (as `raw_json=1` does) and nothing else: a signed
    preview URL must be fetched exactly as Reddit gave it, and `html.unescape` would turn `&not=` into `¬=`."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _metadata(post: Mapping[str, Any]) -> PostInfo:
    name = post.get("name") or f"t3_{post.get('id', '')}"
    created = post.get("created_utc")
    permalink = post.get("permalink")
    return PostInfo(
        key=str(name),
        title=html.unescape(str(post.get("title") or "")),
        subreddit=post.get("subreddit"),
        author=post.get("author"),
        permalink=f"https://www.reddit.com{permalink}" if isinstance(permalink, str) else None,
        url=post.get("url"),
        created_utc=datetime.fromtimestamp(created, UTC) if isinstance(created, int | float) else None,
        score=post.get("score") if isinstance(post.get("score"), int) else None,
    )


def _media_post(post: Mapping[str, Any]) -> Mapping[str, Any]:
    """A crosspost carries its media in the parent."""
    parents = post.get("crosspost_parent_list")
    if isinstance(parents, list) and parents and isinstance(parents[0], Mapping):
        return parents[0]
    return post


def skip_reason(post: Mapping[str, Any], skip_spoilers: bool) -> str | None:
    """Why a post is not taken, before looking at its media; None if it may be."""
    parent = _media_post(post)
    if post.get("over_18") or parent.get("over_18"):
        return "over_18"
    if skip_spoilers and (post.get("spoiler") or parent.get("spoiler")):
        return "spoiler"
    if post.get("is_robot_indexable") is False or parent.get("is_robot_indexable") is False:
        return "not robot indexable"
    for item in (post, parent):
        if item.get("removed_by_category"):
            return f"removed ({item['removed_by_category']})"
        if item.get("selftext") in ("[removed]", "[deleted]") or item.get("author") == "[deleted]":
            return "removed or deleted"
    if _is_video(parent):
        return "video"
    if parent.get("is_self") and not parent.get("is_gallery"):
        return "self post without media"
    return None


def _host(url: str) -> str:
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.")


def _is_video(post: Mapping[str, Any]) -> bool:
    url = str(post.get("url") or "")
    path = urlsplit(url).path.lower()
    return bool(
        post.get("is_video")
        or str(post.get("post_hint") or "").endswith(":video")
        or _host(url) in VIDEO_HOSTS
        or path.endswith(VIDEO_EXTENSIONS)
    )


def _pixels(image: Any) -> int | None:
    width, height = image.get("width"), image.get("height")
    return width * height if isinstance(width, int) and isinstance(height, int) else None


def preview_image(post: Mapping[str, Any], max_pixels: int | None = None) -> MediaItem | None:
    """Reddit's preview of a post: its source image, or the largest resolution within `max_pixels` when the
    source is larger; the largest smaller resolution is the fallback (a source over the byte limit)."""
    try:
        image = post["preview"]["images"][0]
        source = image["source"]
    except (KeyError, IndexError, TypeError):
        return None
    sizes = [r for r in image.get("resolutions") or [] if isinstance(r, Mapping) and isinstance(r.get("url"), str)]
    sizes.sort(key=lambda r: _pixels(r) or 0, reverse=True)
    if max_pixels is not None and (_pixels(source) or 0) > max_pixels:
        sizes = [r for r in sizes if (_pixels(r) or 0) <= max_pixels]
        source = sizes.pop(0) if sizes else None
    if not isinstance(source, Mapping) or not isinstance(source.get("url"), str):
        return None
    url = reddit_unescape(source["url"])
    smaller = [reddit_unescape(r["url"]) for r in sizes if reddit_unescape(r["url"]) != url]
    return MediaItem(url, smaller[0] if smaller else None)


def _media(post: Mapping[str, Any], rules: TakeRules) -> tuple[tuple[MediaItem, ...], str | None, str | None]:
    """(images, how they are taken, None) of a media post (the crosspost parent if any), or ((), None, reason)."""
    if post.get("is_gallery") or post.get("gallery_data"):
        media, reason = _gallery(post)
        return media, None if reason else "gallery", reason
    url = reddit_unescape(str(post.get("url") or ""))
    if urlsplit(url).scheme not in ("http", "https"):
        return (), None, "no media URL"
    host, path = _host(url), urlsplit(url).path
    preview = preview_image(post, rules.max_pixels)
    if host in IMAGE_HOSTS or path.lower().endswith(IMAGE_EXTENSIONS) or post.get("post_hint") == "image":
        fallback = preview.url if preview and preview.url != url else None
        return (MediaItem(url, fallback),), "image", None
    page = _IMGUR_PAGE.match(path) if host in ("imgur.com", "m.imgur.com") else None
    if page:  # a single-image page: the image itself lives on i.imgur.com
        image = MediaItem(f"https://i.imgur.com/{page.group(1)}.jpg", preview.url if preview else None)
        return (image,), "imgur page", None
    # A page the crawler cannot read (another host, an imgur album): the image Reddit previews it with.
    if preview is None:
        return (), None, f"unknown host: {host or url}"
    if not rules.take_link_previews:
        return (), None, f"link previews off: {host}"
    return (preview,), PREVIEW_OF_A_LINK, None


def _gallery(post: Mapping[str, Any]) -> tuple[tuple[MediaItem, ...], str | None]:
    items = (post.get("gallery_data") or {}).get("items") or []
    metadata = post.get("media_metadata") or {}
    media = []
    for item in items:
        entry = metadata.get(item.get("media_id")) if isinstance(item, Mapping) else None
        if not isinstance(entry, Mapping) or entry.get("status") != "valid":
            continue
        source = entry.get("s") or {}
        url = source.get("gif") or source.get("u")
        if isinstance(url, str) and url:
            media.append(MediaItem(reddit_unescape(url)))
    if not media:
        return (), "gallery without valid images"
    return tuple(media), None


def mean_post_gap_s(posts: tuple[PostInfo, ...] | list[PostInfo]) -> float | None:
    """The mean time between consecutive posts, for sources polled as a stream."""
    times = sorted(p.created_utc.timestamp() for p in posts if p.created_utc is not None)
    if len(times) < 2:
        return None
    return (times[-1] - times[0]) / (len(times) - 1)
