"""Ideas through the staff portal: submit, assign, edit, withdraw, comment, support, merge."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from ideabank_contracts.events import DecisionMade, IdeaResumed, ScreeningCompleted
from ideabank_contracts.events.decision import DecisionBody, DecisionKind, DecisionOutcome
from ideabank_contracts.events.idea import IdeaStatus
from ideabank_contracts.events.screening import ScreeningOutcome

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def screening(idea_id: str, outcome: str, **extra: Any) -> ScreeningCompleted:
    return ScreeningCompleted(
        idea_id=idea_id,
        screening_id=f"s-{idea_id}-{outcome}",
        actor_id="amb",
        administration_id="vof",
        outcome=ScreeningOutcome(outcome),
        template_version=1,
        completed_at=NOW,
        **extra,
    )


async def test_submit_assigns_to_the_ambassador_and_announces_it(org, stream_events) -> None:
    answer = await org.submit(co_author_ids=["coauth"])
    idea = answer["idea"]
    assert idea["status"] == "in_screening"
    assert idea["ambassador_id"] == "amb"
    assert idea["administration_id"] == "vof"
    assert idea["channel"] == "staff_portal"
    assert idea["giver_id"] == "giver" and idea["co_author_ids"] == ["coauth"]
    assert answer["duplicates"] == []

    events = await stream_events({"idea.submitted", "idea.assigned"}, at_least=2)
    by_type = {f"{e.aggregate}.{e.event}": e for e in events}
    submitted = by_type["idea.submitted"]
    assert submitted.subject == idea["id"]
    assert submitted.nats_subject == f"ideas.v1.{org.tenant}.idea.submitted"
    assert submitted.data["actor_id"] == "giver"
    assert submitted.data["org_unit_id"] == "norr"
    assert submitted.data["administration_id"] == "vof"
    assert submitted.data["co_author_ids"] == ["coauth"]
    assert by_type["idea.assigned"].data["ambassador_id"] == "amb"
    for e in events:
        text = e.to_json().decode()
        assert "@" not in text and "Greta" not in text and "Anna" not in text


async def test_an_idea_waits_for_its_ambassador_and_is_assigned_when_one_is_named(
    org, stream_events
) -> None:
    idea = (await org.submit(org_unit_id="skola1"))["idea"]
    assert idea["status"] == "submitted" and idea["ambassador_id"] is None
    resp = await org.client.put(
        "/v1/admin/tenancy",
        json={"ambassadors": [{"administration_id": "skol", "person_id": "amb2"}]},
        headers=org.admin,
    )
    assert resp.status_code == 200, resp.text
    after = await org.idea(idea["id"])
    assert after["status"] == "in_screening" and after["ambassador_id"] == "amb2"
    assigned = await stream_events({"idea.assigned"})
    assert [(e.subject, e.data["ambassador_id"]) for e in assigned] == [(idea["id"], "amb2")]


async def test_bad_input_names_the_field_and_writes_nothing(org) -> None:
    h = org.headers("giver")
    base = {"title": "T", "description": "D", "problem": "P", "org_unit_id": "norr"}
    cases = [
        ({k: v for k, v in base.items() if k != "title"}, "title"),
        ({**base, "title": "   "}, "title"),
        ({**base, "org_unit_id": "nowhere"}, "org_unit_id"),
        ({**base, "co_author_ids": ["ghost"]}, "co_author_ids[0]"),
        ({**base, "surprise": 1}, "surprise"),
        ({**base, "title": "x" * 301}, "title"),
    ]
    for body, field in cases:
        resp = await org.client.post("/v1/ideas", json=body, headers=h)
        assert resp.status_code == 422, (field, resp.text)
        assert resp.headers["content-type"] == "application/problem+json"
        assert resp.json()["field"] == field
    listed = await org.client.get("/v1/ideas", headers=h)
    assert listed.json()["total"] == 0
    assert (await org.client.get("/v1/ideas?status=nonsense", headers=h)).json()[
        "field"
    ] == "status"
    # Another tenant's org unit does not exist for this tenant.
    other = org.headers("giver", "employee", tenant=f"{org.tenant}x")
    resp = await org.client.post("/v1/ideas", json=base, headers=other)
    assert resp.status_code == 422 and resp.json()["field"] == "org_unit_id"
    assert (await org.client.post("/v1/ideas", json=base)).status_code == 401


async def test_edit_until_screening_then_409(org, publish, stream_events) -> None:
    idea = (await org.submit(co_author_ids=["coauth"]))["idea"]
    url = f"/v1/ideas/{idea['id']}"
    resp = await org.client.patch(url, json={"title": "Digitala lås"}, headers=org.headers("giver"))
    assert resp.status_code == 200, resp.text
    assert resp.json()["title"] == "Digitala lås"
    resp = await org.client.patch(
        url, json={"expected_benefit": "30 min per dag"}, headers=org.headers("coauth")
    )
    assert resp.status_code == 200
    resp = await org.client.patch(url, json={"title": "Mitt"}, headers=org.headers("other"))
    assert resp.status_code == 403
    resp = await org.client.patch(url, json={"org_unit_id": "x"}, headers=org.headers("giver"))
    assert resp.status_code == 422 and resp.json()["field"] == "org_unit_id"
    assert (await org.client.patch(url, json={}, headers=org.headers("giver"))).status_code == 422
    revised = await stream_events({"idea.revised"}, at_least=2)
    assert sorted(tuple(e.data["changed_fields"]) for e in revised) == [
        ("expected_benefit",),
        ("title",),
    ]

    await publish(
        screening(idea["id"], "quick_win", routed_to_org_unit_id="norr"), subject=idea["id"]
    )
    await org.wait_status(idea["id"], "quick_win")
    resp = await org.client.patch(url, json={"title": "Sent"}, headers=org.headers("giver"))
    assert resp.status_code == 409
    assert resp.json()["type"].endswith("/invalid-transition")


async def test_a_resumed_idea_stays_uneditable(org, publish) -> None:
    idea = (await org.submit())["idea"]
    await publish(
        screening(idea["id"], "paused", revisit_date=date(2026, 6, 1)), subject=idea["id"]
    )
    await org.wait_status(idea["id"], "paused")
    await publish(
        IdeaResumed(
            idea_id=idea["id"],
            from_status=IdeaStatus.PAUSED,
            to_status=IdeaStatus.IN_SCREENING,
            resumed_at=NOW,
        ),
        subject=idea["id"],
    )
    await org.wait_status(idea["id"], "in_screening")
    resp = await org.client.patch(
        f"/v1/ideas/{idea['id']}", json={"title": "Nu"}, headers=org.headers("giver")
    )
    assert resp.status_code == 409


async def test_withdraw_before_a_decision_but_not_after(org, publish, stream_events) -> None:
    first = (await org.submit())["idea"]
    url = f"/v1/ideas/{first['id']}/withdraw"
    assert (await org.client.post(url, headers=org.headers("other"))).status_code == 403
    assert (await org.client.post(url, headers=org.headers("coauth"))).status_code == 403
    resp = await org.client.post(
        url, json={"reason": "Löst på annat sätt"}, headers=org.headers("giver")
    )
    assert resp.status_code == 200 and resp.json()["status"] == "withdrawn"
    assert (await org.client.post(url, headers=org.headers("giver"))).status_code == 409
    patch = await org.client.patch(
        f"/v1/ideas/{first['id']}", json={"title": "x"}, headers=org.headers("giver")
    )
    assert patch.status_code == 409
    withdrawn = await stream_events({"idea.withdrawn"})
    assert withdrawn[0].data["previous_status"] == "in_screening"
    assert withdrawn[0].data["actor_id"] == "giver"

    # A screening that raced with the withdrawal does not bring the idea back.
    await publish(screening(first["id"], "in_development"), subject=first["id"])

    second = (await org.submit(title="Annan idé"))["idea"]
    await publish(
        screening(second["id"], "quick_win", routed_to_org_unit_id="norr"), subject=second["id"]
    )
    await publish(
        DecisionMade(
            idea_id=second["id"],
            decision_id="d1",
            actor_id="boss",
            decided_by=DecisionBody.UNIT_MANAGER,
            org_unit_id="norr",
            administration_id="vof",
            outcome=DecisionOutcome.APPROVED,
            kind=DecisionKind.DIRECT,
            implementer_id="other",
            decided_at=NOW,
        ),
        subject=second["id"],
    )
    await org.wait_status(second["id"], "approved")
    resp = await org.client.post(f"/v1/ideas/{second['id']}/withdraw", headers=org.headers("giver"))
    assert resp.status_code == 409
    assert (await org.idea(first["id"]))["status"] == "withdrawn"


async def test_comments_and_supports_by_anyone_of_the_tenant_only(org, stream_events) -> None:
    idea = (await org.submit())["idea"]
    url = f"/v1/ideas/{idea['id']}"
    resp = await org.client.post(
        f"{url}/comments", json={"body": "Bra!"}, headers=org.headers("other")
    )
    assert resp.status_code == 201, resp.text
    comment = resp.json()
    reply = await org.client.post(
        f"{url}/comments",
        json={"body": "Tack", "reply_to_comment_id": comment["id"]},
        headers=org.headers("giver"),
    )
    assert reply.status_code == 201
    bad = await org.client.post(
        f"{url}/comments",
        json={"body": "?", "reply_to_comment_id": "nope"},
        headers=org.headers("giver"),
    )
    assert bad.status_code == 422 and bad.json()["field"] == "reply_to_comment_id"
    empty = await org.client.post(
        f"{url}/comments", json={"body": ""}, headers=org.headers("giver")
    )
    assert empty.status_code == 422 and empty.json()["field"] == "body"

    first = await org.client.post(f"{url}/supports", headers=org.headers("other"))
    again = await org.client.post(f"{url}/supports", headers=org.headers("other"))
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["supports_count"] == 1

    stranger = org.headers("other", "employee", tenant=f"{org.tenant}x")
    assert (
        await org.client.post(f"{url}/comments", json={"body": "Hej"}, headers=stranger)
    ).status_code == 404
    assert (await org.client.post(f"{url}/supports", headers=stranger)).status_code == 404
    assert (await org.client.get(url, headers=stranger)).status_code == 404
    assert (await org.client.get(f"{url}/comments", headers=stranger)).status_code == 404

    seen = await org.idea(idea["id"], "other")
    assert seen["comments_count"] == 2 and seen["supports_count"] == 1 and seen["supported_by_me"]
    listed = (await org.client.get(f"{url}/comments", headers=org.headers("ig"))).json()["items"]
    assert [c["body"] for c in listed] == ["Bra!", "Tack"]
    supported = await stream_events({"idea.supported"})
    assert len(supported) == 1 and supported[0].data["actor_id"] == "other"
    commented = await stream_events({"idea.commented"}, at_least=2)
    assert {e.data["body"] for e in commented} == {"Bra!", "Tack"}


async def test_merge_by_the_ambassador_of_the_administration(org, stream_events) -> None:
    keep = (await org.submit())["idea"]
    dup = (await org.submit(person="other"))["idea"]
    url = f"/v1/ideas/{dup['id']}/merge"
    body = {"into_idea_id": keep["id"], "motivation": "Samma förslag"}
    assert (await org.client.post(url, json=body, headers=org.headers("giver"))).status_code == 403
    assert (await org.client.post(url, json=body, headers=org.headers("amb2"))).status_code == 403
    resp = await org.client.post(url, json={"into_idea_id": "nope"}, headers=org.headers("amb"))
    assert resp.status_code == 422 and resp.json()["field"] == "into_idea_id"
    resp = await org.client.post(url, json={"into_idea_id": dup["id"]}, headers=org.headers("amb"))
    assert resp.status_code == 409
    resp = await org.client.post(url, json=body, headers=org.headers("amb"))
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "merged" and resp.json()["merged_into_id"] == keep["id"]
    assert (await org.client.post(url, json=body, headers=org.headers("amb"))).status_code == 409
    # The innovation group may merge in any administration.
    third = (await org.submit(title="Tredje"))["idea"]
    resp = await org.client.post(
        f"/v1/ideas/{third['id']}/merge",
        json={"into_idea_id": keep["id"]},
        headers=org.headers("ig"),
    )
    assert resp.status_code == 200
    # Into a merged idea: no.
    fourth = (await org.submit(title="Fjärde"))["idea"]
    resp = await org.client.post(
        f"/v1/ideas/{fourth['id']}/merge",
        json={"into_idea_id": dup["id"]},
        headers=org.headers("ig"),
    )
    assert resp.status_code == 409 and resp.json()["field"] == "into_idea_id"
    merged = await stream_events({"idea.merged"}, at_least=2)
    assert {(e.subject, e.data["into_idea_id"]) for e in merged} == {
        (dup["id"], keep["id"]),
        (third["id"], keep["id"]),
    }


async def test_likely_duplicates_are_pointed_out(org) -> None:
    first = (await org.submit())["idea"]
    await org.submit(
        title="Fixa skolmaten",
        description="Mer vegetariskt i skolrestaurangen",
        problem="Eleverna äter för lite",
        org_unit_id="skola1",
    )
    answer = await org.submit(
        person="other",
        title="Digitala nycklar för hemtjänsten",
        description="Byt de fysiska nycklarna till brukarnas hem mot digitala lås.",
        problem="Vi tappar tid på att hämta nycklar varje morgon.",
    )
    hints = answer["duplicates"]
    assert [h["id"] for h in hints] == [first["id"]]
    assert hints[0]["score"] >= 0.3 and hints[0]["title"] == first["title"]
    assert answer["idea"]["possible_duplicate_ids"] == [first["id"]]
    unrelated = await org.submit(
        title="Cykelparkering",
        description="Tak över cyklarna",
        problem="Regn",
        org_unit_id="skola1",
    )
    assert unrelated["duplicates"] == []


async def test_a_withdrawn_idea_is_no_longer_a_likely_duplicate(org) -> None:
    like = {
        "person": "other",
        "title": "Digitala nycklar för hemtjänsten",
        "description": "Byt de fysiska nycklarna till brukarnas hem mot digitala lås.",
        "problem": "Vi tappar tid på att hämta nycklar varje morgon.",
    }
    first = (await org.submit())["idea"]
    kept = (await org.submit(**like))["idea"]
    assert kept["possible_duplicate_ids"] == [first["id"]]
    resp = await org.client.post(
        f"/v1/ideas/{first['id']}/withdraw", json={"reason": "Fel"}, headers=org.headers("giver")
    )
    assert resp.status_code == 200
    # Only the open one is pointed out now.
    assert [h["id"] for h in (await org.submit(**like))["duplicates"]] == [kept["id"]]


async def test_anonymous_ideas_hide_their_giver_from_others(org) -> None:
    idea = (await org.submit(anonymous=True))["idea"]
    assert idea["giver_id"] == "giver"
    assert (await org.idea(idea["id"], "other"))["giver_id"] is None
    assert (await org.idea(idea["id"], "amb"))["giver_id"] is None
    listed = (await org.client.get("/v1/ideas", headers=org.headers("other"))).json()["items"]
    assert listed[0]["giver_id"] is None and not listed[0]["mine"]
    mine = (await org.client.get("/v1/ideas?mine=true", headers=org.headers("giver"))).json()
    assert mine["items"][0]["giver_id"] == "giver"


async def test_list_filters_and_paging(org) -> None:
    a = (await org.submit())["idea"]
    b = (await org.submit(person="other", title="Skolgården", org_unit_id="skola1"))["idea"]
    c = (await org.submit(person="other", title="Matsalen", org_unit_id="hemtjanst"))["idea"]
    h = org.headers("amb")

    async def ids(query: str) -> list[str]:
        resp = await org.client.get(f"/v1/ideas{query}", headers=h)
        assert resp.status_code == 200, resp.text
        return [i["id"] for i in resp.json()["items"]]

    assert set(await ids("")) == {a["id"], b["id"], c["id"]}
    assert set(await ids("?org_unit=vof")) == {a["id"], c["id"]}
    assert await ids("?org_unit=norr") == [a["id"]]
    assert await ids("?status=submitted") == [b["id"]]
    assert set(await ids("?status=submitted&status=in_screening")) == {a["id"], b["id"], c["id"]}
    assert await ids("?q=skolg") == [b["id"]]
    mine = await org.client.get("/v1/ideas?mine=true", headers=org.headers("other"))
    assert {i["id"] for i in mine.json()["items"]} == {b["id"], c["id"]}
    page = (await org.client.get("/v1/ideas?limit=2&offset=2", headers=h)).json()
    assert page["total"] == 3 and len(page["items"]) == 1
    assert (await org.client.get("/v1/ideas?limit=0", headers=h)).json()["field"] == "limit"


async def test_every_change_is_audited_with_its_event(org, settings, stream_events) -> None:
    from ideabank_infra.tables import audit_log
    from sqlalchemy import select
    from sqlalchemy.ext.asyncio import create_async_engine

    idea = (await org.submit())["idea"]
    await org.client.post(f"/v1/ideas/{idea['id']}/supports", headers=org.headers("other"))
    await org.client.post(f"/v1/ideas/{idea['id']}/withdraw", headers=org.headers("giver"))
    engine = create_async_engine(settings.database_url)
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(audit_log).where(
                    audit_log.c.tenant == org.tenant, audit_log.c.subject == idea["id"]
                )
            )
        ).all()
    await engine.dispose()
    assert [(r.action, r.actor_id) for r in rows] == [
        ("idea.submitted", "giver"),
        ("idea.assigned", "giver"),
        ("idea.supported", "other"),
        ("idea.withdrawn", "giver"),
    ]
    events = await stream_events(at_least=4)
    assert {r.event_id for r in rows} <= {e.id for e in events}


async def test_a_burst_of_submissions_is_registered_together(org, stream_events) -> None:
    """Ideas sent at once share transactions; each gets its own answer and events."""
    import asyncio

    def body(n: int, **fields: Any) -> dict[str, Any]:
        return {
            "title": f"Förslag nummer {n} om parkering{n}",
            "description": f"Beskrivning {n} av cykelställ{n}",
            "problem": f"Problem {n}",
            "org_unit_id": "norr",
            "category": "miljö",
            **fields,
        }

    bodies = [body(n) for n in range(40)]
    bodies[7] = body(7, org_unit_id="ingenstans")  # refused: unknown org unit
    bodies[9] = body(9, co_author_ids=["nobody"])  # refused: unknown co-author
    # Two near-identical ideas in the same burst: the second points out the first.
    twin = {
        "title": "Solceller på kommunhusets tak",
        "description": "Sätt upp solpaneler på taket till kommunhuset vid torget.",
        "problem": "Elkostnaderna för kommunhuset stiger varje år.",
        "org_unit_id": "norr",
        "category": "miljö",
    }
    bodies += [twin, {**twin, "title": "Solceller på kommunhusets tak, snart"}]
    answers = await asyncio.gather(
        *(org.client.post("/v1/ideas", json=b, headers=org.headers("giver")) for b in bodies)
    )
    codes = [a.status_code for a in answers]
    assert codes[7] == 422 and answers[7].json()["field"] == "org_unit_id"
    assert codes[9] == 422 and answers[9].json()["field"] == "co_author_ids[0]"
    assert all(c == 201 for i, c in enumerate(codes) if i not in (7, 9)), codes
    ids = [a.json()["idea"]["id"] for a in answers if a.status_code == 201]
    assert len(set(ids)) == 40
    # Whichever twin was registered second (requests race) points out the other one.
    a, b = answers[-2].json(), answers[-1].json()
    a_id, b_id = a["idea"]["id"], b["idea"]["id"]
    hints = {x["idea"]["id"]: [d["id"] for d in x["duplicates"]] for x in (a, b)}
    assert (hints[a_id], hints[b_id]) in (([], [a_id]), ([b_id], [])), hints
    later, earlier = (a, b) if hints[a_id] else (b, a)
    assert later["duplicates"][0]["status"] == earlier["idea"]["status"]
    # Every accepted idea is listed and announced once; the refused ones left no trace.
    listed = await org.client.get("/v1/ideas?limit=100", headers=org.headers("giver"))
    assert {i["id"] for i in listed.json()["items"]} >= set(ids)
    assert listed.json()["total"] == 40
    submitted = await stream_events({"idea.submitted"}, at_least=40)
    assert sorted(e.data["idea_id"] for e in submitted) == sorted(ids)


async def test_ideas_registered_in_one_group_see_the_ones_before_them(org, settings) -> None:
    """The batched registration itself: in-group duplicates, and a refusal beside them."""
    from dataclasses import replace

    from ideabank_infra.db import Database
    from ideabank_infra.problems import Problem
    from ideabank_intake import handlers

    twin = handlers.NewIdea(
        title="Solceller på kommunhusets tak",
        description="Sätt upp solpaneler på taket till kommunhuset vid torget.",
        problem="Elkostnaderna för kommunhuset stiger varje år.",
        category="miljö",
        channel="staff_portal",
        org_unit_id="norr",
        giver_id="giver",
    )
    now = datetime.now(UTC)
    policy = handlers.DuplicatePolicy()
    group = [
        handlers.Submission(org.tenant, twin, now, policy),
        handlers.Submission(org.tenant, replace(twin, org_unit_id="ingenstans"), now, policy),
        handlers.Submission(org.tenant, replace(twin, title="Solceller på taket"), now, policy),
    ]
    db = Database(settings.resolved_database_url())
    try:
        async with db.transaction() as conn:
            first, refused, second = await handlers.submit_ideas(conn, group)
    finally:
        await db.dispose()
    assert isinstance(refused, Problem) and refused.field == "org_unit_id"
    assert isinstance(first, handlers.Submitted) and isinstance(second, handlers.Submitted)
    assert first.duplicates == []
    assert [d["id"] for d in second.duplicates] == [first.idea["id"]]
    assert second.duplicates[0]["title"] == twin.title
    assert second.idea["possible_duplicate_ids"] == [first.idea["id"]]
    listed = await org.client.get("/v1/ideas", headers=org.headers("giver"))
    assert {i["id"] for i in listed.json()["items"]} == {first.idea["id"], second.idea["id"]}


def _idea_of(words: list[str]):
    """A new idea of twenty words: five in the title, ten in the description, the rest in
    the problem."""
    from ideabank_intake import handlers

    return handlers.NewIdea(
        title=" ".join(words[:5]),
        description=" ".join(words[5:15]),
        problem=" ".join(words[15:]),
        category="test",
        channel="staff_portal",
        org_unit_id="norr",
        giver_id="giver",
    )


async def test_duplicate_scores_equal_a_full_comparison(org, settings) -> None:
    """Long ideas, so that each has words beyond its rarest dozen, asked about together:
    the shared words come partly from the rare words' postings (a query's own and
    another's) and partly from looking the rest up. Every idea that shares one of a
    query's rarest dozen words is found, with the score of a plain Jaccard comparison."""
    import random
    from collections import Counter
    from dataclasses import replace

    from ideabank_infra.db import Database
    from ideabank_intake import handlers
    from ideabank_intake.domain import similarity

    rng = random.Random(6)
    vocabulary = [a + b + c for a in "bdfgk" for b in "lmnrs" for c in "ptvxz"][:40]

    def words() -> list[str]:
        return rng.sample(vocabulary, 20)

    now = datetime.now(UTC)
    policy = handlers.DuplicatePolicy(threshold=0.0, limit=100)
    stored: dict[str, frozenset[str]] = {}
    db = Database(settings.resolved_database_url())
    try:
        for _ in range(4):
            group = []
            for _ in range(10):
                new = _idea_of(words())
                group.append(handlers.Submission(org.tenant, new, now, policy))
            async with db.transaction() as conn:
                for s, done in zip(group, await handlers.submit_ideas(conn, group), strict=True):
                    assert isinstance(done, handlers.Submitted)
                    stored[done.idea["id"]] = similarity.tokens(
                        s.new.title, s.new.description, s.new.problem
                    )
        asked = [similarity.tokens(" ".join(words())) for _ in range(6)]
        assert all(len(q) == 20 for q in asked)
        # A threshold none can miss, then the usual one: candidates that cannot reach it
        # are dropped before their other words are looked up. Each with room for every
        # candidate, then for the best three only: a candidate that cannot beat three
        # others is dropped before its other words are looked up.
        queries = [
            (f"q{n}", mine, replace(policy, threshold=threshold, limit=limit))
            for threshold in (0.0, 0.3)
            for limit in (100, 3)
            for n, mine in enumerate(asked)
        ]
        async with db.transaction() as conn:
            found = await handlers.find_duplicates(conn, tenant=org.tenant, queries=queries)
    finally:
        await db.dispose()
    postings = Counter(t for theirs in stored.values() for t in theirs)
    # The usual threshold leaves some ideas out in this data, and keeps some.
    assert any(0 < len(got) < len(found[n]) for n, got in enumerate(found[12:18]))
    for (_, mine, asked_with), got in zip(queries, found, strict=True):
        by_rarity = sorted((t for t in mine if postings[t]), key=lambda t: (postings[t], t))
        rarest = set(by_rarity[: handlers.DUPLICATE_QUERY_WORDS])
        expected = sorted(
            (
                (i, round(similarity.jaccard(len(mine & theirs), len(mine), len(theirs)), 3))
                for i, theirs in stored.items()
                if rarest & theirs
            ),
            key=lambda hit: (-hit[1], hit[0]),
        )
        expected = [hit for hit in expected if hit[1] >= asked_with.threshold]
        assert [(d["id"], d["score"]) for d in got] == expected[: asked_with.limit]


