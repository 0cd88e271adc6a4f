"""`memethresher reddit check`: each door to Reddit tried against one listing, with what it would cost.
The result is kept in Redis, where the API's Sources page reads it."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass
from typing import Any

import redis
from memethresher_shared.models import utcnow
from memethresher_shared.sources import parse_reddit_target
from memethresher_shared.tasks import REDDIT_CHECK_KEY

from memethresher_crawler.fetch import http_client
from memethresher_crawler.reddit import parse_listing
from memethresher_crawler.reddit_access import MODES, access_mode, missing_credentials
from memethresher_crawler.reddit_api import ListingError, RedditAPI, RedditRefused
from memethresher_crawler.settings import CrawlerSettings

CHECK_TARGET = "r/memes"
# A feed's budget is one request a minute: a check waits this long for it, then says it is in use.
BUDGET_WAIT_S = 15.0
# Kept a week: an old check still tells the page what was true then, with its time.
CHECK_TTL_S = 7 * 24 * 3600


@dataclass(frozen=True)
class DoorCheck:
    """How one access mode fared: works, refused, failed or not configured, and its budget."""

    mode: str
    state: str
    detail: str
    budget: str
    chosen: bool  # the mode crawls use now


def budget_words(mode: str, settings: CrawlerSettings) -> str:
    per_minute = settings.budget_per_minute(mode)
    if mode == "feed":
        return f"{per_minute} feed request{'s' if per_minute != 1 else ''} a minute per host"
    return f"{per_minute} listing requests a minute"


async def _try(mode: str, settings: CrawlerSettings, client: redis.Redis, target: str) -> tuple[str, str]:
    missing = missing_credentials(settings, mode)
    if missing:
        return "not configured", f"set {missing}"
    path = parse_reddit_target(target).listing_path("new")
    one_try = settings.model_copy(update={"max_retries": 0})  # a check reports a 429, it does not wait it out
    async with http_client(one_try, 2) as http:
        api = RedditAPI(http, one_try, client, mode)
        try:
            body = await asyncio.wait_for(api.listing(path, {"limit": 5, "raw_json": 1}), BUDGET_WAIT_S)
        except TimeoutError:
            return "busy", f"its budget ({budget_words(mode, settings)}) is in use by crawls; check again in a minute"
        except RedditRefused as refused:
            return "refused", refused.refusal.message()
        except ListingError as error:
            return "failed", str(error)
    try:
        posts = len(parse_listing(body).posts)
    except ValueError as error:
        return "failed", str(error)
    return "works", f"{posts} posts from {target}"


def check_doors(settings: CrawlerSettings, client: redis.Redis, target: str = CHECK_TARGET) -> list[DoorCheck]:
    """Try every access mode once against `target` (its new posts)."""
    chosen = access_mode(settings)

    async def run() -> list[DoorCheck]:
        checks = []
        for mode in MODES:
            state, detail = await _try(mode, settings, client, target)
            checks.append(DoorCheck(mode, state, detail, budget_words(mode, settings), mode == chosen))
        return checks

    return asyncio.run(run())


def record_check(client: redis.Redis, checks: list[DoorCheck], target: str) -> dict[str, Any]:
    """Keep the check where the API reads it."""
    record = {"checked_at": utcnow().isoformat(), "target": target, "modes": [asdict(c) for c in checks]}
    client.set(REDDIT_CHECK_KEY, json.dumps(record), ex=CHECK_TTL_S)
    return record


def describe_check(checks: list[DoorCheck]) -> list[str]:
    """One line per mode, as the CLI prints it."""
    lines = []
    for check in checks:
        chosen = " (used by crawls now)" if check.chosen else ""
        lines.append(f"{check.mode:8} {check.state}{chosen}: {check.detail}; budget {check.budget}")
    return lines
