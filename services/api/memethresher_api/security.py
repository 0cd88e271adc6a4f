"""Token auth (when bound off loopback) and CSRF protection for state-changing requests.

CSRF: a browser names the page that sent a request in `Origin` (and `Sec-Fetch-Site`); a
state-changing request from another site is refused. JSON bodies need `application/json`,
which a cross-site form cannot send without a preflight we never grant. The auth cookie is
SameSite=Strict, so another site cannot ride on it either.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "memethresher_session"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
OPEN_PATHS = ("/healthz", "/login", "/static/")


def session_value(token: str) -> str:
    """What the cookie holds: a digest of the token, so the cookie never carries the token itself."""
    return hashlib.sha256(b"memethresher-session:" + token.encode()).hexdigest()


def is_cross_site(request: Request) -> bool:
    if request.headers.get("sec-fetch-site") == "cross-site":
        return True
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin == "null"
    return urlsplit(origin).netloc.lower() != (request.headers.get("host") or "").lower()


def is_authenticated(request: Request, token: str) -> bool:
    bearer = request.headers.get("authorization", "")
    if bearer.lower().startswith("bearer ") and hmac.compare_digest(bearer[7:].strip(), token):
        return True
    cookie = request.cookies.get(COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie, session_value(token))


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityMiddleware:
    """Refuses cross-site state changes always, and unauthenticated requests when a token is set.

    Plain ASGI rather than BaseHTTPMiddleware: it sits on every request of the rating loop."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refusal: Response | None = None
        if request.method not in SAFE_METHODS and is_cross_site(request):
            refusal = JSONResponse({"detail": "cross-site request refused (CSRF protection)"}, status_code=403)
        elif self.token and not request.url.path.startswith(OPEN_PATHS) and not is_authenticated(request, self.token):
            refusal = _unauthenticated(request)
        if refusal is not None:
            await refusal(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in SECURITY_HEADERS if n not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _unauthenticated(request: Request) -> Response:
    wants_page = request.method == "GET" and "text/html" in request.headers.get("accept", "")
    if wants_page and not request.url.path.startswith("/api/"):
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    return JSONResponse(
        {"detail": "authentication required: send 'Authorization: Bearer <token>' or log in at /login"},
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )
