"""Reddit's ways of saying no, recognised for what they are, each with what the person can do. Pure.

Since 2026 Reddit answers a shut door with a page, not an error code one can count on: a 403 "blocked by
network security" page for logged-out and datacenter requests, "whoa there, pardner!" for a network
policy, its web app's empty shell for a session it does not accept, a redirect to the login page from
old.reddit, and 429s for feeds asked more than about once a minute. A crawl that meets one of them
records it, so nobody reads "0 new posts" where the truth is "Reddit refused"."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

REDIRECTS = frozenset({301, 302, 303, 307, 308})
# A page this long is read whole; the markers sit near the top of each.
_SCAN_CHARS = 20_000

HOME_CONNECTION = "run the crawler from a home connection rather than a cloud IP"
ADD_CREDENTIALS = (
    "add credentials: your own Reddit app (MEMETHRESHER_REDDIT_CLIENT_ID and _SECRET, for oauth) "
    "or your browser's cookies (MEMETHRESHER_REDDIT_COOKIES_FILE, for session)"
)
EXPORT_COOKIES = (
    "export your cookies again from a browser where you are logged in to Reddit "
    "(MEMETHRESHER_REDDIT_COOKIES_FILE or MEMETHRESHER_REDDIT_COOKIE)"
)
SWITCH_TO_FEED = "or switch to feed (MEMETHRESHER_REDDIT_ACCESS=feed)"
APP_SETTINGS = (
    "set MEMETHRESHER_REDDIT_CLIENT_ID and MEMETHRESHER_REDDIT_CLIENT_SECRET to an app Reddit has approved, "
    "or set MEMETHRESHER_REDDIT_ACCESS=session or feed"
)


class ListingError(RuntimeError):
    """A listing could not be fetched even after retries."""


@dataclass(frozen=True)
class Refusal:
    """Reddit refused: `kind` for code, `reason` and `remedy` for the person."""

    kind: str
    reason: str
    remedy: str

    def message(self) -> str:
        return f"{self.reason}: {self.remedy}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class RedditRefused(ListingError):
    """Reddit shut the door; `refusal` says why and what to do."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message())
        self.refusal = refusal


def _blocked_remedy(mode: str) -> str:
    if mode == "session":
        return f"{EXPORT_COOKIES}, or {HOME_CONNECTION}"
    if mode == "oauth":
        return HOME_CONNECTION
    return f"{ADD_CREDENTIALS}, or {HOME_CONNECTION}"


def _denied_remedy(mode: str) -> str:
    if mode == "oauth":
        return APP_SETTINGS
    if mode == "session":
        return f"{EXPORT_COOKIES}, {SWITCH_TO_FEED}"
    return (
        "a private feed needs a current MEMETHRESHER_REDDIT_FEED_TOKEN from reddit.com/prefs/feeds; "
        f"otherwise {ADD_CREDENTIALS}, or {HOME_CONNECTION}"
    )


def recognise(mode: str, status: int, content_type: str, location: str, body: str) -> Refusal | None:
    """The refusal in one answer to a listing or feed request in access `mode`, or None if it is not one
    (data, a retryable 429 or 5xx, or a plain 404)."""
    # Only a page is read for markers: a post titled "blocked by network security" is data.
    page = "html" in content_type.lower() or status != 200
    text = body[:_SCAN_CHARS].lower() if page else ""
    if status in REDIRECTS and "/login" in location:
        return Refusal(
            "login_redirect",
            "Reddit redirected to its login page (it sends logged-out requests there, old.reddit.com included)",
            _blocked_remedy(mode),
        )
    if "whoa there, pardner" in text:
        return Refusal(
            "pardner",
            'Reddit blocked the request by a network policy ("whoa there, pardner!")',
            "set MEMETHRESHER_REDDIT_USERNAME (the User-Agent names you), " + _blocked_remedy(mode),
        )
    if "blocked by network security" in text:
        return Refusal(
            "network_security",
            "Reddit blocked the request by network security (logged-out requests and cloud addresses are blocked)",
            _blocked_remedy(mode),
        )
    if "<shreddit-app" in text or "shreddit/" in text:
        return Refusal(
            "app_shell",
            "Reddit answered with its web app's empty page instead of data: it does not take this session as logged in",
            f"{EXPORT_COOKIES}, {SWITCH_TO_FEED}",
        )
    if status in (401, 403):
        what = {"oauth": "the app's token", "session": "the session cookie", "feed": "the feed"}.get(mode, mode)
        return Refusal(
            "unauthorized" if status == 401 else "forbidden",
            f"Reddit refused {what} (HTTP {status})",
            _denied_remedy(mode),
        )
    if status == 200 and "html" in content_type.lower():
        asked = "a feed" if mode == "feed" else "JSON"
        return Refusal("html", f"Reddit sent a web page where {asked} was asked", _blocked_remedy(mode))
    return None


def rate_limited(mode: str, tries: int) -> Refusal:
    """A 429 storm: every try answered Too Many Requests."""
    if mode == "feed":
        remedy = (
            "Reddit serves about one feed a minute per address: crawl feed sources less often "
            f"(a longer --interval) or fewer of them, or {ADD_CREDENTIALS}"
        )
    else:
        setting = (
            "MEMETHRESHER_REDDIT_SESSION_REQUESTS_PER_MINUTE"
            if mode == "session"
            else ("MEMETHRESHER_REDDIT_REQUESTS_PER_MINUTE")
        )
        remedy = f"lower {setting}, or wait: the crawler tries again at the next interval"
    return Refusal("rate_limited", f"Reddit answered HTTP 429 (too many requests) to all {tries} tries", remedy)


def token_refused(grant: str, status: int) -> Refusal:
    """The token endpoint said no: to the app itself (revoked, unapproved) or to the user's grant."""
    if status == 401 or grant == "client_credentials":
        return Refusal(
            "app_refused",
            f"Reddit refused the OAuth credentials (HTTP {status}): the app is revoked, not approved or mistyped",
            APP_SETTINGS,
        )
    if grant == "refresh_token":
        return Refusal(
            "grant_refused",
            f"Reddit refused the refresh token (HTTP {status})",
            "set MEMETHRESHER_REDDIT_REFRESH_TOKEN to a current one, or leave it empty for app-only access",
        )
    return Refusal(
        "grant_refused",
        f"Reddit refused the password grant (HTTP {status})",
        "check MEMETHRESHER_REDDIT_USERNAME and MEMETHRESHER_REDDIT_PASSWORD (a script app of that account)",
    )


def not_configured(mode: str, missing: str) -> Refusal:
    return Refusal(
        "not_configured",
        f"MEMETHRESHER_REDDIT_ACCESS={mode} but {missing} is not set",
        f"set {missing}, or MEMETHRESHER_REDDIT_ACCESS=auto to use the first door configured",
    )
