"""Evaluation's domain: plain Python, no framework imports."""

from ideabank_evaluation.domain.errors import DomainError, Forbidden, InvalidTransition

__all__ = ["DomainError", "Forbidden", "InvalidTransition"]
