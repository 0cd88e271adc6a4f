"""The API's own settings, beside the shared ones (same `MEMETHRESHER_` prefix)."""

from __future__ import annotations

import functools

from memethresher_shared.settings import CHOICES, LOOPBACK_HOSTS, Settings
from pydantic import Field, field_validator

WILDCARD_HOSTS = ("0.0.0.0", "::", "")

# Key (as in KeyboardEvent.key, "Shift+" prefixed for much-better) -> action on the rating page.
DEFAULT_KEY_MAP: dict[str, str] = {
    "ArrowLeft": "a",
    "1": "a",
    "ArrowRight": "b",
    "2": "b",
    "Shift+ArrowLeft": "a+",
    "Shift+ArrowRight": "b+",
    "ArrowDown": "tie",
    "0": "tie",
    "Backspace": "undo",
    "u": "undo",
    "s": "skip",
    "?": "help",
}
ACTIONS = (*CHOICES, "undo", "skip", "help")


class ApiSettings(Settings):
    """What only the web service needs."""

    # Host names the API answers to (the `Host` header, without port), so a page on another name
    # that resolves here (DNS rebinding) is refused. Empty: the loopback names and `host`; bound to
    # every interface (0.0.0.0, ::), any name, as the token then guards every request. "*": any.
    allowed_hosts: list[str] = Field(default_factory=list)
    key_map: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_KEY_MAP))
    prefetch_pairs: int = Field(default=4, ge=1, le=20)
    thumbnail_sizes: tuple[int, ...] = (256, 512, 1024)
    worker_ping_timeout_s: float = Field(default=1.0, gt=0, le=10)

    @field_validator("key_map")
    @classmethod
    def _known_actions(cls, key_map: dict[str, str]) -> dict[str, str]:
        bad = sorted(action for action in key_map.values() if action not in ACTIONS)
        if bad:
            raise ValueError(f"MEMETHRESHER_KEY_MAP: unknown action(s) {bad}; known: {list(ACTIONS)}")
        return key_map

    @property
    def answered_hosts(self) -> frozenset[str] | None:
        """The host names requests may name, lower case; None for any."""
        if "*" in self.allowed_hosts or (not self.allowed_hosts and self.host in WILDCARD_HOSTS):
            return None
        names = self.allowed_hosts or [*LOOPBACK_HOSTS, self.host]
        return frozenset(name.lower().strip("[]") for name in names)


@functools.cache
def get_api_settings() -> ApiSettings:
    return ApiSettings()