async def test_only_candidates_that_may_be_among_the_best_have_words_looked_up(
    org, settings, monkeypatch
) -> None:
    """Thirty stored ideas say the same twenty words: every one a perfect match, found
    through the rarest dozen, the other eight to be looked up. Five are shown, so the
    words of five are looked up; the rest cannot beat them (ties go by id)."""
    from dataclasses import replace

    from ideabank_infra.db import Database
    from ideabank_intake import handlers
    from ideabank_intake.domain import similarity

    words = [a + b + c for a in "bdfgk" for b in "lmnr" for c in "pt"][:20]
    same = _idea_of(words)
    now = datetime.now(UTC)
    policy = handlers.DuplicatePolicy(threshold=0.3, limit=5)
    looked_up: list[int] = []
    add_other_words = handlers._add_other_words

    async def counting(conn, tenant, counted, rest, asked):  # type: ignore[no-untyped-def]
        looked_up.append(sum(len(ids) for ids in asked.values()))
        await add_other_words(conn, tenant, counted, rest, asked)

    db = Database(settings.resolved_database_url())
    try:
        async with db.transaction() as conn:
            stored = [
                done.idea["id"]
                for done in await handlers.submit_ideas(
                    conn,
                    [handlers.Submission(org.tenant, same, now, replace(policy, limit=0))] * 30,
                )
            ]
        monkeypatch.setattr(handlers, "_add_other_words", counting)
        mine = similarity.tokens(same.title, same.description, same.problem)
        assert len(mine) == 20
        async with db.transaction() as conn:
            [found] = await handlers.find_duplicates(
                conn, tenant=org.tenant, queries=[("q", mine, policy)]
            )
    finally:
        await db.dispose()
    assert [(d["id"], d["score"]) for d in found] == [(i, 1.0) for i in sorted(stored)[:5]]
    assert sum(looked_up) == 5


