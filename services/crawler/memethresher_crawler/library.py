"""The library folder (LIBRARY_DIR) as a watched folder source: its files are imported like any folder's
and embedded, and their memes marked `in_library`, so curation can skip their near-duplicates and never
offers them as candidates."""

from __future__ import annotations

from pathlib import Path

from memethresher_shared.models import Source
from memethresher_shared.sources import add_source
from sqlalchemy.orm import Session

# The option that marks a folder source as the library folder.
LIBRARY = "library"


def ensure_library_source(session: Session, library_dir: Path) -> int | None:
    """The id of the library folder's source, added (watched) if it is not there yet; None while the
    folder does not exist (it is made when the first meme is kept)."""
    if not library_dir.expanduser().is_dir():
        return None
    source = add_source(session, "folder", str(library_dir), watch=True)
    if not source.options.get(LIBRARY) or not source.options.get("watch"):
        source.options = {**source.options, LIBRARY: True, "watch": True}  # a new dict: JSON changes are not tracked
    return source.id


def is_library(source: Source) -> bool:
    return source.kind == "folder" and bool(source.options.get(LIBRARY))
