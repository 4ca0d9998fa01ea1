"""The CloudEvents 1.0 envelope every Ideabank event travels in (structured JSON mode).

The ``data`` of an event is a versioned pydantic model (:class:`EventData`). Its CloudEvents
``type`` is ``se.ideabank.<aggregate>.<event>.v<version>`` and its subject on NATS is
``ideas.v1.<tenant>.<aggregate>.<event>``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from ideabank_contracts.ids import new_id
from ideabank_contracts.subjects import DEVIATION_AGGREGATE, deviation_subject, subject_for

TYPE_PREFIX = "se.ideabank"
SCHEMA_BASE = "https://schemas.ideabank.se/events"
CONTENT_TYPE = "application/cloudevents+json"


class EventData(BaseModel):
    """Base of every event payload. Consumers ignore fields they do not know."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    aggregate: ClassVar[str]
    event: ClassVar[str]
    version: ClassVar[int] = 1
    #: True for contracts that other systems publish and Ideabank only receives.
    inbound: ClassVar[bool] = False

    @classmethod
    def ce_type(cls) -> str:
        """The CloudEvents ``type`` of this event version."""
        return f"{TYPE_PREFIX}.{cls.aggregate}.{cls.event}.v{cls.version}"

    @classmethod
    def schema_name(cls) -> str:
        """File name (without extension) of this event's JSON Schema."""
        return f"{cls.aggregate}.{cls.event}.v{cls.version}"

    @classmethod
    def dataschema(cls) -> str:
        """URI of this event's JSON Schema."""
        return f"{SCHEMA_BASE}/{cls.schema_name()}.json"

    @classmethod
    def subject(cls, tenant: str) -> str:
        """The NATS subject this event is published on for ``tenant``."""
        return subject_for(tenant, cls.aggregate, cls.event)

    @classmethod
    def channel_address(cls) -> str:
        """The subject with a ``{tenant}`` placeholder (the AsyncAPI channel address)."""
        return f"ideas.v1.{{tenant}}.{cls.aggregate}.{cls.event}"


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 message with the ``tenant`` extension attribute."""

    model_config = ConfigDict(extra="allow")

    specversion: str = Field(default="1.0", description="CloudEvents specification version")
    id: str = Field(description="Unique event id; also sent as the Nats-Msg-Id header")
    source: str = Field(description="URI reference of the producing service, e.g. /ideabank/intake")
    type: str = Field(description="se.ideabank.<aggregate>.<event>.v<version>")
    time: datetime = Field(description="When the state change happened (RFC 3339)")
    subject: str = Field(description="The aggregate id, e.g. the idea id")
    datacontenttype: str = Field(default="application/json", description="Media type of data")
    dataschema: str | None = Field(default=None, description="URI of the JSON Schema of data")
    tenant: str = Field(description="CloudEvents extension: the tenant (municipality) slug")
    data: dict[str, Any] = Field(description="The versioned event payload")

    @property
    def aggregate(self) -> str:
        """The aggregate part of ``type`` (e.g. ``idea``)."""
        return self.type.split(".")[2]

    @property
    def event(self) -> str:
        """The event part of ``type`` (e.g. ``submitted``)."""
        return self.type.split(".")[3]

    @property
    def version(self) -> int:
        """The data version encoded in ``type``."""
        return int(self.type.rsplit(".v", 1)[1])

    @property
    def nats_subject(self) -> str:
        """The NATS subject this event is published on."""
        if self.aggregate == DEVIATION_AGGREGATE:
            # The one inbound contract lives outside the ideas stream (see subjects.py).
            return deviation_subject(self.tenant)
        return subject_for(self.tenant, self.aggregate, self.event)

    def to_json(self) -> bytes:
        """Serialise as structured-mode CloudEvents JSON."""
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> CloudEvent:
        """Parse structured-mode CloudEvents JSON."""
        return cls.model_validate_json(raw)


def new_event(
    data: EventData,
    *,
    tenant: str,
    subject: str,
    source: str,
    event_id: str | None = None,
    time: datetime | None = None,
) -> CloudEvent:
    """Wrap ``data`` in a fresh CloudEvent for ``tenant`` about aggregate ``subject``."""
    return CloudEvent(
        id=event_id or new_id(),
        source=source,
        type=data.ce_type(),
        time=time or datetime.now(UTC),
        subject=subject,
        dataschema=data.dataschema(),
        tenant=tenant,
        data=data.model_dump(mode="json"),
    )