async def test_word_counts_stop_at_the_rarity_cap(org, settings) -> None:
    """Whether a word is rare is all that matters, so its postings are counted up to the
    cap only: a full count read every posting of a common word, on every submission."""
    from ideabank_infra.db import Database
    from ideabank_intake import handlers
    from ideabank_intake.store import idea_tokens

    cap = handlers.DUPLICATE_MAX_POSTINGS
    db = Database(settings.resolved_database_url())
    try:
        async with db.transaction() as conn:
            await conn.execute(
                idea_tokens.insert(),
                [
                    {"tenant": org.tenant, "token": "vanlig", "idea_id": f"i{n}"}
                    for n in range(cap + 40)
                ]
                + [
                    {"tenant": org.tenant, "token": "sällsynt", "idea_id": f"i{n}"}
                    for n in range(3)
                ]
                # Another tenant's postings are never counted.
                + [{"tenant": f"{org.tenant}x", "token": "sällsynt", "idea_id": "z"}],
            )
            counted = await handlers.count_postings(
                conn, org.tenant, ["vanlig", "sällsynt", "okänd"]
            )
            assert counted == {"vanlig": cap + 1, "sällsynt": 3, "okänd": 0}
    finally:
        await db.dispose()


async def test_word_counts_read_the_index_whatever_the_statistics_say(org, settings) -> None:
    """A tenant whose few words each fill many postings, with fresh statistics: counting a
    word still reads its postings through the index (PostgreSQL's planner otherwise expects
    every word to reach the cap soon and scans the whole table for each rare one), and so
    does reading the postings of many rare words at once, and looking up some of their
    words for some ideas."""
    from ideabank_infra.db import Database, value_list
    from ideabank_intake import handlers
    from ideabank_intake.store import idea_tokens
    from sqlalchemy import text

    db = Database(settings.resolved_database_url())
    try:
        async with db.transaction() as conn:
            await conn.execute(
                idea_tokens.insert(),
                [
                    {"tenant": org.tenant, "token": word, "idea_id": f"i{n}"}
                    for word in ("vanlig", "också", "alltid")
                    for n in range(3000)
                ],
            )
        postgres = db.dialect == "postgresql"
        statement = handlers._COUNT_POSTINGS[postgres]
        words = ["sällsynt", "vanlig"]
        params = {
            "tenant": org.tenant,
            "words": value_list(db.dialect, words),
            "cap": handlers.DUPLICATE_MAX_POSTINGS + 1,
        }
        analyze = "ANALYZE idea_tokens" if postgres else "ANALYZE"
        explain_prefix = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
        async with db.engine.connect() as conn:
            await conn.exec_driver_sql(analyze)
            explain = text(explain_prefix + statement.text)
            plan = " ".join(str(row[-1]) for row in await conn.execute(explain, params))
            counted = await handlers.count_postings(conn, org.tenant, words)
            # So are the postings of the rare words, read for the candidates: a hundred words
            # of 300 ideas each, all asked for together (the table holds no other postings
            # of this tenant then, so a scan looks cheap to a planner that trusts its counts).
            await conn.execute(idea_tokens.delete().where(idea_tokens.c.tenant == org.tenant))
            await conn.execute(
                idea_tokens.insert(),
                [
                    {"tenant": org.tenant, "token": f"ord{w}", "idea_id": f"i{n}"}
                    for w in range(100)
                    for n in range(300)
                ],
            )
            await conn.exec_driver_sql(analyze)
            explain = text(explain_prefix + handlers._POSTINGS[postgres].text)
            read_params = {
                "tenant": org.tenant,
                "tokens": value_list(db.dialect, [f"ord{w}" for w in range(100)]),
                "cap": handlers.DUPLICATE_MAX_POSTINGS,
            }
            read = " ".join(str(row[-1]) for row in await conn.execute(explain, read_params))
            # And so are the (word, idea) pairs whose words are looked up.
            pairs = [(f"ord{w}", f"i{n}") for w in range(0, 100, 10) for n in range(0, 300, 10)]
            pair_params = handlers.shared_words_params(db.dialect, org.tenant, pairs)
            explain = text(explain_prefix + handlers._SHARED_WORDS[postgres].text)
            probe = " ".join(str(row[-1]) for row in await conn.execute(explain, pair_params))
            shared = await conn.execute(handlers._SHARED_WORDS[postgres], pair_params)
            assert sorted((row.token, row.idea_id) for row in shared) == sorted(pairs)
        assert counted == {"sällsynt": 0, "vanlig": handlers.DUPLICATE_MAX_POSTINGS + 1}
        if postgres:
            assert "Seq Scan" not in plan and "idea_tokens_pkey" in plan, plan
            assert "Seq Scan" not in read and "idea_tokens_pkey" in read, read
            assert "Seq Scan" not in probe and "idea_tokens_pkey" in probe, probe
        else:
            assert "INDEX" in plan and "SCAN t " not in plan + " ", plan
            assert "INDEX" in read and "SCAN t " not in read + " ", read
            assert "INDEX" in probe and "SCAN t " not in probe + " ", probe
    finally:
        await db.dispose()


