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
from memethresher_shared.encoder_cli import encoder
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


@main.command("export")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--images/--no-images", default=True, show_default=True, help="Copy the image files too.")
def export_command(folder: Path, images: bool) -> None:
    """Write ratings, labels, curation decisions, sources, memes and model versions into FOLDER
    (JSON lines keyed by image sha256, with vectors, images and model folders; see docs/export-format.md)."""
    from memethresher_shared.portable.export import export_all
    from memethresher_shared.store import get_store

    try:
        with db.session_scope() as session:
            counts = export_all(session, get_store(), folder, with_images=images)
    except FileExistsError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"exported to {folder}: " + ", ".join(f"{n} {kind}" for kind, n in counts.items()))


@main.command("import")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
def import_command(folder: Path) -> None:
    """Add what the export in FOLDER holds and this database lacks; a second import adds nothing.
    Ratings and labels on images not here yet wait as pending until those images arrive."""
    from memethresher_shared.migrate import upgrade
    from memethresher_shared.portable.importing import NotAnExport, import_all
    from memethresher_shared.store import get_store

    upgrade(get_settings().database_url)  # a new install needs no `migrate` first
    try:
        with db.session_scope() as session:
            report = import_all(session.connection(), get_store(), folder, get_settings().all_axes)
    except NotAnExport as error:
        raise click.ClickException(str(error)) from None
    for line in report.lines():
        click.echo(line)


@main.command("backup")
@click.option("--to", "root", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of backups [default: MEMETHRESHER_BACKUP_DIR].")  # fmt: skip
@click.option("--keep", type=click.IntRange(min=1), help="Backups to keep [default: MEMETHRESHER_BACKUP_KEEP].")
@click.option("--images/--no-images", default=True, show_default=True, help="Copy the image store too.")
@click.option("--every", "every_s", type=click.IntRange(min=60), help="Keep running: one backup every N seconds.")
def backup_command(root: Path | None, keep: int | None, images: bool, every_s: int | None) -> None:
    """Snapshot the database, model folders, images and non-secret settings into a timestamped folder."""
    from memethresher_shared.portable.backup import LEFT_OUT, BackupError, backup

    settings = get_settings()
    while True:
        try:
            folder, removed = backup(settings, root or settings.backup_dir, keep or settings.backup_keep, images)
        except BackupError as error:
            if every_s is None:
                raise click.ClickException(str(error)) from None
            click.echo(f"error: {error}; trying again in {every_s} s", err=True)  # a scheduled run goes on
        else:
            click.echo(f"backup written to {folder} (left out: {LEFT_OUT})")
            for old in removed:
                click.echo(f"removed the older backup {old}")
        if every_s is None:
            return
        time.sleep(every_s)


@main.command("restore")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask before replacing the database.")
def restore_command(folder: Path, yes: bool) -> None:
    """Replace the database with the backup in FOLDER and put its models and images back in the store.
    Stop the services first."""
    from memethresher_shared.migrate import upgrade
    from memethresher_shared.portable.backup import SETTINGS_FILE, BackupError, restore

    settings = get_settings()
    if not yes:
        click.confirm(f"Replace everything in {settings.database_url} with {folder}?", abort=True)
    try:
        restore(settings, folder)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    upgrade(settings.database_url)  # a backup of an older version is brought to this one's schema
    click.echo(f"restored {folder} into {settings.database_url}; its settings are in {folder / SETTINGS_FILE}")


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


main.add_command(encoder, "encoder")
_add_service_commands()

if __name__ == "__main__":
    main()
