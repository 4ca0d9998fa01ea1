"""Sample events for the contract tests, built from each model's fields."""

from __future__ import annotations

import types
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

import pytest
from pydantic import AnyUrl, AwareDatetime, BaseModel
from pydantic.fields import FieldInfo

M = TypeVar("M", bound=BaseModel)

SAMPLE_TIME = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
SAMPLE_DATE = date(2025, 3, 14)


def _lower_bound(metadata: list[Any]) -> int | None:
    for item in metadata:
        if isinstance(item, FieldInfo):
            bound = _lower_bound(list(item.metadata))
            if bound is not None:
                return bound
        elif getattr(item, "ge", None) is not None:
            return int(item.ge)
    return None


def _value(annotation: Any, metadata: list[Any], name: str) -> Any:
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *extra = get_args(annotation)
        return _value(inner, [*metadata, *extra], name)
    if origin in (Union, types.UnionType):
        # Fill optional fields too, so every field travels through the round trip.
        inner = next(a for a in get_args(annotation) if a is not type(None))
        return _value(inner, metadata, name)
    if origin in (tuple, list):
        return (_value(get_args(annotation)[0], [], name),)
    if origin is Literal:
        return get_args(annotation)[0]
    if annotation is AwareDatetime or annotation is datetime:
        return SAMPLE_TIME
    if annotation is date:
        return SAMPLE_DATE
    if annotation is AnyUrl:
        return AnyUrl("https://deviations.example.se/cases/42")
    if isinstance(annotation, type):
        if issubclass(annotation, Enum):
            return next(iter(annotation))
        if issubclass(annotation, BaseModel):
            return build_sample(annotation)
        if issubclass(annotation, bool):
            return True
        if issubclass(annotation, int):
            bound = _lower_bound(metadata)
            return 3 if bound is None else bound
        if issubclass(annotation, Decimal):
            return Decimal("1250.50")
        if issubclass(annotation, str):
            if "email" in name:
                return "anna.andersson@example.se"
            if name == "country":
                return "SE"
            return f"sample-{name.replace('_', '-')}"
    raise TypeError(f"no sample for field {name!r} of type {annotation!r}")


def build_sample(model: type[M]) -> M:
    """An instance of ``model`` with every field, optional ones included, filled in."""
    values = {
        name: _value(field.annotation, list(field.metadata), name)
        for name, field in model.model_fields.items()
    }
    return model.model_validate(values)


@pytest.fixture
def make_sample() -> Callable[[type[BaseModel]], BaseModel]:
    """The sample factory, as a fixture."""
    return build_sample
