"""The `memethresher` command. Services add their own command groups through the
`memethresher.commands` entry point (e.g. `source` from the crawler, `offline` from the trainer)."""

from __future__ import annotations

import os
import signal
import time
from importlib.metadata import entry_points
from pathlib import Path
from types import FrameType

import click

from memethresher_shared import db, tasks
from memethresher_shared.settings import get_settings


@click.group()
def main() -> None:
    """MemeThresher: learn one person's taste in memes and find the good ones."""


@main.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from memethresher_shared.migrate import upgrade

    settings = get_settings()
    upgrade(settings.database_url)
    click.echo(f"database at head: {settings.database_url}")


@main.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--count", default=300, show_default=True)
def samples(folder: Path, count: int) -> None:
    """Write sample memes (made offline from scikit-image's photographs) into FOLDER."""
    from memethresher_shared.samples import write_samples

    paths = write_samples(folder, count)
    click.echo(f"{len(paths)} sample memes in {folder}")


@main.command()
@click.option("--demo", is_flag=True, help="Also create a folder source of sample memes and crawl it.")
def up(demo: bool) -> None:
    """Run everything: migrations, Redis (embedded unless MEMETHRESHER_BROKER_URL is set), the API,
    one Celery worker per queue, beat and Flower. Ctrl-C stops every process."""
    from memethresher_shared.embedded_redis import EmbeddedRedis
    from memethresher_shared.launcher import Supervisor, children, flower_url, wait_for_http
    from memethresher_shared.migrate import upgrade
    from memethresher_shared.observability import get_observability_settings

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    embedded = None
    if not settings.broker_url:
        embedded = EmbeddedRedis(settings.data_dir / "redis")
        os.environ["MEMETHRESHER_BROKER_URL"] = embedded.start()
        db.reset_caches()
        settings = get_settings()
        click.echo(f"embedded Redis on {settings.broker_url}")
    supervisor = Supervisor(settings.data_dir / "logs", dict(os.environ))
    stopping = False

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    exit_code = 0
    try:
        upgrade(settings.database_url)
        for child in children(settings, get_observability_settings().metrics_port):
            supervisor.start(child)
        base = f"http://{settings.host}:{settings.port}"
        wait_for_http(f"{base}/healthz", 120, supervisor)
        if demo:
            _start_demo(settings.data_dir / "sample-memes")
        click.echo(f"MemeThresher is running (logs in {supervisor.log_dir}):")
        click.echo(f"  rating page   {base}/rate")
        click.echo(f"  curation      {base}/curate")
        click.echo(f"  dashboard     {base}/")
        click.echo(f"  API docs      {base}/docs")
        click.echo(f"  Flower        {flower_url(settings)}")
        click.echo("Press Ctrl-C to stop.")
        while not stopping:
            if dead := supervisor.dead():
                click.echo(f"{dead[0].name} stopped unexpectedly; see {dead[0].log}", err=True)
                exit_code = 1
                break
            time.sleep(0.5)
    except RuntimeError as error:
        click.echo(f"error: {error}", err=True)
        exit_code = 1
    finally:
        click.echo("stopping…")
        supervisor.stop_all()
        if embedded:
            embedded.stop()
    raise SystemExit(exit_code)


def _start_demo(folder: Path) -> None:
    from memethresher_shared.celery_app import send
    from memethresher_shared.samples import write_samples
    from memethresher_shared.sources import add_source

    if not any(folder.glob("sample-*")):
        click.echo(f"writing sample memes to {folder} …")
    write_samples(folder)
    with db.session_scope() as session:
        source = add_source(session, "folder", str(folder.resolve()))
        source_id = source.id
    send(tasks.CRAWL_SOURCE, source_id)
    click.echo(f"demo source #{source_id}: crawling {folder}")


def _add_service_commands() -> None:
    for entry in entry_points(group="memethresher.commands"):
        try:
            main.add_command(entry.load(), entry.name)
        except ImportError:  # that service is not installed here
            continue


_add_service_commands()

if __name__ == "__main__":
    main()
