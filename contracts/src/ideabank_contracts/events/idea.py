"""Events of the idea aggregate: intake (registrera och fördela), implementation,
evaluation (gevinstrealisering), spread (kommunicera, sprida) and erasure.

Screening, decision bases, decisions, plans, trials, indicators and measurements have
their own modules; they all carry `idea_id` too.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from ideabank_contracts.events.common import (
    Amount,
    Id,
    IdeaEventData,
    Language,
    LongText,
    Money,
    ShortText,
    Slug,
    Timestamp,
)


class IdeaStatus(StrEnum):
    """Where an idea stands in its lifecycle (SPEC §3)."""

    SUBMITTED = "submitted"
    IN_SCREENING = "in_screening"
    REJECTED = "rejected"
    PAUSED = "paused"
    QUICK_WIN = "quick_win"
    IN_DEVELOPMENT = "in_development"
    AWAITING_DECISION = "awaiting_decision"
    APPROVED = "approved"
    DEFERRED = "deferred"
    IN_IMPLEMENTATION = "in_implementation"
    IMPLEMENTED = "implemented"
    EVALUATED = "evaluated"
    SPREAD = "spread"
    WITHDRAWN = "withdrawn"
    MERGED = "merged"


class Channel(StrEnum):
    """How an idea reached the idea bank."""

    STAFF_PORTAL = "staff_portal"
    PUBLIC_CHANNEL = "public_channel"
    EXTERNAL_SYSTEM = "external_system"
    DEVIATION = "deviation"
    NETWORK = "network"


class IdeaSubmitted(IdeaEventData):
    """A new idea was registered (status `submitted`).

    `actor_id` is the idea giver. It is absent for residents of the public channel and
    for ideas from external systems. When `anonymous` is true the idea giver's id is
    still carried, so that feedback reaches them, but consumers must never show it.
    """

    aggregate = "idea"
    event = "submitted"

    actor_id: Id | None = Field(
        default=None, description="Person id of the idea giver; absent for residents"
    )
    org_unit_id: Id = Field(description="Org unit the idea concerns")
    administration_id: Id = Field(description="Administration (förvaltning) of that org unit")
    category: ShortText = Field(description="Category chosen from the tenant's list")
    channel: Channel = Field(description="How the idea came in")
    title: ShortText = Field(description="Short title of the idea")
    description: LongText = Field(description="The idea in the idea giver's words")
    problem: LongText = Field(description="The problem the idea solves")
    proposed_solution: LongText | None = Field(default=None, description="Suggested solution")
    expected_benefit: LongText | None = Field(default=None, description="Expected benefit")
    co_author_ids: tuple[Id, ...] = Field(default=(), description="Person ids of co-authors")
    anonymous: bool = Field(
        default=False, description="The idea giver is not to be shown to anyone else"
    )
    source_ref: ShortText | None = Field(
        default=None,
        description="Reference to the originating deviation, complaint or external record",
    )
    language: Language | None = Field(default=None, description="Language the idea is written in")
    possible_duplicate_ids: tuple[Id, ...] = Field(
        default=(), description="Ideas pointed out as likely duplicates at submission"
    )
    source_system: ShortText | None = Field(
        default=None, description="System that `source_ref` belongs to (deviation channel)"
    )
    origin_tenant: Slug | None = Field(
        default=None, description="For an adopted idea (channel `network`): the origin tenant"
    )
    origin_idea_id: Id | None = Field(
        default=None, description="For an adopted idea: the idea's id at the origin tenant"
    )
    network: Slug | None = Field(
        default=None, description="For an adopted idea: the network it was adopted through"
    )
    submitted_at: Timestamp = Field(description="When the idea was submitted")


class IdeaRevised(IdeaEventData):
    """The idea giver edited the idea before screening; carries the full revised text."""

    aggregate = "idea"
    event = "revised"

    actor_id: Id = Field(description="Person id of whoever revised the idea")
    org_unit_id: Id = Field(description="Org unit the idea concerns after the revision")
    administration_id: Id = Field(description="Administration of that org unit")
    category: ShortText = Field(description="Category after the revision")
    title: ShortText = Field(description="Title after the revision")
    description: LongText = Field(description="Description after the revision")
    problem: LongText = Field(description="Problem after the revision")
    proposed_solution: LongText | None = Field(default=None, description="Suggested solution")
    expected_benefit: LongText | None = Field(default=None, description="Expected benefit")
    co_author_ids: tuple[Id, ...] = Field(default=(), description="Person ids of co-authors")
    changed_fields: tuple[str, ...] = Field(
        default=(), description="Names of the fields this revision changed"
    )
    revised_at: Timestamp = Field(description="When the idea was revised")


class IdeaWithdrawn(IdeaEventData):
    """The idea giver withdrew the idea before a decision (status `withdrawn`)."""

    aggregate = "idea"
    event = "withdrawn"

    actor_id: Id = Field(description="Person id of the idea giver who withdrew it")
    previous_status: IdeaStatus = Field(description="Status the idea had before withdrawal")
    reason: LongText | None = Field(default=None, description="Why it was withdrawn")
    withdrawn_at: Timestamp = Field(description="When the idea was withdrawn")


class IdeaAssigned(IdeaEventData):
    """The idea was given to its administration's idea ambassador (status `in_screening`)."""

    aggregate = "idea"
    event = "assigned"

    actor_id: Id | None = Field(
        default=None, description="Person who assigned it; absent when assigned automatically"
    )
    ambassador_id: Id = Field(description="Person id of the idea ambassador who will screen it")
    administration_id: Id = Field(description="Administration whose ambassador screens it")
    assigned_at: Timestamp = Field(description="When the idea was assigned")


