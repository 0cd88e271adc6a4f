"""A polite JSON API client for the open sites the crawler reads (Lemmy instances, the Reddit archive):
every request within a budget shared by every worker, backoff with jitter on 5xx and network errors,
429 waited out as the site asks (Retry-After) by every worker, and a 4xx raised with the site's word."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx
import redis

from memethresher_crawler.fetch import retry_after
from memethresher_crawler.ratelimit import SharedBudget
from memethresher_crawler.reddit_api import ListingError, backoff_s
from memethresher_crawler.settings import CrawlerSettings

log = logging.getLogger(__name__)


class APIRefused(ListingError):
    """The site answered a 4xx; `error` is its own word for it (Lemmy's `couldnt_find_post`, ...)."""

    def __init__(self, message: str, error: str | None) -> None:
        super().__init__(message)
        self.error = error


class PoliteAPI:
    """GET requests to one site for one crawl; `budget_name` names its budget, shared through Redis."""

    def __init__(
        self, http: httpx.AsyncClient, settings: CrawlerSettings, client: redis.Redis, base_url: str,
        budget_name: str, per_minute: int,
    ) -> None:  # fmt: skip
        self.http = http
        self.settings = settings
        self.base_url = base_url.rstrip("/")
        window = settings.reddit_budget_window_s  # one window for every budget: only tests shorten it
        self.budget = SharedBudget(client, per_minute, window, name=budget_name)
        self.requests = 0

    async def get(self, path: str, params: dict[str, Any]) -> Any:
        """The JSON body at `path`; raises ListingError once retries are spent, APIRefused on a 4xx."""
        problem = ""
        for attempt in range(self.settings.max_retries + 1):
            await self.budget.acquire()
            self.requests += 1
            wait, problem = await self._attempt(path, params, attempt)
            if not problem:
                return wait  # the body, on success
            log.warning("%s%s: %s (attempt %d)", self.base_url, path, problem, attempt + 1)
            await asyncio.sleep(float(wait))
        raise ListingError(f"{self.base_url}{path} failed after {self.settings.max_retries + 1} tries: {problem}")

    async def _attempt(self, path: str, params: dict[str, Any], attempt: int) -> tuple[Any, str]:
        """(body, "") on success, else (seconds to wait, what went wrong)."""
        try:
            response = await self.http.get(self.base_url + path, params=params)
        except httpx.HTTPError as error:
            return backoff_s(attempt, self.settings), f"{type(error).__name__}: {error}"
        if response.status_code == 429 or response.status_code >= 500:
            wait = retry_after(response.headers)
            wait = min(backoff_s(attempt, self.settings) if wait is None else wait, self.settings.backoff_max_s)
            if response.status_code == 429:
                self.budget.pause(wait)  # every worker waits for this site, not only this one
            return wait, f"HTTP {response.status_code}"
        if response.status_code != 200:
            said = _said(response)
            message = f"{self.base_url} refused {path}: HTTP {response.status_code}" + (f" ({said})" if said else "")
            raise APIRefused(message, said)
        try:
            return response.json(), ""
        except (json.JSONDecodeError, UnicodeDecodeError):
            return backoff_s(attempt, self.settings), "truncated or invalid JSON"


def _said(response: httpx.Response) -> str | None:
    """The site's own word for a refusal (`couldnt_find_community`, ...), if it gave one."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return None
    return error if isinstance(error, str) else None
