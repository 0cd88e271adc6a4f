"""Who the fake Reddit lets in by which door: session cookies, OAuth apps, grants and tokens, feed tokens,
and the feeds' throttle of one request a minute per client address."""

from __future__ import annotations

import base64
import math
import time

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from tests.support.reddit_pages import APP_SHELL, NETWORK_SECURITY, PARDNER

WWW_PAGES = ("pardner", "app_shell")


class Doors:
    """Credentials the fake accepts, and what `www` answers instead of data."""

    def __init__(self, feed_window_s: float = 60.0) -> None:
        self.session_cookies = {"fake-session-cookie-8f2c"}  # valid `reddit_session` values
        self.revoked: set[str] = set()  # client ids whose app Reddit has revoked
        self.refresh_tokens = {"fake-refresh-token"}
        self.accounts = {"meme_hunter": "fake-password"}  # script apps' password grant
        self.feed_tokens = {"fake-feed-token"}
        self.feed_window_s = feed_window_s
        self.feed_times: list[float] = []  # feeds served
        self.feeds_refused = 0  # feed requests answered 429
        self.www_page: str | None = None  # set to one of WWW_PAGES: www answers it even to a good session
        self.grants: list[str] = []  # grant types asked at the token endpoint, in order
        self._last_feed: dict[str, float] = {}
        self._tokens: dict[str, float] = {}  # bearer token -> when it expires

    def refuse_with(self, page: str | None) -> None:
        assert page is None or page in WWW_PAGES, page
        self.www_page = page

    def www_refusal(self, request: Request) -> Response | None:
        """None if `www` serves this JSON request; else the page it answers instead."""
        if self.www_page == "pardner":
            return HTMLResponse(PARDNER, 403)
        if self.www_page == "app_shell":
            return HTMLResponse(APP_SHELL, 200)
        if request.cookies.get("reddit_session") in self.session_cookies:
            return None
        return HTMLResponse(NETWORK_SECURITY, 403)

    def feed_refusal(self, request: Request) -> Response | None:
        """None if this feed request is served; a 403 for a wrong feed token, a 429 within the minute."""
        token = request.query_params.get("feed")
        if token is not None and token not in self.feed_tokens:
            return HTMLResponse("<html><body>Forbidden</body></html>", 403)
        client = request.client.host if request.client else ""
        now = time.monotonic()
        last = self._last_feed.get(client)
        if last is not None and now - last < self.feed_window_s:
            self.feeds_refused += 1
            wait = math.ceil(self.feed_window_s - (now - last))
            return Response("Too Many Requests", 429, {"retry-after": str(wait)}, media_type="text/plain")
        self._last_feed[client] = now
        self.feed_times.append(now)
        return None

    def token_ok(self, authorization: str) -> bool:
        return self._tokens.get(authorization.removeprefix("bearer ").strip(), 0) > time.monotonic()

    def token(self, authorization: str, app: tuple[str, str], form: dict[str, list[str]], ttl_s: int) -> Response:
        """The token endpoint: 401 to a wrong or revoked app, 400 to a refused grant, else a bearer token."""
        expected = base64.b64encode(f"{app[0]}:{app[1]}".encode()).decode()
        if authorization != f"Basic {expected}" or app[0] in self.revoked:
            return JSONResponse({"message": "Unauthorized", "error": 401}, 401)
        if not self.grant_ok(form):
            return JSONResponse({"error": "invalid_grant"}, 400)
        token = f"token-{len(self._tokens) + 1}"
        self._tokens[token] = time.monotonic() + ttl_s
        return JSONResponse({"access_token": token, "token_type": "bearer", "expires_in": ttl_s})

    def grant_ok(self, form: dict[str, list[str]]) -> bool:
        """Whether the token endpoint grants this form (client credentials, refresh token or password)."""
        grant = form.get("grant_type", [""])[0]
        self.grants.append(grant)
        if grant == "client_credentials":
            return True
        if grant == "refresh_token":
            return form.get("refresh_token", [""])[0] in self.refresh_tokens
        if grant == "password":
            name, password = form.get("username", [""])[0], form.get("password", [""])[0]
            return name in self.accounts and self.accounts[name] == password
        return False