class IdeaCommented(IdeaEventData):
    """Someone in the tenant commented on the idea."""

    aggregate = "idea"
    event = "commented"

    actor_id: Id = Field(description="Person id of the commenter")
    comment_id: Id = Field(description="Id of the comment")
    body: LongText = Field(description="Text of the comment")
    reply_to_comment_id: Id | None = Field(
        default=None, description="Comment this one answers, if any"
    )
    commented_at: Timestamp = Field(description="When the comment was written")


class IdeaSupported(IdeaEventData):
    """Someone in the tenant supported the idea (one support per person)."""

    aggregate = "idea"
    event = "supported"

    actor_id: Id = Field(description="Person id of the supporter")
    supported_at: Timestamp = Field(description="When the support was given")


class IdeaMerged(IdeaEventData):
    """An ambassador merged this idea, a duplicate, into another (status `merged`)."""

    aggregate = "idea"
    event = "merged"

    actor_id: Id = Field(description="Person id of the ambassador who merged it")
    into_idea_id: Id = Field(description="The idea that lives on")
    motivation: LongText | None = Field(default=None, description="Why they are duplicates")
    merged_at: Timestamp = Field(description="When the ideas were merged")


class IdeaResumed(IdeaEventData):
    """A paused or deferred idea came back on its revisit date or by hand."""

    aggregate = "idea"
    event = "resumed"

    actor_id: Id | None = Field(
        default=None, description="Person who resumed it; absent when the revisit date came"
    )
    from_status: IdeaStatus = Field(description="Status before resuming: paused or deferred")
    to_status: IdeaStatus = Field(
        description="Status after resuming: in_screening or awaiting_decision"
    )
    resumed_at: Timestamp = Field(description="When the idea resumed")


class IdeaImplemented(IdeaEventData):
    """The implementer reported the idea implemented (status `implemented`)."""

    aggregate = "idea"
    event = "implemented"

    actor_id: Id = Field(description="Person id of the implementer who reported it")
    org_unit_id: Id = Field(description="Org unit the idea concerns")
    administration_id: Id = Field(description="Administration of that org unit")
    summary: LongText | None = Field(default=None, description="What was implemented")
    implemented_at: Timestamp = Field(description="When implementation was reported done")


