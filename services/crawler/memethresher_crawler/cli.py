"""`memethresher source …`: add, list, edit, crawl and remove sources (folders, Reddit listings, Lemmy)."""

from __future__ import annotations

from typing import Any

import click
from memethresher_shared import tasks
from memethresher_shared.db import session_scope
from memethresher_shared.models import Source
from memethresher_shared.settings import get_settings
from memethresher_shared.source_edits import edit_source
from memethresher_shared.sources import KINDS, SORTS, TIME_WINDOWS, add_source, find_source
from sqlalchemy import select

from memethresher_crawler.results import describe_outcome
from memethresher_crawler.tally import SourceTally, describe_tally, source_tallies


@click.group()
def source() -> None:
    """Where memes come from: local folders, Reddit listings and Lemmy communities."""


def _enqueue_crawl(source_id: int) -> str:
    if not get_settings().broker_url:
        return "it will be crawled within a minute once MemeThresher is running (`memethresher up`)"
    from memethresher_shared.celery_app import send

    send(tasks.CRAWL_SOURCE, source_id)
    return "crawl queued"


@source.command("add")
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("target")
@click.option("--sort", type=click.Choice(SORTS), help="Listing order (default new; Lemmy has new, hot, top).")
@click.option(
    "--time",
    "time_window",
    type=click.Choice(TIME_WINDOWS),
    help="Reddit, Lemmy: window for --sort top or controversial (default day).",
)
@click.option("--interval", "interval_s", type=int, help="Seconds between scheduled crawls.")
@click.option("--watch", is_flag=True, help="Folder: crawl again on every interval, not only once.")
@click.option("--stream", is_flag=True, help="Reddit: adapt the interval to how fast the source posts.")
@click.option(
    "--link-previews/--no-link-previews",
    default=None,
    help="Reddit: take Reddit's preview of links to pages the crawler cannot read (default: the setting).",
)
@click.option("--no-crawl", is_flag=True, help="Do not queue a first crawl now.")
def add(kind: str, target: str, sort: str | None, time_window: str | None, interval_s: int | None,
        watch: bool, stream: bool, link_previews: bool | None, no_crawl: bool) -> None:  # fmt: skip
    """Add a source: `reddit r/memes`, `reddit r/a+b`, `reddit r/all`, `reddit user/NAME/m/MULTI`,
    `reddit user/NAME`, `reddit front`, `lemmy memes@lemmy.ml`, or `folder PATH`. A source is its target,
    sort and time window: adding the same three again keeps the first, another sort is another source."""
    given = {"sort": sort, "time": time_window, "interval_s": interval_s, "take_link_previews": link_previews,
             "watch": watch or None, "stream": stream or None}  # fmt: skip
    options: dict[str, Any] = {name: value for name, value in given.items() if value is not None}
    try:
        with session_scope() as session:
            existed = find_source(session, kind, target, **options) is not None
            row = add_source(session, kind, target, **options)
            source_id, shown = row.id, describe_listing(row)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="TARGET") from None
    click.echo(f"{'already there' if existed else 'added'}: #{source_id} {shown}")
    if not no_crawl:
        click.echo(_enqueue_crawl(source_id))


@source.command("list")
def list_sources() -> None:
    """Every source with its schedule, how its last crawl went, and what its posts brought so far."""
    with session_scope() as session:
        rows = list(session.scalars(select(Source).order_by(Source.id)))
        if not rows:
            click.echo("no sources yet: `memethresher source add reddit r/memes` or `… add folder PATH`")
        tallies = source_tallies(session)
        for row in rows:
            tally = tallies.get(row.id, SourceTally())
            click.echo(_describe(row) + _waiting(tally.waiting))
            if tally.taken or tally.skipped:
                click.echo("    " + describe_tally(tally))


def _waiting(count: int) -> str:
    """Posts whose images failed for passing reasons, to be fetched again by a later crawl."""
    if not count:
        return ""
    return f"; {count} post{'s' if count != 1 else ''} waiting to be fetched again (image host errors)"


def describe_listing(row: Source) -> str:
    """`reddit r/memes (top, week)`, `folder /srv/memes`: what makes the source one listing."""
    order = ", ".join(part for part in (row.sort, row.time_window) if part)
    return f"{row.kind} {row.target}" + (f" ({order})" if order else "")


def _describe(row: Source) -> str:
    shown = {**({"sort": row.sort} if row.sort else {}), **({"time": row.time_window} if row.time_window else {})}
    options = " ".join(f"{k}={v}" for k, v in sorted({**shown, **row.options}.items()))
    state = "enabled" if row.enabled else "disabled"
    line = f"#{row.id} {row.kind} {row.target} [{options}] every {row.interval_s}s, {state}"
    result = row.last_result
    if row.last_crawl_at is None or result is None:
        return line + "; never crawled"
    return line + f"; last crawl {row.last_crawl_at:%Y-%m-%d %H:%M} UTC: {describe_outcome(result)}"


@source.command("crawl")
@click.argument("source_id", type=int)
def crawl(source_id: int) -> None:
    """Queue a crawl of one source now."""
    with session_scope() as session:
        if session.get(Source, source_id) is None:
            raise click.BadParameter(f"no source #{source_id}", param_hint="SOURCE_ID")
    click.echo(_enqueue_crawl(source_id))


@source.command("edit")
@click.argument("source_id", type=int)
@click.option("--sort", type=click.Choice(SORTS), help="Listing order (Reddit, Lemmy).")
@click.option("--time", "time_window", type=click.Choice(TIME_WINDOWS), help="Window for top or controversial.")
@click.option("--interval", "interval_s", type=int, help="Seconds between scheduled crawls.")
@click.option("--watch/--no-watch", default=None, help="Folder: crawl again on every interval.")
@click.option("--stream/--no-stream", default=None, help="Adapt the interval to how fast the source posts.")
@click.option("--link-previews/--no-link-previews", default=None, help="Take previews of links to unreadable pages.")
@click.option("--enable/--disable", "enabled", default=None, help="Crawl on schedule, or not.")
def edit(source_id: int, sort: str | None, time_window: str | None, interval_s: int | None, watch: bool | None,
         stream: bool | None, link_previews: bool | None, enabled: bool | None) -> None:  # fmt: skip
    """Change a source's sort, time window, interval, watch, stream, link previews or whether it is enabled."""
    given = {"sort": sort, "time": time_window, "interval_s": interval_s, "watch": watch, "stream": stream,
             "take_link_previews": link_previews}  # fmt: skip
    changes = {name: value for name, value in given.items() if value is not None}
    with session_scope() as session:
        row = session.get(Source, source_id)
        if row is None:
            raise click.BadParameter(f"no source #{source_id}", param_hint="SOURCE_ID")
        try:
            if changes:
                edit_source(session, row, changes)
        except ValueError as error:
            raise click.UsageError(str(error)) from None
        if enabled is not None:
            row.enabled = enabled
        shown = _describe(row)
    click.echo(f"changed: {shown}")


@source.command("remove")
@click.argument("source_id", type=int)
def remove(source_id: int) -> None:
    """Remove a source and its posts (the memes it brought stay)."""
    with session_scope() as session:
        row = session.get(Source, source_id)
        if row is None:
            raise click.BadParameter(f"no source #{source_id}", param_hint="SOURCE_ID")
        session.delete(row)
    click.echo(f"removed #{source_id}")
