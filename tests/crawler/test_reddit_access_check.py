"""`memethresher reddit check` against the fake Reddit: per access mode, works / refused (why) / not
configured, with its budget, kept in Redis for the Sources page."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from memethresher_crawler.reddit_cli import reddit
from memethresher_crawler.settings import get_crawler_settings
from memethresher_shared.tasks import REDDIT_CHECK_KEY

from tests.support import reddit_posts as rp
from tests.support.fake_reddit import FakeReddit
from tests.support.images import image_bytes


def _set(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name, value in values.items():
        monkeypatch.setenv(f"MEMETHRESHER_{name}", value)
    get_crawler_settings.cache_clear()


def _lines(output: str) -> dict[str, str]:
    return {line.split()[0]: line for line in output.splitlines() if line.strip()}


@pytest.fixture
def filled(fake_reddit: FakeReddit) -> FakeReddit:
    image = fake_reddit.add_image("one.jpg", image_bytes("JPEG", (8, 8)))
    fake_reddit.add_posts("memes", [rp.post(n, image) for n in range(8)])
    return fake_reddit


def test_every_door_is_tried_and_told(reddit_env, filled: FakeReddit, monkeypatch, redis_conn) -> None:  # type: ignore[no-untyped-def]
    _set(monkeypatch, REDDIT_ACCESS="auto", REDDIT_COOKIE="reddit_session=fake-session-cookie-8f2c")
    result = CliRunner().invoke(reddit, ["check"])
    assert result.exit_code == 0, result.output
    lines = _lines(result.output)
    assert lines["oauth"].startswith("oauth    works (used by crawls now): 5 posts from r/memes")
    assert "budget 100 listing requests a minute" in lines["oauth"]
    assert lines["session"].startswith("session  works: 5 posts") and "budget 10 listing requests" in lines["session"]
    assert lines["feed"].startswith("feed     works: ") and "budget 1 feed request a minute per host" in lines["feed"]
    assert "fake-session-cookie-8f2c" not in result.output
    kept = json.loads(redis_conn.get(REDDIT_CHECK_KEY))
    assert [m["state"] for m in kept["modes"]] == ["works", "works", "works"] and kept["target"] == "r/memes"


def test_a_shut_or_missing_door_says_why(reddit_env, filled: FakeReddit, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    filled.doors.revoked.add(filled.client_id)
    filled.doors.feed_window_s = 600.0
    _set(monkeypatch, REDDIT_FEED_REQUESTS_PER_MINUTE="5")
    CliRunner().invoke(reddit, ["check"])  # the first feed request of the minute is served
    result = CliRunner().invoke(reddit, ["check"])
    assert result.exit_code == 1  # no door works
    lines = _lines(result.output)
    assert "refused" in lines["oauth"] and "revoked" in lines["oauth"]
    assert "MEMETHRESHER_REDDIT_CLIENT_ID" in lines["oauth"]
    assert lines["session"].startswith("session  not configured: set MEMETHRESHER_REDDIT_COOKIES_FILE")
    assert "refused" in lines["feed"] and "429" in lines["feed"]
