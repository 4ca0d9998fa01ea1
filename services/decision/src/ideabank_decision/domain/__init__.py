"""The decision service's rules as plain Python: statuses, who may decide, and benefit checks."""

from ideabank_decision.domain.errors import DomainError, Forbidden, IllegalTransition, InvalidInput

__all__ = ["DomainError", "Forbidden", "IllegalTransition", "InvalidInput"]
