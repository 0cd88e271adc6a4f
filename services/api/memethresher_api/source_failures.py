"""What went wrong with each source, in words, for the dashboard: the last crawl's error, the images it
could not download by reason, and the posts waiting to be fetched again; and a retry of them now."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from memethresher_shared.models import Post, Source, utcnow
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

# The crawler's short labels of image failures, as a person reads them.
FAILURE_WORDS = {
    "bomb": "decompression bombs", "decode": "unreadable images", "not_image": "not images",
    "empty": "empty files", "too_large": "too large", "timeout": "timed out", "refused_address": "internal addresses",
    "refused_scheme": "not http(s)", "redirects": "too many redirects", "dns": "host not found",
    "network": "network errors", "io": "unreadable files", "other": "other reasons",
}  # fmt: skip
EXAMPLES = 3  # posts shown with their reason, per source


def failure_words(categories: dict[str, int]) -> str:
    """`{"http_404": 2, "timeout": 1}` -> "2 HTTP 404, 1 timed out"."""

    def label(category: str) -> str:
        if category.startswith("http_"):
            return "HTTP " + category.removeprefix("http_")
        return FAILURE_WORDS.get(category, category)

    return ", ".join(f"{n} {label(c)}" for c, n in sorted(categories.items(), key=lambda kv: -kv[1]))


def _waiting(session: Session) -> dict[int, int]:
    query = select(Post.source_id, func.count()).where(Post.retry_at.is_not(None)).group_by(Post.source_id)
    return {source_id: count for source_id, count in session.execute(query).all()}


def _examples(session: Session, source_id: int) -> list[dict[str, Any]]:
    query = (
        select(Post.title, Post.url, Post.skip_reason)
        .where(Post.source_id == source_id, Post.retry_at.is_not(None))
        .order_by(Post.crawled_at.desc())
        .limit(EXAMPLES)
    )
    return [{"title": title, "url": url, "reason": reason} for title, url, reason in session.execute(query).all()]


def source_failures(session: Session) -> list[dict[str, Any]]:
    """Every source whose last crawl failed or lost images, or whose posts wait for another try."""
    waiting = _waiting(session)
    found = []
    for source in session.scalars(select(Source).order_by(Source.id)):
        result = source.last_result or {}
        error = (result.get("refusal") or {}).get("reason") or result.get("error")
        failures = {k: v for k, v in (result.get("image_failures") or {}).items() if v}
        if not (error or failures or waiting.get(source.id)):
            continue
        found.append({
            "source_id": source.id, "kind": source.kind, "target": source.target,
            "listing": ", ".join(p for p in (source.sort, source.time_window) if p),
            "last_crawl_at": source.last_crawl_at, "error": error,
            "images_failed": sum(failures.values()), "image_failures": failure_words(failures),
            "posts_waiting": waiting.get(source.id, 0), "examples": _examples(session, source.id),
        })  # fmt: skip
    return found


def retry_now(session: Session, source_id: int, now: datetime | None = None) -> int:
    """Make the source's posts waiting for another try due now; how many there are."""
    moment = now or utcnow()
    statement = update(Post).where(Post.source_id == source_id, Post.retry_at.is_not(None)).values(retry_at=moment)
    return int(session.execute(statement).rowcount or 0)  # type: ignore[attr-defined]
