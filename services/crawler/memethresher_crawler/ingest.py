"""Write checked images and their posts: the store first, then rows, so no row points at nothing.

Plain Core statements on the session's connection: a page of posts is recorded in one
transaction, and the ORM's unit of work would cost more than the inserts themselves."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from memethresher_shared.db import session_scope, upsert_insert
from memethresher_shared.models import Meme, Post, PostMeme, Source, utcnow
from memethresher_shared.portable.apply import meme_ids as memes_by_sha
from memethresher_shared.portable.pending import apply_pending
from memethresher_shared.store import ImageStore
from sqlalchemy import Connection, Table, bindparam, select, update
from sqlalchemy.orm import Session

from memethresher_crawler.images import CheckedImage
from memethresher_crawler.posts import PostInfo
from memethresher_crawler.results import CrawlResult, EmbedBatcher

POSTS: Table = Post.__table__  # type: ignore[assignment]
MEMES: Table = Meme.__table__  # type: ignore[assignment]
POST_MEMES: Table = PostMeme.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Taken:
    """What a crawl took from one post: its checked images, or the reason it took none.

    `retry`: an image failed for a passing reason (timeout, 429, 5xx), so the post is fetched again later."""

    post: PostInfo
    images: Sequence[CheckedImage] = ()
    reason: str | None = None
    retry: bool = False


def known_post_keys(session: Session, keys: Iterable[str]) -> set[str]:
    """The subset of `keys` already recorded as posts (by any source)."""
    wanted = list(dict.fromkeys(keys))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found.update(session.connection().scalars(select(POSTS.c.key).where(POSTS.c.key.in_(chunk))))
    return found


def known_posts(session: Session, keys: Iterable[str]) -> dict[str, int]:
    """{key: id of the source that recorded it} of the `keys` already recorded as posts."""
    wanted = list(dict.fromkeys(keys))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), 500):
        query = select(POSTS.c.key, POSTS.c.source_id).where(POSTS.c.key.in_(wanted[start : start + 500]))
        found.update({key: source_id for key, source_id in session.connection().execute(query).all()})
    return found


def save_listing_gaps(source_id: int, gaps: list[str]) -> None:
    """Remember the listing cursors a crawl of `source_id` should resume from (its own transaction)."""
    with session_scope() as session:
        row = session.get(Source, source_id)
        if row is not None:
            row.crawl_state = {**(row.crawl_state or {}), "gaps": gaps}


def _insert_new_rows(connection: Connection, table: Table, rows: list[dict[str, Any]], unique: str) -> dict[Any, int]:
    """INSERT the rows whose `unique` value is not there yet; {unique value: new id} of those inserted."""
    if not rows:
        return {}
    # ON CONFLICT DO NOTHING, not check-then-insert: concurrent workers race on the same image or post.
    statement = upsert_insert(connection, table).on_conflict_do_nothing(index_elements=[unique])
    result = connection.execute(statement.returning(table.c[unique], table.c.id), rows)
    return {value: new_id for value, new_id in result.all()}


def _meme_ids(connection: Connection, store: ImageStore, items: Sequence[Taken]) -> tuple[dict[str, int], set[str]]:
    """{sha256: meme id} for every image of `items`, creating rows as needed; and the new shas."""
    first: dict[str, tuple[PostInfo, CheckedImage]] = {}
    for item in items:
        for image in item.images:
            first.setdefault(image.sha256, (item.post, image))
    ids = memes_by_sha(connection, list(first))
    rows = []
    for sha, (post, image) in first.items():
        if sha in ids:
            continue
        key = store.put(image.data, image.format, sha256=sha)  # a no-op if already stored
        rows.append({
            "sha256": sha, "storage_key": key, "title": post.title, "subreddit": post.subreddit,
            "format": image.format, "width": image.width, "height": image.height,
            "byte_size": image.byte_size, "status": "new", "added_at": utcnow(),
        })  # fmt: skip
    created = _insert_new_rows(connection, MEMES, rows, "sha256")
    ids.update(created)
    apply_pending(connection, created)  # imported ratings and labels that waited for these images
    missing = [sha for sha in first if sha not in ids]
    ids.update(memes_by_sha(connection, missing))  # inserted by another worker meanwhile
    return ids, set(created)


def _link(connection: Connection, post_ids: dict[str, int], taken: Sequence[Taken], meme_ids: dict[str, int]) -> None:
    """Link each post to its images in order; a link already there (a retried post) is kept."""
    links = []
    for item in taken:
        linked: set[int] = set()
        for position, image in enumerate(item.images):
            meme_id = meme_ids[image.sha256]
            if meme_id not in linked:  # a gallery may repeat an image; link it once
                linked.add(meme_id)
                links.append({"post_id": post_ids[item.post.key], "meme_id": meme_id, "position": position})
    if links:
        statement = upsert_insert(connection, POST_MEMES).on_conflict_do_nothing(index_elements=["post_id", "meme_id"])
        connection.execute(statement, links)


def _new_meme_ids(taken: Sequence[Taken], meme_ids: dict[str, int], created: set[str]) -> list[int]:
    return [meme_ids[sha] for sha in dict.fromkeys(i.sha256 for item in taken for i in item.images) if sha in created]


def save_page(
    session: Session,
    store: ImageStore,
    source_id: int,
    items: Sequence[Taken],
    retry_at: datetime | None = None,
    in_library: bool = False,
) -> list[int]:
    """Record posts with their images (or skip reasons) in a few statements; return new meme ids.

    Posts marked `retry` get `retry_at`. A post already recorded (by an earlier crawl or another worker)
    is left as it is. With `in_library`, every meme of the page is marked as in the library folder."""
    connection = session.connection()
    now = utcnow()
    rows = [{
        "source_id": source_id, "key": item.post.key, "subreddit": item.post.subreddit, "title": item.post.title,
        "author": item.post.author, "permalink": item.post.permalink, "url": item.post.url,
        "created_utc": item.post.created_utc, "reddit_score": item.post.score,
        "skip_reason": item.reason if not item.images else None, "crawled_at": now,
        "taken_as": item.post.taken_as if item.images else None,
        "retry_at": retry_at if item.retry else None,
    } for item in items]  # fmt: skip
    post_ids = _insert_new_rows(connection, POSTS, rows, "key")
    taken = [item for item in items if item.post.key in post_ids and item.images]
    meme_ids, created = _meme_ids(connection, store, taken)
    _link(connection, post_ids, taken, meme_ids)
    if in_library and meme_ids:
        connection.execute(update(MEMES).where(MEMES.c.id.in_(list(meme_ids.values()))).values(in_library=True))
    return _new_meme_ids(taken, meme_ids, created)


def posts_to_retry(session: Session, source_id: int, now: datetime, limit: int) -> dict[str, int]:
    """{post key: retries so far} of `source_id`'s posts due for another try, longest waiting first."""
    query = (
        select(POSTS.c.key, POSTS.c.retries)
        .where(POSTS.c.source_id == source_id, POSTS.c.retry_at <= now)
        .order_by(POSTS.c.retry_at)
        .limit(limit)
    )
    return {key: retries for key, retries in session.connection().execute(query).all()}


