"""What the API refuses, as typed errors: domain code raises them, `main.py` answers each with its
4xx, shaped like FastAPI's own errors (a field's errors name it in `loc`)."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A request refused with a message for the user; `location` and `field` name what was wrong."""

    status = 400

    def __init__(self, message: str, location: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.location, self.field = message, location, field

    def detail(self) -> str | list[dict[str, Any]]:
        if self.field is None:
            return self.message
        return [{"loc": [self.location or "body", self.field], "msg": self.message, "type": "value_error"}]


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    """The request is valid but the state it acts on has moved on (e.g. an item decided already)."""

    status = 409


class InvalidField(ApiError):
    status = 422


class NotEnoughMemes(NotFound):
    """Fewer than two memes have a vector under the current encoder, or none left to pair."""


BY_STATUS: dict[int, type[ApiError]] = {cls.status: cls for cls in (ApiError, NotFound, Conflict, InvalidField)}
