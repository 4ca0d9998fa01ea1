"""Personal data: export of what intake holds about a person, and erasure."""

from __future__ import annotations


async def test_export_and_erase_a_person(org, stream_events) -> None:
    mine = (await org.submit(co_author_ids=["coauth"]))["idea"]
    theirs = (await org.submit(person="other", title="Annat"))["idea"]
    await org.client.post(
        f"/v1/ideas/{theirs['id']}/comments",
        json={"body": "Jag, Greta, håller med"},
        headers=org.headers("giver"),
    )
    await org.client.post(f"/v1/ideas/{theirs['id']}/supports", headers=org.headers("giver"))

    assert (
        await org.client.get("/v1/people/giver/export", headers=org.headers("other"))
    ).status_code == 403
    export = (await org.client.get("/v1/people/giver/export", headers=org.headers("giver"))).json()
    assert export["person"]["name"] == "Greta Givare"
    assert [i["id"] for i in export["ideas"]] == [mine["id"]]
    assert [c["body"] for c in export["comments"]] == ["Jag, Greta, håller med"]
    assert [s["idea_id"] for s in export["supports"]] == [theirs["id"]]
    by_admin = await org.client.get("/v1/people/coauth/export", headers=org.admin)
    assert [i["role"] for i in by_admin.json()["ideas"]] == ["co_author"]

    assert (
        await org.client.post("/v1/people/giver/erase", headers=org.headers("giver"))
    ).status_code == 403
    resp = await org.client.post("/v1/people/giver/erase", headers=org.admin)
    assert resp.status_code == 200, resp.text
    erased = resp.json()
    assert sorted(erased["ideas"]) == sorted([mine["id"], theirs["id"]])
    alias = erased["pseudonym"]

    assert (await org.idea(mine["id"], "amb"))["giver_id"] == alias
    comments = (
        await org.client.get(f"/v1/ideas/{theirs['id']}/comments", headers=org.admin)
    ).json()
    assert comments["items"][0] == {
        **comments["items"][0],
        "author_id": alias,
        "body": "",
        "redacted": True,
    }
    after = (await org.client.get("/v1/people/giver/export", headers=org.admin)).json()
    assert after["ideas"] == [] and after["comments"] == [] and after["supports"] == []
    assert after["person"]["name"] == "Raderad person" and not after["person"]["active"]

    redacted = await stream_events({"idea.redacted"}, at_least=2)
    assert {e.subject for e in redacted} == {mine["id"], theirs["id"]}
    assert all(e.data["person_id"] == "giver" for e in redacted)
    again = await org.client.post("/v1/people/giver/erase", headers=org.admin)
    assert again.status_code == 200 and again.json()["ideas"] == []
    assert (await org.client.post("/v1/people/nobody/erase", headers=org.admin)).status_code == 404
