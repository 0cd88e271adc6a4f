"""A folder source: every file under it, checked, stored and recorded once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from memethresher_shared.db import session_scope
from memethresher_shared.models import utcnow
from memethresher_shared.store import ImageStore

from memethresher_crawler.images import CheckedImage, ImageRejected, check_image
from memethresher_crawler.ingest import Taken, known_post_keys, record_page
from memethresher_crawler.posts import PostInfo
from memethresher_crawler.results import CrawlResult, EmbedBatcher

CHUNK = 64


class FolderMissing(RuntimeError):
    """The source's folder is not there (unmounted, moved)."""


def folder_files(folder: Path) -> Iterator[Path]:
    """Regular files under `folder`, skipping hidden files and folders, in a stable order."""
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts):
            yield path


def read_and_check(path: Path, max_bytes: int, max_pixels: int) -> CheckedImage | str:
    """The checked image, or the reason the file is skipped."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return f"file too large: {size} bytes (limit {max_bytes})"
        return check_image(path.read_bytes(), max_pixels)
    except ImageRejected as error:
        return str(error)
    except OSError as error:
        return f"unreadable file: {error.strerror or error}"


def crawl_folder(
    source_id: int,
    folder: Path,
    store: ImageStore,
    embed: EmbedBatcher,
    limits: tuple[int, int],
    image_workers: int,
    result: CrawlResult,
    heartbeat: Callable[[], object] = lambda: None,
    in_library: bool = False,
) -> CrawlResult:
    """Import the files of `folder` not seen before; `limits` is (max bytes, max pixels). The memes of the
    library folder are marked `in_library` (those already known from elsewhere too)."""
    if not folder.is_dir():
        raise FolderMissing(f"folder {folder} does not exist or is not a folder")
    paths = {f"file:{path}": path for path in folder_files(folder)}
    result.posts_seen = len(paths)
    with session_scope() as session:
        known = known_post_keys(session, paths)
    result.posts_known = len(known)
    todo = [key for key in paths if key not in known]
    with ThreadPoolExecutor(max_workers=image_workers) as pool:
        for start in range(0, len(todo), CHUNK):
            heartbeat()
            keys = todo[start : start + CHUNK]
            # Pillow releases the GIL while decoding, so threads use both cores.
            checked = list(pool.map(lambda k: read_and_check(paths[k], *limits), keys))
            items = [_item(key, paths[key], outcome, result) for key, outcome in zip(keys, checked, strict=True)]
            record_page(store, source_id, items, result, embed, in_library=in_library)
    return result


def _item(key: str, path: Path, outcome: CheckedImage | str, result: CrawlResult) -> Taken:
    title = path.stem.replace("_", " ")
    post = PostInfo(key=key, title=title, url=path.as_uri(), created_utc=utcnow(), taken_as="file")
    if isinstance(outcome, str):
        result.image_failed(outcome)
        return Taken(post, reason=outcome)
    return Taken(post, [outcome])
