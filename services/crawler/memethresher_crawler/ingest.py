"""Write checked images and their posts: the store first, then rows, so no row points at nothing.

Plain Core statements on the session's connection: a page of posts is recorded in one
transaction, and the ORM's unit of work would cost more than the inserts themselves."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from memethresher_shared.db import session_scope, upsert_insert
from memethresher_shared.models import Meme, Post, PostMeme, utcnow
from memethresher_shared.store import ImageStore
from sqlalchemy import Connection, Table, insert, select
from sqlalchemy.orm import Session

from memethresher_crawler.images import CheckedImage
from memethresher_crawler.posts import PostInfo
from memethresher_crawler.results import CrawlResult, EmbedBatcher

POSTS: Table = Post.__table__  # type: ignore[assignment]
MEMES: Table = Meme.__table__  # type: ignore[assignment]
POST_MEMES: Table = PostMeme.__table__  # type: ignore[assignment]


def known_post_keys(session: Session, keys: Iterable[str]) -> set[str]:
    """The subset of `keys` already recorded as posts (by any source)."""
    wanted = list(dict.fromkeys(keys))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found.update(session.connection().scalars(select(POSTS.c.key).where(POSTS.c.key.in_(chunk))))
    return found


def _insert_new_rows(connection: Connection, table: Table, rows: list[dict[str, Any]], unique: str) -> dict[Any, int]:
    """INSERT the rows whose `unique` value is not there yet; {unique value: new id} of those inserted."""
    if not rows:
        return {}
    # ON CONFLICT DO NOTHING, not check-then-insert: concurrent workers race on the same image or post.
    statement = upsert_insert(connection, table).on_conflict_do_nothing(index_elements=[unique])
    result = connection.execute(statement.returning(table.c[unique], table.c.id), rows)
    return {value: new_id for value, new_id in result.all()}


def _meme_ids(
    connection: Connection, store: ImageStore, items: Sequence[tuple[PostInfo, Sequence[CheckedImage]]]
) -> tuple[dict[str, int], set[str]]:
    """{sha256: meme id} for every image of `items`, creating rows as needed; and the new shas."""
    first: dict[str, tuple[PostInfo, CheckedImage]] = {}
    for post, images in items:
        for image in images:
            first.setdefault(image.sha256, (post, image))
    ids = _existing_memes(connection, list(first))
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
    missing = [sha for sha in first if sha not in ids]
    ids.update(_existing_memes(connection, missing))  # inserted by another worker meanwhile
    return ids, set(created)


def _existing_memes(connection: Connection, shas: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(shas), 500):
        query = select(MEMES.c.sha256, MEMES.c.id).where(MEMES.c.sha256.in_(shas[start : start + 500]))
        found.update({sha: meme_id for sha, meme_id in connection.execute(query).all()})
    return found


def save_page(
    session: Session,
    store: ImageStore,
    source_id: int,
    items: Sequence[tuple[PostInfo, Sequence[CheckedImage], str | None]],
) -> list[int]:
    """Record posts with their images (or skip reasons) in a few statements; return new meme ids.

    A post already recorded (by an earlier crawl or another worker) is left as it is."""
    connection = session.connection()
    now = utcnow()
    rows = [{
        "source_id": source_id, "key": post.key, "subreddit": post.subreddit, "title": post.title,
        "author": post.author, "permalink": post.permalink, "url": post.url,
        "created_utc": post.created_utc, "reddit_score": post.score,
        "skip_reason": reason if not images else None, "crawled_at": now,
    } for post, images, reason in items]  # fmt: skip
    post_ids = _insert_new_rows(connection, POSTS, rows, "key")
    taken = [(post, images) for post, images, _reason in items if post.key in post_ids and images]
    meme_ids, created = _meme_ids(connection, store, taken)
    links = []
    for post, images in taken:
        linked: set[int] = set()
        for position, image in enumerate(images):
            meme_id = meme_ids[image.sha256]
            if meme_id not in linked:  # a gallery may repeat an image; link it once
                linked.add(meme_id)
                links.append({"post_id": post_ids[post.key], "meme_id": meme_id, "position": position})
    if links:
        connection.execute(insert(POST_MEMES), links)
    return [meme_ids[sha] for sha in dict.fromkeys(i.sha256 for _p, images in taken for i in images) if sha in created]


def record_page(
    store: ImageStore,
    source_id: int,
    items: Sequence[tuple[PostInfo, Sequence[CheckedImage], str | None]],
    result: CrawlResult,
    embed: EmbedBatcher,
) -> None:
    """Save a page in one transaction, tally it into `result`, then hand its new memes to `embed`."""
    with session_scope() as session:
        new_ids = save_page(session, store, source_id, items)
    result.posts_new += len(items)
    for _post, images, reason in items:
        if not images:
            result.skipped(reason or "no images")
    result.images_new += len(new_ids)
    result.images_duplicate += sum(len(images) for _p, images, _r in items) - len(new_ids)
    embed.add(new_ids)  # after the commit, so the embedder finds the rows
