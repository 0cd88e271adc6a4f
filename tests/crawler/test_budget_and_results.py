"""The shared request budget on a real Redis, and the crawl tally and embed batching."""

from __future__ import annotations

import asyncio
import time

import httpx
from memethresher_crawler.ratelimit import SharedBudget, parse_ratelimit
from memethresher_crawler.results import CrawlResult, EmbedBatcher, failure_category


def test_budget_is_shared_by_every_client(redis_conn) -> None:  # type: ignore[no-untyped-def]
    first, second = SharedBudget(redis_conn, 3), SharedBudget(redis_conn, 3)
    assert [first.try_acquire(), second.try_acquire(), first.try_acquire()] == [0, 0, 0]
    wait = second.try_acquire()
    assert 59 < wait <= 60  # the oldest of the three frees its slot in a minute


def test_budget_frees_slots_as_the_window_slides(redis_conn) -> None:  # type: ignore[no-untyped-def]
    budget = SharedBudget(redis_conn, 2, window_s=0.5)
    started = time.monotonic()

    async def five() -> None:
        for _ in range(5):
            await budget.acquire()

    asyncio.run(five())
    assert time.monotonic() - started >= 1.0  # two per half second: the 5th waits two windows


def test_a_pause_holds_every_client(redis_conn) -> None:  # type: ignore[no-untyped-def]
    budget = SharedBudget(redis_conn, 100)
    SharedBudget(redis_conn, 100).pause(5)
    assert 4 < budget.try_acquire() <= 5
    budget.obey_headers(remaining=0, reset_s=30)
    assert 29 < budget.try_acquire() <= 30
    budget.pause(1)  # a shorter pause does not cut a longer one short
    assert budget.try_acquire() > 29


def test_ratelimit_headers_are_read_leniently() -> None:
    headers = httpx.Headers({"x-ratelimit-remaining": "81.0", "x-ratelimit-reset": "65", "x-ratelimit-used": "519"})
    assert parse_ratelimit(headers) == (81.0, 65.0, 519.0)
    assert parse_ratelimit(httpx.Headers({"x-ratelimit-remaining": "lots"})) == (None, None, None)


def test_embed_batches() -> None:
    sent: list[list[int]] = []
    batcher = EmbedBatcher(3, sent.append)
    batcher.add([1, 2])
    assert sent == []
    batcher.add([3, 4, 5, 6, 7])
    assert sent == [[1, 2, 3], [4, 5, 6]]
    batcher.flush()
    batcher.flush()
    assert sent == [[1, 2, 3], [4, 5, 6], [7]]
    assert batcher.batches_sent == 3


def test_skip_reasons_are_tallied_by_kind() -> None:
    result = CrawlResult()
    for reason in ("unknown host: a.com", "unknown host: b.com", "not an image (HTML page)", "over_18"):
        result.skipped(reason)
    summary = result.as_dict()
    assert summary["posts_skipped"] == 4
    assert summary["skip_reasons"] == {"unknown host": 2, "not an image": 1, "over_18": 1}


def test_image_failures_get_short_metric_labels() -> None:
    result = CrawlResult()
    for reason in ("HTTP 404", "corrupt JPEG image: truncated", "decompression bomb: 30000x30000", "odd"):
        result.image_failed(reason)
    assert result.as_dict()["image_failures"] == {"http_404": 1, "decode": 1, "bomb": 1, "other": 1}
    assert result.images_failed == 4
    assert failure_category("refused 10.0.0.1: 10.0.0.1 is a private or internal address") == "refused_address"
