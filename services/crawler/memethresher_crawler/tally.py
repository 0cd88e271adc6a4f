"""What each source has brought so far, counted from its recorded posts: posts taken and how, memes,
posts skipped by reason, and posts waiting to be fetched again."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from memethresher_shared.models import Post, PostMeme
from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from memethresher_crawler.results import reason_head

# Posts recorded before the crawler noted how it took their images.
NOT_RECORDED = "not recorded"


@dataclass
class SourceTally:
    """One source's recorded posts: taken (by how), skipped (by reason head), the distinct memes they carry."""

    taken: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    memes: int = 0
    waiting: int = 0  # posts whose images failed for passing reasons, to be fetched again


def source_tallies(session: Session) -> dict[int, SourceTally]:
    """{source id: its tally}, for every source that has recorded posts."""
    tallies: dict[int, SourceTally] = {}
    counts = select(Post.source_id, Post.taken_as, Post.skip_reason, Post.retry_at.is_not(None), func.count())
    grouped = counts.group_by(Post.source_id, Post.taken_as, Post.skip_reason, Post.retry_at.is_not(None))
    for source_id, taken_as, reason, waiting, count in session.execute(grouped):
        tally = tallies.setdefault(source_id, SourceTally())
        if reason is None:
            tally.taken[taken_as or NOT_RECORDED] += count
        else:
            tally.skipped[reason_head(reason)] += count
        tally.waiting += count if waiting else 0
    memes = select(Post.source_id, func.count(distinct(PostMeme.meme_id))).join(PostMeme).group_by(Post.source_id)
    for source_id, count in session.execute(memes):
        tallies.setdefault(source_id, SourceTally()).memes = count
    return tallies


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def describe_tally(tally: SourceTally) -> str:
    """`taken: 97 posts, 96 memes (image 58, preview of a link 14); skipped: 3 posts (video 3)`."""
    taken = sum(tally.taken.values())
    line = f"taken: {taken} post{'s' if taken != 1 else ''}, {tally.memes} meme{'s' if tally.memes != 1 else ''}"
    if tally.taken:
        line += f" ({_counts(tally.taken)})"
    skipped = sum(tally.skipped.values())
    line += f"; skipped: {skipped} post{'s' if skipped != 1 else ''}"
    if tally.skipped:
        line += f" ({_counts(tally.skipped)})"
    return line
