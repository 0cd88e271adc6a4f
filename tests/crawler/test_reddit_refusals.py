"""Every way Reddit says no, recognised as what it is and told with what to do: from the pages Reddit
sends (pure), and from the fake Reddit over real HTTP, recorded as the crawl's error, never "0 new posts"."""

from __future__ import annotations

import json

import pytest
from memethresher_crawler.crawl import crawl_source
from memethresher_crawler.reddit_refusals import rate_limited, recognise, token_refused
from memethresher_crawler.settings import get_crawler_settings
from memethresher_shared.db import session_scope
from memethresher_shared.sources import add_source

from tests.support import reddit_posts as rp
from tests.support.fake_reddit import FakeReddit
from tests.support.images import image_bytes
from tests.support.reddit_pages import APP_SHELL, LOGIN, NETWORK_SECURITY, PARDNER

HTML = "text/html; charset=utf-8"


@pytest.mark.parametrize(
    ("mode", "status", "body", "kind", "advice"),
    [
        ("feed", 403, NETWORK_SECURITY, "network_security", "home connection rather than a cloud IP"),
        ("feed", 403, NETWORK_SECURITY, "network_security", "MEMETHRESHER_REDDIT_CLIENT_ID"),
        ("session", 403, NETWORK_SECURITY, "network_security", "export your cookies again"),
        ("session", 403, PARDNER, "pardner", "MEMETHRESHER_REDDIT_USERNAME"),
        ("session", 200, APP_SHELL, "app_shell", "MEMETHRESHER_REDDIT_ACCESS=feed"),
        ("oauth", 401, '{"message": "Unauthorized"}', "unauthorized", "MEMETHRESHER_REDDIT_CLIENT_SECRET"),
        ("feed", 403, "<html>Forbidden</html>", "forbidden", "MEMETHRESHER_REDDIT_FEED_TOKEN"),
        ("session", 200, LOGIN, "html", "home connection"),
    ],
)
def test_each_page_is_a_refusal_with_what_to_do(mode: str, status: int, body: str, kind: str, advice: str) -> None:
    refusal = recognise(mode, status, HTML, "", body)
    assert refusal is not None and refusal.kind == kind
    assert advice in refusal.message()


def test_a_redirect_to_login_is_a_refusal() -> None:
    refusal = recognise("session", 302, "", "https://www.reddit.com/login/?dest=%2Fr%2Fmemes", "")
    assert refusal is not None and refusal.kind == "login_redirect"
    assert "login page" in refusal.reason


def test_data_is_no_refusal_even_when_a_title_says_blocked() -> None:
    body = json.dumps(rp.listing([rp.post(1, "https://i.redd.it/a.jpg", title="blocked by network security")], None))
    assert recognise("oauth", 200, "application/json", "", body) is None
    assert recognise("oauth", 404, "application/json", "", '{"error": 404}') is None


def test_a_429_storm_and_a_refused_app_say_what_to_change() -> None:
    assert "MEMETHRESHER_REDDIT_SESSION_REQUESTS_PER_MINUTE" in rate_limited("session", 6).message()
    assert "6 tries" in rate_limited("oauth", 6).reason
    revoked = token_refused("client_credentials", 401)
    assert revoked.kind == "app_refused" and "revoked" in revoked.reason
    assert "MEMETHRESHER_REDDIT_CLIENT_ID" in revoked.remedy and "MEMETHRESHER_REDDIT_ACCESS=session" in revoked.remedy
    assert "MEMETHRESHER_REDDIT_REFRESH_TOKEN" in token_refused("refresh_token", 400).remedy
    assert "MEMETHRESHER_REDDIT_PASSWORD" in token_refused("password", 400).remedy


def _crawl(fake: FakeReddit, monkeypatch: pytest.MonkeyPatch, **env: str) -> dict:
    for name, value in env.items():
        monkeypatch.setenv(f"MEMETHRESHER_{name}", value)
    get_crawler_settings.cache_clear()
    image = fake.add_image("one.jpg", image_bytes("JPEG", (8, 8)))
    fake.add_posts("memes", [rp.post(n, image) for n in range(3)])
    with session_scope() as session:
        source = add_source(session, "reddit", "r/memes").id
    return crawl_source(source)


SESSION = {"REDDIT_ACCESS": "session", "REDDIT_COOKIE": "reddit_session=fake-session-cookie-8f2c"}


@pytest.mark.parametrize(
    ("settings", "page", "kind", "mode"),
    [
        ({"REDDIT_ACCESS": "session", "REDDIT_COOKIE": "reddit_session=expired"}, None, "network_security", "session"),
        (SESSION, "pardner", "pardner", "session"),
        (SESSION, "app_shell", "app_shell", "session"),
        ({**SESSION, "REDDIT_BASE_URL": "old"}, None, "login_redirect", "session"),
        ({"REDDIT_CLIENT_ID": "revoked-app"}, None, "app_refused", "oauth"),
        ({"REDDIT_ACCESS": "session", "REDDIT_COOKIE": ""}, None, "not_configured", "session"),
    ],
)
def test_a_shut_door_is_the_crawl_error(  # type: ignore[no-untyped-def]
    reddit_env, fake_reddit: FakeReddit, monkeypatch, settings: dict, page: str | None, kind: str, mode: str
) -> None:
    fake_reddit.doors.refuse_with(page)
    if settings.get("REDDIT_BASE_URL") == "old":
        settings = {**settings, "REDDIT_BASE_URL": fake_reddit.old_url}
    if settings.get("REDDIT_CLIENT_ID") == "revoked-app":
        fake_reddit.client_id = "revoked-app"
        fake_reddit.doors.revoked.add("revoked-app")
    result = _crawl(fake_reddit, monkeypatch, **settings)
    assert result["refusal"]["kind"] == kind and result["access_mode"] == mode
    assert result["error"] == f"{result['refusal']['reason']}: {result['refusal']['remedy']}"
    assert result["posts_new"] == 0 and result["posts_seen"] == 0
