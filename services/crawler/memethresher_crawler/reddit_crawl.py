"""Crawl a Reddit source: page through its listing until known posts, download what is new,
check and store it, and record every post with its images or its skip reason. Known posts whose
images failed for passing reasons (5xx, 429, timeouts) are fetched again by id when due."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import redis
from memethresher_shared.db import session_scope
from memethresher_shared.models import Source, utcnow
from memethresher_shared.sources import RedditTarget, parse_reddit_target
from memethresher_shared.store import ImageStore

from memethresher_crawler.fetch import AddressPolicy, Downloader, FetchError, TransportFactory, http_client
from memethresher_crawler.images import CheckedImage, ImageRejected, check_image
from memethresher_crawler.ingest import Taken, known_post_keys, posts_to_retry, record_page, record_retries
from memethresher_crawler.posts import MediaItem, PostInfo, TakeRules, next_retry_at
from memethresher_crawler.reddit import Listing, mean_post_gap_s, parse_listing
from memethresher_crawler.reddit_api import ListingError, RedditAPI
from memethresher_crawler.results import CrawlResult, EmbedBatcher
from memethresher_crawler.settings import CrawlerSettings
from memethresher_crawler.transport import async_transport

log = logging.getLogger(__name__)

GONE = "deleted or removed from Reddit before its images could be fetched"


@dataclass(frozen=True)
class ImageFailure:
    """Why an image could not be taken; `transient` if the reason may pass (worth a later try)."""

    reason: str
    transient: bool = False


def _known(keys: list[str]) -> set[str]:
    with session_scope() as session:
        return known_post_keys(session, keys)


def _due_for_retry(source_id: int, limit: int) -> dict[str, int]:
    with session_scope() as session:
        return posts_to_retry(session, source_id, utcnow(), limit)


def listing_params(source: Source, target: RedditTarget, page_size: int, after: str | None) -> dict[str, Any]:
    """Query parameters of one listing page of `source`."""
    params: dict[str, Any] = {"limit": page_size, "raw_json": 1}
    if target.kind == "user":  # a user's submissions take the sort as a parameter, not in the path
        params["sort"] = source.sort
    if source.sort == "top":
        params["t"] = source.time_window or "day"
    if after:
        params["after"] = after
    return params


def take_rules(source: Source, settings: CrawlerSettings) -> TakeRules:
    """What this source's crawl takes: the crawler's settings, with the source's own choice of link previews."""
    previews = source.options.get("take_link_previews", settings.take_link_previews)
    return TakeRules(settings.skip_spoilers, bool(previews), settings.max_image_pixels)


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


