"""An anchored plan becomes an announcement draft; approved by the administration's
communicator it emits idea.announced and reaches every person of the administration."""

from __future__ import annotations

import asyncio

from ideabank_contracts import CloudEvent
from ideabank_contracts.events import OrgUnitDefined, PersonRegistered
from ideabank_infra.testing import eventually

STAFF = 60


async def test_announcement_reaches_every_person_of_the_administration(make_world) -> None:
    async with make_world(announcement_chunk_size=100) as w:
        await w.setup_org(
            [
                ("g1", "sv", "adm-u1", ["employee"]),
                ("amb", "sv", "adm", ["ambassador"]),
                ("com", "sv", "adm", ["communicator"]),
            ],
            ambassador="amb",
        )
        await w.publish(
            OrgUnitDefined(
                org_unit_id="adm2", kind="administration", name="Annan", administration_id="adm2"
            )
        )
        await w.publish(
            PersonRegistered(
                person_id="out",
                name="Utanför",
                email="out@example.org",
                language="sv",
                org_unit_id="adm2",
                roles=("communicator",),
            )
        )
        for i in range(STAFF):
            await w.publish(
                PersonRegistered(
                    person_id=f"p{i:03d}",
                    name=f"Anställd {i}",
                    email=f"p{i}@example.org",
                    language="en" if i % 2 else "sv",
                    org_unit_id="adm-u1",
                )
            )
        await w.submit("A", "g1", title="Digital anslagstavla")
        await w.assign("A", "amb")
        await w.screen("A", "in_development")
        await w.decision_basis("A")
        await w.decide("A", "approved", kind="project", implementer_id="g1")
        await w.anchor("A")
        await w.wait_for("com", "announcement_draft")

        com = w.headers("com", "communicator", org_unit="adm")
        drafts = (await w.client.get("/v1/announcements", headers=com)).json()
        assert len(drafts) == 1 and drafts[0]["status"] == "draft"
        draft = drafts[0]
        assert "Digital anslagstavla" in draft["headline"]
        # Roles and scope: an employee may not, a communicator of another administration
        # does not see it, nor does anyone of another tenant.
        assert (await w.client.get("/v1/announcements", headers=w.headers("g1"))).status_code == 403
        other_admin = w.headers("out", "communicator", org_unit="adm2")
        assert (await w.client.get("/v1/announcements", headers=other_admin)).json() == []
        assert (
            await w.client.post(f"/v1/announcements/{draft['id']}/approve", headers=other_admin)
        ).status_code == 404
        other_tenant = w.headers("com", "communicator", org_unit="adm", tenant="elsewhere")
        assert (
            await w.client.get(f"/v1/announcements/{draft['id']}", headers=other_tenant)
        ).status_code == 404

        announced: list[CloudEvent] = []

        async def on_msg(msg) -> None:  # type: ignore[no-untyped-def]
            announced.append(CloudEvent.from_json(msg.data))

        sub = await w.nc.subscribe(f"ideas.v1.{w.tenant}.idea.announced", cb=on_msg)
        resp = await w.client.post(
            f"/v1/announcements/{draft['id']}/approve",
            headers=com,
            json={"headline": "Nu inför vi en digital anslagstavla!"},
        )
        assert resp.status_code == 202, resp.text
        recipients = resp.json()["recipients"]
        assert recipients == STAFF + 3  # the staff, g1, amb and com; not the other administration

        async def done() -> dict | None:
            got = (await w.client.get(f"/v1/announcements/{draft['id']}", headers=com)).json()
            return got if got["status"] == "sent" else None

        final = await eventually(done, timeout=20)
        assert final["delivered"] == final["recipients"] == recipients
        assert final["progress"] == 1.0

        await eventually(lambda: announced, timeout=10)
        await sub.unsubscribe()
        data = announced[0].data
        assert data["headline"] == "Nu inför vi en digital anslagstavla!"
        assert data["administration_id"] == "adm" and data["actor_id"] == "com"
        assert data["recipient_count"] == recipients and data["announcement_id"] == draft["id"]
        assert "email" not in data and "name" not in data

        for person in ("p000", "p059", "g1", "com"):
            got = [m for m in (await w.inbox(person))["items"] if m["kind"] == "announcement"]
            assert len(got) == 1 and got[0]["subject"] == "Nu inför vi en digital anslagstavla!"
        assert [m for m in (await w.inbox("out"))["items"] if m["kind"] == "announcement"] == []

        again = await w.client.post(f"/v1/announcements/{draft['id']}/approve", headers=com)
        assert again.status_code == 409
        await asyncio.sleep(0.2)
        assert (
            len([m for m in (await w.inbox("p000"))["items"] if m["kind"] == "announcement"]) == 1
        )
