"""The `memethresher source` commands, run through click against a real database and Redis."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from memethresher_crawler.cli import source
from memethresher_crawler.crawl import crawl_source
from memethresher_shared import tasks

from tests.support.images import image_bytes
from tests.support.queues import queued_tasks


def test_add_list_crawl_remove(env, redis_conn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    added = runner.invoke(source, ["add", "reddit", "r/memes", "--sort", "top", "--time", "week"])
    assert added.exit_code == 0, added.output
    assert "added: #1 reddit r/memes (top, week)" in added.output and "crawl queued" in added.output
    again = runner.invoke(source, ["add", "reddit", "/r/Memes/", "--sort", "top", "--time", "week", "--no-crawl"])
    assert "already there: #1" in again.output
    assert queued_tasks(redis_conn, tasks.CRAWL_QUEUE) == [(tasks.CRAWL_SOURCE, [1])]
    # The same subreddit sorted by new is another listing, so another source.
    newest = runner.invoke(source, ["add", "reddit", "r/memes", "--no-crawl"])
    assert "added: #2 reddit r/memes (new)" in newest.output

    folder = tmp_path / "memes"
    folder.mkdir()
    (folder / "a.png").write_bytes(image_bytes("PNG"))
    assert runner.invoke(source, ["add", "folder", str(folder), "--watch", "--no-crawl"]).exit_code == 0
    crawl_source(3)
    listed = runner.invoke(source, ["list"]).output.splitlines()
    assert listed[0].startswith("#1 reddit r/memes [sort=top time=week] every 900s, enabled; never crawled")
    assert listed[1].startswith("#2 reddit r/memes [sort=new] every 900s")
    assert listed[2].startswith(f"#3 folder {folder} [watch=True] every 3600s")
    assert "1 new posts, 1 new images, 0 skipped" in listed[2]
    assert listed[3] == "    taken: 1 post, 1 meme (file 1); skipped: 0 posts"

    assert runner.invoke(source, ["crawl", "3"]).exit_code == 0
    assert runner.invoke(source, ["remove", "1"]).output == "removed #1\n"
    assert len(runner.invoke(source, ["list"]).output.splitlines()) == 3  # #2, and #3 with its tally


def test_bad_input_names_the_problem(env) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    bad = runner.invoke(source, ["add", "reddit", "memes"])
    assert bad.exit_code == 2
    assert "is not one of: r/SUB" in bad.output
    assert "no source #9" in runner.invoke(source, ["crawl", "9"]).output
    assert "sort" in runner.invoke(source, ["add", "reddit", "r/memes", "--sort", "best"]).output
