"""Reddit's Atom feeds read as listings: each entry a post with its id, title, author, link and the image
its content shows (Reddit's preview), so the listing parser takes it as it takes JSON. Pure.

Feeds carry no score, no NSFW or spoiler flag and no gallery: a post from a feed has score None."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

ATOM = "{http://www.w3.org/2005/Atom}"
MEDIA = "{http://search.yahoo.com/mrss/}"
_KEPT_PARAMS = ("limit", "sort", "t", "after")


def feed_path(listing_path: str) -> str:
    """The feed of a JSON listing path: `/r/memes/new.json` -> `/r/memes/new/.rss`."""
    return listing_path.removesuffix(".json").rstrip("/") + "/.rss"


def feed_params(params: dict[str, Any], feed_token: str, username: str) -> dict[str, Any]:
    """A listing's query for its feed; a private feed token (and its user) when one is set."""
    kept = {key: value for key, value in params.items() if key in _KEPT_PARAMS}
    if feed_token:
        kept.update({"feed": feed_token, "user": username})
    return kept


def parse_feed(text: str) -> dict[str, Any]:
    """An Atom feed as a listing body (`kind: Listing`, no next page); raises ValueError if it is not one."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as error:
        raise ValueError(f"not an Atom feed: {error}") from None
    if root.tag != f"{ATOM}feed":
        raise ValueError("not an Atom feed")
    children = [{"kind": "t3", "data": entry_post(entry)} for entry in root.iter(f"{ATOM}entry")]
    return {"kind": "Listing", "data": {"children": children, "after": None}}


def entry_post(entry: ET.Element) -> dict[str, Any]:
    """One entry as the fields of a listing's post."""
    name = (entry.findtext(f"{ATOM}id") or "").strip()
    permalink = _attr(entry.find(f"{ATOM}link"), "href")
    content = _Content()
    content.feed(entry.findtext(f"{ATOM}content") or "")
    link = content.link or permalink
    post: dict[str, Any] = {
        "name": name,
        "id": name.removeprefix("t3_"),
        "title": (entry.findtext(f"{ATOM}title") or "").strip(),
        "author": (entry.findtext(f"{ATOM}author/{ATOM}name") or "").strip().removeprefix("/u/") or None,
        "subreddit": _attr(entry.find(f"{ATOM}category"), "term"),
        "permalink": urlsplit(permalink).path if permalink else None,
        "url": link,
        "is_self": bool(permalink) and urlsplit(link).path == urlsplit(permalink).path,
        "created_utc": _timestamp(entry.findtext(f"{ATOM}published") or entry.findtext(f"{ATOM}updated")),
    }
    shown = content.image or _attr(entry.find(f"{MEDIA}thumbnail"), "url")
    if shown:  # the picture Reddit shows in the feed: the preview the listing parser falls back to
        post["preview"] = {"images": [{"source": {"url": shown}}]}
        post["is_self"] = post["is_self"] and not content.image
    return post


def _attr(element: ET.Element | None, name: str) -> str | None:
    return element.get(name) if element is not None else None


def _timestamp(text: str | None) -> float | None:
    try:
        return datetime.fromisoformat(text.strip()).timestamp() if text else None
    except ValueError:
        return None


class _Content(HTMLParser):
    """The entry's HTML: its first image, and the `[link]` anchor (the post's URL)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.image: str | None = None
        self.link: str | None = None
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "img" and self.image is None and values.get("src"):
            self.image = values["src"]
        if tag == "a":
            self._href = values.get("href")

    def handle_data(self, data: str) -> None:
        if data.strip() == "[link]" and self._href and self.link is None:
            self.link = self._href
