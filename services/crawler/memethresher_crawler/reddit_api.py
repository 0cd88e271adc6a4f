"""Talking to Reddit by one door (oauth, session or feed): listing pages within that door's shared
budget, with backoff and jitter on 429 and 5xx, and every refusal raised as what it is."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from typing import Any
from urllib.parse import urlsplit

import httpx
import redis

from memethresher_crawler.fetch import retry_after
from memethresher_crawler.ratelimit import SharedBudget, parse_ratelimit
from memethresher_crawler.reddit_access import access_mode, missing_credentials
from memethresher_crawler.reddit_auth import oauth_token, redact_feed_tokens_in_logs, session_cookie_header
from memethresher_crawler.reddit_feed import feed_params, feed_path, parse_feed
from memethresher_crawler.reddit_refusals import (
    ListingError,
    RedditRefused,
    Refusal,
    not_configured,
    rate_limited,
    recognise,
)
from memethresher_crawler.settings import CrawlerSettings

__all__ = ["ListingError", "RedditAPI", "RedditRefused", "backoff_s", "budget_name"]

log = logging.getLogger(__name__)

FEED_WINDOW_MARGIN = 1.05


def backoff_s(attempt: int, settings: CrawlerSettings) -> float:
    """Exponential backoff with full jitter: uniform(0, base * 2**attempt), capped."""
    return random.uniform(0, min(settings.backoff_max_s, settings.backoff_base_s * 2**attempt))


def budget_name(mode: str, settings: CrawlerSettings) -> str:
    """Reddit counts an app, a session and a feed host apart; so do the budgets."""
    if mode == "feed":
        return f"reddit-feed:{urlsplit(settings.reddit_base_url).netloc}"
    return "reddit" if mode == "oauth" else "reddit-session"


class RedditAPI:
    """Listing requests for one crawl by one door; tokens and budgets are shared through Redis."""

    def __init__(
        self, http: httpx.AsyncClient, settings: CrawlerSettings, client: redis.Redis, mode: str | None = None
    ) -> None:
        self.http = http
        self.settings = settings
        self.redis = client
        self.mode = mode or access_mode(settings)
        missing = missing_credentials(settings, self.mode)
        self.refused: Refusal | None = not_configured(self.mode, missing) if missing else None
        per_minute = settings.budget_per_minute(self.mode)
        window = settings.reddit_budget_window_s
        if self.mode == "feed":  # at one a minute, a request a few ms early is a 429: keep some room
            window *= FEED_WINDOW_MARGIN
        self.budget = SharedBudget(client, per_minute, window, budget_name(self.mode, settings))
        base = settings.reddit_oauth_base_url if self.mode == "oauth" else settings.reddit_base_url
        self.base_url = base.rstrip("/")
        self.requests = 0
        self._cookie: str | None = None

    async def _headers(self, fresh_token: bool) -> dict[str, str]:
        if self.mode == "oauth":
            return {"Authorization": f"bearer {await oauth_token(self.http, self.settings, self.redis, fresh_token)}"}
        if self.mode == "session":
            if self._cookie is None:
                self._cookie = session_cookie_header(self.settings)
            return {"Cookie": self._cookie}
        return {}

    def _request(self, path: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The URL and query of a listing by this door: JSON, or its Atom feed."""
        if self.mode != "feed":
            return self.base_url + path, params
        if path.startswith("/by_id/"):
            raise ListingError("fetching posts again by id needs oauth or session access; feeds cannot")
        token = self.settings.reddit_feed_token.get_secret_value()
        if token:
            redact_feed_tokens_in_logs()
        return self.base_url + feed_path(path), feed_params(params, token, self.settings.reddit_username)

    async def listing(self, path: str, params: dict[str, Any]) -> Any:
        """The body of one listing page (a feed comes as a listing too); RedditRefused if Reddit shut the
        door, ListingError once retries are spent."""
        if self.refused is not None:
            raise RedditRefused(self.refused)
        url, query = self._request(path, params)
        problem = ""
        tries = self.settings.max_retries + 1
        for attempt in range(tries):
            headers = await self._headers(fresh_token=problem == "HTTP 401")
            await self.budget.acquire()
            self.requests += 1
            wait, problem = await self._attempt(url, query, headers, attempt, retried_401=problem == "HTTP 401")
            if not problem:
                return wait  # the body, on success
            log.warning("listing %s by %s: %s (attempt %d)", path, self.mode, problem, attempt + 1)
            await asyncio.sleep(float(wait))
        if problem == "HTTP 429":
            raise RedditRefused(rate_limited(self.mode, tries))
        raise ListingError(f"listing {path} failed after {tries} tries: {problem}")

    async def _attempt(
        self, url: str, params: dict[str, Any], headers: dict[str, str], attempt: int, retried_401: bool
    ) -> tuple[Any, str]:
        """(body, "") on success, else (seconds to wait, what went wrong); raises what is no passing failure."""
        try:
            response = await self.http.get(url, params=params, headers=headers)
        except httpx.HTTPError as error:
            return backoff_s(attempt, self.settings), f"{type(error).__name__}: {error}"
        remaining, reset, _used = parse_ratelimit(response.headers)
        self.budget.obey_headers(remaining, reset)
        status = response.status_code
        if status == 429 or status >= 500:
            wait = retry_after(response.headers)
            if wait is None:
                wait = backoff_s(attempt, self.settings)
            wait = min(wait, self.settings.backoff_max_s)
            if status == 429:
                self.budget.pause(wait)  # every worker waits, not only this one
            return wait, f"HTTP {status}"
        if status == 401 and self.mode == "oauth" and not retried_401:
            return 0.0, "HTTP 401"  # the token expired on Reddit's side: once more with a fresh one
        content_type = response.headers.get("content-type", "")
        page = status != 200 or "html" in content_type  # only a page is read for refusal markers
        refusal = recognise(self.mode, status, content_type, response.headers.get("location", ""),
                            response.text if page else "")  # fmt: skip
        if refusal is not None:
            raise RedditRefused(refusal)
        if status != 200:
            raise ListingError(f"listing {urlsplit(url).path} answered HTTP {status}")
        return self._body(response, attempt)

    def _body(self, response: httpx.Response, attempt: int) -> tuple[Any, str]:
        try:
            return (parse_feed(response.text) if self.mode == "feed" else response.json()), ""
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            what = "feed" if self.mode == "feed" else "JSON"
            return backoff_s(attempt, self.settings), f"truncated or invalid {what}"
