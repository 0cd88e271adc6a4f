"""What every listing crawl (Reddit, Lemmy) does with its pages: walk a listing until the posts this
source has already recorded, download and check the images of what is new, record each page in order,
and remember where a walk was cut off (a page limit, an error) so that the next crawl resumes there."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from memethresher_shared.db import session_scope
from memethresher_shared.models import Source, utcnow
from memethresher_shared.store import ImageStore

from memethresher_crawler.fetch import Downloader, FetchError, TransportFactory
from memethresher_crawler.images import CheckedImage, ImageRejected, check_image
from memethresher_crawler.ingest import (
    Taken,
    known_posts,
    posts_to_retry,
    record_page,
    record_retries,
    save_listing_gaps,
)
from memethresher_crawler.posts import MediaItem, PostInfo, TakeRules, next_retry_at
from memethresher_crawler.reddit import Listing
from memethresher_crawler.results import CrawlResult, EmbedBatcher
from memethresher_crawler.settings import CrawlerSettings

# One page of the listing after `cursor` (None: its top).
PageFetcher = Callable[[str | None], Coroutine[Any, Any, Listing]]
# Gaps remembered per source; an older gap beyond them is given up (its posts have scrolled away by then).
MAX_GAPS = 5


@dataclass(frozen=True)
class ImageFailure:
    """Why an image could not be taken; `transient` if the reason may pass (worth a later try)."""

    reason: str
    transient: bool = False


def take_rules(source: Source, settings: CrawlerSettings) -> TakeRules:
    """What this source's crawl takes: the crawler's settings, with the source's own choice of link previews."""
    previews = source.options.get("take_link_previews", settings.take_link_previews)
    return TakeRules(settings.skip_spoilers, bool(previews), settings.max_image_pixels)


def due_for_retry(source_id: int, limit: int) -> dict[str, int]:
    """{post key: retries so far} of the source's posts due for another try."""
    with session_scope() as session:
        return posts_to_retry(session, source_id, utcnow(), limit)


def _known(keys: list[str]) -> dict[str, int]:
    with session_scope() as session:
        return known_posts(session, keys)


