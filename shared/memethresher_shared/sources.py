"""Source targets: parse and validate what a user typed, and add a source idempotently.

The API and the CLI both validate user input here, so the parsing is pure (no HTTP) and
every refusal is a `ValueError` whose message names what is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from memethresher_shared.db import upsert_insert
from memethresher_shared.models import Source, utcnow

KINDS = ("folder", "reddit")
SORTS = ("new", "hot", "top")
TIME_WINDOWS = ("hour", "day", "week", "month", "year", "all")
DEFAULT_INTERVAL_S = {"folder": 3600, "reddit": 900}
MIN_INTERVAL_S = 60

# Reddit's own rules: subreddits 2-21 characters (letters, digits, underscore); users 3-20
# with dashes allowed; multireddit names up to 50.
_SUBREDDIT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]{1,20}$")
_USER = re.compile(r"^[A-Za-z0-9_-]{3,20}$")
_MULTI = re.compile(r"^[A-Za-z0-9_]{1,50}$")


@dataclass(frozen=True)
class RedditTarget:
    """A parsed Reddit listing: subreddits, a user's multireddit, or a user's submissions."""

    kind: str  # "subreddits" | "multireddit" | "user"
    subreddits: tuple[str, ...] = ()
    user: str = ""
    multi: str = ""

    @property
    def canonical(self) -> str:
        if self.kind == "subreddits":
            return "r/" + "+".join(self.subreddits)
        if self.kind == "multireddit":
            return f"user/{self.user}/m/{self.multi}"
        return f"user/{self.user}"

    def listing_path(self, sort: str) -> str:
        """The API path of this listing sorted by `sort`, e.g. `/r/a+b/new.json`."""
        if self.kind == "user":
            return f"/user/{self.user}/submitted.json"
        return f"/{self.canonical}/{sort}.json"


@dataclass(frozen=True)
class SourceSpec:
    """A validated source: its kind, canonical target and options."""

    kind: str
    target: str
    options: dict[str, Any] = field(default_factory=dict)
    interval_s: int = 3600


def parse_reddit_target(text: str) -> RedditTarget:
    """Parse `r/a+b`, `user/NAME/m/MULTI` (or `/user/...`, `u/...`) or `user/NAME`."""
    raw = text.strip()
    cleaned = re.sub(r"^https?://(www\.|old\.)?reddit\.com", "", raw).strip("/")
    parts = [p for p in cleaned.split("/") if p]
    if len(parts) == 2 and parts[0].lower() == "r":
        names = parts[1].split("+")
        bad = [n for n in names if not _SUBREDDIT.match(n)]
        if bad:
            raise ValueError(f"reddit target {raw!r}: invalid subreddit name(s) {bad}")
        return RedditTarget("subreddits", subreddits=tuple(n.lower() for n in names))
    if parts and parts[0].lower() in ("user", "u") and len(parts) >= 2:
        user = parts[1]
        if not _USER.match(user):
            raise ValueError(f"reddit target {raw!r}: invalid user name {user!r}")
        if len(parts) == 2 or (len(parts) == 3 and parts[2].lower() == "submitted"):
            return RedditTarget("user", user=user)
        if len(parts) == 4 and parts[2].lower() == "m" and _MULTI.match(parts[3]):
            return RedditTarget("multireddit", user=user, multi=parts[3].lower())
    raise ValueError(f"reddit target {raw!r} is not one of: r/SUB, r/SUB1+SUB2, user/NAME/m/MULTI, user/NAME")


def _reddit_options(options: dict[str, Any]) -> dict[str, Any]:
    sort = str(options.get("sort") or "new").lower()
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
    clean: dict[str, Any] = {"sort": sort}
    if options.get("stream"):
        # Polled at an interval adapted to how fast the source posts.
        clean["stream"] = True
    time_window = options.get("time")
    if time_window is not None:
        if sort != "top":
            raise ValueError("time window applies only to sort 'top'")
        if str(time_window).lower() not in TIME_WINDOWS:
            raise ValueError(f"time must be one of {', '.join(TIME_WINDOWS)}, not {time_window!r}")
        clean["time"] = str(time_window).lower()
    elif sort == "top":
        clean["time"] = "day"
    return clean


def _folder_target(text: str) -> str:
    if not text.strip():
        raise ValueError("folder path is empty")
    path = Path(text.strip()).expanduser().resolve()
    # A folder that does not exist yet is allowed (it may be mounted later); a file is not.
    if path.exists() and not path.is_dir():
        raise ValueError(f"folder path {str(path)!r} is a file, not a folder")
    return str(path)


def _interval(kind: str, options: dict[str, Any]) -> int:
    value = options.get("interval_s", DEFAULT_INTERVAL_S[kind])
    try:
        interval = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"interval_s must be a whole number of seconds, not {value!r}") from None
    if interval < MIN_INTERVAL_S:
        raise ValueError(f"interval_s must be at least {MIN_INTERVAL_S} seconds, not {interval}")
    return interval


def parse_source(kind: str, target: str, **options: Any) -> SourceSpec:
    """Validate a source as a user typed it; raises ValueError naming the bad part."""
    kind = (kind or "").strip().lower()
    if kind not in KINDS:
        raise ValueError(f"source kind must be one of {', '.join(KINDS)}, not {kind!r}")
    known = {"sort", "time", "interval_s", "watch", "stream"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"unknown source option(s): {', '.join(unknown)}")
    interval = _interval(kind, options)
    if kind == "folder":
        clean: dict[str, Any] = {"watch": bool(options.get("watch", False))}
        return SourceSpec("folder", _folder_target(target), clean, interval)
    return SourceSpec("reddit", parse_reddit_target(target).canonical, _reddit_options(options), interval)


def find_source(session: Session, kind: str, target: str) -> Source | None:
    """The source `target` names, however it is spelled (`r/Memes`, `/r/memes/`); None if not added."""
    spec = parse_source(kind, target)
    return session.scalar(select(Source).where(Source.kind == spec.kind, Source.target == spec.target))


def add_source(session: Session, kind: str, target: str, **options: Any) -> Source:
    """Add a source, or return the existing one with the same kind and target."""
    spec = parse_source(kind, target, **options)
    existing = find_source(session, kind, target)
    if existing is not None:
        return existing
    # ON CONFLICT DO NOTHING: two concurrent adds of the same source yield one row.
    session.execute(
        upsert_insert(session, Source)
        .values(
            kind=spec.kind,
            target=spec.target,
            options=spec.options,
            interval_s=spec.interval_s,
            enabled=True,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["kind", "target"])
    )
    return session.scalars(select(Source).where(Source.kind == spec.kind, Source.target == spec.target)).one()
