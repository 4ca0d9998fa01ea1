"""The embedded default's identity provider: an RSA signing key and its JWKS in a folder.

Kept apart from :mod:`ideabank_infra.auth` so command-line tools can mint tokens without
loading the web framework.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROLES = frozenset(
    {
        "employee",
        "ambassador",
        "innovation_group",
        "unit_manager",
        "department_manager",
        "management",
        "implementer",
        "communicator",
        "tenant_admin",
        "network_coordinator",
    }
)


class LocalIssuer:
    """The embedded default's identity provider: an RSA key and its JWKS under a folder."""

    def __init__(self, folder: Path, *, issuer: str = "ideabank-local", audience: str = "ideabank"):
        self.folder = folder
        self.issuer = issuer
        self.audience = audience
        self.folder.mkdir(parents=True, exist_ok=True)
        key_path = folder / "signing-key.pem"
        if key_path.exists():
            loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            assert isinstance(loaded, rsa.RSAPrivateKey)
            self._key = loaded
        else:
            self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            key_path.write_bytes(
                self._key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            key_path.chmod(0o600)
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        self.kid = public.get("kid") or _thumb(public)
        public.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        self.jwks = {"keys": [public]}
        (folder / "jwks.json").write_text(json.dumps(self.jwks, indent=2))

    @property
    def jwks_url(self) -> str:
        """``file://`` URL of the JWKS."""
        return (self.folder / "jwks.json").resolve().as_uri()

    def mint(
        self,
        *,
        tenant: str,
        roles: list[str] | tuple[str, ...],
        person: str | None = None,
        org_unit: str | None = None,
        ttl_seconds: int = 8 * 3600,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """A signed token for a (demo) person."""
        unknown = sorted(set(roles) - ROLES)
        if unknown:
            raise ValueError(f"unknown role(s): {', '.join(unknown)}; known: {sorted(ROLES)}")
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": person or f"{tenant}-demo",
            "tenant": tenant,
            "roles": list(roles),
            "iat": now,
            "nbf": now - 5,
            "exp": now + ttl_seconds,
            "jti": str(uuid.uuid4()),
        }
        if org_unit:
            claims["org_unit"] = org_unit
        claims.update(extra or {})
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid})


def _thumb(jwk: dict[str, Any]) -> str:
    import base64
    import hashlib

    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
