"""Change a source's sort, time window, interval, watch, stream or link previews, checked as when it was
added. The API and the CLI both edit sources here; every refusal is a `SourceOptionError` naming what is
wrong. Another sort or time window is another listing: where the crawl stopped is forgotten."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from memethresher_shared.models import Source
from memethresher_shared.sources import OPTIONS, SourceOptionError, parse_source

EDITABLE = frozenset({"sort", "time", "interval_s", "watch", "stream", "take_link_previews"})


def current_options(source: Source) -> dict[str, Any]:
    """The source's options as a user would give them to `parse_source` (only those of its kind)."""
    given = {"sort": source.sort or None, "time": source.time_window or None, "interval_s": source.interval_s,
             **source.options}  # fmt: skip
    return {k: v for k, v in given.items() if k in OPTIONS[source.kind] and v is not None}


def edit_source(session: Session, source: Source, changes: dict[str, Any]) -> Source:
    """Apply `changes` (a None value puts an option back to its default) to `source`; raises
    SourceOptionError if one is wrong or the source would become the same listing as another."""
    unknown = sorted(set(changes) - EDITABLE)
    if unknown:
        raise SourceOptionError(f"cannot change {', '.join(unknown)} (editable: {', '.join(sorted(EDITABLE))})")
    options = current_options(source)
    if "sort" in changes and "time" not in changes:
        options.pop("time", None)  # the new sort's own default window
    options.update(changes)
    options = {k: v for k, v in options.items() if v is not None}
    spec = parse_source(source.kind, source.target, **options)
    twin = session.scalar(
        select(Source.id).where(
            Source.kind == spec.kind,
            Source.target == spec.target,
            Source.sort == spec.sort,
            Source.time_window == spec.time_window,
            Source.id != source.id,
        )  # fmt: skip
    )
    if twin is not None:
        listing = " ".join(part for part in (spec.target, spec.sort, spec.time_window) if part)
        raise SourceOptionError(f"source #{twin} is already that listing ({listing})")
    if (spec.sort, spec.time_window) != (source.sort, source.time_window):
        # The cursors where the old listing's crawl stopped mean nothing in another listing.
        source.crawl_state = {k: v for k, v in (source.crawl_state or {}).items() if k != "gaps"}
    kept = {k: v for k, v in source.options.items() if k not in OPTIONS[source.kind]}  # e.g. the library mark
    source.sort, source.time_window, source.interval_s = spec.sort, spec.time_window, spec.interval_s
    source.options = {**kept, **spec.options}
    return source
