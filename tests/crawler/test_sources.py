"""Parsing source targets as a user types them, and adding sources idempotently."""

from __future__ import annotations

from pathlib import Path

import pytest
from memethresher_shared.db import session_scope
from memethresher_shared.models import Source
from memethresher_shared.sources import add_source, parse_reddit_target, parse_source


@pytest.mark.parametrize(
    ("typed", "canonical", "path"),
    [
        ("r/memes", "r/memes", "/r/memes/new.json"),
        ("r/Memes+dankmemes", "r/memes+dankmemes", "/r/memes+dankmemes/new.json"),
        ("/r/memes/", "r/memes", "/r/memes/new.json"),
        ("https://www.reddit.com/r/memes/", "r/memes", "/r/memes/new.json"),
        ("/user/kemitche/m/RedditPets", "user/kemitche/m/redditpets", "/user/kemitche/m/redditpets/new.json"),
        ("user/kemitche/m/pets", "user/kemitche/m/pets", "/user/kemitche/m/pets/new.json"),
        ("u/spez", "user/spez", "/user/spez/submitted.json"),
        ("user/spez", "user/spez", "/user/spez/submitted.json"),
    ],
)
def test_reddit_targets_are_understood(typed: str, canonical: str, path: str) -> None:
    target = parse_reddit_target(typed)
    assert target.canonical == canonical
    assert target.listing_path("new") == path


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("memes", "is not one of"),
        ("r/", "is not one of"),
        ("r/a", "invalid subreddit"),
        ("r/memes+", "invalid subreddit"),
        ("r/me mes", "invalid subreddit"),
        ("user/x", "invalid user"),
        ("user/spez/m/", "is not one of"),
        ("user/spez/m/a/b", "is not one of"),
    ],
)
def test_bad_reddit_targets_say_what_is_wrong(typed: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_reddit_target(typed)


def test_sort_and_time_window() -> None:
    assert parse_source("reddit", "r/memes").options == {"sort": "new"}
    assert parse_source("reddit", "r/memes", sort="top").options == {"sort": "top", "time": "day"}
    assert parse_source("reddit", "r/memes", sort="TOP", time="week").options == {
        "sort": "top",
        "time": "week",
    }
    with pytest.raises(ValueError, match="sort must be one of"):
        parse_source("reddit", "r/memes", sort="best")
    with pytest.raises(ValueError, match="time must be one of"):
        parse_source("reddit", "r/memes", sort="top", time="decade")
    with pytest.raises(ValueError, match="only to sort 'top'"):
        parse_source("reddit", "r/memes", sort="new", time="week")


def test_kind_interval_and_unknown_options_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        parse_source("ftp", "r/memes")
    with pytest.raises(ValueError, match="at least 60"):
        parse_source("reddit", "r/memes", interval_s=5)
    with pytest.raises(ValueError, match="whole number"):
        parse_source("reddit", "r/memes", interval_s="soon")
    with pytest.raises(ValueError, match="unknown source option"):
        parse_source("reddit", "r/memes", colour="red")
    a_file = tmp_path / "x.jpg"
    a_file.write_bytes(b"x")
    with pytest.raises(ValueError, match="is a file"):
        parse_source("folder", str(a_file))
    with pytest.raises(ValueError, match="empty"):
        parse_source("folder", "  ")


def test_folder_targets_are_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    spec = parse_source("folder", "memes", watch=True)
    assert spec.target == str(tmp_path / "memes")
    assert spec.options == {"watch": True}


def test_add_source_is_idempotent(env) -> None:  # type: ignore[no-untyped-def]
    with session_scope() as session:
        first = add_source(session, "reddit", "r/Memes", sort="hot")
        first_id = first.id
    with session_scope() as session:
        again = add_source(session, "reddit", "/r/memes/")
        assert again.id == first_id
        assert again.options == {"sort": "hot"}  # the first add's options stand
        folder = add_source(session, "folder", str(env.root))
        assert folder.id != first_id
        assert session.query(Source).count() == 2
