"""The inbound contract of deviation and complaint systems (flöde från identifierade avvikelser).

A deviation system publishes `deviations.v1.<tenant>.deviation.registered` when a
deviation or complaint is registered that holds a suggestion for improvement; intake turns
it into an idea with channel `deviation` and `source_ref` set to `deviation_id`.
It lives outside the ideas stream because another system owns it.
"""

from __future__ import annotations

from pydantic import AnyUrl, Field

from ideabank_contracts.envelope import EventData
from ideabank_contracts.events.common import Id, LongText, ShortText, Timestamp
from ideabank_contracts.subjects import DEVIATION_AGGREGATE, deviation_subject


class DeviationRegistered(EventData):
    """A deviation or complaint with a suggestion for improvement was registered elsewhere.

    Carries no personal data: the deviation system keeps who reported it.
    """

    aggregate = DEVIATION_AGGREGATE
    event = "registered"
    inbound = True

    deviation_id: Id = Field(description="Id of the deviation in the deviation system")
    source_system: ShortText = Field(description="Name of the deviation or complaint system")
    org_unit_id: Id = Field(description="Ideabank org unit the deviation concerns")
    title: ShortText = Field(description="Short title of the deviation")
    description: LongText = Field(description="What happened")
    suggested_improvement: LongText | None = Field(
        default=None, description="The improvement suggested with the deviation"
    )
    category: ShortText | None = Field(default=None, description="Category in the source system")
    url: AnyUrl | None = Field(default=None, description="Link to the deviation in its system")
    registered_at: Timestamp = Field(description="When the deviation was registered")

    @classmethod
    def subject(cls, tenant: str) -> str:
        """The NATS subject a deviation system publishes on for `tenant`."""
        return deviation_subject(tenant)

    @classmethod
    def channel_address(cls) -> str:
        """The subject with a `{tenant}` placeholder (the AsyncAPI channel address)."""
        return f"deviations.v1.{{tenant}}.{cls.aggregate}.{cls.event}"
