"""What the crawler knows about one post before it touches the database. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class MediaItem:
    """One image to fetch for a post; `fallback_url` (Reddit's preview) is tried if `url` fails."""

    url: str
    fallback_url: str | None = None


@dataclass(frozen=True)
class PostInfo:
    """A post's metadata, the images it carries, or why nothing is taken from it."""

    key: str
    title: str = ""
    subreddit: str | None = None
    author: str | None = None
    permalink: str | None = None
    url: str | None = None
    created_utc: datetime | None = None
    score: int | None = None
    media: tuple[MediaItem, ...] = field(default_factory=tuple)
    skip_reason: str | None = None
    taken_as: str | None = None  # how its images are taken: "image", "imgur page", "gallery", "preview of a link"


@dataclass(frozen=True)
class TakeRules:
    """What a crawl takes from posts: spoilers or not, Reddit's previews of links it cannot read or not,
    and the most pixels an image may have (a larger preview is taken at a smaller size Reddit offers)."""

    skip_spoilers: bool = True
    take_link_previews: bool = True
    max_pixels: int | None = None


def next_retry_at(now: datetime, retries: int, first_wait_s: float, max_retries: int) -> datetime | None:
    """When to fetch a post's images again after `retries` retries failed: waits double; None once spent."""
    return None if retries >= max_retries else now + timedelta(seconds=first_wait_s * 2**retries)
