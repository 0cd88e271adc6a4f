"""Credentials for Reddit's doors: OAuth tokens (app-only, refresh token or a script app's password),
shared through Redis and renewed before they expire, and the logged-in session's cookies. Cookie and
token values are sent to Reddit only: never logged, never in an error message."""

from __future__ import annotations

import functools
import logging
import re

import httpx
import redis

from memethresher_crawler.reddit_refusals import RedditRefused, Refusal, token_refused
from memethresher_crawler.settings import CrawlerSettings

TOKEN_KEY = "memethresher:reddit-token:{client_id}:{grant}"
# Refresh this long before the token expires, so no request carries a stale one.
TOKEN_MARGIN_S = 120
REFUSED_STATUSES = frozenset({400, 401, 403})
_FEED_TOKEN = re.compile(r"([?&]feed=)[^&\s\"]+")


class _FeedTokenRedacted(logging.Filter):
    """httpx logs each request's URL, and a private feed's URL carries its token: log it without."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_FEED_TOKEN.sub(r"\1[redacted]", str(a)) if "feed=" in str(a) else a
                                for a in record.args)  # fmt: skip
        return True


@functools.cache
def redact_feed_tokens_in_logs() -> None:
    """Once per process: httpx's request log lines show private feed URLs without their token."""
    logging.getLogger("httpx").addFilter(_FeedTokenRedacted())


def token_grant(settings: CrawlerSettings) -> tuple[str, dict[str, str]]:
    """(grant type, form): the user's refresh token, else a script app's password, else app-only."""
    refresh = settings.reddit_refresh_token.get_secret_value()
    if refresh:
        return "refresh_token", {"grant_type": "refresh_token", "refresh_token": refresh}
    password = settings.reddit_password.get_secret_value()
    if settings.reddit_username and password:
        return "password", {"grant_type": "password", "username": settings.reddit_username, "password": password}
    return "client_credentials", {"grant_type": "client_credentials"}


async def oauth_token(http: httpx.AsyncClient, settings: CrawlerSettings, client: redis.Redis, force: bool) -> str:
    """A bearer token, from Redis while it is fresh (every worker shares it), else from Reddit."""
    grant, form = token_grant(settings)
    key = TOKEN_KEY.format(client_id=settings.reddit_client_id, grant=grant)
    cached = None if force else client.get(key)
    if cached:
        return cached.decode() if isinstance(cached, bytes) else str(cached)
    secret = settings.reddit_client_secret.get_secret_value()
    try:
        response = await http.post(settings.reddit_token_url, data=form, auth=(settings.reddit_client_id, secret))
    except httpx.HTTPError as error:
        raise RedditRefused(
            Refusal(
                "token_unreachable",
                f"Reddit's token endpoint did not answer ({type(error).__name__})",
                "try again later",
            )
        ) from None
    if response.status_code in REFUSED_STATUSES:
        raise RedditRefused(token_refused(grant, response.status_code))
    payload = response.json() if response.status_code == 200 else {}
    if "access_token" not in payload:
        raise RedditRefused(
            Refusal(
                "token_unreadable",
                f"Reddit's token endpoint answered HTTP {response.status_code} without a token",
                "try again later",
            )
        )
    token, expires = str(payload["access_token"]), int(payload.get("expires_in", 3600))
    client.set(key, token, ex=max(expires - TOKEN_MARGIN_S, 30))
    return token


def parse_cookies_txt(text: str) -> dict[str, str]:
    """Reddit's cookies from a Netscape cookies.txt (as browser extensions export it)."""
    cookies = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#HttpOnly_"):  # an HttpOnly cookie, not a comment
            line = line.removeprefix("#HttpOnly_")
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) == 7 and fields[0].lstrip(".").endswith("reddit.com"):
            cookies[fields[5]] = fields[6]
    return cookies


def session_cookie_header(settings: CrawlerSettings) -> str:
    """The Cookie header of the logged-in session; RedditRefused if it cannot be read or has no session."""
    header = settings.reddit_cookie.get_secret_value().strip()
    if header:
        return header if "=" in header else f"reddit_session={header}"
    path = settings.reddit_cookies_file
    try:
        cookies = parse_cookies_txt(path.read_text(encoding="utf-8")) if path else {}
    except (OSError, UnicodeDecodeError) as error:
        raise RedditRefused(
            Refusal(
                "cookies_unreadable",
                f"cannot read MEMETHRESHER_REDDIT_COOKIES_FILE {path} ({type(error).__name__})",
                "export cookies.txt from your browser to that path",
            )
        ) from None
    if "reddit_session" not in cookies:
        raise RedditRefused(
            Refusal(
                "no_session",
                f"{path} holds no reddit_session cookie for reddit.com",
                "export cookies.txt again from a browser where you are logged in to Reddit",
            )
        )
    return "; ".join(f"{name}={value}" for name, value in cookies.items())
