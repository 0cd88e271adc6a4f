"""Celery wiring for the crawl queue; the work lives in `crawl.py`."""

from __future__ import annotations

from typing import Any

from memethresher_shared import tasks
from memethresher_shared.celery_app import app
from memethresher_shared.observability import install_worker_observability

from memethresher_crawler import crawl, reddit_check

install_worker_observability(app, "crawler")


@app.task(name=tasks.CRAWL_SOURCE)
def crawl_source(source_id: int) -> dict[str, Any]:
    """Crawl one source (idempotent: known posts and images are not fetched or stored twice)."""
    return crawl.crawl_source(int(source_id))


@app.task(name=tasks.CRAWL_DUE_SOURCES)
def crawl_due_sources() -> list[int]:
    """Beat, every minute: enqueue a crawl of every source whose interval has passed."""
    return crawl.crawl_due_sources()


@app.task(name=tasks.REDDIT_CHECK)
def check_reddit_access(target: str = reddit_check.CHECK_TARGET) -> dict[str, Any]:
    """Try each door to Reddit once and keep the result where the Sources page reads it."""
    from memethresher_shared.coordination import redis_client

    from memethresher_crawler.settings import get_crawler_settings

    client = redis_client()
    return reddit_check.record_check(client, reddit_check.check_doors(get_crawler_settings(), client, target), target)
