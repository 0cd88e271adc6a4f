"""Backfill a new subreddit source from the Arctic Shift archive: its posts of the last weeks, so it
starts with more than the live listing still shows. Off unless `archive_base_url` names the archive."""

from __future__ import annotations

import logging
import time

import httpx
import redis
from memethresher_shared.db import session_scope
from memethresher_shared.models import Source
from memethresher_shared.sources import ALL_OF_REDDIT, RedditTarget

from memethresher_crawler.arctic import SEARCH, archive_params, parse_archive
from memethresher_crawler.json_api import PoliteAPI
from memethresher_crawler.listing_crawl import ListingCrawl
from memethresher_crawler.reddit import Listing
from memethresher_crawler.reddit_api import ListingError
from memethresher_crawler.settings import CrawlerSettings

log = logging.getLogger(__name__)

BACKFILLED = "backfilled"  # in sources.crawl_state: the archive was read for this source


def wants_backfill(source: Source, target: RedditTarget, settings: CrawlerSettings) -> bool:
    """A subreddit source the archive has not been read for yet, with an archive configured."""
    subreddits = target.kind == "subreddits" and not ALL_OF_REDDIT & set(target.subreddits)
    return bool(settings.archive_base_url) and subreddits and not (source.crawl_state or {}).get(BACKFILLED)


def _mark_backfilled(source_id: int) -> None:
    with session_scope() as session:
        row = session.get(Source, source_id)
        if row is not None:
            row.crawl_state = {**(row.crawl_state or {}), BACKFILLED: True}


async def backfill(crawl: ListingCrawl, target: RedditTarget, http: httpx.AsyncClient, client: redis.Redis) -> int:
    """Take the archived posts of each of the target's subreddits from the last `backfill_days`; the
    archive requests made. A failure is logged and the backfill is tried again by the next crawl."""
    settings = crawl.settings
    api = PoliteAPI(http, settings, client, settings.archive_base_url, "arctic-shift",
                    settings.archive_requests_per_minute)  # fmt: skip
    since = int(time.time() - settings.backfill_days * 86400)
    try:
        for subreddit in target.subreddits:
            asked: set[str | None] = set()

            async def page(before: str | None, subreddit: str = subreddit, asked: set[str | None] = asked) -> Listing:
                if before in asked:  # a whole page of one second: nothing older can be reached
                    return Listing((), None)
                asked.add(before)
                return parse_archive(await api.get(SEARCH, archive_params(subreddit, since, before)), crawl.rules)

            await crawl.walk_archive(page, settings.backfill_max_pages)
    except (ListingError, ValueError) as error:
        log.warning("archive backfill of source %s stopped: %s", crawl.source.id, error)
        return api.requests
    _mark_backfilled(crawl.source.id)  # after every page of it was recorded
    return api.requests