async def test_common_words_are_counted_in_key_order_among_many_rare_ones(org, settings) -> None:
    """Real text: thousands of words found in one idea each, and a few in thousands. For a
    word it cannot know in advance PostgreSQL expects the tenant's average, a couple of
    postings, and then chose a bitmap scan and a sort, which reads every posting of a common
    word before stopping at the cap. Within the duplicate search it reads them in the key's
    order, and stops there."""
    from ideabank_infra.db import Database, insert_rows, value_list
    from ideabank_intake import handlers
    from ideabank_intake.store import idea_tokens
    from sqlalchemy import text

    rows = [{"tenant": org.tenant, "token": f"ord{n}", "idea_id": f"i{n}"} for n in range(20000)]
    rows += [
        {"tenant": org.tenant, "token": word, "idea_id": f"i{n}"}
        for word in ("vanlig", "också", "alltid")
        for n in range(15000)
    ]
    db = Database(settings.resolved_database_url())
    try:
        async with db.transaction() as conn:
            await insert_rows(conn, idea_tokens, rows)
        async with db.engine.connect() as conn:
            await conn.exec_driver_sql("ANALYZE")
        postgres = db.dialect == "postgresql"
        statement = handlers._COUNT_POSTINGS[postgres]
        params = {
            "tenant": org.tenant,
            "words": value_list(db.dialect, ["vanlig", "ord7", "också"]),
            "cap": handlers.DUPLICATE_MAX_POSTINGS + 1,
        }
        explain = text(("EXPLAIN " if postgres else "EXPLAIN QUERY PLAN ") + statement.text)
        async with db.transaction() as conn:
            async with handlers._in_key_order(conn):
                plan = " ".join(str(row[-1]) for row in await conn.execute(explain, params))
                counted = await handlers.count_postings(conn, org.tenant, ["vanlig", "ord7"])
            if postgres:  # and only for the duplicate search
                setting = await conn.execute(text("SHOW enable_bitmapscan"))
                assert setting.scalar_one() == "on"
    finally:
        await db.dispose()
    assert counted == {"vanlig": handlers.DUPLICATE_MAX_POSTINGS + 1, "ord7": 1}
    if postgres:
        assert "Bitmap" not in plan and "Sort" not in plan, plan
        assert "idea_tokens_pkey" in plan, plan
    else:
        assert "INDEX" in plan and "SCAN t " not in plan + " ", plan


