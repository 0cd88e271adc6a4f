"""Post dicts shaped like Reddit's listing API, for the fake Reddit. Field names as Reddit sends them."""

from __future__ import annotations

from typing import Any

BASE_TIME = 1_700_000_000


def post(n: int, url: str, subreddit: str = "memes", **fields: Any) -> dict[str, Any]:
    """A link post; `n` orders posts (higher is newer)."""
    data: dict[str, Any] = {
        "id": f"p{n:05d}",
        "name": f"t3_p{n:05d}",
        "title": f"post {n}",
        "subreddit": subreddit,
        "author": f"user{n % 7}",
        "permalink": f"/r/{subreddit}/comments/p{n:05d}/post_{n}/",
        "url": url,
        "domain": url.split("/")[2] if "://" in url else "self.memes",
        "created_utc": float(BASE_TIME + 60 * n),
        "score": n,
        "over_18": False,
        "spoiler": False,
        "is_self": False,
        "is_video": False,
        "is_robot_indexable": True,
        "post_hint": "image",
        "removed_by_category": None,
    }
    data.update(fields)
    return data


def with_preview(data: dict[str, Any], preview_url: str) -> dict[str, Any]:
    data["preview"] = {
        "images": [{"source": {"url": preview_url, "width": 64, "height": 48}}],
        "enabled": True,
    }
    return data


def gallery(n: int, image_urls: list[str], invalid: int = 0, subreddit: str = "memes") -> dict[str, Any]:
    """A gallery of `image_urls` in order, plus `invalid` items Reddit reports as failed."""
    items, metadata = [], {}
    for i, url in enumerate(image_urls):
        media_id = f"m{n}x{i}"
        items.append({"media_id": media_id, "id": i})
        metadata[media_id] = {
            "status": "valid",
            "e": "Image",
            "m": "image/jpeg",
            "s": {"u": url, "x": 64, "y": 48},
        }
    for i in range(invalid):
        media_id = f"bad{n}x{i}"
        items.append({"media_id": media_id, "id": 100 + i})
        metadata[media_id] = {"status": "failed"}
    return post(
        n, f"https://www.reddit.com/gallery/p{n:05d}", subreddit,
        is_gallery=True, gallery_data={"items": items}, media_metadata=metadata, post_hint=None,
    )  # fmt: skip


def crosspost(n: int, parent: dict[str, Any], subreddit: str = "memes") -> dict[str, Any]:
    """A crosspost: its own link points at the parent's comments; the media is in the parent."""
    return post(
        n, f"/r/{parent['subreddit']}/comments/{parent['id']}/", subreddit,
        crosspost_parent=parent["name"], crosspost_parent_list=[parent], post_hint=None,
    )  # fmt: skip


def self_post(n: int, subreddit: str = "memes") -> dict[str, Any]:
    return post(n, f"https://www.reddit.com/r/{subreddit}/comments/p{n:05d}/", subreddit,
                is_self=True, selftext="just words", post_hint=None)  # fmt: skip


def video_post(n: int, base: str) -> dict[str, Any]:
    return post(n, f"{base}/v/p{n}", is_video=True, domain="v.redd.it", post_hint="hosted:video")


def listing(children: list[dict[str, Any]], after: str | None) -> dict[str, Any]:
    return {
        "kind": "Listing",
        "data": {
            "after": after,
            "dist": len(children),
            "children": [{"kind": "t3", "data": c} for c in children],
        },
    }
