"""Who is signed in: the session cookie, the demo sign-in and OIDC sign-in.

The session cookie holds the person's bearer token (HttpOnly, SameSite=Lax), verified on
every request against the issuer's JWKS, and sent as-is to the services, which verify it
again. In the embedded default the local issuer mints it for a chosen demo person; in
production an OIDC authorization-code login against the organisation's identity provider
yields it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
from ideabank_infra.auth import JwksVerifier, LocalIssuer
from ideabank_infra.problems import Problem
from jwt import PyJWK

from ideabank_portal.clients import Services
from ideabank_portal.settings import PortalSettings

SESSION_COOKIE = "ideabank_session"
LANG_COOKIE = "ideabank_lang"
FLASH_COOKIE = "ideabank_flash"
OIDC_COOKIE = "ideabank_oidc"
#: The display name from the ID token, for providers whose access tokens carry none.
NAME_COOKIE = "ideabank_name"


@dataclass(frozen=True)
class User:
    """The signed-in person, as their token says."""

    sub: str
    tenant: str
    roles: frozenset[str]
    org_unit: str | None
    name: str
    token: str

    def has(self, *roles: str) -> bool:
        """True when the person holds any of ``roles``."""
        return bool(self.roles.intersection(roles))


async def user_from_token(
    verifier: JwksVerifier, token: str | None, fallback_name: str | None = None
) -> User | None:
    """The person a session token names, or None when it is missing, expired or forged."""
    if not token:
        return None
    try:
        principal = await verifier.verify(token)
    except Problem:
        return None
    # Verified just above; read the display name the issuer put beside the standard claims.
    claims = jwt.decode(token, options={"verify_signature": False})
    return User(
        sub=principal.sub,
        tenant=principal.tenant,
        roles=principal.roles,
        org_unit=principal.org_unit,
        name=str(claims.get("name") or fallback_name or principal.sub),
        token=token,
    )


@dataclass(frozen=True)
class DemoPerson:
    """A person offered by the demo sign-in."""

    id: str
    name: str
    org_unit_id: str | None
    roles: tuple[str, ...]


class DemoDirectory:
    """People per tenant for the demo sign-in, read from intake with a short-lived admin token."""

    def __init__(self, settings: PortalSettings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http
        self._issuer: LocalIssuer | None = None
        self._cache: dict[str, tuple[float, list[DemoPerson]]] = {}

    @property
    def issuer(self) -> LocalIssuer:
        """The local issuer (created lazily: its folder may appear after the portal starts)."""
        if self._issuer is None:
            self._issuer = LocalIssuer(self.settings.resolved_issuer_dir())
        return self._issuer

    async def people(self, tenant: str) -> list[DemoPerson]:
        """The tenant's people (cached for a minute)."""
        cached = self._cache.get(tenant)
        if cached and time.monotonic() - cached[0] < 60:
            return cached[1]
        token = self.issuer.mint(
            tenant=tenant, roles=["tenant_admin"], person="portal-sign-in", ttl_seconds=60
        )
        api = Services(self.http, self.settings.service_urls(), token)
        tenancy = await api.tenancy()
        people = [
            DemoPerson(
                id=str(p["id"]),
                name=str(p.get("name") or p["id"]),
                org_unit_id=p.get("org_unit_id"),
                roles=tuple(p.get("roles") or ()),
            )
            for p in tenancy.get("people", [])
            if p.get("active", True)
        ]
        people.sort(key=lambda p: p.id)
        self._cache[tenant] = (time.monotonic(), people)
        return people

    def mint_for(self, tenant: str, person: DemoPerson) -> str:
        """A session token for one demo person with their roles and org unit."""
        return self.issuer.mint(
            tenant=tenant,
            roles=list(person.roles) or ["employee"],
            person=person.id,
            org_unit=person.org_unit_id,
            ttl_seconds=self.settings.session_hours * 3600,
            extra={"name": person.name},
        )


class OidcError(Exception):
    """The OIDC login failed; the person is asked to try again."""


