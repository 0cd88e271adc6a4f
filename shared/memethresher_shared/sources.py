"""Source targets: parse and validate what a user typed, and add a source idempotently.

The API and the CLI both validate user input here, so the parsing is pure (no HTTP) and
every refusal is a `ValueError` whose message names what is wrong. A source is one listing:
its kind, target, sort and time window together.
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

KINDS = ("folder", "reddit", "lemmy")
SORTS = ("new", "hot", "top", "rising", "controversial")  # every kind's sorts; see KIND_SORTS
KIND_SORTS = {"reddit": SORTS, "lemmy": ("new", "hot", "top")}
TIMED_SORTS = ("top", "controversial")  # the sorts that take a time window
TIME_WINDOWS = ("hour", "day", "week", "month", "year", "all")
DEFAULT_INTERVAL_S = {"folder": 3600, "reddit": 900, "lemmy": 900}
# What each kind of source may be given, as the CLI's flags and the Sources page's fields.
_LISTING_OPTIONS = frozenset({"sort", "time", "interval_s", "stream", "take_link_previews"})
OPTIONS = {"folder": frozenset({"interval_s", "watch"}), "reddit": _LISTING_OPTIONS, "lemmy": _LISTING_OPTIONS}
MIN_INTERVAL_S = 60

# Reddit's own rules: subreddits 2-21 characters (letters, digits, underscore); users 3-20
# with dashes allowed; multireddit names up to 50.
_SUBREDDIT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]{1,20}$")
_USER = re.compile(r"^[A-Za-z0-9_-]{3,20}$")
_MULTI = re.compile(r"^[A-Za-z0-9_]{1,50}$")
# Lemmy's own rules: community names 3-20 letters, digits or underscores (its default maximum length).
_COMMUNITY = re.compile(r"^[A-Za-z0-9_]{3,20}$")
_HOST = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_LEMMY_URL = re.compile(r"^https?://([^/]+)/c/([^/@]+)/?$")
LEMMY_FORMS = "COMMUNITY@INSTANCE (e.g. memes@lemmy.ml), !COMMUNITY@INSTANCE, https://INSTANCE/c/COMMUNITY"

TARGET_FORMS = "r/SUB, r/SUB1+SUB2, r/all, r/popular, user/NAME/m/MULTI, user/NAME, front"
# Typed as a target, these mean the front page (Reddit's default listing, `/new.json` etc.).
FRONT_PAGE = frozenset({"front", "frontpage", "front page", ""})
# Listings across all of Reddit; they parse as subreddit names, but cannot be combined with others.
ALL_OF_REDDIT = frozenset({"all", "popular"})


class SourceOptionError(ValueError):
    """A source option (sort, time window, interval, watch, ...) is wrong; other ValueErrors are about the target."""


@dataclass(frozen=True)
class RedditTarget:
    """A parsed Reddit listing: subreddits (r/all, r/popular too), a multireddit, a user's posts, the front page."""

    kind: str  # "subreddits" | "multireddit" | "user" | "front"
    subreddits: tuple[str, ...] = ()
    user: str = ""
    multi: str = ""

    @property
    def canonical(self) -> str:
        if self.kind == "subreddits":
            return "r/" + "+".join(self.subreddits)
        if self.kind == "multireddit":
            return f"user/{self.user}/m/{self.multi}"
        if self.kind == "front":
            return "front"
        return f"user/{self.user}"

    def listing_path(self, sort: str) -> str:
        """The API path of this listing sorted by `sort`, e.g. `/r/a+b/new.json`, `/hot.json` for the front page."""
        if self.kind == "user":
            return f"/user/{self.user}/submitted.json"
        if self.kind == "front":
            return f"/{sort}.json"
        return f"/{self.canonical}/{sort}.json"


@dataclass(frozen=True)
class LemmyTarget:
    """A Lemmy community on its home instance, whose API serves its posts."""

    community: str
    instance: str

    @property
    def canonical(self) -> str:
        return f"{self.community}@{self.instance}"


def parse_lemmy_target(text: str) -> LemmyTarget:
    """Parse `memes@lemmy.ml`, `!memes@lemmy.ml` (Lemmy's own spelling) or `https://lemmy.ml/c/memes`."""
    raw = text.strip()
    url = _LEMMY_URL.match(raw)
    if url:
        instance, community = url.group(1), url.group(2)
    elif raw.count("@") == 1:
        community, instance = raw.removeprefix("!").removeprefix("c/").split("@")
    else:
        raise ValueError(f"lemmy target {raw!r} is not one of: {LEMMY_FORMS}")
    if not _COMMUNITY.match(community):
        raise ValueError(f"lemmy target {raw!r}: invalid community name {community!r} (3-20 letters, digits, _)")
    if not _HOST.match(instance.lower()):
        raise ValueError(f"lemmy target {raw!r}: {instance!r} is not an instance's host name (e.g. lemmy.ml)")
    return LemmyTarget(community.lower(), instance.lower())


@dataclass(frozen=True)
class SourceSpec:
    """A validated source: its kind, canonical target, sort and time window (its identity), and options."""

    kind: str
    target: str
    options: dict[str, Any] = field(default_factory=dict)
    interval_s: int = 3600
    sort: str = ""
    time_window: str = ""


