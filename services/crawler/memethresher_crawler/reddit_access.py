"""Which door to Reddit a crawl takes: the access mode set, or under `auto` the first whose credentials
are configured, else feeds. Pure."""

from __future__ import annotations

from memethresher_crawler.settings import CrawlerSettings

MODES = ("oauth", "session", "feed")


def missing_credentials(settings: CrawlerSettings, mode: str) -> str | None:
    """The setting that `mode` still needs, or None if it is configured (feeds need none)."""
    if mode == "oauth" and not (settings.reddit_client_id and settings.reddit_client_secret.get_secret_value()):
        return "MEMETHRESHER_REDDIT_CLIENT_ID and MEMETHRESHER_REDDIT_CLIENT_SECRET"
    if mode == "session" and not (settings.reddit_cookies_file or settings.reddit_cookie.get_secret_value()):
        return "MEMETHRESHER_REDDIT_COOKIES_FILE or MEMETHRESHER_REDDIT_COOKIE"
    return None


def configured_modes(settings: CrawlerSettings) -> list[str]:
    return [mode for mode in MODES if missing_credentials(settings, mode) is None]


def access_mode(settings: CrawlerSettings) -> str:
    """The mode a crawl uses now."""
    if settings.reddit_access != "auto":
        return settings.reddit_access
    return configured_modes(settings)[0]
