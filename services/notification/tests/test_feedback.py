"""Every lifecycle transition reaches the right people, in their language, with the motivation."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from ideabank_contracts.events import (
    IdeaAdopted,
    IdeaCommented,
    IdeaEvaluated,
    IdeaImplemented,
    IdeaOffered,
    IdeaRedacted,
    IdeaResumed,
    IdeaSupported,
)

PEOPLE = [
    ("g1", "sv", "adm-u1", ["employee"]),
    ("c1", "en", "adm-u1", ["employee"]),
    ("s1", "nb", "adm-u1", ["employee"]),
    ("amb", "da", "adm", ["ambassador"]),
    ("mgr", "sv", "adm", ["management"]),
    ("impl", "en", "adm-u1", ["implementer"]),
    ("com", "sv", "adm", ["communicator"]),
    ("other", "sv", "adm-u1", ["employee"]),
]


async def test_lifecycle_feedback_in_each_language(make_world) -> None:
    async with make_world() as w:
        await w.setup_org(PEOPLE, ambassador="amb")
        now = w.clock.now()

        # Idea A walks the whole happy path.
        await w.submit("A", "g1", co_authors=("c1",), title="Bättre schema")
        await w.publish(IdeaSupported(idea_id="A", actor_id="s1", supported_at=now))
        await w.assign("A", "amb")
        await w.screen("A", "in_development", motivation="Bra idé, vi utvecklar den")
        await w.decision_basis("A")
        await w.decide("A", "approved", kind="direct", implementer_id="impl")
        await w.anchor("A")
        await w.publish(
            IdeaImplemented(
                idea_id="A",
                actor_id="impl",
                org_unit_id="adm-u1",
                administration_id="adm",
                implemented_at=now,
            )
        )
        await w.publish(
            IdeaEvaluated(
                idea_id="A",
                actor_id="impl",
                org_unit_id="adm-u1",
                administration_id="adm",
                lessons_learned="Mycket",
                evaluated_at=now,
            )
        )
        await w.publish(
            IdeaOffered(
                idea_id="A",
                actor_id="impl",
                network="skl",
                title="Bättre schema",
                summary="Sammanfattning",
                category="Arbetsmiljö",
                offered_at=now,
            )
        )
        await w.publish(
            IdeaCommented(
                idea_id="A", actor_id="s1", comment_id="k1", body="Snyggt!", commented_at=now
            )
        )

        # Idea B is rejected, C paused and resumed, D a quick win that is deferred.
        await w.submit("B", "g1", title="Gratis kaffe")
        await w.assign("B", "amb")
        await w.screen("B", "rejected", motivation="Ryms inte i budgeten")
        await w.submit("C", "c1", title="Ny rutin")
        await w.assign("C", "amb")
        await w.screen("C", "paused", revisit_date=date(2026, 9, 1), motivation="Vänta på budget")
        await w.publish(
            IdeaResumed(idea_id="C", from_status="paused", to_status="in_screening", resumed_at=now)
        )
        await w.submit("D", "g1", title="Snabb vinst")
        await w.assign("D", "amb")
        await w.screen("D", "quick_win", routed_to_org_unit_id="adm-u1", routed_to_person_id="mgr")
        await w.decide("D", "deferred", revisit_date=date(2026, 6, 1), motivation="Nästa år")

        # The last event's message shows everything before it was applied (one consumer, in order).
        await w.wait_for("g1", "decision_deferred")
        await w.wait_for("c1", "commented")

        g1 = {
            m["kind"]: m for m in (await w.inbox("g1", limit=500))["items"] if m["idea_id"] == "A"
        }
        for kind in (
            "received",
            "assigned",
            "screening_in_development",
            "decision_basis_submitted",
            "decision_approved",
            "plan_anchored",
            "implemented",
            "evaluated",
            "offered",
            "commented",
        ):
            assert kind in g1, f"g1 got no {kind}: {sorted(g1)}"
            assert g1[kind]["language"] == "sv"
        assert g1["received"]["subject"] == "Vi har tagit emot din idé"
        assert "Bättre schema" in g1["received"]["body"]
        assert "Motivering: Bra idé, vi utvecklar den" in g1["screening_in_development"]["body"]
        assert "Snyggt!" in g1["commented"]["body"]

        # The co-author reads English, the supporter Norwegian, the ambassador Danish.
        c1 = {
            m["kind"]: m for m in (await w.inbox("c1", limit=500))["items"] if m["idea_id"] == "A"
        }
        assert c1["received"]["subject"] == "We have received your idea"
        assert "Motivation: Bra idé, vi utvecklar den" in c1["screening_in_development"]["body"]
        assert c1["decision_approved"]["subject"] == "Your idea will be implemented"
        s1 = {
            m["kind"]: m for m in (await w.inbox("s1", limit=500))["items"] if m["idea_id"] == "A"
        }
        assert "Begrunnelse: Bra idé, vi utvecklar den" in s1["screening_in_development"]["body"]
        assert "received" not in s1  # they supported it after it was received
        assert "commented" not in s1  # not told about their own comment
        amb = await w.wait_for("amb", "to_screen", count=4)
        assert amb[0]["subject"] == "Ny idé at vurdere"
        impl = await w.wait_for("impl", "implementer_named")
        assert impl[0]["subject"] == "You will implement an idea"
        await w.wait_for("com", "announcement_draft")

        # Rejection and deferral carry their motivation; the pause its revisit date.
        b = await w.wait_for("g1", "screening_rejected")
        assert "Motivering: Ryms inte i budgeten" in b[0]["body"]
        d = await w.wait_for("g1", "decision_deferred")
        assert "Motivering: Nästa år" in d[0]["body"] and "2026-06-01" in d[0]["body"]
        c_paused = await w.wait_for("c1", "screening_paused")
        assert (
            "2026-09-01" in c_paused[0]["body"]
            and "Motivation: Vänta på budget" in c_paused[0]["body"]
        )
        resumed = await w.wait_for("c1", "resumed")
        assert resumed[0]["subject"] == "Your idea is back"
        # The ambassador is reminded that the paused idea is back; the manager gets the quick win.
        await w.wait_for("amb", "reminder_resumed")
        await w.wait_for("mgr", "quick_win_to_decide")

        # Someone with nothing to do with these ideas hears nothing.
        assert (await w.inbox("other"))["items"] == []


async def test_inbox_read_unread_and_tenant_scope(make_world) -> None:
    async with make_world() as w:
        await w.setup_org(PEOPLE[:1])
        await w.submit("A", "g1")
        await w.submit("B", "g1")
        await w.wait_for("g1", "received", count=2)
        inbox = await w.inbox("g1")
        assert inbox["unread"] == 2
        first = inbox["items"][0]["id"]
        resp = await w.client.post(f"/v1/inbox/{first}/read", headers=w.headers("g1"))
        assert resp.status_code == 200
        assert (await w.inbox("g1"))["unread"] == 1
        unread = await w.inbox("g1", unread="true")
        assert [m["id"] for m in unread["items"]] != [first] and len(unread["items"]) == 1
        # Unread first, then read.
        assert [m["read"] for m in (await w.inbox("g1"))["items"]] == [False, True]
        # Another person, or the same id in another tenant, cannot touch it.
        assert (
            await w.client.post(f"/v1/inbox/{first}/read", headers=w.headers("other"))
        ).status_code == 404
        assert (
            await w.client.post(
                f"/v1/inbox/{first}/read", headers=w.headers("g1", tenant="elsewhere")
            )
        ).status_code == 404
        assert (await w.client.get("/v1/inbox")).status_code == 401


async def test_reminders_once_for_waiting_ideas(make_world) -> None:
    async with make_world(screening_reminder_days=14, decision_reminder_days=30) as w:
        await w.setup_org(PEOPLE, ambassador="amb")
        await w.submit("A", "g1", title="Väntande idé")
        await w.assign("A", "amb")
        await w.submit("B", "g1", title="Väntar på beslut")
        await w.assign("B", "amb")
        await w.screen("B", "in_development")
        await w.decision_basis("B")
        await w.wait_for("g1", "decision_basis_submitted")
        w.clock.advance(timedelta(days=15))
        reminder = await w.wait_for("amb", "reminder_screening")
        assert "Väntande idé" in reminder[0]["body"]
        assert not [m for m in (await w.inbox("mgr"))["items"] if m["kind"] == "reminder_decision"]
        w.clock.advance(timedelta(days=20))
        decision = await w.wait_for("mgr", "reminder_decision")
        assert "Väntar på beslut" in decision[0]["body"]
        w.clock.advance(timedelta(days=20))
        await w.wait_for("g1", "received", count=2)  # let a few timer rounds pass
        await asyncio.sleep(0.5)
        amb = [
            m
            for m in (await w.inbox("amb", limit=500))["items"]
            if m["kind"] == "reminder_screening"
        ]
        mgr = [
            m
            for m in (await w.inbox("mgr", limit=500))["items"]
            if m["kind"] == "reminder_decision"
        ]
        assert len(amb) == 1 and len(mgr) == 1


async def test_adoption_tells_the_origin_and_redaction_forgets(make_world, tenant) -> None:
    adopting = f"a{tenant[1:]}"
    async with make_world(consumer_tenants=[tenant, adopting]) as w:
        await w.setup_org(PEOPLE[:2])
        await w.submit("A", "g1", co_authors=("c1",), title="Spridd idé")
        await w.wait_for("g1", "received")
        now = w.clock.now()
        await w.publish(
            IdeaAdopted(
                idea_id="N1",
                actor_id="x1",
                adopting_tenant=adopting,
                origin_tenant=tenant,
                origin_idea_id="A",
                network="skl",
                org_unit_id="u",
                administration_id="adm",
                adopted_at=now,
            ),
            tenant=adopting,
        )
        adopted = await w.wait_for("g1", "adopted")
        assert adopting in adopted[0]["body"] and "Spridd idé" in adopted[0]["body"]
        assert (await w.wait_for("c1", "adopted"))[0]["subject"].startswith("Your idea was adopted")

        # Erasure: g1 disappears from the idea; later feedback reaches only the co-author.
        await w.publish(IdeaRedacted(idea_id="A", person_id="g1", redacted_at=now))
        await w.assign("A", "amb")
        await w.wait_for("c1", "assigned")
        assert [m for m in (await w.inbox("g1"))["items"] if m["idea_id"] == "A"] == []