def save_retries(
    session: Session, store: ImageStore, items: Sequence[Taken], retry_at: dict[str, datetime | None]
) -> list[int]:
    """Record another try of known posts: link the images now taken, else the new reason and `retry_at`
    (with one more retry counted). Posts that got all their images are not tried again. New meme ids."""
    connection = session.connection()
    keys = [item.post.key for item in items]
    post_ids = dict(connection.execute(select(POSTS.c.key, POSTS.c.id).where(POSTS.c.key.in_(keys))).all())
    items = [item for item in items if item.post.key in post_ids]
    rows = [{
        "row_id": post_ids[item.post.key], "new_reason": None if item.images else item.reason,
        "new_retry_at": retry_at[item.post.key] if item.retry else None,
        "new_taken_as": item.post.taken_as if item.images else None,
    } for item in items]  # fmt: skip
    if rows:
        statement = (
            update(POSTS)
            .where(POSTS.c.id == bindparam("row_id"))
            .values(
                skip_reason=bindparam("new_reason"),
                retry_at=bindparam("new_retry_at"),
                taken_as=bindparam("new_taken_as"),
                retries=POSTS.c.retries + 1,
            )  # fmt: skip
        )
        connection.execute(statement, rows)
    taken = [item for item in items if item.images]
    meme_ids, created = _meme_ids(connection, store, taken)
    _link(connection, post_ids, taken, meme_ids)
    return _new_meme_ids(taken, meme_ids, created)


def record_page(
    store: ImageStore,
    source_id: int,
    items: Sequence[Taken],
    result: CrawlResult,
    embed: EmbedBatcher,
    retry_at: datetime | None = None,
    in_library: bool = False,
) -> None:
    """Save a page in one transaction, tally it into `result`, then hand its new memes to `embed`."""
    with session_scope() as session:
        new_ids = save_page(session, store, source_id, items, retry_at, in_library)
    result.posts_new += len(items)
    for item in items:
        if not item.images:
            result.skipped(item.reason or "no images")
    _tally_images(items, new_ids, result)
    embed.add(new_ids)  # after the commit, so the embedder finds the rows


def record_retries(
    store: ImageStore,
    items: Sequence[Taken],
    retry_at: dict[str, datetime | None],
    result: CrawlResult,
    embed: EmbedBatcher,
) -> None:
    """Save another try of known posts in one transaction, tally it, then hand new memes to `embed`."""
    with session_scope() as session:
        new_ids = save_retries(session, store, items, retry_at)
    result.posts_retried += len(items)
    result.posts_recovered += sum(1 for item in items if item.images and not item.retry)
    _tally_images(items, new_ids, result)
    embed.add(new_ids)


def _tally_images(items: Sequence[Taken], new_ids: list[int], result: CrawlResult) -> None:
    result.images_new += len(new_ids)
    result.images_duplicate += sum(len(item.images) for item in items) - len(new_ids)
