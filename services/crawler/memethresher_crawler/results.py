"""The tally of one crawl, stored in `sources.last_result`, and the embed batches it sends. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Skip reasons carry details ("not an image (HTML page)"); the tally groups them by their head.
_REASON_HEAD_CHARS = 60


@dataclass
class CrawlResult:
    """Counts of what one crawl did, and the error that stopped it, if any."""

    posts_seen: int = 0
    posts_new: int = 0
    posts_known: int = 0
    posts_skipped: int = 0
    posts_retried: int = 0  # known posts whose images were fetched again after failing for passing reasons
    posts_recovered: int = 0  # of those, the posts that got every image this time
    images_new: int = 0
    images_duplicate: int = 0
    images_failed: int = 0
    listing_requests: int = 0
    embed_batches: int = 0
    error: str | None = None
    access_mode: str | None = None  # the door to Reddit the crawl took: oauth, session or feed
    refusal: dict[str, str] | None = None  # when Reddit shut it: kind, reason and what to do
    mean_post_gap_s: float | None = None
    skip_reasons: Counter[str] = field(default_factory=Counter)
    image_failures: Counter[str] = field(default_factory=Counter)

    def skipped(self, reason: str) -> None:
        self.posts_skipped += 1
        self.skip_reasons[reason_head(reason)] += 1

    def refused(self, kind: str, reason: str, remedy: str) -> None:
        """Reddit shut the door: an error with its reason and what to do, never "0 new posts"."""
        self.refusal = {"kind": kind, "reason": reason, "remedy": remedy}
        self.error = f"{reason}: {remedy}"

    def image_failed(self, reason: str) -> None:
        self.images_failed += 1
        self.image_failures[failure_category(reason)] += 1

    def as_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k not in ("skip_reasons", "image_failures")}
        data["skip_reasons"] = dict(self.skip_reasons.most_common(20))
        data["image_failures"] = dict(self.image_failures)
        return data


def describe_outcome(result: Mapping[str, Any]) -> str:
    """A stored crawl result in words: the door Reddit shut and what to do, the error, or the counts."""
    mode = result.get("access_mode")
    refusal = result.get("refusal")
    if refusal:
        return f"Reddit refused the {mode} request: {refusal['reason']}. What to do: {refusal['remedy']}"
    if result.get("error"):
        return f"error: {result['error']}"
    counts = (
        f"{result.get('posts_new', 0)} new posts, {result.get('images_new', 0)} new images, "
        f"{result.get('posts_skipped', 0)} skipped"
    )
    if mode == "feed":
        return counts + " by feed (feeds carry no Reddit scores)"
    return counts + (f" by {mode}" if mode else "")


def reason_head(reason: str) -> str:
    """A skip reason without its details ("HTTP 404", "unknown host"), for tallies."""
    return reason.split(":")[0].split(" (")[0][:_REASON_HEAD_CHARS]


# Recorded reasons -> short metric labels; the first match wins.
_CATEGORIES = (
    ("decompression bomb", "bomb"),
    ("corrupt", "decode"),
    ("unreadable image", "decode"),
    ("not an image", "not_image"),
    ("empty file", "empty"),
    ("too large", "too_large"),
    ("timed out", "timeout"),
    ("private or internal", "refused_address"),
    ("only http(s)", "refused_scheme"),
    ("redirects", "redirects"),
    ("cannot resolve", "dns"),
    ("download failed", "network"),
    ("unreadable file", "io"),
)


def failure_category(reason: str) -> str:
    """A short label for an image failure ("decode", "http_404", ...), for metrics."""
    if reason.startswith("HTTP "):
        return "http_" + reason.split()[1]
    return next((label for text, label in _CATEGORIES if text in reason), "other")


class EmbedBatcher:
    """Collects new meme ids and sends them to the embedder in batches of `size`."""

    def __init__(self, size: int, send_batch: Callable[[list[int]], Any]) -> None:
        self.size = size
        self._send_batch = send_batch
        self._pending: list[int] = []
        self.batches_sent = 0

    def add(self, meme_ids: Iterable[int]) -> None:
        """Queue ids that are committed; full batches go out at once."""
        self._pending.extend(meme_ids)
        while len(self._pending) >= self.size:
            self._emit(self._pending[: self.size])
            self._pending = self._pending[self.size :]

    def flush(self) -> None:
        if self._pending:
            self._emit(self._pending)
            self._pending = []

    def _emit(self, batch: list[int]) -> None:
        self._send_batch(list(batch))
        self.batches_sent += 1