class RedditCrawl:
    """One crawl of one Reddit source."""

    def __init__(
        self, source: Source, settings: CrawlerSettings, store: ImageStore, embed: EmbedBatcher,
        client: redis.Redis, result: CrawlResult, heartbeat: Callable[[], object],
        transport: TransportFactory = async_transport,
    ) -> None:  # fmt: skip
        self.source = source
        self.settings = settings
        self.store = store
        self.embed = embed
        self.redis = client
        self.result = result
        self.heartbeat = heartbeat  # renews the crawl lock, once a page
        self.transport = transport
        self.target = parse_reddit_target(source.target)
        self.path = self.target.listing_path(source.sort)
        self.rules = take_rules(source, settings)

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
                    await self._pages(api, seen)
                finally:
                    self.result.listing_requests = api.requests
        self.result.mean_post_gap_s = mean_post_gap_s(seen)
        return self.result

    async def _pages(self, api: RedditAPI, seen: list[PostInfo]) -> None:
        """Page through the listing; the next page is fetched while earlier ones download."""
        page_size = self.settings.listing_page_size
        in_flight: list[asyncio.Task[None]] = []
        first = listing_params(self.source, self.target, page_size, None)
        next_page = asyncio.create_task(api.listing(self.path, first))
        try:
            for number in range(self.settings.max_listing_pages):
                listing = parse_listing(await next_page, self.rules)
                self.heartbeat()
                seen.extend(listing.posts)
                new_posts = await self._new_posts(listing)
                # Sorted by new, a known post means everything after it is known too.
                stop = len(new_posts) < len(listing.posts) if self._sorted_by_new() else not new_posts
                more = bool(listing.after) and not stop and number + 1 < self.settings.max_listing_pages
                if more:
                    params = listing_params(self.source, self.target, page_size, listing.after)
                    next_page = asyncio.create_task(api.listing(self.path, params))
                in_flight.append(asyncio.create_task(self._take(new_posts)))
                while len(in_flight) >= self.settings.pages_in_flight or (in_flight and not more):
                    await in_flight.pop(0)
                if not more:
                    return
        finally:
            for task in [next_page, *in_flight]:
                task.cancel()
            await asyncio.gather(next_page, *in_flight, return_exceptions=True)

    def _sorted_by_new(self) -> bool:
        return self.source.sort == "new"

    async def _new_posts(self, listing: Listing) -> list[PostInfo]:
        self.result.posts_seen += len(listing.posts)
        known = await self._in_db_thread(_known, [p.key for p in listing.posts])
        self.result.posts_known += len(known)
        if self._sorted_by_new() and known:
            # Only the posts above the first known one are new.
            first_known = next(i for i, p in enumerate(listing.posts) if p.key in known)
            return list(listing.posts[:first_known])
        return [p for p in listing.posts if p.key not in known]

    async def _in_db_thread(self, function: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.db, function, *args)

    async def _take(self, posts: list[PostInfo]) -> None:
        """Download every image of `posts` at once, then record the page in one transaction."""
        items = await asyncio.gather(*(self._post_images(post) for post in posts))
        first_retry = next_retry_at(utcnow(), 0, self.settings.failed_post_retry_s, self.settings.failed_post_retries)
        await self._in_db_thread(record_page, self.store, self.source.id, items, self.result, self.embed, first_retry)

    async def _retry_failed(self, api: RedditAPI) -> None:
        """Fetch the due posts whose images failed for passing reasons again, by id, and record the outcome."""
        due = await self._in_db_thread(_due_for_retry, self.source.id, self.settings.failed_post_retry_batch)
        if not due:
            return
        self.heartbeat()
        try:
            body = await api.listing(f"/by_id/{','.join(due)}.json", {"raw_json": 1})
            found = {post.key: post for post in parse_listing(body, self.rules).posts}
        except (ListingError, ValueError) as error:  # they stay due: the next crawl asks again
            log.warning("could not fetch %d posts again by id: %s", len(due), error)
            return
        items = await asyncio.gather(*(self._post_images(found[key]) for key in due if key in found))
        gone = [Taken(PostInfo(key=key), reason=GONE) for key in due if key not in found]
        now, wait, most = utcnow(), self.settings.failed_post_retry_s, self.settings.failed_post_retries
        retry_at = {key: next_retry_at(now, done + 1, wait, most) for key, done in due.items()}
        await self._in_db_thread(record_retries, self.store, [*items, *gone], retry_at, self.result, self.embed)

    async def _post_images(self, post: PostInfo) -> Taken:
        """The checked images of a post, or the reason none could be taken."""
        if post.skip_reason:
            return Taken(post, reason=post.skip_reason)
        outcomes = await asyncio.gather(*(self._image(item) for item in post.media))
        images = [o for o in outcomes if isinstance(o, CheckedImage)]
        failures = [o for o in outcomes if isinstance(o, ImageFailure)]
        for failure in failures:
            self.result.image_failed(failure.reason)
        reason = None if images else "; ".join(dict.fromkeys(f.reason for f in failures))
        return Taken(post, images, reason, retry=any(f.transient for f in failures))

    async def _image(self, item: MediaItem) -> CheckedImage | ImageFailure:
        """Fetch and check one image, falling back to Reddit's preview if the original fails."""
        failures: list[ImageFailure] = []
        for url in (item.url, item.fallback_url):
            if not url:
                continue
            try:
                data = await self.downloader.fetch(url)
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self.pool, self._check_and_store, data)
            except FetchError as error:
                failures.append(ImageFailure(str(error), error.transient))
            except ImageRejected as error:
                failures.append(ImageFailure(str(error)))
        # The original's reason is the one recorded; either failure passing makes a later try worth it.
        return ImageFailure(failures[0].reason if failures else "no image URL", any(f.transient for f in failures))

    def _check_and_store(self, data: bytes) -> CheckedImage:
        # In a worker thread: Pillow and the store's fsync release the GIL.
        image = check_image(data, self.settings.max_image_pixels)
        self.store.put(image.data, image.format, sha256=image.sha256)
        return image
