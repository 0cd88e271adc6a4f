"""Which encoder serves and which one is being switched to, blue/green.

The active encoder is the one of the newest finished switch (the `embedder` setting before any); a
switch still embedding, training or comparing is the pending one. The old encoder keeps serving pairs,
scores and curation until the trainer finds the new one's model at least as good and completes it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, exists, func, select
from sqlalchemy.orm import Session

from memethresher_shared.db import get_engine
from memethresher_shared.encoder_registry import parse_encoder_id
from memethresher_shared.models import Embedding, EncoderSwitch, Meme, utcnow
from memethresher_shared.settings import get_settings

PENDING = ("embedding", "training", "comparing")
FINISHED = ("done", "rejected", "cancelled")
# Where a switch may go from each pending status; a finished one goes nowhere.
MOVES: dict[str, tuple[str, ...]] = {
    "embedding": ("training", "cancelled"),
    "training": ("comparing", "embedding", "cancelled"),
    "comparing": ("done", "rejected", "cancelled"),
}
# How long a process trusts the active encoder it read: the hot paths skip a query per request, and a
# finished switch reaches every API process within this long (the old encoder serves meanwhile).
ACTIVE_TTL_S = 2.0


class SwitchRefused(ValueError):
    """A switch that cannot start, or a move the state machine does not allow; the message says why."""


def active_encoder(session: Session | Connection, default: str) -> str:
    newest_done = (
        select(EncoderSwitch.encoder).where(EncoderSwitch.status == "done").order_by(EncoderSwitch.id.desc()).limit(1)
    )
    return session.scalar(newest_done) or default


def pending_switch(session: Session) -> EncoderSwitch | None:
    query = select(EncoderSwitch).where(EncoderSwitch.status.in_(PENDING)).order_by(EncoderSwitch.id.desc()).limit(1)
    return session.scalar(query)


def encoders_to_embed(session: Session, default: str) -> list[str]:
    """The active encoder, then the pending one if a switch is under way."""
    pending = pending_switch(session)
    active = active_encoder(session, default)
    return [active] if pending is None or pending.encoder == active else [active, pending.encoder]


@dataclass
class _Cached:
    encoder: str
    until: float


class ActiveCache:
    """The active encoder per database, read at most once per `ttl_s` by each process."""

    def __init__(self, ttl_s: float = ACTIVE_TTL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._by_database: dict[str, _Cached] = {}

    def get(self, default: str) -> str:
        key = f"{get_settings().database_url}|{default}"
        now = self._clock()
        with self._lock:
            cached = self._by_database.get(key)
        if cached is not None and cached.until > now:
            return cached.encoder
        with get_engine().connect() as connection:
            encoder = active_encoder(connection, default)
        with self._lock:
            self._by_database[key] = _Cached(encoder, now + self.ttl_s)
        return encoder

    def forget(self) -> None:
        with self._lock:
            self._by_database.clear()


_ACTIVE = ActiveCache()


def serving_encoder(default: str) -> str:
    """The active encoder, cached for a moment: for paths that run on every request."""
    return _ACTIVE.get(default)


def forget_serving_encoder() -> None:
    """After this process started, completed or cancelled a switch: read the database again."""
    _ACTIVE.forget()


def begin_switch(session: Session, encoder: str, default: str, total: int) -> EncoderSwitch:
    """A pending switch to `encoder` (a registry id, other than the active one, none under way)."""
    parse_encoder_id(encoder)  # a ValueError listing the known ids for anything else
    active = active_encoder(session, default)
    if encoder == active:
        raise SwitchRefused(f"{encoder} is already the active encoder")
    pending = pending_switch(session)
    if pending is not None:
        raise SwitchRefused(f"a switch to {pending.encoder} is under way ({pending.status}); cancel it first")
    switch = EncoderSwitch(encoder=encoder, previous=active, status="embedding", total=total, comparison={})
    session.add(switch)
    session.flush()
    return switch


def move(switch: EncoderSwitch, status: str, reason: str | None = None, at: datetime | None = None) -> None:
    """Advance `switch` to `status` if the state machine allows it; a finished switch gets its time."""
    allowed = MOVES.get(switch.status, ())
    if status not in allowed:
        raise SwitchRefused(f"a switch that is {switch.status} cannot become {status}")
    switch.status = status
    if reason is not None:
        switch.reason = reason
    if status in FINISHED:
        switch.finished_at = at or utcnow()


def cancel(session: Session, reason: str = "cancelled") -> EncoderSwitch:
    """Cancel the pending switch: the active encoder stays, its vectors and models stay as they are."""
    pending = pending_switch(session)
    if pending is None:
        raise SwitchRefused("no encoder switch is under way")
    move(pending, "cancelled", reason)
    return pending


def missing_vectors(session: Session, encoder: str) -> list[int]:
    """Ids of memes with no vector for `encoder`, newest first (the order they are embedded in)."""
    has_vector = exists().where(Embedding.meme_id == Meme.id, Embedding.encoder == encoder)
    query = select(Meme.id).where(Meme.status != "failed", ~has_vector).order_by(Meme.added_at.desc(), Meme.id.desc())
    return list(session.scalars(query))


def coverage(session: Session, encoder: str) -> tuple[int, int]:
    """How many memes have a vector for `encoder`, of how many that need one."""
    total = session.scalar(select(func.count()).select_from(Meme).where(Meme.status != "failed")) or 0
    has_vector = exists().where(Embedding.meme_id == Meme.id, Embedding.encoder == encoder)
    done = session.scalar(select(func.count()).select_from(Meme).where(Meme.status != "failed", has_vector)) or 0
    return int(done), int(total)


def embedded_since(session: Session, encoder: str, since: datetime) -> int:
    query = select(func.count()).select_from(Embedding).where(Embedding.encoder == encoder)
    return int(session.scalar(query.where(Embedding.created_at >= since)) or 0)


def eta_s(done_since_start: int, elapsed_s: float, left: int) -> float | None:
    """Seconds until `left` more are embedded at the rate seen since the switch began; None before any."""
    if left <= 0:
        return 0.0
    if done_since_start <= 0 or elapsed_s <= 0:
        return None
    return left / (done_since_start / elapsed_s)
