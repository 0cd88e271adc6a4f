"""Crawl one source, record how it went, and find the sources that are due."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from memethresher_shared import tasks
from memethresher_shared.celery_app import app
from memethresher_shared.coordination import redis_client, send_once
from memethresher_shared.db import session_scope
from memethresher_shared.models import Source, utcnow
from memethresher_shared.observability import record_image_failed, record_images_crawled
from memethresher_shared.store import ImageStore
from redis.lock import Lock
from sqlalchemy import select

from memethresher_crawler.fetch import TransportFactory
from memethresher_crawler.folder import crawl_folder
from memethresher_crawler.lemmy_crawl import crawl_lemmy
from memethresher_crawler.library import ensure_library_source, is_library
from memethresher_crawler.reddit_crawl import crawl_reddit
from memethresher_crawler.results import CrawlResult, EmbedBatcher
from memethresher_crawler.settings import CrawlerSettings, get_crawler_settings
from memethresher_crawler.transport import async_transport

log = logging.getLogger(__name__)

CRAWL_LOCK = "memethresher:crawl-running:{source_id}"
CRAWL_QUEUED = "memethresher:crawl-queued:{source_id}"


# Rows are committed before their batch is sent, so a broker blip must not drop the batch.
SEND_RETRY = {"max_retries": 20, "interval_start": 0.5, "interval_step": 0.5, "interval_max": 3.0}


def _send_embed_batch(meme_ids: list[int]) -> None:
    app.send_task(tasks.EMBED_BATCH, args=[meme_ids], retry=True, retry_policy=SEND_RETRY)


def _embed_batcher(settings: CrawlerSettings) -> EmbedBatcher:
    return EmbedBatcher(settings.embed_batch_size, _send_embed_batch)


def _renewer(lock: Lock) -> Callable[[], None]:
    """Renew the crawl lock; a Redis blip must not stop a crawl that is going well."""

    def renew() -> None:
        try:
            lock.reacquire()
        except redis.exceptions.RedisError as error:
            log.warning("could not renew the crawl lock: %s", error)

    return renew


def run_crawl(
    source: Source,
    settings: CrawlerSettings,
    client: redis.Redis,
    heartbeat: Callable[[], object] = lambda: None,
    transport: TransportFactory = async_transport,
) -> CrawlResult:
    """Crawl `source` (a detached row) now, its images fetched through `transport`; an error ends up in the
    result with the counts so far."""
    store = ImageStore(settings.storage)
    embed = _embed_batcher(settings)
    result = CrawlResult()
    try:
        if source.kind == "folder":
            limits = (settings.max_image_bytes, settings.max_image_pixels)
            folder = Path(source.target)
            crawl_folder(source.id, folder, store, embed, limits, settings.image_workers, result, heartbeat,
                         in_library=is_library(source))  # fmt: skip
        elif source.kind == "lemmy":
            crawl_lemmy(source, settings, store, embed, client, result, heartbeat, transport)
        else:
            crawl_reddit(source, settings, store, embed, client, result, heartbeat, transport)
    except Exception as error:  # noqa: BLE001 - the source records why; the worker goes on
        log.exception("crawl of source %s failed", source.id)
        result.error = f"{type(error).__name__}: {error}"
    embed.flush()
    result.embed_batches = embed.batches_sent
    return result


def crawl_source(source_id: int, transport: TransportFactory = async_transport) -> dict[str, Any]:
    """Crawl one source unless a crawl of it is already running; store and return the result."""
    settings = get_crawler_settings()
    client = redis_client()
    with session_scope() as session:
        source = session.get(Source, source_id)
        if source is None:
            return {"error": f"no source with id {source_id}"}
        session.expunge(source)
    # The lock expires unless each page renews it, so a worker killed mid-crawl blocks nobody for long.
    lock = client.lock(CRAWL_LOCK.format(source_id=source_id), timeout=settings.crawl_lock_timeout_s, blocking=False)
    if not lock.acquire():
        return {"error": None, "skipped": "a crawl of this source is already running"}
    try:
        result = run_crawl(source, settings, client, _renewer(lock), transport)
        _record_metrics(result, source.kind)
        summary = result.as_dict()
        with session_scope() as session:
            row = session.get(Source, source_id)
            if row is not None:
                row.last_crawl_at = utcnow()
                row.last_result = summary
                _adapt_interval(row, result, settings)
    finally:
        try:
            lock.release()
            client.delete(CRAWL_QUEUED.format(source_id=source_id))
        except redis.exceptions.RedisError as error:  # it expires on its own
            log.warning("could not release the crawl lock of source %s: %s", source_id, error)
    return summary


def _record_metrics(result: CrawlResult, source_kind: str) -> None:
    record_images_crawled(result.images_new, source_kind)
    for category, count in result.image_failures.items():
        for _ in range(count):
            record_image_failed("crawl", category)


def _adapt_interval(row: Source, result: CrawlResult, settings: CrawlerSettings) -> None:
    gap = result.mean_post_gap_s
    if row.options.get("stream") and gap:
        row.interval_s = int(min(max(gap, settings.stream_min_interval_s), settings.stream_max_interval_s))


def _as_utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything we write is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def is_due(source: Source, now: datetime) -> bool:
    """Whether `source` should be crawled now (a folder not watched is imported only once)."""
    if not source.enabled:
        return False
    if source.last_crawl_at is None:
        return True
    if source.kind == "folder" and not source.options.get("watch"):
        return False
    return now - _as_utc(source.last_crawl_at) >= timedelta(seconds=source.interval_s)


def crawl_due_sources() -> list[int]:
    """Enqueue a crawl of every due source not already queued; return their ids. The library folder is
    one of them, added as a watched folder source once it exists."""
    client = redis_client()
    now = utcnow()
    library_dir = get_crawler_settings().library_dir
    with session_scope() as session:
        ensure_library_source(session, library_dir)
    with session_scope() as session:
        sources = list(session.scalars(select(Source).where(Source.enabled.is_(True))))
        due = [(s.id, s.interval_s) for s in sources if is_due(s, now)]
    queued = []
    for source_id, interval in due:
        # The flag stops a slow crawl from piling up copies of itself on the queue.
        flag = CRAWL_QUEUED.format(source_id=source_id)
        if send_once(client, flag, max(interval, 60), tasks.CRAWL_SOURCE, source_id):
            queued.append(source_id)
    return queued
