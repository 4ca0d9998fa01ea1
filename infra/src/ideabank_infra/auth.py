"""Bearer JWT verification against a JWKS, and roles and tenant from claims.

Production points ``IDEABANK_JWKS_URL`` at the identity provider's JWKS; the embedded default
uses :class:`LocalIssuer`, which keeps an RSA key under the data folder and writes its JWKS
beside it. Only RS256 is accepted, so ``alg: none`` and HMAC confusion fail verification.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import jwt
from fastapi import Depends, Request
from jwt import PyJWK

from ideabank_infra.issuer import ROLES
from ideabank_infra.problems import Problem

ALGORITHMS = ["RS256"]
#: How long, at most, a checked token is trusted without checking it again.
VERIFIED_SECONDS = 60.0
#: Tokens remembered as checked (the oldest are forgotten first).
VERIFIED_MAX = 10_000


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a person of one tenant with roles."""

    sub: str
    tenant: str
    roles: frozenset[str]
    org_unit: str | None = None

    def has(self, *roles: str) -> bool:
        """True when the caller holds any of ``roles``."""
        return bool(self.roles.intersection(roles))


def unauthorized(detail: str) -> Problem:
    """401 with the header RFC 6750 asks for."""
    return Problem(
        401,
        "Unauthorized",
        detail,
        kind="unauthorized",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


class JwksVerifier:
    """Verifies tokens against a JWKS (``https://`` or ``file://``), re-reading it for new keys."""

    def __init__(
        self, jwks_url: str, *, issuer: str, audience: str, refresh_seconds: float = 30.0
    ) -> None:
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self.refresh_seconds = refresh_seconds
        self._keys: dict[str, PyJWK] = {}
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()
        # A caller sends the same token with every request: its signature is checked once
        # a minute, not every time (an RS256 check costs more than the rest of auth).
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    async def _load(self) -> None:
        if self.jwks_url.startswith("file://"):
            path = Path(self.jwks_url.removeprefix("file://"))
            doc = json.loads(path.read_text()) if path.exists() else {"keys": []}
        else:
            async with httpx.AsyncClient(timeout=5) as client:
                resp = await client.get(self.jwks_url)
                resp.raise_for_status()
                doc = resp.json()
        keys: dict[str, PyJWK] = {}
        for jwk in doc.get("keys", []):
            if jwk.get("kid") and jwk.get("kty") == "RSA":
                keys[jwk["kid"]] = PyJWK(jwk, algorithm="RS256")
        self._keys = keys
        self._loaded_at = time.monotonic()

    async def key_for(self, kid: str) -> PyJWK | None:
        """The signing key with id ``kid``; the JWKS is re-read (rate limited) when unknown."""
        if kid in self._keys:
            return self._keys[kid]
        async with self._lock:
            if kid not in self._keys and time.monotonic() - self._loaded_at > min(
                self.refresh_seconds, 1.0 if not self._keys else self.refresh_seconds
            ):
                try:
                    await self._load()
                except Exception as exc:
                    raise Problem(503, "Identity provider unavailable", str(exc)) from exc
        return self._keys.get(kid)

    async def verify(self, token: str) -> Principal:
        """Check signature, issuer, audience and expiry; return the caller."""
        hit = self._verified.get(token)
        if hit is not None:
            if hit[1] > time.time():
                return hit[0]
            del self._verified[token]
        principal, expires = await self._verify(token)
        self._verified[token] = (principal, min(expires, time.time() + VERIFIED_SECONDS))
        if len(self._verified) > VERIFIED_MAX:
            self._verified.popitem(last=False)
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise unauthorized(f"malformed token: {exc}") from exc
        if header.get("alg") not in ALGORITHMS:
            raise unauthorized(f"algorithm {header.get('alg')!r} is not accepted")
        key = await self.key_for(str(header.get("kid", "")))
        if key is None:
            raise unauthorized("token signed with an unknown key")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
                leeway=30,
            )
        except jwt.ExpiredSignatureError as exc:
            raise unauthorized("token expired") from exc
        except jwt.PyJWTError as exc:
            raise unauthorized(f"invalid token: {exc}") from exc
        tenant = claims.get("tenant")
        if not isinstance(tenant, str) or not tenant:
            raise unauthorized("token has no tenant claim")
        roles = claims.get("roles", [])
        if isinstance(roles, str):
            roles = roles.split()
        principal = Principal(
            sub=str(claims["sub"]),
            tenant=tenant,
            roles=frozenset(r for r in roles if r in ROLES),
            org_unit=claims.get("org_unit"),
        )
        return principal, float(claims["exp"])


async def bearer_principal(verifier: JwksVerifier, authorization: str | None) -> Principal:
    """The caller named by an ``Authorization: Bearer`` header value; 401 otherwise."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise unauthorized("a bearer token is required")
    return await verifier.verify(token.strip())


async def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the verified caller of this request."""
    return await bearer_principal(request.app.state.verifier, request.headers.get("authorization"))


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: str) -> Any:
    """FastAPI dependency factory: the caller must hold one of ``roles``."""

    # Takes the request itself rather than depending on ``current_principal``: FastAPI's
    # cost is per dependency and request, and this is on every guarded route.
    async def dependency(request: Request) -> Principal:
        principal = await current_principal(request)
        if not principal.has(*roles):
            raise Problem(
                403,
                "Forbidden",
                f"this action needs one of the roles: {', '.join(roles)}",
                kind="forbidden",
            )
        return principal

    return Depends(dependency)


# Re-exported for callers that know the issuer as part of auth.
from ideabank_infra.issuer import LocalIssuer  # noqa: E402

__all__ = [
    "ROLES",
    "CurrentPrincipal",
    "JwksVerifier",
    "LocalIssuer",
    "Principal",
    "bearer_principal",
    "require_roles",
]
