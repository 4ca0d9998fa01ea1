"""Every subscription of decision, in one place, and the projections they keep.

Decision learns what intake and evaluation did from their events: ideas and their status,
quick wins routed to a manager, decision bases, withdrawals; the org-unit tree, people and
roles, network memberships; and, across tenants, the network's offers and adoptions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ideabank_contracts import CloudEvent, parse_data
from ideabank_contracts.events import (
    DecisionBasisSubmitted,
    IdeaAdopted,
    IdeaAssigned,
    IdeaMerged,
    IdeaOffered,
    IdeaResumed,
    IdeaRevised,
    IdeaSubmitted,
    IdeaWithdrawn,
    NetworkJoined,
    NetworkLeft,
    OrgUnitDefined,
    PersonRegistered,
    PersonUpdated,
    ScreeningCompleted,
    TenantRegistered,
)
from ideabank_infra.app import Runtime
from ideabank_infra.consumer import Handler, Subscription, apply_in_runs, subjects_for
from ideabank_infra.db import Database, insert_rows
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from ideabank_decision.domain import lifecycle as lc
from ideabank_decision.store import (
    adoptions,
    ideas,
    network_members,
    offers,
    org_units,
    people,
    set_status_if,
    tenants,
)

EVENTS = (
    "idea.submitted",
    "idea.revised",
    "idea.assigned",
    "idea.withdrawn",
    "idea.merged",
    "idea.resumed",
    "screening.completed",
    "decision_basis.submitted",
    "idea.offered",
    "idea.adopted",
    "org_unit.defined",
    "person.registered",
    "person.updated",
    "network.joined",
    "network.left",
    "tenant.registered",
)


#: What an idea.submitted event sets on an idea, whether or not the idea is known yet.
_SUBMITTED_DETAILS = (
    "title",
    "summary",
    "category",
    "channel",
    "org_unit_id",
    "administration_id",
    "idea_giver_id",
    "co_author_ids",
)


def _submitted_row(event: CloudEvent) -> dict[str, Any]:
    """The idea row an idea.submitted event makes (its status if the idea is new)."""
    d: IdeaSubmitted = _data(event, IdeaSubmitted)
    return {
        "tenant": event.tenant,
        "id": d.idea_id,
        "status": lc.SUBMITTED,
        "escalated": False,
        "title": d.title,
        "summary": d.description,
        "category": d.category,
        "channel": d.channel.value,
        "org_unit_id": d.org_unit_id,
        "administration_id": d.administration_id,
        "idea_giver_id": d.actor_id,
        "co_author_ids": list(d.co_author_ids),
    }


def _data(event: CloudEvent, model: Any) -> Any:
    data = parse_data(event)
    assert isinstance(data, model)
    return data


class Projections:
    """Handlers that keep decision's view of other services' facts."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # Every submission of a busy platform comes through here: the statement is made
        # once, so that each event only binds its values. An idea already known (a later
        # event that got here first, or the same submission twice) gets the submission's
        # details but keeps its status.
        stmt = db.insert(ideas)
        self._submitted = stmt.on_conflict_do_update(
            index_elements=["tenant", "id"],
            set_={name: stmt.excluded[name] for name in _SUBMITTED_DETAILS},
        )
        self._handlers = self.handlers()

    async def _ensure_idea(
        self, conn: AsyncConnection, tenant: str, idea_id: str, status: str, **values: Any
    ) -> None:
        await conn.execute(
            self.db.insert_ignore(ideas).values(
                tenant=tenant, id=idea_id, status=status, co_author_ids=[], **values
            )
        )

    async def idea_submitted(self, conn: AsyncConnection, event: CloudEvent) -> None:
        """A new idea: remember who gave it, where it belongs and its title."""
        await insert_rows(conn, self._submitted, [_submitted_row(event)])

    async def idea_revised(self, conn: AsyncConnection, event: CloudEvent) -> None:
        """The idea giver's edit: title, text and org unit may have changed."""
        d: IdeaRevised = _data(event, IdeaRevised)
        await conn.execute(
            update(ideas)
            .where(ideas.c.tenant == event.tenant, ideas.c.id == d.idea_id)
            .values(
                title=d.title,
                summary=d.description,
                category=d.category,
                org_unit_id=d.org_unit_id,
                administration_id=d.administration_id,
                co_author_ids=list(d.co_author_ids),
            )
        )

    async def idea_assigned(self, conn: AsyncConnection, event: CloudEvent) -> None:
        """Assigned to an ambassador: in screening."""
        d: IdeaAssigned = _data(event, IdeaAssigned)
        await self._status(conn, event.tenant, d.idea_id, lc.IN_SCREENING)

    async def idea_withdrawn(self, conn: AsyncConnection, event: CloudEvent) -> None:
        """Withdrawn by the idea giver: it leaves every queue."""
        d: IdeaWithdrawn = _data(event, IdeaWithdrawn)
        await self._status(conn, event.tenant, d.idea_id, lc.WITHDRAWN)

    async def idea_merged(self, conn: AsyncConnection, event: CloudEvent) -> None:
        """Merged into another idea as a duplicate."""
        d: IdeaMerged = _data(event, IdeaMerged)
        await self._status(conn, event.tenant, d.idea_id, lc.MERGED)

    async def idea_resumed(self, conn: AsyncConnection, event: CloudEvent) -> None:
        """A paused idea back in screening (deferred ones are resumed by this service itself)."""
        d: IdeaResumed = _data(event, IdeaResumed)
        if d.from_status.value == lc.DEFERRED:
            return
        await self._status(conn, event.tenant, d.idea_id, d.to_status.value)

    async def screening_completed(self, conn: AsyncConnection, event: CloudEvent) -> None:
        """Screened: a quick win lands in the routed manager's queue."""
        d: ScreeningCompleted = _data(event, ScreeningCompleted)
        outcome = d.outcome.value
        await self._ensure_idea(
            conn, event.tenant, d.idea_id, outcome, administration_id=d.administration_id
        )
        extra: dict[str, Any] = {}
        if outcome == lc.QUICK_WIN:
            extra = {
                "routed_org_unit_id": d.routed_to_org_unit_id,
                "routed_person_id": d.routed_to_person_id,
            }
        await self._status(conn, event.tenant, d.idea_id, outcome, **extra)

    async def decision_basis_submitted(self, conn: AsyncConnection, event: CloudEvent) -> None:
        """A developed idea with its decision basis joins the management group's queue."""
        d: DecisionBasisSubmitted = _data(event, DecisionBasisSubmitted)
        await self._ensure_idea(
            conn,
            event.tenant,
            d.idea_id,
            lc.AWAITING_DECISION,
            org_unit_id=d.org_unit_id,
            administration_id=d.administration_id,
        )
        await self._status(
            conn,
            event.tenant,
            d.idea_id,
            lc.AWAITING_DECISION,
            decision_basis=d.model_dump(mode="json", exclude={"idea_id"}),
            org_unit_id=d.org_unit_id,
            administration_id=d.administration_id,
        )

    async def _status(
        self, conn: AsyncConnection, tenant: str, idea_id: str, status: str, **values: Any
    ) -> None:
        await set_status_if(
            conn,
            tenant,
            idea_id,
            allowed_from=lc.BEFORE_DECISION,
            to_status=status,
            **values,
        )

    async def idea_offered(self, conn: AsyncConnection, event: CloudEvent) -> None:
        """An idea offered to a network: it joins the network catalogue."""
        d: IdeaOffered = _data(event, IdeaOffered)
        await conn.execute(
            self.db.insert_ignore(offers).values(
                origin_tenant=event.tenant,
                idea_id=d.idea_id,
                network=d.network,
                title=d.title,
                summary=d.summary,
                category=d.category,
                realised_benefit=d.realised_benefit.model_dump(mode="json")
                if d.realised_benefit
                else None,
                realised_hours=format(d.realised_hours, "f") if d.realised_hours else None,
                lessons_learned=d.lessons_learned,
                offered_at=d.offered_at,
            )
        )

    async def idea_adopted(self, conn: AsyncConnection, event: CloudEvent) -> None:
        """Another tenant adopted an idea: the origin counts it."""
        d: IdeaAdopted = _data(event, IdeaAdopted)
        await conn.execute(
            self.db.insert_ignore(adoptions).values(
                adopting_tenant=d.adopting_tenant,
                origin_tenant=d.origin_tenant,
                origin_idea_id=d.origin_idea_id,
                idea_id=d.idea_id,
                network=d.network,
                adopted_at=d.adopted_at,
            )
        )

    async def org_unit_defined(self, conn: AsyncConnection, event: CloudEvent) -> None:
        """An org unit, created or moved: the tree managers' scope is checked against."""
        d: OrgUnitDefined = _data(event, OrgUnitDefined)
        values = {
            "parent_id": d.parent_id,
            "kind": d.kind.value,
            "administration_id": d.administration_id,
            "active": d.active,
        }
        stmt = self.db.insert(org_units).values(tenant=event.tenant, id=d.org_unit_id, **values)
        await conn.execute(stmt.on_conflict_do_update(index_elements=["tenant", "id"], set_=values))

    async def person_changed(self, conn: AsyncConnection, event: CloudEvent) -> None:
        """A person's org unit and roles (names and emails are not kept here)."""
        d: PersonRegistered | PersonUpdated = _data(event, PersonRegistered | PersonUpdated)
        values = {
            "org_unit_id": d.org_unit_id,
            "roles": [r.value for r in d.roles],
            "active": d.active,
        }
        stmt = self.db.insert(people).values(tenant=event.tenant, id=d.person_id, **values)
        await conn.execute(stmt.on_conflict_do_update(index_elements=["tenant", "id"], set_=values))

    async def network_changed(self, conn: AsyncConnection, event: CloudEvent) -> None:
        """A tenant joined or left a network."""
        d: NetworkJoined | NetworkLeft = _data(event, NetworkJoined | NetworkLeft)
        active = isinstance(d, NetworkJoined)
        stmt = self.db.insert(network_members).values(
            network=d.network, tenant=d.tenant, active=active
        )
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["network", "tenant"], set_={"active": active}
            )
        )

    async def tenant_registered(self, conn: AsyncConnection, event: CloudEvent) -> None:
        """A municipality's name, shown beside the offers it makes."""
        d: TenantRegistered = _data(event, TenantRegistered)
        stmt = self.db.insert(tenants).values(tenant=d.tenant, name=d.name)
        await conn.execute(
            stmt.on_conflict_do_update(index_elements=["tenant"], set_={"name": d.name})
        )

    def handlers(self) -> dict[str, Handler]:
        """Handler per event type."""
        return {
            "idea.submitted": self.idea_submitted,
            "idea.revised": self.idea_revised,
            "idea.assigned": self.idea_assigned,
            "idea.withdrawn": self.idea_withdrawn,
            "idea.merged": self.idea_merged,
            "idea.resumed": self.idea_resumed,
            "screening.completed": self.screening_completed,
            "decision_basis.submitted": self.decision_basis_submitted,
            "idea.offered": self.idea_offered,
            "idea.adopted": self.idea_adopted,
            "org_unit.defined": self.org_unit_defined,
            "person.registered": self.person_changed,
            "person.updated": self.person_changed,
            "network.joined": self.network_changed,
            "network.left": self.network_changed,
            "tenant.registered": self.tenant_registered,
        }

    async def apply(self, conn: AsyncConnection, events: list[CloudEvent]) -> None:
        """A fetched batch of new events, in stream order, each as its handler applies it;
        a run of consecutive submissions goes to the database as one statement of many
        rows (nearly every event under load is one)."""
        await apply_in_runs(conn, events, self._handlers, {"idea.submitted": self._submissions})

    async def _submissions(self, conn: AsyncConnection, events: list[CloudEvent]) -> None:
        await insert_rows(conn, self._submitted, [_submitted_row(e) for e in events])


def subscriptions(runtime: Runtime) -> Sequence[Subscription]:
    """Decision's durable consumers: one, so that each idea's events apply in stream order.

    Offers and adoptions are read across tenants: a tenant's catalogue shows its fellow
    network members' offers, and the origin of an idea counts its adoptions elsewhere.
    """
    projections = Projections(runtime.db)
    return [
        Subscription(
            name="decision",
            subjects=subjects_for("*", EVENTS),
            handlers=projections.handlers(),
            batch_handler=projections.apply,
        )
    ]
