"""Reddit listings into posts: what to download, and why a post is skipped. Pure."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from memethresher_crawler.posts import MediaItem, PostInfo

IMAGE_HOSTS = frozenset({"i.redd.it", "i.imgur.com", "preview.redd.it", "i.reddituploads.com", "i.redditmedia.com"})
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".avif")
VIDEO_EXTENSIONS = (".mp4", ".webm", ".mkv", ".mov", ".gifv", ".m4v", ".avi")
VIDEO_HOSTS = frozenset({"v.redd.it", "youtube.com", "youtu.be", "m.youtube.com", "gfycat.com", "streamable.com"})
_IMGUR_PAGE = re.compile(r"^/([A-Za-z0-9]{5,8})/?$")
_IMGUR_ALBUM = re.compile(r"^/(a|gallery)/")


@dataclass(frozen=True)
class Listing:
    """One page of a listing: its posts in order and the cursor of the next page."""

    posts: tuple[PostInfo, ...]
    after: str | None


def parse_listing(body: Any, skip_spoilers: bool = True) -> Listing:
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
            posts.append(parse_post(child["data"], skip_spoilers))
    after = data.get("after")
    return Listing(tuple(posts), after if isinstance(after, str) and after else None)


def parse_post(post: Mapping[str, Any], skip_spoilers: bool = True) -> PostInfo:
    """A post's metadata with the images to fetch, or the reason it is skipped."""
    info = _metadata(post)
    reason = skip_reason(post, skip_spoilers)
    if reason is None:
        media, reason = _media(_media_post(post))
        if reason is None:
            return PostInfo(**{**info.__dict__, "media": media})
    return PostInfo(**{**info.__dict__, "skip_reason": reason})


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


def _preview_url(post: Mapping[str, Any]) -> str | None:
    try:
        url = post["preview"]["images"][0]["source"]["url"]
    except (KeyError, IndexError, TypeError):
        return None
    return html.unescape(url) if isinstance(url, str) else None


def _media(post: Mapping[str, Any]) -> tuple[tuple[MediaItem, ...], str | None]:
    """The images of a post (a media post: the crosspost parent if there is one)."""
    if post.get("is_gallery") or post.get("gallery_data"):
        return _gallery(post)
    url = html.unescape(str(post.get("url") or ""))
    if urlsplit(url).scheme not in ("http", "https"):
        return (), "no media URL"
    host, path = _host(url), urlsplit(url).path
    preview = _preview_url(post)
    if host in IMAGE_HOSTS or path.lower().endswith(IMAGE_EXTENSIONS) or post.get("post_hint") == "image":
        return (MediaItem(url, preview if preview != url else None),), None
    if host in ("imgur.com", "m.imgur.com"):
        page = _IMGUR_PAGE.match(path)
        if page:  # a single-image page: the image itself lives on i.imgur.com
            return (MediaItem(f"https://i.imgur.com/{page.group(1)}.jpg", preview),), None
        if _IMGUR_ALBUM.match(path) and preview:  # an album: its cover, as Reddit previews it
            return (MediaItem(preview),), None
    return (), f"unknown host: {host or url}"


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
            media.append(MediaItem(html.unescape(url)))
    if not media:
        return (), "gallery without valid images"
    return tuple(media), None


def mean_post_gap_s(posts: tuple[PostInfo, ...] | list[PostInfo]) -> float | None:
    """The mean time between consecutive posts, for sources polled as a stream."""
    times = sorted(p.created_utc.timestamp() for p in posts if p.created_utc is not None)
    if len(times) < 2:
        return None
    return (times[-1] - times[0]) / (len(times) - 1)
