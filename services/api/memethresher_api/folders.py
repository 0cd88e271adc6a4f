"""The folders the API writes (the image store, the library, the thumbnail cache), and whether it can."""

from __future__ import annotations

import functools
import logging
import tempfile
from pathlib import Path

from memethresher_shared.settings import Settings

log = logging.getLogger(__name__)


def write_problem(folder: Path) -> str | None:
    """Why no file can be created in `folder` (made if missing), or None when one can."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        return f"{folder} cannot be written: {error.strerror or error}"
    return None


def configured_thumbnail_cache(settings: Settings) -> Path:
    return settings.data_dir / "thumbnails"


@functools.cache
def thumbnail_cache(configured: Path) -> Path:
    """The configured thumbnail cache, or one in the temp folder when that cannot be written (say, a
    read-only root filesystem without a volume there): thumbnails cost a little more, but are shown."""
    problem = write_problem(configured)
    if problem is None:
        return configured
    fallback = Path(tempfile.gettempdir()) / "memethresher-thumbnails"
    log.warning("thumbnail cache: %s; using %s instead", problem, fallback)
    return fallback


def configured_folders(settings: Settings) -> dict[str, Path]:
    """Each folder the API writes, as configured, by what it is to the user."""
    return {
        "image store": settings.storage,
        "library folder": settings.library_dir,
        "thumbnail cache": configured_thumbnail_cache(settings),
    }


def folder_problems(settings: Settings) -> list[str]:
    """One message per folder the API cannot write (the thumbnail cache as used), saying which and why."""
    folders = configured_folders(settings)
    folders["thumbnail cache"] = thumbnail_cache(folders["thumbnail cache"])
    found = ((name, write_problem(path)) for name, path in folders.items())
    return [f"the {name}: {problem}" for name, problem in found if problem]
