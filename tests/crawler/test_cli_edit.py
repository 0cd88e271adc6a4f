"""`memethresher source edit`: a source's options changed from the command line, and refusals in words."""

from __future__ import annotations

from click.testing import CliRunner
from memethresher_crawler.cli import source
from memethresher_shared.db import session_scope
from memethresher_shared.models import Source


def test_a_source_is_edited_from_the_command_line(env) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    assert runner.invoke(source, ["add", "reddit", "r/memes", "--no-crawl"]).exit_code == 0
    edited = runner.invoke(source, ["edit", "1", "--sort", "controversial", "--time", "week", "--interval", "600",
                                    "--stream", "--disable"])  # fmt: skip
    assert edited.exit_code == 0, edited.output
    assert "changed: #1 reddit r/memes [sort=controversial stream=True time=week] every 600s, disabled" in edited.output
    with session_scope() as session:
        row = session.get(Source, 1)
        assert row is not None and (row.sort, row.time_window, row.enabled) == ("controversial", "week", False)

    refused = runner.invoke(source, ["edit", "1", "--sort", "new", "--time", "day"])
    assert refused.exit_code != 0 and "time window applies only to sort" in refused.output
    assert "unknown source option(s): watch" in runner.invoke(source, ["edit", "1", "--watch"]).output
    assert "no source #9" in runner.invoke(source, ["edit", "9", "--enable"]).output