class ListingCrawl:
    """One crawl of one listing source; subclasses fetch its pages and set `pool`, `db` and `downloader`."""

    pool: ThreadPoolExecutor  # checks and stores images
    db: ThreadPoolExecutor  # one thread: rows are written in page order
    downloader: Downloader

    def __init__(
        self, source: Source, settings: CrawlerSettings, store: ImageStore, embed: EmbedBatcher,
        result: CrawlResult, heartbeat: Callable[[], object], transport: TransportFactory,
    ) -> None:  # fmt: skip
        self.source = source
        self.settings = settings
        self.store = store
        self.embed = embed
        self.result = result
        self.heartbeat = heartbeat  # renews the crawl lock, once a page
        self.transport = transport
        self.rules = take_rules(source, settings)
        self.gaps: list[str] = [str(g) for g in (source.crawl_state or {}).get("gaps", [])]
        self._position: str | None = None  # where the current walk would resume; one of `gaps` if set

    def sorted_by_new(self) -> bool:
        """Newest first: a post this source has seen means everything after it is seen too."""
        return self.source.sort == "new"

    async def _pages(self, fetch: PageFetcher, seen: list[PostInfo]) -> None:
        """The listing from its top down to what this source has seen, then on from where earlier crawls
        were cut off. A walk cut off now is remembered, and the gaps it closes are forgotten."""
        starts: list[str | None] = [None, *self.gaps] if self.sorted_by_new() else [None]
        for start in starts:
            self._position = start
            await self._walk(fetch, start, seen)

    async def walk_archive(self, fetch: PageFetcher, max_pages: int) -> None:
        """Page through an archive of the listing: every post not recorded yet is taken, whichever source
        has seen the others, and where it stops is not remembered."""
        await self._walk(fetch, None, [], max_pages, archive=True)

    async def _walk(
        self, fetch: PageFetcher, start: str | None, seen: list[PostInfo], max_pages: int | None = None,
        archive: bool = False,
    ) -> None:  # fmt: skip
        """Page through the listing from `start`; the next page is fetched while earlier ones download."""
        in_flight: list[asyncio.Task[None]] = []
        next_page = asyncio.create_task(fetch(start))
        max_pages = max_pages or self.settings.max_listing_pages
        try:
            for number in range(max_pages):
                try:
                    listing = await next_page
                except Exception:
                    # The pages listed before are still recorded, so the next crawl resumes after them.
                    await asyncio.gather(*in_flight, return_exceptions=True)
                    raise
                self.heartbeat()
                seen.extend(listing.posts)
                new_posts, stop = await self._new_posts(listing, archive)
                more = bool(listing.after) and not stop and number + 1 < max_pages
                if more:
                    next_page = asyncio.create_task(fetch(listing.after))
                # Cut off here (the page limit) unless the listing ended or met posts seen before.
                cut = listing.after if listing.after and not stop else None
                previous = in_flight[-1] if in_flight else None
                in_flight.append(asyncio.create_task(self._take(new_posts, previous, cut, track=not archive)))
                while len(in_flight) >= self.settings.pages_in_flight or (in_flight and not more):
                    await in_flight.pop(0)
                if not more:
                    return
        finally:
            for task in [next_page, *in_flight]:
                task.cancel()
            await asyncio.gather(next_page, *in_flight, return_exceptions=True)

    async def _new_posts(self, listing: Listing, archive: bool = False) -> tuple[list[PostInfo], bool]:
        """The posts of a page not recorded yet, and whether the walk stops here. Only posts this source
        recorded stop it: a post another source took first is passed over, not taken as the end. An archive
        is read to its end: it begins with the posts the live listing showed."""
        self.result.posts_seen += len(listing.posts)
        known = await self._in_db_thread(_known, [p.key for p in listing.posts])
        self.result.posts_known += len(known)
        own = {key for key, source_id in known.items() if source_id == self.source.id}
        posts = list(listing.posts)
        if archive:
            return [p for p in posts if p.key not in known], False
        if self.sorted_by_new() and own:
            posts = posts[: next(i for i, p in enumerate(posts) if p.key in own)]
            return [p for p in posts if p.key not in known], True
        new_posts = [p for p in posts if p.key not in known]
        return new_posts, not self.sorted_by_new() and not new_posts and bool(own)

    async def _in_db_thread(self, function: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.db, function, *args)

    async def _take(
        self, posts: list[PostInfo], previous: asyncio.Task[None] | None, cut: str | None, track: bool = True
    ) -> None:
        """Download every image of `posts` at once, then record the page in one transaction, after the
        page before it, and (`track`) where its walk stands: `cut` is the cursor to resume from if it ends here."""
        items = await asyncio.gather(*(self._post_images(post) for post in posts))
        if previous is not None:
            await asyncio.wait([previous])  # its failure is raised where it is awaited, not here
            if previous.cancelled() or previous.exception() is not None:
                return  # an unrecorded page above: resuming after this one would leave it out
        first_retry = next_retry_at(utcnow(), 0, self.settings.failed_post_retry_s, self.settings.failed_post_retries)
        await self._in_db_thread(record_page, self.store, self.source.id, items, self.result, self.embed, first_retry)
        if track and self.sorted_by_new():
            await self._in_db_thread(save_listing_gaps, self.source.id, self._moved_to(cut))

    def _moved_to(self, cut: str | None) -> list[str]:
        """The gaps once this walk has recorded a page, `cut` where it would resume (None: nothing left)."""
        gaps = [g for g in self.gaps if g != self._position]
        self.gaps = ([cut] if cut else []) + gaps
        self._position = cut
        return self.gaps[:MAX_GAPS]

    async def _record_retries(self, due: dict[str, int], found: dict[str, PostInfo | None], gone: str) -> None:
        """Take the images of the due posts fetched again (`found`; None: no longer there, recorded as `gone`)
        and record the outcome; a due post not in `found` could not be asked for and stays due."""
        items = await asyncio.gather(*(self._post_images(post) for post in found.values() if post is not None))
        missing = [Taken(PostInfo(key=key), reason=gone) for key, post in found.items() if post is None]
        now, wait, most = utcnow(), self.settings.failed_post_retry_s, self.settings.failed_post_retries
        retry_at = {key: next_retry_at(now, done + 1, wait, most) for key, done in due.items() if key in found}
        await self._in_db_thread(record_retries, self.store, [*items, *missing], retry_at, self.result, self.embed)

    async def _post_images(self, post: PostInfo) -> Taken:
        """The checked images of a post, or the reason none could be taken."""
        if post.skip_reason:
            return Taken(post, reason=post.skip_reason)
        outcomes = await asyncio.gather(*(self._image(item) for item in post.media))
        images = [o for o in outcomes if isinstance(o, CheckedImage)]
        failures = [o for o in outcomes if isinstance(o, ImageFailure)]
        for failure in failures:
            self.result.image_failed(failure.reason)
        reason = None if images else "; ".join(dict.fromkeys(f.reason for f in failures))
        return Taken(post, images, reason, retry=any(f.transient for f in failures))

    async def _image(self, item: MediaItem) -> CheckedImage | ImageFailure:
        """Fetch and check one image, falling back to the site's preview if the original fails."""
        failures: list[ImageFailure] = []
        for url in (item.url, item.fallback_url):
            if not url:
                continue
            try:
                data = await self.downloader.fetch(url)
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self.pool, self._check_and_store, data)
            except FetchError as error:
                failures.append(ImageFailure(str(error), error.transient))
            except ImageRejected as error:
                failures.append(ImageFailure(str(error)))
        # The original's reason is the one recorded; either failure passing makes a later try worth it.
        return ImageFailure(failures[0].reason if failures else "no image URL", any(f.transient for f in failures))

    def _check_and_store(self, data: bytes) -> CheckedImage:
        # In a worker thread: Pillow and the store's fsync release the GIL.
        image = check_image(data, self.settings.max_image_pixels)
        self.store.put(image.data, image.format, sha256=image.sha256)
        return image
