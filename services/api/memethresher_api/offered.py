"""Pairs recently handed out for rating, held back from other requests for a while."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, KeysView

from memethresher_api.schemas import PairOut

HOLD_S = 60.0
RATED_S = 5.0  # longer than any read of pending pairs takes


class OfferedPairs:
    """Acquisition pairs handed to a rater in the last `hold_s` seconds and not yet rated.

    Another page asking meanwhile (a second tab, a phone beside the laptop) is handed the next
    pending pair instead of the same one, so one judgement is not asked twice and the two saves do
    not queue on one row. Once every pending pair is held they are handed out again (see
    `pairs.next_pairs`), and a held pair that is never rated comes back after `hold_s`.

    Held by the app (`app.state.offered`) and used on the event loop only. Per process: with several
    uvicorn workers each holds what it handed out."""

    def __init__(self, hold_s: float = HOLD_S, max_pairs: int = 1000, clock: Callable[[], float] = time.monotonic):
        self.hold_s = hold_s
        self.max_pairs = max_pairs
        self._clock = clock
        self._until: OrderedDict[int, float] = OrderedDict()  # pair id -> end of hold, oldest first
        self._rated: OrderedDict[int, float] = OrderedDict()  # pair id -> when it was rated
        self.choosing = 0  # requests between reading `held()` and `take()`

    def held(self) -> list[int]:
        return list(self._held_now())

    def _held_now(self) -> KeysView[int]:
        now = self._clock()
        while self._until and next(iter(self._until.values())) <= now:
            self._until.popitem(last=False)
        return self._until.keys()

    def offer(self, pair_ids: Iterable[int | None]) -> None:
        until = self._clock() + self.hold_s
        for pair_id in pair_ids:
            if pair_id is not None:
                self._until[pair_id] = until
                self._until.move_to_end(pair_id)
        while len(self._until) > self.max_pairs:
            self._until.popitem(last=False)

    def take(self, candidates: list[PairOut], count: int) -> list[PairOut]:
        """The first `count` fresh candidates (held ones, then rated ones, only if too few), now held.

        Called after the database answered: a request that chose meanwhile may have taken some of
        the candidates, which is why callers ask for spares."""
        fresh = self.fresh(candidates)
        fresh_ids = {id(pair) for pair in fresh}
        rated = self._recently_rated()
        rest = sorted(
            (pair for pair in candidates if id(pair) not in fresh_ids), key=lambda pair: pair.pair_id in rated
        )
        chosen = (fresh + rest)[:count]
        self.offer(pair.pair_id for pair in chosen)
        return chosen

    def fresh(self, candidates: list[PairOut]) -> list[PairOut]:
        """The candidates neither held nor rated a moment ago (random pairs always)."""
        # Views, not copies: up to `max_pairs` recently rated ids are checked on every request.
        held, rated = self._held_now(), self._recently_rated()
        return [p for p in candidates if p.pair_id is None or not (p.pair_id in held or p.pair_id in rated)]

    def release(self, pair_ids: Iterable[int | None]) -> None:
        """Rated: no longer held, as the database no longer offers it; but a read that began before
        the rating was committed may still return it, so `take` passes over it for a few seconds."""
        now = self._clock()
        for pair_id in pair_ids:
            if pair_id is not None:
                self._until.pop(pair_id, None)
                self._rated[pair_id] = now
        while len(self._rated) > self.max_pairs:
            self._rated.popitem(last=False)

    def _recently_rated(self) -> KeysView[int]:
        since = self._clock() - RATED_S
        while self._rated and next(iter(self._rated.values())) < since:
            self._rated.popitem(last=False)
        return self._rated.keys()
