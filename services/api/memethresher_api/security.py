"""Token auth (when bound off loopback) and CSRF protection for state-changing requests.

CSRF: a browser names the page that sent a request in `Origin` (and `Sec-Fetch-Site`); a
state-changing request from another site is refused. JSON bodies need `application/json`,
which a cross-site form cannot send without a preflight we never grant. The auth cookie is
SameSite=Strict, so another site cannot ride on it either.

DNS rebinding: a page on another name that its DNS later points at this machine is same-origin
with itself, so the CSRF check passes; but its requests name that other host in `Host`, which is
refused unless it is one of the names the API answers to (`allowed_hosts`).
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
# Probes ask for it by the address they reach (a pod IP): it is open to any host name.
HEALTH_PATH = "/healthz"


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


def token_matches(given: str | bytes, token: str) -> bool:
    """Constant-time, on bytes: `compare_digest` refuses str with non-ASCII characters."""
    given_bytes = given if isinstance(given, bytes) else given.encode("utf-8", "surrogatepass")
    return hmac.compare_digest(given_bytes, token.encode("utf-8"))


def is_authenticated(request: Request, token: str) -> bool:
    # Header values are decoded as Latin-1: back to the bytes that were sent.
    bearer = request.headers.get("authorization", "").encode("latin-1")
    if bearer.lower().startswith(b"bearer ") and token_matches(bearer[7:].strip(), token):
        return True
    cookie = request.cookies.get(COOKIE, "")
    return bool(cookie) and token_matches(cookie, session_value(token))


def host_name(host_header: str) -> str:
    """The name in a `Host` header, lower case, without port or IPv6 brackets."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def unknown_host(request: Request, answered: frozenset[str] | None) -> Response | None:
    """A 400 naming the host when the request names one the API does not answer to."""
    if answered is None or request.url.path == HEALTH_PATH:
        return None
    name = host_name(request.headers.get("host", ""))
    if name in answered:
        return None
    message = (
        f"this server does not answer to the host name {name!r}; it answers to {sorted(answered)} "
        "(add the name to MEMETHRESHER_ALLOWED_HOSTS if it is yours)"
    )
    return JSONResponse({"detail": message}, status_code=400)


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityMiddleware:
    """Refuses requests naming a host it does not answer to and cross-site state changes always,
    and unauthenticated requests when a token is set.

    Plain ASGI rather than BaseHTTPMiddleware: it sits on every request of the rating loop."""

    def __init__(self, app: ASGIApp, token: str, answered_hosts: frozenset[str] | None = None) -> None:
        self.app = app
        self.token = token
        self.answered_hosts = answered_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(Request(scope))
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

    def _refusal(self, request: Request) -> Response | None:
        refusal = unknown_host(request, self.answered_hosts)
        if refusal is not None:
            return refusal
        if request.method not in SAFE_METHODS and is_cross_site(request):
            return JSONResponse({"detail": "cross-site request refused (CSRF protection)"}, status_code=403)
        if self.token and not request.url.path.startswith(OPEN_PATHS) and not is_authenticated(request, self.token):
            return _unauthenticated(request)
        return None


def _unauthenticated(request: Request) -> Response:
    wants_page = request.method == "GET" and "text/html" in request.headers.get("accept", "")
    if wants_page and not request.url.path.startswith("/api/"):
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    return JSONResponse(
        {"detail": "authentication required: send 'Authorization: Bearer <token>' or log in at /login"},
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )
