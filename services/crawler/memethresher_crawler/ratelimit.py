"""Reddit's request budget, shared through Redis so that every crawler worker together stays
within it: a sliding one-minute window, plus a pause all workers obey after a 429 or when
Reddit's `x-ratelimit-*` headers say the budget is spent."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping

import redis

# Each budget has a name: Reddit counts an app's token, a logged-in session and a feed host apart.
WINDOW_KEY = "memethresher:{name}-budget:window"
PAUSE_KEY = "memethresher:{name}-budget:paused-until"

# Atomically: honour a pause, drop requests older than the window, and take a slot if one is
# free; otherwise return how long until one frees up. Redis's clock is the one all workers share.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if paused > now then return tostring(paused - now) end
local window, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('EXPIRE', KEYS[1], math.ceil(window) + 1)
  return '0'
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tostring(tonumber(oldest[2]) + window - now)
"""

_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local target = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if target > current then
  redis.call('SET', KEYS[1], tostring(target), 'PX', math.ceil(tonumber(ARGV[1]) * 1000) + 1000)
end
return tostring(target)
"""


class SharedBudget:
    """At most `per_minute` requests in any 60 s, across every process using the same Redis."""

    def __init__(self, client: redis.Redis, per_minute: int, window_s: float = 60.0, name: str = "reddit") -> None:
        self.client = client
        self.window_key, self.pause_key = WINDOW_KEY.format(name=name), PAUSE_KEY.format(name=name)
        self.per_minute = per_minute
        self.window_s = window_s
        self._acquire = client.register_script(_ACQUIRE)
        self._pause = client.register_script(_PAUSE)

    def try_acquire(self) -> float:
        """Take a slot and return 0, or return the seconds to wait before trying again."""
        member = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}"
        wait = self._acquire(keys=[self.window_key, self.pause_key], args=[self.window_s, self.per_minute, member])
        return float(wait)

    async def acquire(self) -> None:
        """Wait until a request may be sent, then count it."""
        while (wait := self.try_acquire()) > 0:
            await asyncio.sleep(min(wait + 0.01, self.window_s))

    def pause(self, seconds: float) -> None:
        """Make every worker wait `seconds` before its next request (longer pauses win)."""
        if seconds > 0:
            self._pause(keys=[self.pause_key], args=[seconds])

    def obey_headers(self, remaining: float | None, reset_s: float | None) -> None:
        """Reddit says how many requests are left until its window resets; pause when none are."""
        if remaining is not None and reset_s is not None and remaining < 1:
            self.pause(reset_s)


def parse_ratelimit(headers: Mapping[str, str]) -> tuple[float | None, float | None, float | None]:
    """(remaining, reset seconds, used) from `x-ratelimit-*` headers; None where absent or garbled."""

    def number(name: str) -> float | None:
        try:
            return float(headers[name])
        except (KeyError, TypeError, ValueError):
            return None

    return number("x-ratelimit-remaining"), number("x-ratelimit-reset"), number("x-ratelimit-used")
