"""Crawl a Reddit source: page through its listing until known posts, download what is new,
check and store it, and record every post with its images or its skip reason. Known posts whose
images failed for passing reasons (5xx, 429, timeouts) are fetched again by id when due."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis
from memethresher_shared.models import Source
from memethresher_shared.sources import TIMED_SORTS, RedditTarget, parse_reddit_target
from memethresher_shared.store import ImageStore

from memethresher_crawler.arctic_crawl import backfill, wants_backfill
from memethresher_crawler.fetch import AddressPolicy, Downloader, TransportFactory, http_client
from memethresher_crawler.listing_crawl import ListingCrawl, due_for_retry
from memethresher_crawler.posts import PostInfo
from memethresher_crawler.reddit import Listing, mean_post_gap_s, parse_listing
from memethresher_crawler.reddit_api import ListingError, RedditAPI, RedditRefused
from memethresher_crawler.results import CrawlResult, EmbedBatcher
from memethresher_crawler.settings import CrawlerSettings
from memethresher_crawler.transport import async_transport

log = logging.getLogger(__name__)

GONE = "deleted or removed from Reddit before its images could be fetched"


def listing_params(source: Source, target: RedditTarget, page_size: int, after: str | None) -> dict[str, Any]:
    """Query parameters of one listing page of `source`."""
    params: dict[str, Any] = {"limit": page_size, "raw_json": 1}
    if target.kind == "user":  # a user's submissions take the sort as a parameter, not in the path
        params["sort"] = source.sort
    if source.sort in TIMED_SORTS:
        params["t"] = source.time_window or "day"
    if after:
        params["after"] = after
    return params


def crawl_reddit(
    source: Source,
    settings: CrawlerSettings,
    store: ImageStore,
    embed: EmbedBatcher,
    client: redis.Redis,
    result: CrawlResult,
    heartbeat: Callable[[], object] = lambda: None,
    transport: TransportFactory = async_transport,
) -> CrawlResult:
    """Crawl one Reddit source to completion (an asyncio loop of its own); counts go into `result`.
    Images are fetched through `transport`."""
    crawl = RedditCrawl(source, settings, store, embed, client, result, heartbeat, transport)
    return asyncio.run(crawl.run())


class RedditCrawl(ListingCrawl):
    """One crawl of one Reddit source."""

    def __init__(
        self, source: Source, settings: CrawlerSettings, store: ImageStore, embed: EmbedBatcher,
        client: redis.Redis, result: CrawlResult, heartbeat: Callable[[], object],
        transport: TransportFactory = async_transport,
    ) -> None:  # fmt: skip
        super().__init__(source, settings, store, embed, result, heartbeat, transport)
        self.redis = client
        self.target = parse_reddit_target(source.target)
        self.path = self.target.listing_path(source.sort)

    async def run(self) -> CrawlResult:
        policy = AddressPolicy(self.settings.allow_private_addresses, self.settings.allowed_private_networks)
        seen: list[PostInfo] = []
        # Images are checked and stored on several threads; rows are written on one, in page order.
        with ThreadPoolExecutor(self.settings.image_workers) as pool, ThreadPoolExecutor(1) as db:
            self.pool, self.db = pool, db
            downloads = Downloader(self.settings, policy, self.transport)
            async with http_client(self.settings, 2) as http, downloads as downloader:
                api = RedditAPI(http, self.settings, self.redis)
                self.downloader = downloader
                try:
                    # Posts due from earlier crawls first: one failing now waits for its first retry.
                    await self._retry_failed(api)
                    await self._pages(lambda after: self._page(api, after), seen)
                except RedditRefused as refused:
                    self.result.refused(**refused.refusal.as_dict())
                finally:
                    self.result.listing_requests = api.requests
                    self.result.access_mode = api.mode
                # After the live listing (newest first), and even when Reddit shut its door: the archive is not Reddit.
                if wants_backfill(self.source, self.target, self.settings):
                    await backfill(self, self.target, http, self.redis)
        self.result.mean_post_gap_s = mean_post_gap_s(seen)
        return self.result

    async def _page(self, api: RedditAPI, after: str | None) -> Listing:
        params = listing_params(self.source, self.target, self.settings.listing_page_size, after)
        return parse_listing(await api.listing(self.path, params), self.rules)

    async def _retry_failed(self, api: RedditAPI) -> None:
        """Fetch the due posts whose images failed for passing reasons again, by id, and record the outcome."""
        due = await self._in_db_thread(due_for_retry, self.source.id, self.settings.failed_post_retry_batch)
        if not due:
            return
        self.heartbeat()
        try:
            body = await api.listing(f"/by_id/{','.join(due)}.json", {"raw_json": 1})
            found = {post.key: post for post in parse_listing(body, self.rules).posts}
        except (ListingError, ValueError) as error:  # they stay due: the next crawl asks again
            log.warning("could not fetch %d posts again by id: %s", len(due), error)
            return
        await self._record_retries(due, {key: found.get(key) for key in due}, GONE)
