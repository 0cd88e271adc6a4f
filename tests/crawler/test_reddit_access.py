"""The doors to Reddit against the fake Reddit over real HTTP: OAuth grants (app-only, refresh token,
script password), the logged-in session (cookie header or cookies.txt) within its own shared budget,
`auto`, and the User-Agent Reddit requires. Cookie values are never logged or shown."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from memethresher_crawler.cli import source as source_cli
from memethresher_crawler.crawl import crawl_source
from memethresher_crawler.reddit_access import access_mode
from memethresher_crawler.settings import CrawlerSettings, get_crawler_settings
from memethresher_shared.db import session_scope
from memethresher_shared.sources import add_source
from pydantic import ValidationError

from tests.support import reddit_posts as rp
from tests.support.fake_reddit import FakeReddit
from tests.support.images import image_bytes

COOKIES = Path(__file__).parents[1] / "data" / "reddit" / "cookies.txt"
SESSION_VALUE = "fake-session-cookie-8f2c"


def _set(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name, value in values.items():
        monkeypatch.setenv(f"MEMETHRESHER_{name}", value)
    get_crawler_settings.cache_clear()


def _fill(fake: FakeReddit, count: int, subreddit: str = "memes") -> int:
    image = fake.add_image("one.jpg", image_bytes("JPEG", (8, 8)))
    fake.add_posts(subreddit, [rp.post(n, image, subreddit) for n in range(count)])
    with session_scope() as session:
        return add_source(session, "reddit", f"r/{subreddit}").id


@pytest.mark.parametrize(
    ("grant", "settings"),
    [
        ("refresh_token", {"REDDIT_REFRESH_TOKEN": "fake-refresh-token"}),
        ("password", {"REDDIT_USERNAME": "meme_hunter", "REDDIT_PASSWORD": "fake-password"}),
    ],
)
def test_oauth_reads_as_the_user(reddit_env, fake_reddit: FakeReddit, monkeypatch, grant: str, settings: dict) -> None:  # type: ignore[no-untyped-def]
    _set(monkeypatch, **settings)
    result = crawl_source(_fill(fake_reddit, 5))
    assert result["error"] is None and result["posts_new"] == 5 and result["access_mode"] == "oauth"
    assert fake_reddit.doors.grants == [grant]


def test_a_refused_refresh_token_names_its_setting(reddit_env, fake_reddit: FakeReddit, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _set(monkeypatch, REDDIT_REFRESH_TOKEN="revoked-refresh-token")
    result = crawl_source(_fill(fake_reddit, 5))
    assert result["refusal"]["kind"] == "grant_refused"
    assert "MEMETHRESHER_REDDIT_REFRESH_TOKEN" in result["error"] and "revoked-refresh-token" not in result["error"]


@pytest.mark.parametrize(
    "settings",
    [{"REDDIT_COOKIE": f"reddit_session={SESSION_VALUE}"}, {"REDDIT_COOKIE": SESSION_VALUE},
     {"REDDIT_COOKIES_FILE": str(COOKIES)}],
    ids=["header", "bare value", "cookies.txt"],
)  # fmt: skip
def test_a_session_reads_www_json(reddit_env, fake_reddit: FakeReddit, monkeypatch, settings: dict) -> None:  # type: ignore[no-untyped-def]
    _set(monkeypatch, REDDIT_ACCESS="session", **settings)
    result = crawl_source(_fill(fake_reddit, 150))
    assert result["error"] is None and result["posts_new"] == 150 and result["access_mode"] == "session"
    assert fake_reddit.token_requests == 0 and result["listing_requests"] == 2


def test_sessions_share_their_own_small_budget(reddit_env, fake_reddit: FakeReddit, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _set(monkeypatch, REDDIT_ACCESS="session", REDDIT_COOKIES_FILE=str(COOKIES),
         REDDIT_SESSION_REQUESTS_PER_MINUTE="2", REDDIT_BUDGET_WINDOW_S="2", LISTING_PAGE_SIZE="20")  # fmt: skip
    started = time.monotonic()
    result = crawl_source(_fill(fake_reddit, 100))
    assert result["posts_new"] == 100 and result["listing_requests"] == 5
    # The slack is the time a request spends between the budget and the fake's socket on a busy machine.
    assert fake_reddit.requests_over_budget(2, window_s=2, slack_s=0.5) == 0
    assert time.monotonic() - started >= 2 * 2 - 0.5  # five pages, two a window


def test_cookie_values_are_never_logged_or_shown(reddit_env, fake_reddit: FakeReddit, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    _set(monkeypatch, REDDIT_ACCESS="session", REDDIT_COOKIES_FILE=str(COOKIES), MAX_RETRIES="1")
    source = _fill(fake_reddit, 5)
    fake_reddit.fail_next("503", 1)  # a retry logs a warning
    assert crawl_source(source)["error"] is None
    fake_reddit.doors.session_cookies.clear()  # the session expires: a refusal, logged and recorded
    refused = crawl_source(source)
    assert refused["refusal"]["kind"] == "network_security"
    listed = CliRunner().invoke(source_cli, ["list"])
    assert listed.exit_code == 0 and "Reddit refused the session request: Reddit blocked" in listed.output
    assert "What to do: export your cookies again" in listed.output
    settings = get_crawler_settings()
    shown = [caplog.text, json.dumps(refused), listed.output, repr(settings), str(settings.model_dump())]
    assert caplog.text and all(SESSION_VALUE not in text for text in shown)


def test_auto_takes_the_first_door_configured() -> None:
    assert access_mode(CrawlerSettings(_env_file=None)) == "feed"
    assert access_mode(CrawlerSettings(_env_file=None, reddit_cookie="reddit_session=x")) == "session"
    both = CrawlerSettings(_env_file=None, reddit_cookie="x", reddit_client_id="a", reddit_client_secret="b")
    assert access_mode(both) == "oauth"
    assert access_mode(CrawlerSettings(_env_file=None, reddit_access="feed", reddit_client_id="a")) == "feed"


def test_the_user_agent_is_reddits_form_never_a_browsers() -> None:
    agent = CrawlerSettings(_env_file=None, reddit_username="meme_hunter").user_agent
    assert agent.startswith("python:memethresher:") and agent.endswith(" (by /u/meme_hunter)")
    with pytest.raises(ValidationError, match="must not be a browser's"):
        CrawlerSettings(_env_file=None, user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0")