@dataclass(frozen=True)
class OidcStart:
    """Where to send the browser, and what to remember until it comes back."""

    url: str
    cookie: str


class OidcClient:
    """Authorization-code flow with PKCE against the configured identity provider."""

    def __init__(self, settings: PortalSettings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http
        self._meta: dict[str, Any] | None = None
        self._keys: dict[str, PyJWK] = {}

    @property
    def redirect_uri(self) -> str:
        """The portal's callback, registered at the identity provider."""
        return self.settings.public_url.rstrip("/") + "/auth/callback"

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (cached)."""
        if self._meta is None:
            issuer = str(self.settings.oidc_issuer).rstrip("/")
            try:
                resp = await self.http.get(f"{issuer}/.well-known/openid-configuration")
                resp.raise_for_status()
            except httpx.HTTPError as exc:
                raise OidcError(f"discovery failed: {exc}") from exc
            self._meta = dict(resp.json())
        return self._meta

    async def start(self) -> OidcStart:
        """The authorization URL; state, nonce and PKCE verifier go to a short-lived cookie."""
        meta = await self.metadata()
        state, nonce, verifier = (secrets.token_urlsafe(24) for _ in range(3))
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.settings.oidc_client_id,
                "redirect_uri": self.redirect_uri,
                "scope": self.settings.oidc_scopes,
                "state": state,
                "nonce": nonce,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        return OidcStart(f"{meta['authorization_endpoint']}?{query}", f"{state}.{nonce}.{verifier}")

    async def finish(
        self, *, code: str, state: str, cookie: str | None
    ) -> tuple[str, dict[str, Any]]:
        """Exchange the code; verify the ID token; return the access token and ID claims."""
        try:
            expected_state, nonce, verifier = (cookie or "").split(".")
        except ValueError as exc:
            raise OidcError("login state missing") from exc
        if not secrets.compare_digest(expected_state, state):
            raise OidcError("login state does not match")
        meta = await self.metadata()
        try:
            resp = await self.http.post(
                meta["token_endpoint"],
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": self.redirect_uri,
                    "code_verifier": verifier,
                },
                auth=(str(self.settings.oidc_client_id), self.settings.oidc_client_secret or ""),
            )
        except httpx.HTTPError as exc:
            raise OidcError(f"token endpoint unreachable: {exc}") from exc
        if resp.status_code != 200:
            raise OidcError(f"code exchange refused: {resp.status_code}")
        tokens = resp.json()
        id_token = tokens.get("id_token")
        if not id_token:
            raise OidcError("no ID token in the answer")
        claims = await self.verify_id_token(str(id_token), nonce=nonce)
        # The services verify the access token; a provider issuing opaque access tokens
        # would need its ID token used instead, which carries the same claims.
        return str(tokens.get("access_token") or id_token), claims

    async def verify_id_token(self, token: str, *, nonce: str) -> dict[str, Any]:
        """Signature (JWKS), issuer, audience, expiry and nonce of an ID token."""
        meta = await self.metadata()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise OidcError(f"malformed ID token: {exc}") from exc
        if header.get("alg") != "RS256":
            raise OidcError("ID token algorithm not accepted")
        kid = str(header.get("kid", ""))
        if kid not in self._keys:
            try:
                resp = await self.http.get(meta["jwks_uri"])
                resp.raise_for_status()
            except httpx.HTTPError as exc:
                raise OidcError(f"JWKS unreachable: {exc}") from exc
            self._keys = {
                k["kid"]: PyJWK(k, algorithm="RS256")
                for k in resp.json().get("keys", [])
                if k.get("kid") and k.get("kty") == "RSA"
            }
        key = self._keys.get(kid)
        if key is None:
            raise OidcError("ID token signed with an unknown key")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=self.settings.oidc_client_id,
                issuer=meta.get("issuer", self.settings.oidc_issuer),
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
                leeway=30,
            )
        except jwt.PyJWTError as exc:
            raise OidcError(f"ID token invalid: {exc}") from exc
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise OidcError("ID token nonce does not match")
        return dict(claims)
