"""Lemmy communities as a user types them: the community and the instance whose API serves it."""

from __future__ import annotations

import pytest
from memethresher_shared.sources import parse_lemmy_target, parse_source


@pytest.mark.parametrize(
    "typed",
    ["memes@lemmy.ml", "!memes@lemmy.ml", "c/Memes@Lemmy.ML", "https://lemmy.ml/c/memes", " memes@lemmy.ml "],
)
def test_lemmy_targets_are_understood(typed: str) -> None:
    target = parse_lemmy_target(typed)
    assert (target.community, target.instance, target.canonical) == ("memes", "lemmy.ml", "memes@lemmy.ml")


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("memes", "is not one of"),
        ("r/memes", "is not one of"),
        ("me@lemmy.ml", "invalid community name"),
        ("memes!@lemmy.ml", "invalid community name"),
        ("memes@localhost", "not an instance's host name"),
        ("memes@lemmy..ml", "not an instance's host name"),
        ("a@b@lemmy.ml", "is not one of"),
    ],
)
def test_bad_lemmy_targets_say_what_is_wrong(typed: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_lemmy_target(typed)


def test_a_lemmy_source_sorts_new_hot_or_top_with_a_time_window() -> None:
    spec = parse_source("lemmy", "!memes@lemmy.ml", sort="top", time="week")
    assert (spec.kind, spec.target, spec.sort, spec.time_window) == ("lemmy", "memes@lemmy.ml", "top", "week")
    assert parse_source("lemmy", "memes@lemmy.ml").sort == "new"
    with pytest.raises(ValueError, match="sort must be one of new, hot, top for lemmy"):
        parse_source("lemmy", "memes@lemmy.ml", sort="rising")
    with pytest.raises(ValueError, match="unknown source option"):
        parse_source("lemmy", "memes@lemmy.ml", watch=True)
