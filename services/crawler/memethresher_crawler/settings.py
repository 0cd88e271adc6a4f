"""The crawler's own settings (env `MEMETHRESHER_*`), read on first use through `get_crawler_settings()`."""

from __future__ import annotations

import functools
from importlib import metadata
from pathlib import Path
from typing import Literal

from memethresher_shared.settings import Settings
from pydantic import Field, SecretStr, model_validator


class CrawlerSettings(Settings):
    """Reddit access, download limits and politeness."""

    # The door to Reddit (docs/sources.md): "oauth" (your app's token, from the OAuth host), "session" (your
    # browser's logged-in cookies, to www's JSON), "feed" (Atom feeds, no credentials), or "auto": the first
    # of oauth and session whose credentials are set, else feed.
    reddit_access: Literal["auto", "oauth", "session", "feed"] = "auto"
    reddit_base_url: str = "https://www.reddit.com"
    reddit_oauth_base_url: str = "https://oauth.reddit.com"
    reddit_token_url: str = "https://www.reddit.com/api/v1/access_token"
    reddit_client_id: str = ""
    reddit_client_secret: SecretStr = SecretStr("")
    # Reads your private multireddits, home, saved and upvoted: a refresh token, or a script app's password.
    reddit_refresh_token: SecretStr = SecretStr("")
    reddit_username: str = ""  # your Reddit name: in the User-Agent, and the password grant's user
    reddit_password: SecretStr = SecretStr("")
    # Session: a Netscape cookies.txt exported from your browser, or a Cookie header's value.
    reddit_cookies_file: Path | None = None
    reddit_cookie: SecretStr = SecretStr("")
    # Feed: the `feed=` token of your private feed URLs (reddit.com/prefs/feeds), for private listings.
    reddit_feed_token: SecretStr = SecretStr("")
    # Empty: Reddit's required form, `python:<app id>:<version> (by /u/<reddit_username>)`.
    user_agent: str = ""
    reddit_app_id: str = "memethresher"
    # Reddit allows 100 listing requests a minute to an OAuth app; 0 means that.
    reddit_requests_per_minute: int = Field(default=0, ge=0)
    # A logged-in session is a person's account: few requests, shared by every worker.
    reddit_session_requests_per_minute: int = Field(default=10, ge=1)
    # Reddit throttles feeds to about one a minute per address; per feed host, shared by every worker.
    reddit_feed_requests_per_minute: int = Field(default=1, ge=1)
    # The budget's window; only tests shorten it, to see the limit bite in seconds.
    reddit_budget_window_s: float = Field(default=60.0, gt=0)
    listing_page_size: int = Field(default=100, ge=1, le=100)
    # Reddit serves at most ~1000 posts of a listing; 10 pages of 100 reach that cap.
    max_listing_pages: int = Field(default=10, ge=1)
    max_retries: int = Field(default=5, ge=0)
    backoff_base_s: float = Field(default=1.0, ge=0)
    backoff_max_s: float = Field(default=120.0, ge=0)

    max_image_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    # Below Pillow's own bomb threshold (~89 MP), so our refusal comes first with a clear reason.
    max_image_pixels: int = Field(default=50_000_000, ge=1)
    download_concurrency: int = Field(default=32, ge=1)
    # Small on purpose: httpx scans a pool once per connection per request (quadratic in its size).
    per_host_connections: int = Field(default=6, ge=1)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    read_timeout_s: float = Field(default=20.0, gt=0)
    total_timeout_s: float = Field(default=60.0, gt=0)
    max_redirects: int = Field(default=5, ge=0)
    allow_private_addresses: bool = False
    # Internal networks allowed even so, e.g. ["127.0.0.1/32"] for a Reddit stand-in on loopback.
    allowed_private_networks: list[str] = Field(default_factory=list)
    skip_spoilers: bool = True
    # A link to a page the crawler cannot read (flickr, deviantart, news sites, an imgur album) is taken as
    # the image Reddit previews it with; a source's own `take_link_previews` option overrides this.
    take_link_previews: bool = True
    # Threads that decode, hash and store images: Pillow and fsync release the GIL.
    image_workers: int = Field(default=4, ge=1)
    # Listing pages whose images download at once (a page of 100 leaves slots idle at its tail).
    pages_in_flight: int = Field(default=2, ge=1)

    # A post whose images failed for passing reasons (timeouts, 429, 5xx) is fetched again by a later
    # crawl of its source after this wait, then after twice as long, and so on, at most this many times.
    failed_post_retry_s: float = Field(default=1800.0, ge=0)
    failed_post_retries: int = Field(default=4, ge=0)
    # Posts fetched again per crawl; Reddit's by_id answers at most 100 in one request.
    failed_post_retry_batch: int = Field(default=100, ge=1, le=100)

    # A crawl holds a per-source lock, renewed every page; a killed worker's lock lapses after this.
    crawl_lock_timeout_s: int = Field(default=600, ge=5)

    # Streaming sources poll at the mean gap between posts, kept within these bounds.
    stream_min_interval_s: int = Field(default=60, ge=10)
    stream_max_interval_s: int = Field(default=6 * 3600, ge=60)

    # Lemmy: the instance named in a source's target is asked at https://INSTANCE unless mapped here to
    # another base URL (a mirror, a stand-in on loopback). Each instance gets its own request budget.
    lemmy_base_urls: dict[str, str] = Field(default_factory=dict)
    lemmy_requests_per_minute: int = Field(default=30, ge=1)
    lemmy_page_size: int = Field(default=50, ge=1, le=50)  # Lemmy answers at most 50 posts a page

    # Archive backfill: a new subreddit source first takes its posts of the last `backfill_days` from the
    # Arctic Shift archive at this URL (e.g. https://arctic-shift.photon-reddit.com); empty: off.
    archive_base_url: str = ""
    backfill_days: int = Field(default=28, ge=1)
    backfill_max_pages: int = Field(default=20, ge=1)  # of 100 posts, per subreddit
    archive_requests_per_minute: int = Field(default=30, ge=1)

    @model_validator(mode="after")
    def _reddit_user_agent(self) -> CrawlerSettings:
        if not self.user_agent:
            self.user_agent = reddit_user_agent(self.reddit_app_id, self.reddit_username)
        if self.user_agent.lower().startswith("mozilla"):
            raise ValueError(
                "MEMETHRESHER_USER_AGENT must not be a browser's: Reddit asks scripts for "
                "`<platform>:<app id>:<version> (by /u/<name>)`; leave it empty to have it built "
                "from MEMETHRESHER_REDDIT_USERNAME"
            )
        return self

    def budget_per_minute(self, mode: str) -> int:
        """Listing requests a minute allowed in access `mode`, across every worker."""
        if mode == "session":
            return self.reddit_session_requests_per_minute
        if mode == "feed":
            return self.reddit_feed_requests_per_minute
        return self.reddit_requests_per_minute or 100


def reddit_user_agent(app_id: str, username: str) -> str:
    """Reddit's required form, `<platform>:<app id>:<version> (by /u/<name>)`."""
    try:
        version = metadata.version("memethresher-crawler")
    except metadata.PackageNotFoundError:
        version = "0.1"
    return f"python:{app_id}:{version} (by /u/{username or 'unknown'})"


@functools.cache
def get_crawler_settings() -> CrawlerSettings:
    return CrawlerSettings()
