"""Talking to Reddit's API: application-only OAuth tokens and listing pages, within the shared
budget, with backoff and jitter on 429 and 5xx."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from typing import Any

import httpx
import redis

from memethresher_crawler.fetch import retry_after
from memethresher_crawler.ratelimit import SharedBudget, parse_ratelimit
from memethresher_crawler.settings import CrawlerSettings

log = logging.getLogger(__name__)

TOKEN_KEY = "memethresher:reddit-token:{client_id}"
# Refresh this long before the token expires, so no request carries a stale one.
TOKEN_MARGIN_S = 120


class ListingError(RuntimeError):
    """A listing could not be fetched even after retries."""


def backoff_s(attempt: int, settings: CrawlerSettings) -> float:
    """Exponential backoff with full jitter: uniform(0, base * 2**attempt), capped."""
    return random.uniform(0, min(settings.backoff_max_s, settings.backoff_base_s * 2**attempt))


class RedditAPI:
    """Listing requests for one crawl; the token and the budget are shared through Redis."""

    def __init__(self, http: httpx.AsyncClient, settings: CrawlerSettings, client: redis.Redis) -> None:
        self.http = http
        self.settings = settings
        self.redis = client
        self.budget = SharedBudget(client, settings.requests_per_minute, settings.reddit_budget_window_s)
        self.base_url = (settings.reddit_oauth_base_url if settings.uses_oauth else settings.reddit_base_url).rstrip(
            "/"
        )
        self.requests = 0

    async def _token(self, force: bool = False) -> str | None:
        if not self.settings.uses_oauth:
            return None
        key = TOKEN_KEY.format(client_id=self.settings.reddit_client_id)
        cached = None if force else self.redis.get(key)
        if cached:
            return cached.decode()
        response = await self.http.post(
            self.settings.reddit_token_url,
            data={"grant_type": "client_credentials"},
            auth=(self.settings.reddit_client_id, self.settings.reddit_client_secret),
        )
        if response.status_code != 200:
            raise ListingError(f"Reddit refused the OAuth credentials: HTTP {response.status_code}")
        payload = response.json()
        token, expires = str(payload["access_token"]), int(payload.get("expires_in", 3600))
        self.redis.set(key, token, ex=max(expires - TOKEN_MARGIN_S, 30))
        return token

    async def listing(self, path: str, params: dict[str, Any]) -> Any:
        """The JSON body of one listing page; raises ListingError once retries are spent."""
        url = self.base_url + path
        problem = ""
        for attempt in range(self.settings.max_retries + 1):
            token = await self._token(force=problem == "HTTP 401")
            headers = {"Authorization": f"bearer {token}"} if token else {}
            await self.budget.acquire()
            self.requests += 1
            wait, problem = await self._attempt(url, params, headers, attempt)
            if not problem:
                return wait  # the body, on success
            log.warning("listing %s: %s (attempt %d)", path, problem, attempt + 1)
            await asyncio.sleep(float(wait))
        raise ListingError(f"listing {path} failed after {self.settings.max_retries + 1} tries: {problem}")

    async def _attempt(
        self, url: str, params: dict[str, Any], headers: dict[str, str], attempt: int
    ) -> tuple[Any, str]:
        """(body, "") on success, else (seconds to wait, what went wrong)."""
        try:
            response = await self.http.get(url, params=params, headers=headers)
        except httpx.HTTPError as error:
            return backoff_s(attempt, self.settings), f"{type(error).__name__}: {error}"
        remaining, reset, _used = parse_ratelimit(response.headers)
        self.budget.obey_headers(remaining, reset)
        if response.status_code == 429 or response.status_code >= 500:
            wait = retry_after(response.headers)
            if wait is None:
                wait = backoff_s(attempt, self.settings)
            wait = min(wait, self.settings.backoff_max_s)
            if response.status_code == 429:
                self.budget.pause(wait)  # every worker waits, not only this one
            return wait, f"HTTP {response.status_code}"
        if response.status_code == 401 and self.settings.uses_oauth:
            return 0.0, "HTTP 401"
        if response.status_code != 200:
            raise ListingError(f"listing {url} answered HTTP {response.status_code}")
        try:
            return response.json(), ""
        except (json.JSONDecodeError, UnicodeDecodeError):
            return backoff_s(attempt, self.settings), "truncated or invalid JSON"