def parse_reddit_target(text: str) -> RedditTarget:
    """Parse `r/a+b`, `r/all`, `r/popular`, `user/NAME/m/MULTI` (or `/user/...`, `u/...`), `user/NAME` or `front`."""
    raw = text.strip()
    cleaned = re.sub(r"^https?://(www\.|old\.)?reddit\.com", "", raw).strip("/")
    if cleaned.lower() in FRONT_PAGE and (cleaned or raw):
        return RedditTarget("front")
    parts = [p for p in cleaned.split("/") if p]
    if len(parts) == 2 and parts[0].lower() == "r":
        names = [n.lower() for n in parts[1].split("+")]
        bad = [n for n in names if not _SUBREDDIT.match(n)]
        if bad:
            raise ValueError(f"reddit target {raw!r}: invalid subreddit name(s) {bad}")
        if len(names) > 1 and ALL_OF_REDDIT & set(names):
            raise ValueError(f"reddit target {raw!r}: r/all and r/popular cannot be combined with other subreddits")
        return RedditTarget("subreddits", subreddits=tuple(names))
    if parts and parts[0].lower() in ("user", "u") and len(parts) >= 2:
        user = parts[1]
        if not _USER.match(user):
            raise ValueError(f"reddit target {raw!r}: invalid user name {user!r}")
        if len(parts) == 2 or (len(parts) == 3 and parts[2].lower() == "submitted"):
            return RedditTarget("user", user=user)
        if len(parts) == 4 and parts[2].lower() == "m" and _MULTI.match(parts[3]):
            return RedditTarget("multireddit", user=user, multi=parts[3].lower())
    raise ValueError(f"reddit target {raw!r} is not one of: {TARGET_FORMS}")


def _sort_and_time(kind: str, options: dict[str, Any]) -> tuple[str, str]:
    """A listing's sort and time window (top and controversial only; a day unless given)."""
    sort = str(options.get("sort") or "new").lower()
    if sort not in KIND_SORTS[kind]:
        raise SourceOptionError(f"sort must be one of {', '.join(KIND_SORTS[kind])} for {kind}, not {sort!r}")
    time_window = options.get("time")
    if time_window in (None, ""):
        return sort, "day" if sort in TIMED_SORTS else ""
    if sort not in TIMED_SORTS:
        raise SourceOptionError(f"time window applies only to sort 'top' and 'controversial', not {sort!r}")
    if str(time_window).lower() not in TIME_WINDOWS:
        raise SourceOptionError(f"time must be one of {', '.join(TIME_WINDOWS)}, not {time_window!r}")
    return sort, str(time_window).lower()


def _listing_options(options: dict[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    if options.get("stream"):
        # Polled at an interval adapted to how fast the source posts.
        clean["stream"] = True
    previews = options.get("take_link_previews")
    if previews is not None:
        if not isinstance(previews, bool):
            raise SourceOptionError(f"take_link_previews must be true or false, not {previews!r}")
        clean["take_link_previews"] = previews  # this source's own choice over the crawler's setting
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
        raise SourceOptionError(f"interval_s must be a whole number of seconds, not {value!r}") from None
    if interval < MIN_INTERVAL_S:
        raise SourceOptionError(f"interval_s must be at least {MIN_INTERVAL_S} seconds, not {interval}")
    return interval


def parse_source(kind: str, target: str, **options: Any) -> SourceSpec:
    """Validate a source as a user typed it; raises ValueError naming the bad part."""
    kind = (kind or "").strip().lower()
    if kind not in KINDS:
        raise ValueError(f"source kind must be one of {', '.join(KINDS)}, not {kind!r}")
    unknown = sorted(set(options) - OPTIONS[kind])
    if unknown:
        takes = ", ".join(sorted(OPTIONS[kind]))
        raise SourceOptionError(f"unknown source option(s): {', '.join(unknown)} (a {kind} source takes {takes})")
    interval = _interval(kind, options)
    if kind == "folder":
        clean: dict[str, Any] = {"watch": _flag(options.get("watch", False), "watch")}
        return SourceSpec("folder", _folder_target(target), clean, interval)
    sort, time_window = _sort_and_time(kind, options)
    canonical = _listing_target(kind, target, sort)
    return SourceSpec(kind, canonical, _listing_options(options), interval, sort, time_window)


def _listing_target(kind: str, target: str, sort: str) -> str:
    if kind == "lemmy":
        return parse_lemmy_target(target).canonical
    reddit = parse_reddit_target(target)
    if reddit.kind == "user" and sort == "rising":
        raise SourceOptionError("a user's posts are sorted new, hot, top or controversial, not rising")
    return reddit.canonical


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise SourceOptionError(f"{name} must be true or false, not {value!r}")
    return value


def _same_listing(spec: SourceSpec) -> Any:
    return select(Source).where(
        Source.kind == spec.kind, Source.target == spec.target,
        Source.sort == spec.sort, Source.time_window == spec.time_window,
    )  # fmt: skip


def find_source(session: Session, kind: str, target: str, **options: Any) -> Source | None:
    """The source of this listing (target however spelled, `r/Memes`, `/r/memes/`; same sort and time
    window); None if not added. Options other than sort and time do not make another source."""
    return session.scalar(_same_listing(parse_source(kind, target, **options)))


def add_source(session: Session, kind: str, target: str, **options: Any) -> Source:
    """Add a source, or return the existing one of the same listing (kind, target, sort, time window)."""
    spec = parse_source(kind, target, **options)
    existing = session.scalar(_same_listing(spec))
    if existing is not None:
        return existing
    # ON CONFLICT DO NOTHING: two concurrent adds of the same source yield one row.
    session.execute(
        upsert_insert(session, Source)
        .values(
            kind=spec.kind,
            target=spec.target,
            sort=spec.sort,
            time_window=spec.time_window,
            options=spec.options,
            interval_s=spec.interval_s,
            enabled=True,
            created_at=utcnow(),
        )  # fmt: skip
        .on_conflict_do_nothing(index_elements=["kind", "target", "sort", "time_window"])
    )
    return session.scalars(_same_listing(spec)).one()
