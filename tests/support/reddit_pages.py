"""What Reddit sends instead of data in 2026, as its pages read, and its listings as Atom feeds.
The block pages' wording is Reddit's own (as users quote it); everything else is trimmed."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

NETWORK_SECURITY = """<!DOCTYPE html><html lang="en"><head><title>Reddit - Dive into anything</title>
<style>body{font-family:sans-serif}</style></head><body><main>
<h1>You've been blocked by network security.</h1>
<p>To continue, log in to your Reddit account or use your developer token</p>
<p>If you think you've been blocked by mistake, file a ticket below and we'll look into it.</p>
<a href="https://www.reddit.com/login/">Log in</a> <a href="https://support.reddithelp.com/">File a ticket</a>
</main></body></html>"""

PARDNER = """<!doctype html><html><head><title>Blocked</title></head><body>
<h1>whoa there, pardner!</h1>
<p>Your request has been blocked due to a network policy.</p>
<p>Try logging in or creating an account <a href="https://www.reddit.com/login/">here</a> to get back to browsing.</p>
<p>If you're running a script or application, please register or sign in with your developer credentials.</p>
</body></html>"""

APP_SHELL = """<!DOCTYPE html><html lang="en-US"><head><meta charset="utf-8"><title>Reddit</title>
<script src="https://www.redditstatic.com/shreddit/en-US/app.js" type="module"></script></head>
<body><shreddit-app pagetype="listing" routename="subreddit"><div id="app-root"></div></shreddit-app>
</body></html>"""

LOGIN = """<!DOCTYPE html><html><head><title>Log in to Reddit</title></head>
<body><form action="/login" method="post"><input name="username"><input name="password" type="password"></form>
</body></html>"""


def atom_feed(posts: list[dict[str, Any]], title: str) -> str:
    """A listing as Reddit's Atom feed: one entry per post, its image in the entry's HTML content."""
    entries = "".join(_entry(post) for post in posts)
    updated = datetime.now(UTC).isoformat(timespec="seconds")
    return (
        '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
        'xmlns:media="http://search.yahoo.com/mrss/">'
        f"<title>{html.escape(title)}</title><updated>{updated}</updated>{entries}</feed>"
    )


def _entry(post: dict[str, Any]) -> str:
    permalink = f"https://www.reddit.com{post['permalink']}"
    author = post.get("author") or "[deleted]"
    published = datetime.fromtimestamp(post["created_utc"], UTC).isoformat(timespec="seconds")
    image = _shown_image(post)
    picture = f'<a href="{html.escape(permalink)}"><img src="{html.escape(image)}" alt="x" /></a>' if image else ""
    link = post["url"] if not post.get("is_self") else permalink
    content = (
        f'<table><tr><td>{picture}</td><td> submitted by <a href="https://www.reddit.com/user/{author}">'
        f' /u/{author} </a> <br/> <span><a href="{html.escape(link)}">[link]</a></span>'
        f' <span><a href="{html.escape(permalink)}">[comments]</a></span></td></tr></table>'
    )
    thumbnail = f'<media:thumbnail url="{html.escape(image)}" />' if image else ""
    return (
        f"<entry><author><name>/u/{html.escape(author)}</name></author>"
        f'<category term="{post["subreddit"]}" label="r/{post["subreddit"]}"/>'
        f'<content type="html">{html.escape(content)}</content><id>{post["name"]}</id>{thumbnail}'
        f'<link href="{html.escape(permalink)}" /><published>{published}</published>'
        f"<title>{html.escape(post['title'])}</title></entry>"
    )


def _shown_image(post: dict[str, Any]) -> str | None:
    """The picture a feed entry shows: Reddit's preview when it has one, else the image itself."""
    try:
        return str(post["preview"]["images"][0]["source"]["url"])
    except (KeyError, IndexError, TypeError):
        pass
    if post.get("post_hint") == "image" and not post.get("is_self"):
        return str(post["url"])
    return None
