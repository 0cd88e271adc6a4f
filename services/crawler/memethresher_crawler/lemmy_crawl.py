"""Crawl a Lemmy community through its instance's HTTP API (`/api/v3/post/list`): the same paging,
stop-at-seen, resume, filters and image checks as a Reddit listing, within a request budget per instance
shared by every worker, with backoff on 429 and 5xx and Lemmy's Retry-After honoured."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import redis
from memethresher_shared.models import Source
from memethresher_shared.sources import parse_lemmy_target
from memethresher_shared.store import ImageStore

from memethresher_crawler.fetch import AddressPolicy, Downloader, TransportFactory, http_client, retry_after
from memethresher_crawler.lemmy import lemmy_sort, parse_post_list
from memethresher_crawler.listing_crawl import ListingCrawl
from memethresher_crawler.posts import PostInfo
from memethresher_crawler.ratelimit import SharedBudget
from memethresher_crawler.reddit import Listing, mean_post_gap_s
from memethresher_crawler.reddit_api import ListingError, backoff_s
from memethresher_crawler.results import CrawlResult, EmbedBatcher
from memethresher_crawler.settings import CrawlerSettings
from memethresher_crawler.transport import async_transport

log = logging.getLogger(__name__)

POST_LIST = "/api/v3/post/list"


def lemmy_base_url(instance: str, settings: CrawlerSettings) -> str:
    return settings.lemmy_base_urls.get(instance, f"https://{instance}").rstrip("/")


class LemmyAPI:
    """Post list requests to one instance for one crawl, within that instance's shared budget."""

    def __init__(self, http: httpx.AsyncClient, settings: CrawlerSettings, client: redis.Redis, instance: str) -> None:
        self.http = http
        self.settings = settings
        self.base_url = lemmy_base_url(instance, settings)
        window = settings.reddit_budget_window_s  # one window for every budget: only tests shorten it
        self.budget = SharedBudget(client, settings.lemmy_requests_per_minute, window, name=f"lemmy:{instance}")
        self.requests = 0

    async def posts(self, params: dict[str, Any]) -> Any:
        """The JSON body of one page of posts; raises ListingError once retries are spent."""
        problem = ""
        for attempt in range(self.settings.max_retries + 1):
            await self.budget.acquire()
            self.requests += 1
            wait, problem = await self._attempt(params, attempt)
            if not problem:
                return wait  # the body, on success
            log.warning("lemmy %s: %s (attempt %d)", self.base_url, problem, attempt + 1)
            await asyncio.sleep(float(wait))
        raise ListingError(f"{self.base_url}{POST_LIST} failed after {self.settings.max_retries + 1} tries: {problem}")

    async def _attempt(self, params: dict[str, Any], attempt: int) -> tuple[Any, str]:
        """(body, "") on success, else (seconds to wait, what went wrong)."""
        try:
            response = await self.http.get(self.base_url + POST_LIST, params=params)
        except httpx.HTTPError as error:
            return backoff_s(attempt, self.settings), f"{type(error).__name__}: {error}"
        if response.status_code == 429 or response.status_code >= 500:
            wait = retry_after(response.headers)
            wait = min(backoff_s(attempt, self.settings) if wait is None else wait, self.settings.backoff_max_s)
            if response.status_code == 429:
                self.budget.pause(wait)  # every worker waits for this instance, not only this one
            return wait, f"HTTP {response.status_code}"
        if response.status_code != 200:
            raise ListingError(f"{self.base_url} refused the post list: HTTP {response.status_code}{_said(response)}")
        try:
            return response.json(), ""
        except (json.JSONDecodeError, UnicodeDecodeError):
            return backoff_s(attempt, self.settings), "truncated or invalid JSON"


def _said(response: httpx.Response) -> str:
    """Lemmy's own word for a refusal (`couldnt_find_community`, ...), if it gave one."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return ""
    return f" ({error})" if isinstance(error, str) else ""


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
                    await self._pages(lambda cursor: self._page(api, cursor), seen)
                finally:
                    self.result.listing_requests = api.requests
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
