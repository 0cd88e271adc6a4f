"""Parsing source targets as a user types them, and adding sources idempotently."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from memethresher_shared.db import session_scope
from memethresher_shared.models import Source
from memethresher_shared.sources import SourceSpec, add_source, find_source, parse_reddit_target, parse_source
from sqlalchemy import select


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


def _listing(spec: SourceSpec) -> tuple[str, str, str]:
    return spec.target, spec.sort, spec.time_window


def test_sort_and_time_window() -> None:
    assert _listing(parse_source("reddit", "r/memes")) == ("r/memes", "new", "")
    assert _listing(parse_source("reddit", "r/memes", sort="top")) == ("r/memes", "top", "day")
    assert _listing(parse_source("reddit", "r/memes", sort="TOP", time="week")) == ("r/memes", "top", "week")
    assert parse_source("reddit", "r/memes", sort="top").options == {}
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
        first = add_source(session, "reddit", "r/Memes", sort="hot", stream=True)
        first_id = first.id
    with session_scope() as session:
        again = add_source(session, "reddit", "/r/memes/", sort="hot")
        assert again.id == first_id
        assert again.options == {"stream": True}  # the first add's options stand
        folder = add_source(session, "folder", str(env.root))
        assert folder.id != first_id
        assert session.query(Source).count() == 2


def test_another_sort_or_time_window_is_another_source(env) -> None:  # type: ignore[no-untyped-def]
    multi = "user/kjoneslol/m/sfwpornnetwork"
    with session_scope() as session:
        new = add_source(session, "reddit", multi, sort="new").id
        top = add_source(session, "reddit", multi, sort="top").id
        top_week = add_source(session, "reddit", multi, sort="top", time="week").id
        assert len({new, top, top_week}) == 3
        assert add_source(session, "reddit", multi).id == new  # "new" is the default sort
        assert add_source(session, "reddit", multi, sort="top", time="day").id == top  # a day is top's default
        assert find_source(session, "reddit", multi, sort="hot") is None
        listings = {(s.sort, s.time_window) for s in session.scalars(select(Source))}
    assert listings == {("new", ""), ("top", "day"), ("top", "week")}


@pytest.mark.parametrize(
    ("typed", "canonical", "path"),
    [
        ("front", "front", "/hot.json"),
        ("https://www.reddit.com/", "front", "/hot.json"),
        ("r/all", "r/all", "/r/all/hot.json"),
        ("r/Popular", "r/popular", "/r/popular/hot.json"),
    ],
)
def test_front_page_and_all_of_reddit(typed: str, canonical: str, path: str) -> None:
    target = parse_reddit_target(typed)
    assert (target.canonical, target.listing_path("hot")) == (canonical, path)


def test_all_of_reddit_is_not_combined_and_options_belong_to_a_kind(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot be combined"):
        parse_reddit_target("r/all+memes")
    with pytest.raises(ValueError, match=r"option\(s\): sort \(a folder source takes interval_s, watch\)"):
        parse_source("folder", str(tmp_path), sort="top")
    with pytest.raises(ValueError, match="watch must be true or false"):
        parse_source("folder", str(tmp_path), watch="yes")
    with pytest.raises(ValueError, match="take_link_previews must be true or false"):
        parse_source("reddit", "r/memes", take_link_previews="off")
    assert parse_source("reddit", "r/memes", take_link_previews=False).options == {"take_link_previews": False}


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
    return request.getfixturevalue(f"{request.param}_url")


def test_existing_sources_keep_their_sort_through_the_migration(database_url: str) -> None:
    import sqlalchemy as sa
    from memethresher_shared.migrate import downgrade, upgrade

    upgrade(database_url, "0004")
    engine = sa.create_engine(database_url)
    rows = [("reddit", "r/memes", {"sort": "top", "time": "week", "stream": True}), ("reddit", "r/pics", {}),
            ("folder", "/srv/memes", {"watch": True})]  # fmt: skip
    with engine.begin() as conn:
        for kind, target, options in rows:
            conn.execute(
                sa.text(
                    "INSERT INTO sources (kind, target, options, enabled, interval_s, created_at) "
                    "VALUES (:kind, :target, :options, true, 900, CURRENT_TIMESTAMP)"
                ),  # fmt: skip
                {"kind": kind, "target": target, "options": json.dumps(options)},
            )
    upgrade(database_url)
    query = sa.text("SELECT target, sort, time_window, options FROM sources ORDER BY id")
    with engine.connect() as conn:
        migrated = [(t, s, w, o if isinstance(o, dict) else json.loads(o)) for t, s, w, o in conn.execute(query)]
    assert migrated == [("r/memes", "top", "week", {"stream": True}), ("r/pics", "new", "", {}),
                        ("/srv/memes", "", "", {"watch": True})]  # fmt: skip
    downgrade(database_url, "0004")
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT options FROM sources ORDER BY id")).scalars()
        options = [json.loads(o) if isinstance(o, str) else o for o in stored]
    engine.dispose()
    assert options[0] == {"sort": "top", "time": "week", "stream": True}