class IdeaEvaluated(IdeaEventData):
    """The innovation was evaluated: realised benefit and lessons (status `evaluated`)."""

    aggregate = "idea"
    event = "evaluated"

    actor_id: Id = Field(description="Person id of whoever recorded the evaluation")
    org_unit_id: Id = Field(description="Org unit the idea concerns")
    administration_id: Id = Field(description="Administration of that org unit")
    realised_benefit: Money | None = Field(
        default=None, description="Realised benefit in money per year, if it can be valued"
    )
    realised_hours: Amount | None = Field(
        default=None, description="Realised benefit in working hours saved per year"
    )
    benefit_description: LongText | None = Field(
        default=None, description="Benefits that are not counted in money or hours"
    )
    lessons_learned: LongText = Field(description="Lessons learned")
    evaluated_at: Timestamp = Field(description="When the evaluation was recorded")


class IdeaAnnounced(IdeaEventData):
    """A communicator announced the idea to all staff of its administration."""

    aggregate = "idea"
    event = "announced"

    actor_id: Id = Field(description="Person id of the communicator")
    administration_id: Id = Field(description="Administration whose staff is addressed")
    headline: ShortText = Field(description="Headline of the announcement")
    body: LongText = Field(description="Text of the announcement")
    announced_at: Timestamp = Field(description="When the announcement was published")
    announcement_id: Id | None = Field(
        default=None, description="Id of the announcement in the notification service"
    )
    recipient_count: int | None = Field(
        default=None, ge=0, description="Number of staff the announcement is sent to"
    )


class IdeaOffered(IdeaEventData):
    """The idea was offered to a network so that other tenants can adopt it.

    Carries what an adopting tenant needs to see, never the people involved.
    """

    aggregate = "idea"
    event = "offered"

    actor_id: Id = Field(description="Person id of whoever offered it")
    network: Slug = Field(description="Slug of the network it is offered to")
    title: ShortText = Field(description="Title shown to the network")
    summary: LongText = Field(description="Summary shown to the network")
    category: ShortText = Field(description="Category of the idea")
    realised_benefit: Money | None = Field(default=None, description="Realised benefit per year")
    realised_hours: Amount | None = Field(default=None, description="Hours saved per year")
    lessons_learned: LongText | None = Field(default=None, description="Lessons learned")
    offered_at: Timestamp = Field(description="When the idea was offered")


class IdeaAdopted(IdeaEventData):
    """Another tenant adopted an offered idea as a new idea of its own.

    Published by the adopting tenant; `idea_id` is the adopting tenant's new idea.
    """

    aggregate = "idea"
    event = "adopted"

    actor_id: Id = Field(description="Person id (adopting tenant) of whoever adopted it")
    adopting_tenant: Slug = Field(description="Slug of the adopting tenant")
    origin_tenant: Slug = Field(description="Slug of the tenant the idea came from")
    origin_idea_id: Id = Field(description="Id of the idea at the origin tenant")
    network: Slug = Field(description="Network through which it was adopted")
    org_unit_id: Id = Field(description="Adopting org unit")
    administration_id: Id = Field(description="Administration of the adopting org unit")
    title: ShortText | None = Field(default=None, description="Title of the offered idea")
    summary: LongText | None = Field(default=None, description="Summary of the offered idea")
    category: ShortText | None = Field(default=None, description="Category of the offered idea")
    adopted_at: Timestamp = Field(description="When the idea was adopted")


class IdeaRedacted(IdeaEventData):
    """A person was erased from this idea (GDPR erasure); aggregates stay.

    Every service removes or masks what it holds of `person_id` for this idea.
    """

    aggregate = "idea"
    event = "redacted"

    actor_id: Id | None = Field(
        default=None, description="Tenant admin who ordered the erasure, if a person did"
    )
    person_id: Id = Field(description="Person id that was redacted")
    erasure_request_id: Id | None = Field(
        default=None, description="Groups the redactions of one erasure request"
    )
    redacted_at: Timestamp = Field(description="When the person was redacted")