async def test_candidates_are_read_by_key(org, settings) -> None:
    """The candidates' rows are read by key, a probe an id of the list: joined plainly to
    the list, SQLite walked the tenant's ideas by date instead, looking each up in it."""
    from ideabank_infra.db import Database, value_list
    from ideabank_intake import handlers
    from sqlalchemy import text

    now = datetime.now(UTC)
    new = _idea_of([f"cykel{n}" for n in range(20)])
    policy = handlers.DuplicatePolicy(limit=0)
    db = Database(settings.resolved_database_url())
    try:
        async with db.transaction() as conn:
            done = await handlers.submit_ideas(
                conn, [handlers.Submission(org.tenant, new, now, policy)] * 40
            )
        ids = sorted(d.idea["id"] for d in done if isinstance(d, handlers.Submitted))[:10]
        postgres = db.dialect == "postgresql"
        statement = handlers._CANDIDATES[postgres]
        params = {"tenant": org.tenant, "ids": value_list(db.dialect, [*ids, "unknown"])}
        async with db.engine.connect() as conn:
            found = sorted(row.id for row in await conn.execute(statement, params))
            explain = text("EXPLAIN QUERY PLAN " + statement.text)
            plan = (
                ""
                if postgres
                else " ".join(str(r[-1]) for r in await conn.execute(explain, params))
            )
    finally:
        await db.dispose()
    assert found == ids
    if not postgres:
        assert "SEARCH i USING INDEX sqlite_autoindex_ideas_1" in plan, plan


