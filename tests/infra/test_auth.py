"""Bearer tokens: the local issuer's are accepted; forged, expired or misaddressed ones get 401."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jwt
import pytest
from fastapi import FastAPI
from ideabank_infra.auth import JwksVerifier, LocalIssuer, current_principal, require_roles
from ideabank_infra.problems import install
from ideabank_infra.testing import bearer


@pytest.fixture
async def client(issuer: LocalIssuer) -> AsyncIterator[httpx.AsyncClient]:
    from fastapi import Depends

    app = FastAPI()
    install(app)
    app.state.verifier = JwksVerifier(issuer.jwks_url, issuer="ideabank-local", audience="ideabank")

    @app.get("/who")
    async def who(p=Depends(current_principal)):  # type: ignore[no-untyped-def]
        return {"sub": p.sub, "tenant": p.tenant, "roles": sorted(p.roles)}

    @app.get("/admin")
    async def admin(p=require_roles("tenant_admin")):  # type: ignore[no-untyped-def]
        return {"ok": True}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


def _b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


async def test_valid_token_is_accepted(client: httpx.AsyncClient, issuer: LocalIssuer) -> None:
    token = issuer.mint(tenant="boras", roles=["employee"], person="boras-p012")
    resp = await client.get("/who", headers=bearer(token))
    assert resp.json() == {"sub": "boras-p012", "tenant": "boras", "roles": ["employee"]}


async def test_missing_role_is_403(client: httpx.AsyncClient, issuer: LocalIssuer) -> None:
    token = issuer.mint(tenant="boras", roles=["employee"])
    resp = await client.get("/admin", headers=bearer(token))
    assert resp.status_code == 403
    assert resp.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "case",
    [
        "wrong-issuer",
        "wrong-audience",
        "expired",
        "alg-none",
        "unknown-key",
        "no-token",
        "garbage",
        "hs256-with-public-key",
        "no-tenant",
    ],
)
async def test_bad_tokens_get_401(
    client: httpx.AsyncClient, issuer: LocalIssuer, tmp_path: Path, case: str
) -> None:
    now = int(time.time())
    claims = {
        "iss": "ideabank-local",
        "aud": "ideabank",
        "sub": "p",
        "tenant": "boras",
        "roles": ["employee"],
        "iat": now,
        "exp": now + 600,
    }
    key = issuer._key
    headers = {"kid": issuer.kid}
    if case == "wrong-issuer":
        token = jwt.encode({**claims, "iss": "evil"}, key, algorithm="RS256", headers=headers)
    elif case == "wrong-audience":
        token = jwt.encode({**claims, "aud": "other"}, key, algorithm="RS256", headers=headers)
    elif case == "expired":
        token = jwt.encode({**claims, "exp": now - 3600}, key, algorithm="RS256", headers=headers)
    elif case == "alg-none":
        token = f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': issuer.kid})}.{_b64(claims)}."
    elif case == "unknown-key":
        other = LocalIssuer(tmp_path / "other")
        token = other.mint(tenant="boras", roles=["employee"])
    elif case == "hs256-with-public-key":
        # Key confusion: an HMAC signature keyed with the public key's bytes.
        import hashlib
        import hmac

        secret = json.dumps(issuer.jwks["keys"][0]).encode()
        signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT', **headers})}.{_b64(claims)}"
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        token = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    elif case == "no-tenant":
        token = jwt.encode(
            {k: v for k, v in claims.items() if k != "tenant"},
            key,
            algorithm="RS256",
            headers=headers,
        )
    elif case == "garbage":
        token = "not.a.jwt"
    else:
        token = ""
    resp = await client.get("/who", headers=bearer(token) if token else {})
    assert resp.status_code == 401, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.headers["www-authenticate"].startswith("Bearer")


async def test_a_checked_token_is_remembered_until_it_expires(
    issuer: LocalIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = JwksVerifier(issuer.jwks_url, issuer="ideabank-local", audience="ideabank")
    token = issuer.mint(tenant="boras", roles=["employee"], person="boras-p1", ttl_seconds=120)
    checks = 0
    original = verifier._verify

    async def counted(t: str):  # type: ignore[no-untyped-def]
        nonlocal checks
        checks += 1
        return await original(t)

    monkeypatch.setattr(verifier, "_verify", counted)
    for _ in range(5):
        assert (await verifier.verify(token)).sub == "boras-p1"
    assert checks == 1
    # Past the remembered minute the token is checked again, and it is never remembered
    # beyond its own expiry.
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 61)
    await verifier.verify(token)
    assert checks == 2
    assert verifier._verified[token][1] <= exp
