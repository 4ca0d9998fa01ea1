"""Types shared by the event modules: identifiers, slugs, exact amounts, money, languages.

Amounts are :class:`~decimal.Decimal` everywhere (money, hours, indicator values) and travel
as JSON strings in plain notation, e.g. `"1250.50"`, so that no consumer rounds them.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints
from pydantic.json_schema import WithJsonSchema

from ideabank_contracts.envelope import EventData
from ideabank_contracts.subjects import TOKEN_PATTERN

DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"

#: Opaque identifier of an aggregate (idea, person, org unit, ...), unique within a tenant.
Id = Annotated[str, StringConstraints(min_length=1, max_length=100)]
#: A tenant or network slug; always a valid single NATS subject token (e.g. `boras`).
Slug = Annotated[str, StringConstraints(pattern=TOKEN_PATTERN, max_length=63)]
#: A one-line text such as a title.
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=300)]
#: A free text written by a person (description, motivation, lessons learned, ...).
LongText = Annotated[str, StringConstraints(min_length=1, max_length=20_000)]
#: A calendar year of the reporting period.
Year = Annotated[int, Field(ge=2000, le=2100)]
#: Exact decimal amount, serialised as a JSON string in plain (non-exponent) notation.
Amount = Annotated[
    Decimal,
    PlainSerializer(lambda value: format(value, "f"), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": DECIMAL_PATTERN}),
]
#: A point in time with its UTC offset.
Timestamp = AwareDatetime


class Currency(StrEnum):
    """ISO 4217 currency of the network's municipalities."""

    SEK = "SEK"
    NOK = "NOK"
    DKK = "DKK"


class Language(StrEnum):
    """A person's preferred language (ISO 639-1)."""

    SV = "sv"
    EN = "en"
    NB = "nb"
    DA = "da"


class Money(BaseModel):
    """An exact amount of money in one currency."""

    model_config = ConfigDict(frozen=True)

    amount: Amount = Field(description="Amount in the currency's main unit, e.g. 1250.50")
    currency: Currency = Field(description="ISO 4217 currency code")


class IdeaEventData(EventData):
    """Base of every event about one idea: it always names the idea.

    Idea events carry person ids only; names and email addresses come from the tenancy
    person events (`person.registered` / `person.updated`).
    """

    idea_id: Id = Field(description="Id of the idea this event is about")
