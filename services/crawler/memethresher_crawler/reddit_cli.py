"""`memethresher reddit …`: which doors to Reddit are open from here."""

from __future__ import annotations

import click
from memethresher_shared.coordination import redis_client

from memethresher_crawler.reddit_check import CHECK_TARGET, check_doors, describe_check, record_check
from memethresher_crawler.settings import get_crawler_settings


@click.group()
def reddit() -> None:
    """Reddit access: oauth, session and feed (MEMETHRESHER_REDDIT_ACCESS)."""


@reddit.command("check")
@click.option("--target", default=CHECK_TARGET, show_default=True, help="The listing to try, e.g. r/memes or front.")
def check(target: str) -> None:
    """Try each access mode against one listing: works, refused (why, and what to do) or not configured,
    and the budget each would use."""
    settings = get_crawler_settings()
    if not settings.broker_url:  # the budgets every worker shares live in Redis
        raise click.ClickException(
            "the check needs Redis: run it beside `memethresher up`, or set MEMETHRESHER_BROKER_URL"
        )
    client = redis_client()
    checks = check_doors(settings, client, target)
    for line in describe_check(checks):
        click.echo(line)
    record_check(client, checks, target)
    if not any(c.state == "works" for c in checks):
        raise SystemExit(1)
