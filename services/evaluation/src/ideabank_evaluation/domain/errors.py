"""The three ways a request can break a rule; the API turns each into its problem status."""

from __future__ import annotations


class DomainError(ValueError):
    """A value breaks a rule (422); ``field`` names the input at fault, e.g. ``scores[2].score``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class InvalidTransition(Exception):
    """The idea's status does not allow the action (409)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Forbidden(Exception):
    """The caller may not act on this idea (403)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