async def test_the_fast_path_answers_as_the_route_does(org) -> None:
    """``POST /v1/ideas`` in its plain case is answered ahead of FastAPI's router. The route
    answers the same request alike (reached here through a ``+json`` content type, which
    the fast path leaves to it), and the fast path leaves every unusual request to it."""
    import json

    from ideabank_infra.fastpath import FastRequest
    from ideabank_intake.api import submit_idea_fast

    def body(title: str, what: str = "Ersätt pärmen med en delad kalender.") -> dict[str, Any]:
        return {
            "title": title,
            "description": what,
            "problem": what,
            "org_unit_id": "norr",
            "co_author_ids": ["coauth"],
            "language": "sv",
        }

    giver = org.headers("giver")
    fast = await org.client.post("/v1/ideas", json=body("Delad kalender"), headers=giver)
    routed = await org.client.post(
        "/v1/ideas",
        content=json.dumps(body("Cykelpool", "Låna ut tjänstecyklar till hemtjänsten.")),
        headers={**giver, "Content-Type": "application/vnd.ideabank+json"},
    )
    assert fast.status_code == routed.status_code == 201, (fast.text, routed.text)
    assert fast.headers["content-type"] == routed.headers["content-type"]
    a, b = fast.json(), routed.json()
    assert a.keys() == b.keys() and a["idea"].keys() == b["idea"].keys()
    differ = {"id", "title", "description", "problem", "submitted_at", "updated_at"}
    assert {k: v for k, v in a["idea"].items() if k not in differ} == {
        k: v for k, v in b["idea"].items() if k not in differ
    }
    assert a["idea"]["submitted_at"].endswith("Z") and b["idea"]["submitted_at"].endswith("Z")
    assert a["duplicates"] == b["duplicates"] == []

    app = org.client._transport.app

    def request(payload: bytes, headers: dict[str, str]) -> FastRequest:
        raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        scope = {"type": "http", "method": "POST", "path": "/v1/ideas", "headers": raw}
        return FastRequest(app, scope, payload)

    good = json.dumps(body("Kalender i mobilen")).encode()
    roleless = {
        "Authorization": f"Bearer {org.issuer.mint(tenant=org.tenant, roles=[], person='giver')}"
    }
    as_json = {"Content-Type": "application/json; charset=utf-8"}
    answer = await submit_idea_fast(request(good, {**giver, **as_json}))
    assert answer is not None and answer[0] == 201
    assert answer[1]["idea"]["title"] == "Kalender i mobilen"
    declined = [
        (good, as_json),  # no token: the route's 401
        (good, {**as_json, "Authorization": "Bearer nonsense"}),  # 401
        (good, {**as_json, **roleless}),  # 403
        (b'{"title": ""}', {**giver, **as_json}),  # the route's 422, naming the field
        (b"not json", {**giver, **as_json}),
        (good, {**giver, "Content-Type": "text/plain"}),
    ]
    for payload, headers in declined:
        assert await submit_idea_fast(request(payload, headers)) is None, headers
    for payload, headers, status in [
        (good, as_json, 401),
        (good, {**as_json, **roleless}, 403),
        (b'{"title": ""}', {**giver, **as_json}, 422),
    ]:
        resp = await org.client.post("/v1/ideas", content=payload, headers=headers)
        assert resp.status_code == status, resp.text
        assert resp.headers["content-type"] == "application/problem+json"
    # Refused once the registration has begun: the problem of the app's own handlers.
    unknown = await org.client.post(
        "/v1/ideas", json={**body("Kalender"), "org_unit_id": "ingenstans"}, headers=giver
    )
    assert unknown.status_code == 422 and unknown.json()["field"] == "org_unit_id"
    assert unknown.headers["content-type"] == "application/problem+json"
    # The route is still what the API documents.
    schema = (await org.client.get("/openapi.json")).json()
    post = schema["paths"]["/v1/ideas"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/IdeaIn")
    assert "201" in post["responses"] and "422" in post["responses"]
