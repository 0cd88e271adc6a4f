"""Crawl a Lemmy community through its instance's HTTP API (`/api/v3/post/list`): the same paging,
stop-at-seen, resume, filters and image checks as a Reddit listing, within a request budget per instance
shared by every worker, with backoff on 429 and 5xx and Lemmy's Retry-After honoured."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import redis
from memethresher_shared.models import Source
from memethresher_shared.sources import parse_lemmy_target
from memethresher_shared.store import ImageStore

from memethresher_crawler.fetch import AddressPolicy, Downloader, TransportFactory, http_client
from memethresher_crawler.json_api import APIRefused, PoliteAPI
from memethresher_crawler.lemmy import lemmy_sort, parse_post_list, parse_post_view
from memethresher_crawler.listing_crawl import ListingCrawl, due_for_retry
from memethresher_crawler.posts import PostInfo
from memethresher_crawler.reddit import Listing, mean_post_gap_s
from memethresher_crawler.reddit_api import ListingError
from memethresher_crawler.results import CrawlResult, EmbedBatcher
from memethresher_crawler.settings import CrawlerSettings
from memethresher_crawler.transport import async_transport

log = logging.getLogger(__name__)

POST_LIST = "/api/v3/post/list"
POST = "/api/v3/post"
GONE = "deleted or removed from Lemmy before its images could be fetched"
_AP_ID = re.compile(r"^https?://([^/]+)/post/(\d+)$")  # a Lemmy post's id on its home instance


def lemmy_base_url(instance: str, settings: CrawlerSettings) -> str:
    return settings.lemmy_base_urls.get(instance, f"https://{instance}").rstrip("/")


class LemmyAPI(PoliteAPI):
    """Requests to one instance for one crawl, within that instance's shared budget."""

    def __init__(self, http: httpx.AsyncClient, settings: CrawlerSettings, client: redis.Redis, instance: str) -> None:
        base_url = lemmy_base_url(instance, settings)
        super().__init__(http, settings, client, base_url, f"lemmy:{instance}", settings.lemmy_requests_per_minute)

    async def posts(self, params: dict[str, Any]) -> Any:
        """The JSON body of one page of posts; raises ListingError once retries are spent."""
        return await self.get(POST_LIST, params)

    async def post(self, post_id: int) -> Any:
        """One post (`{"post_view": ...}`) by its id on this instance."""
        return await self.get(POST, {"id": post_id})


def crawl_lemmy(
    source: Source,
    settings: CrawlerSettings,
    store: ImageStore,
    embed: EmbedBatcher,
    client: redis.Redis,
    result: CrawlResult,
    heartbeat: Callable[[], object] = lambda: None,
    transport: TransportFactory = async_transport,
) -> CrawlResult:
    """Crawl one Lemmy source to completion (an asyncio loop of its own); counts go into `result`."""
    return asyncio.run(LemmyCrawl(source, settings, store, embed, client, result, heartbeat, transport).run())


class LemmyCrawl(ListingCrawl):
    """One crawl of one Lemmy community."""

    def __init__(
        self, source: Source, settings: CrawlerSettings, store: ImageStore, embed: EmbedBatcher,
        client: redis.Redis, result: CrawlResult, heartbeat: Callable[[], object], transport: TransportFactory,
    ) -> None:  # fmt: skip
        super().__init__(source, settings, store, embed, result, heartbeat, transport)
        self.redis = client
        self.target = parse_lemmy_target(source.target)
        self.sort = lemmy_sort(source.sort, source.time_window)

    async def run(self) -> CrawlResult:
        policy = AddressPolicy(self.settings.allow_private_addresses, self.settings.allowed_private_networks)
        seen: list[PostInfo] = []
        with ThreadPoolExecutor(self.settings.image_workers) as pool, ThreadPoolExecutor(1) as db:
            self.pool, self.db = pool, db
            async with http_client(self.settings, 2) as http, Downloader(self.settings, policy, self.transport) as d:
                self.downloader = d
                api = LemmyAPI(http, self.settings, self.redis, self.target.instance)
                try:
                    # Posts due from earlier crawls first: one failing now waits for its first retry.
                    await self._retry_failed(http)
                    await self._pages(lambda cursor: self._page(api, cursor), seen)
                finally:
                    self.result.listing_requests += api.requests
        self.result.mean_post_gap_s = mean_post_gap_s(seen)
        return self.result

    async def _page(self, api: LemmyAPI, cursor: str | None) -> Listing:
        params: dict[str, Any] = {
            "community_name": self.target.canonical, "sort": self.sort, "limit": self.settings.lemmy_page_size,
            "type_": "All",
        }  # fmt: skip
        if cursor:
            params["page_cursor"] = cursor
        return parse_post_list(await api.posts(params), self.rules)

    async def _retry_failed(self, http: httpx.AsyncClient) -> None:
        """Fetch the due posts whose images failed for passing reasons again, each from its home instance."""
        due = await self._in_db_thread(due_for_retry, self.source.id, self.settings.failed_post_retry_batch)
        if not due:
            return
        self.heartbeat()
        apis: dict[str, LemmyAPI] = {}
        found: dict[str, PostInfo | None] = {}
        for key in due:
            home = _AP_ID.match(key)
            if home is None:
                found[key] = None  # not a Lemmy post id: nothing to ask for
                continue
            api = apis.setdefault(home.group(1), LemmyAPI(http, self.settings, self.redis, home.group(1)))
            try:
                found[key] = parse_post_view((await api.post(int(home.group(2))))["post_view"], self.rules)
            except APIRefused as refused:  # gone from its instance, or refused: either way not there now
                log.info("lemmy post %s not fetched again: %s", key, refused)
                found[key] = None
            except (ListingError, KeyError, TypeError) as error:  # stays due: the next crawl asks again
                log.warning("could not fetch lemmy post %s again: %s", key, error)
        self.result.listing_requests += sum(api.requests for api in apis.values())
        await self._record_retries(due, found, GONE)
