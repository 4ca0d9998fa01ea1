"""The public channel: residents without an account, rate and size limited."""

from __future__ import annotations

import httpx

IDEA = {
    "title": "Fler bänkar i parken",
    "description": "Äldre behöver kunna vila på vägen till vårdcentralen.",
    "problem": "Det finns ingenstans att sitta.",
    "contact_email": "invanare@example.org",
}


async def test_a_resident_submits_without_an_account(org, stream_events) -> None:
    resp = await org.client.post(f"/v1/public/{org.tenant}/ideas", json=IDEA)
    assert resp.status_code == 201, resp.text
    answer = resp.json()
    assert set(answer) == {"id", "status", "submitted_at"}
    idea = await org.idea(answer["id"], "amb")
    assert idea["channel"] == "public_channel" and idea["giver_id"] is None
    assert idea["org_unit_id"] == "skol"  # the first administration by id
    assert "contact_email" not in idea
    events = await stream_events({"idea.submitted"})
    assert events[0].data["channel"] == "public_channel"
    assert "actor_id" not in events[0].data or events[0].data["actor_id"] is None
    assert "invanare" not in events[0].to_json().decode()

    resp = await org.client.post(
        f"/v1/public/{org.tenant}/ideas", json={**IDEA, "org_unit_id": "norr"}
    )
    assert (await org.idea(resp.json()["id"], "amb"))["status"] == "in_screening"
    resp = await org.client.post(f"/v1/public/{org.tenant}/ideas", json={**IDEA, "title": ""})
    assert resp.status_code == 422 and resp.json()["field"] == "title"
    resp = await org.client.post(
        f"/v1/public/{org.tenant}/ideas", json={**IDEA, "contact_email": "nope"}
    )
    assert resp.status_code == 422 and resp.json()["field"] == "contact_email"
    resp = await org.client.post(f"/v1/public/{org.tenant}/ideas", content=b"{not json")
    assert resp.status_code == 422
    assert (await org.client.post("/v1/public/nosuchtown/ideas", json=IDEA)).status_code == 404


async def test_oversize_bodies_get_413(org) -> None:
    url = f"/v1/public/{org.tenant}/ideas"
    big = {**IDEA, "description": "x" * 20_000}
    resp = await org.client.post(url, json=big)
    assert resp.status_code == 413
    assert resp.headers["content-type"] == "application/problem+json"

    async def chunks():  # no Content-Length: the bytes read are counted
        for _ in range(20):
            yield b" " * 1024

    resp = await org.client.post(
        url, content=chunks(), headers={"content-type": "application/json"}
    )
    assert resp.status_code == 413
    # A lying Content-Length does not get past the counter either.
    resp = await org.client.post(url, content=chunks(), headers={"content-length": "10"})
    assert resp.status_code in (400, 413)
    listed = await org.client.get("/v1/ideas", headers=org.headers("amb"))
    assert listed.json()["total"] == 0


async def test_too_frequent_submissions_get_429_with_retry_after(org, settings) -> None:
    url = f"/v1/public/{org.tenant}/ideas"
    codes = [(await org.client.post(url, json=IDEA)).status_code for _ in range(5)]
    assert codes == [201] * 5
    resp = await org.client.post(url, json=IDEA)
    assert resp.status_code == 429
    assert int(resp.headers["retry-after"]) >= 1
    assert resp.json()["type"].endswith("/rate-limited")
    # Another client is not held back.
    transport = httpx.ASGITransport(app=org.client._transport.app, client=("10.0.0.9", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as other:
        assert (await other.post(url, json=IDEA)).status_code == 201
