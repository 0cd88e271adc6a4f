"""`memethresher backup` / `restore`: a consistent snapshot of the database (SQLite's online backup,
or `pg_dump`), the model folders, the images and the non-secret settings, in one timestamped folder;
the newest `backup_keep` are kept."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from memethresher_shared.settings import ENV_PREFIX, Settings

PREFIX = "memethresher-"
SQLITE_FILE = "database.sqlite"
PG_FILE = "database.dump"
SETTINGS_FILE = "settings.env"
MANIFEST = "backup.json"
# Settings whose names end in one of these are secrets, left out of a backup; so are URL passwords.
SECRET_ENDINGS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "COOKIE")
LEFT_OUT = "secrets (settings named *_TOKEN, *_SECRET, *_PASSWORD, *_COOKIE) and passwords inside URLs"


class BackupError(RuntimeError):
    """A backup or restore that cannot go on; the message says why."""


def backup(settings: Settings, root: Path, keep: int, with_images: bool = True) -> tuple[Path, list[Path]]:
    """Write a new backup folder under `root`; returns it and the older backups removed to keep `keep`."""
    root.mkdir(parents=True, exist_ok=True)
    name = PREFIX + datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    # Written under a hidden name and renamed when complete: a cut-off backup is never taken for one.
    partial = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    previous = backups(root)
    database = _dump_database(settings.database_url, partial)
    store = Path(settings.storage)
    _copy_tree(store / "models", partial / "models", None)
    if with_images:
        _copy_tree(store, partial / "images", previous[-1] / "images" if previous else None, skip=("models",))
    (partial / SETTINGS_FILE).write_text("".join(f"{k}={v}\n" for k, v in sorted(settings_to_keep(settings).items())))
    manifest = {"created_at": datetime.now(UTC).isoformat(), "database": database, "images": with_images,
                "left_out": LEFT_OUT}  # fmt: skip
    (partial / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    final = root / name
    os.replace(partial, final)
    return final, prune(root, keep)


def backups(root: Path) -> list[Path]:
    """Complete backups under `root`, oldest first (their names sort by time)."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.name.startswith(PREFIX) and (p / MANIFEST).is_file())


def prune(root: Path, keep: int) -> list[Path]:
    old = backups(root)[:-keep] if keep > 0 else []
    for folder in old:
        shutil.rmtree(folder)
    return old


def settings_to_keep(settings: Settings) -> dict[str, str]:
    """The settings in effect (as `MEMETHRESHER_*` lines, with every service's own set ones), minus secrets."""
    values = {f"{ENV_PREFIX}{k.upper()}": _env_value(v) for k, v in settings.model_dump().items()}
    values |= {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)}
    kept = {}
    for key, value in values.items():
        if key.rsplit("_", 1)[-1] in SECRET_ENDINGS:
            continue
        kept[key] = _without_password(value) if "://" in value else value
    return kept


def _env_value(value: Any) -> str:
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


def _without_password(value: str) -> str:
    try:
        url = make_url(value)
    except Exception:  # not a URL after all
        return value
    return url.set(password=None).render_as_string(hide_password=False) if url.password else value


def _dump_database(database_url: str, folder: Path) -> str:
    if database_url.startswith("sqlite"):
        path = _sqlite_path(database_url)
        if not path.is_file():
            raise BackupError(f"no database at {path}")
        # The online backup API copies a consistent state while the services keep writing.
        with closing(sqlite3.connect(path)) as live, closing(sqlite3.connect(folder / SQLITE_FILE)) as copy:
            live.backup(copy)
        return SQLITE_FILE
    url, env = _libpq(database_url)
    _run(["pg_dump", "--format=custom", "--no-owner", "--file", str(folder / PG_FILE), url], env)
    return PG_FILE


def restore(settings: Settings, folder: Path) -> dict[str, Any]:
    """Put the backup in `folder` back: the database as it was, and the store's models and images."""
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise BackupError(f"{folder} is not a MemeThresher backup ({MANIFEST} is missing)")
    manifest: dict[str, Any] = json.loads(manifest_path.read_text())
    database_url = settings.database_url
    if (manifest["database"] == SQLITE_FILE) != database_url.startswith("sqlite"):
        raise BackupError(f"this backup holds {manifest['database']}; MEMETHRESHER_DATABASE_URL is {database_url}; "
                          "to move between SQLite and PostgreSQL, use `memethresher export` and `import`")  # fmt: skip
    if manifest["database"] == SQLITE_FILE:
        path = _sqlite_path(database_url)
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(folder / SQLITE_FILE)) as copy, closing(sqlite3.connect(path)) as live:
            copy.backup(live)
    else:
        url, env = _libpq(database_url)
        _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction", "--dbname", url,
              str(folder / PG_FILE)], env)  # fmt: skip
    store = Path(settings.storage)
    for model in (folder / "models").glob("*"):
        # A folder of the same version id in the store may hold another model: the backup's wins.
        shutil.rmtree(store / "models" / model.name, ignore_errors=True)
    _copy_tree(folder / "models", store / "models", None)
    _copy_tree(folder / "images", store, None)
    return manifest


def _copy_tree(source: Path, target: Path, previous: Path | None, skip: tuple[str, ...] = ()) -> None:
    """Copy files missing in `target`; a file already in the `previous` backup is hard-linked from there
    (images are named by their hash, so the same name is the same bytes)."""
    if not source.is_dir():
        return
    for path in source.rglob("*"):
        relative = path.relative_to(source)
        if not path.is_file() or relative.parts[0] in skip or path.name.startswith(".tmp-"):
            continue
        destination = target / relative
        if destination.exists():
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        earlier = previous / relative if previous else None
        try:
            if earlier is None or not earlier.is_file():
                raise OSError
            os.link(earlier, destination)
        except OSError:
            shutil.copy2(path, destination)


def _sqlite_path(database_url: str) -> Path:
    database = make_url(database_url).database
    if not database or database == ":memory:":
        raise BackupError(f"{database_url} is not a database file")
    return Path(database)


def _libpq(database_url: str) -> tuple[str, dict[str, str]]:
    """A URL pg_dump understands, with the password passed in the environment, not the command line."""
    url = make_url(database_url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return url.set(drivername="postgresql", password=None).render_as_string(hide_password=False), env


def _run(command: list[str], env: dict[str, str]) -> None:
    if shutil.which(command[0]) is None:
        raise BackupError(f"{command[0]} is not installed (PostgreSQL's client tools are needed)")
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{command[0]} failed: {done.stderr.strip()[-2000:]}")
