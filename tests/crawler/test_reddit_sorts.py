"""Reddit's rising and controversial listings: what a user may ask for, and what the crawler asks Reddit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from memethresher_crawler.cli import source as source_cli
from memethresher_crawler.crawl import crawl_source
from memethresher_shared.db import session_scope
from memethresher_shared.models import Post
from memethresher_shared.sources import add_source, parse_source
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response

from tests.support import reddit_posts as rp
from tests.support.fake_reddit import FakeReddit
from tests.support.images import image_bytes


class RecordingReddit(FakeReddit):
    """The fake Reddit, keeping the path and query of every listing request."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[str, dict[str, str]]] = []

    async def _listing(self, request: Request) -> Response:
        self.asked.append((request.url.path, dict(request.query_params)))
        return await super()._listing(request)


@pytest.fixture
def fake_reddit() -> Iterator[RecordingReddit]:
    with RecordingReddit() as fake:
        yield fake


def test_rising_and_controversial_are_sorts_and_controversial_takes_a_time_window() -> None:
    rising = parse_source("reddit", "r/memes", sort="rising")
    assert (rising.sort, rising.time_window) == ("rising", "")
    controversial = parse_source("reddit", "r/memes", sort="controversial")
    assert (controversial.sort, controversial.time_window) == ("controversial", "day")
    assert parse_source("reddit", "front", sort="controversial", time="week").time_window == "week"
    with pytest.raises(ValueError, match="time window applies only to sort 'top' and 'controversial'"):
        parse_source("reddit", "r/memes", sort="rising", time="week")
    with pytest.raises(ValueError, match="not rising"):  # Reddit offers no rising order of a user's posts
        parse_source("reddit", "user/spez", sort="rising")
    assert parse_source("reddit", "user/spez", sort="controversial").sort == "controversial"


def test_the_cli_adds_a_controversial_listing_of_the_week(env) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    added = runner.invoke(source_cli, ["add", "reddit", "r/memes", "--sort", "controversial", "--time", "week",
                                       "--no-crawl"])  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "added: #1 reddit r/memes (controversial, week)" in added.output
    refused = runner.invoke(source_cli, ["add", "reddit", "r/memes", "--sort", "rising", "--time", "week"])
    assert refused.exit_code != 0 and "time window applies only to sort" in refused.output


@pytest.mark.parametrize(
    ("target", "sort", "time_window", "path", "query"),
    [
        ("r/memes", "rising", None, "/r/memes/rising.json", {}),
        ("r/memes", "controversial", "week", "/r/memes/controversial.json", {"t": "week"}),
        ("front", "rising", None, "/rising.json", {}),
        ("user/user3", "controversial", "month", "/user/user3/submitted.json", {"sort": "controversial", "t": "month"}),
    ],
)
def test_the_crawler_asks_reddit_for_the_listing_in_that_order(  # type: ignore[no-untyped-def]
    reddit_env, fake_reddit: RecordingReddit, target: str, sort: str, time_window: str | None, path: str,
    query: dict[str, str],
) -> None:  # fmt: skip
    fake_reddit.add_posts("memes", [rp.post(n, fake_reddit.add_image(f"{n}.jpg", image_bytes("JPEG", seed=n)))
                                    for n in (3, 10, 17)])  # fmt: skip
    options = {"sort": sort, **({"time": time_window} if time_window else {})}
    with session_scope() as session:
        source_id = add_source(session, "reddit", target, **options).id
    result = crawl_source(source_id)
    assert result["error"] is None, result
    asked_path, asked_query = fake_reddit.asked[0]
    assert asked_path == path
    assert {k: v for k, v in asked_query.items() if k in ("t", "sort")} == query
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Post)) == 3
