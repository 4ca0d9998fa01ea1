"""Why the domain refuses something; the API turns each kind into its HTTP problem."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain refused the action."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    """A field's value is not acceptable (422)."""


class IllegalTransition(DomainError):
    """The action does not fit the idea's current status (409)."""


class Forbidden(DomainError):
    """The caller may not do this to this idea (403)."""
