"""Rating axes named in a request: refused unless configured (`Settings.all_axes`)."""

from __future__ import annotations

from memethresher_shared.settings import Settings

from memethresher_api.errors import InvalidField


def check_axis(settings: Settings, axis: str | None, field: str = "axis") -> str | None:
    """`axis` itself when it is configured (or None); else a 422 naming the query field and the axes."""
    if axis is not None and axis not in settings.all_axes:
        raise InvalidField(f"unknown axis {axis!r}; configured: {list(settings.all_axes)}", "query", field)
    return axis
